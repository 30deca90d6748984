"""Generated from csi.proto of the CSI spec v1.12.0 by hack/gen-csi-proto.sh; do not edit."""
