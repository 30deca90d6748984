#!/usr/bin/env bash
# Fail when a committed generated file differs from what its generator produces now.
# Each generator writes into a scratch copy; the committed paths it owns are compared.
set -euo pipefail
HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HACK_DIR")
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
status=0

# generator command | committed path it owns
check() {
  local owned=$1; shift
  "$@" "$scratch" >/dev/null
  if ! diff -r -q -x __pycache__ "$REPO/$owned" "$scratch/$owned" >/dev/null 2>&1; then
    echo "[verify-generated] $owned is out of date: run make generate and commit" >&2
    diff -r -x __pycache__ "$REPO/$owned" "$scratch/$owned" | head -20 >&2 || true
    status=1
  fi
}

PY=${PY:-$REPO/.venv/bin/python}
check csi/proto "$HACK_DIR/gen-csi-proto.sh"
check manifests/crds "$PY" "$HACK_DIR/gen-crds.py"
check manifests/csi/snapshot-crds "$HACK_DIR/fetch-snapshot-crds.sh"
check hack/image-requirements.txt "$PY" "$HACK_DIR/lock-image-requirements.py"
[ $status = 0 ] && echo "[verify-generated] generated files are up to date"
exit $status
