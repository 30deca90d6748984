#!/usr/bin/env bash
# Make Debian's Ceph bindings (python3-rados, python3-rbd, python3-cephfs) importable from a virtualenv
# without exposing the rest of /usr/lib/python3/dist-packages (whose old urllib3/requests/yaml would
# shadow the pinned PyPI ones).
#   hack/link-ceph-bindings.sh VENV_DIR
# Creates VENV_DIR/ceph-bindings/ holding only symlinks to the binding modules, and a .pth file that
# appends that directory to sys.path.
set -euo pipefail
VENV=${1:?usage: $0 VENV_DIR}
DIST=/usr/lib/python3/dist-packages
PY="$VENV/bin/python"
[ -x "$PY" ] || { echo "[link-ceph-bindings] no python in $VENV" >&2; exit 1; }
tag=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
dir="$(cd "$VENV" && pwd)/ceph-bindings"
rm -rf "$dir"; mkdir -p "$dir"
for mod in rados rbd cephfs; do
  so="$DIST/$mod$tag"
  [ -f "$so" ] || { echo "[link-ceph-bindings] $so missing: run hack/install-packages.sh (Debian's python3-$mod is built for CPython 3.11 only)" >&2; exit 1; }
  ln -s "$so" "$dir/"
done
# ceph_argparse is what the `ceph` CLI helpers import; harmless and small.
ln -s "$DIST/ceph_argparse.py" "$dir/"
site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$dir" > "$site/debian-ceph-bindings.pth"
"$PY" -c 'import rados, rbd, cephfs; print("[link-ceph-bindings] rados", rados.__file__)'
