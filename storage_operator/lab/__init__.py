"""The local lab: real etcd, kube-apiserver, controllers, Ceph, NFS-Ganesha and loop disks on 127.0.0.1.

One implementation serves ``make lab`` (the demo), the pytest fixtures and the benchmarks. Everything the
lab makes is recorded in a state file under the lab directory so that ``make lab-down`` removes it, even
after a crash.
"""
