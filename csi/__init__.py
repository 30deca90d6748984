"""The CSI driver for Ceph-backed volumes (CephFS subvolumes, RBD images).

``csi.proto`` holds the gRPC stubs generated from the pinned CSI spec (hack/gen-csi-proto.sh). The
Identity, Controller and Node services arrive with the CSI issue (see DESIGN.md, "CSI").
"""
