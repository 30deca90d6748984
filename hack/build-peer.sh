#!/usr/bin/env bash
# Build the peer the NFS benchmark compares against (nfs-subdir-external-provisioner) into the binary
# cache, skipping it when it is already there, and print the binary's path on stdout.
#
#   hack/build-peer.sh
#
# The source is the unchanged upstream copy in $PEERS_DIR/nfs-subdir-external-provisioner (default:
# <repo>/../shared/peers; see its README.md), pinned by the commit below. The Go module proxy does not
# serve that module, so it is built from a writable copy of the folder (the folder is read-only in CI).
# It lands in
#   $STORAGE_OPERATOR_CACHE/nfs-subdir-external-provisioner-<commit>/      (default cache: ~/.cache/storage-operator)
# and is built into a temporary directory first, so an interrupted build never looks cached.
# bench/nfs_provisioning.py resolves the same path.
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$HACK_DIR/versions.env"
PEERS_DIR=${PEERS_DIR:-$(dirname "$(dirname "$HACK_DIR")")/shared/peers}
CACHE=${STORAGE_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/storage-operator}
export GOFLAGS="${GOFLAGS:-} -trimpath -buildvcs=false"
export CGO_ENABLED=0

NAME=nfs-subdir-external-provisioner
# Upstream master of 2024-02-15 (the code of the v4.0.x images), as peers/README.md records it.
COMMIT=59a3ca2cd10febfbe200c8676c4107be95f267a9
DEST="$CACHE/$NAME-${COMMIT:0:8}"

say() { printf '[build-peer] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

if [ -x "$DEST/$NAME" ]; then
  say "$NAME ${COMMIT:0:8}: cached in $DEST"
  echo "$DEST/$NAME"
  exit 0
fi

SRC="$PEERS_DIR/$NAME"
[ -f "$SRC/go.mod" ] || die "no peer source at $SRC (set PEERS_DIR to the folder holding $NAME/)"
command -v go >/dev/null || die "go is not on PATH: install Go >= $GO_MIN_VERSION (https://go.dev/dl) and retry"

mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/.work-$NAME-XXXXXX")
out="$CACHE/.tmp-$NAME-${COMMIT:0:8}-$$"
cleanup() { rm -rf "$work" "$out"; }
trap cleanup EXIT
rm -rf "$out"; mkdir -p "$out"

# A writable copy: `go build` may write go.sum entries, and the source folder has no write bits.
cp -R "$SRC/." "$work/"
chmod -R u+w "$work"

t0=$SECONDS
say "$NAME ${COMMIT:0:8}: building from $SRC (about a minute the first time)"
# (errexit does not apply inside `if !`: the subshell's single command carries the status)
if ! (cd "$work" && go build -ldflags "-s -w" -o "$out/$NAME" "./cmd/$NAME"); then
  die "$NAME: build failed (see the go output above; a 403 from the module proxy means it does not serve a dependency here)"
fi
[ -x "$out/$NAME" ] || die "$NAME was not produced"
rm -rf "$DEST"; mv "$out" "$DEST"
say "$NAME ${COMMIT:0:8}: built in $((SECONDS - t0)) s -> $DEST"
echo "$DEST/$NAME"
