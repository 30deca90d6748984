"""The NFS bridge: NFSBackend status, and PersistentVolumes for claims of the NFS StorageClasses."""
