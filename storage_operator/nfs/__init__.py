"""The only package that speaks NFS (through the userspace nfs-rs client: no kernel mount, no privileges)."""
