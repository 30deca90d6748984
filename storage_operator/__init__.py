"""storage-operator: Ceph on the nodes' own disks, an NFS bridge and a CSI driver for bare metal."""

__version__ = "0.1.0"
