#!/usr/bin/env bash
# Generate the CSI gRPC stubs (csi/proto/csi_pb2.py, .pyi, csi_pb2_grpc.py) from the csi.proto of the
# pinned CSI spec module (hack/versions.env: CSI_SPEC_VERSION), with the pinned grpcio-tools.
#   hack/gen-csi-proto.sh [OUT_ROOT]      (default: the repository; verify-generated.sh passes a temp dir)
set -euo pipefail
HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HACK_DIR")
OUT=${1:-$REPO}
# shellcheck source=versions.env
source "$HACK_DIR/versions.env"
PY=${PY:-$REPO/.venv/bin/python}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
dir=$(cd "$work" && go mod download -json "github.com/container-storage-interface/spec@$CSI_SPEC_VERSION" \
      | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
[ -f "$dir/csi.proto" ] || { echo "[gen-csi-proto] csi.proto not found in the spec module at $dir" >&2; exit 1; }
# Lay the proto out at its package path so the generated code imports `csi.proto.csi_pb2`.
mkdir -p "$work/src/csi/proto" "$OUT/csi/proto"
cp "$dir/csi.proto" "$work/src/csi/proto/csi.proto"
"$PY" -m grpc_tools.protoc -I "$work/src" --python_out="$OUT" --pyi_out="$OUT" --grpc_python_out="$OUT" \
  csi/proto/csi.proto
printf '"""Generated from csi.proto of the CSI spec %s by hack/gen-csi-proto.sh; do not edit."""\n' \
  "$CSI_SPEC_VERSION" > "$OUT/csi/proto/__init__.py"
