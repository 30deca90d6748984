"""``storage.baremetal.io/v1alpha1``: CephCluster, CephOSD, CephBlockPool, CephFilesystem, DiskInventory,
NFSBackend (the models land with the API issue)."""
