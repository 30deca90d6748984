"""What CSI requests do in Ceph: ``store.py`` is the contract, ``cephfs.py`` and ``rbd.py`` fulfil it for
subvolumes and images, ``service.py`` holds the CSI semantics both share (names, journal, idempotency,
conflicts, sources), ``cephfs_node.py`` and ``rbd_node.py`` make volumes usable on a node."""
