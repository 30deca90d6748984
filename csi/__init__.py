"""The CSI driver for Ceph-backed volumes: CephFS subvolumes and RBD images (DESIGN.md, "CSI").

``python -m csi --driver cephfs|rbd --mode controller|node|all --endpoint unix://PATH`` serves the
Identity, Controller and Node services of the CSI spec over gRPC. ``csi.proto`` holds the stubs generated
from the pinned spec (hack/gen-csi-proto.sh). Layout: identity.py, controller.py, node.py (one file per
service, thin), rpc.py (logging, metrics, one operation per volume, errors -> gRPC codes), validate.py and
params.py (pure request checks), journal.py (request names -> volumes, kept in Ceph), backends/ (what a
request does in Ceph), host/ (mounts, FUSE mappers, loop devices, file systems on the node).
"""
