#!/usr/bin/env bash
# Build the lab's pinned Go binaries into a versioned cache, skipping what is already cached.
#
#   hack/build-binaries.sh [COMPONENT...]      components: kubernetes etcd csi-sanity
#                                               (default: kubernetes etcd csi-sanity)
#
# Versions come from hack/versions.env only. Each component lands in
#   $STORAGE_OPERATOR_CACHE/<component>-<version>/            (default cache: ~/.cache/storage-operator)
# and is built into a temporary directory first, so an interrupted build never looks cached.
# storage_operator/lab/binaries.py resolves the same paths.
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$HACK_DIR/versions.env"
CACHE=${STORAGE_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/storage-operator}
export GOFLAGS="${GOFLAGS:-} -trimpath -buildvcs=false"
export CGO_ENABLED=0

say() { printf '[build-binaries] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v go >/dev/null || die "go is not on PATH: install Go >= $GO_MIN_VERSION (https://go.dev/dl) and retry"
go_have=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$GO_MIN_VERSION" "$go_have" | sort -V | head -n1)" != "$GO_MIN_VERSION" ]; then
  die "go $go_have is older than the $GO_MIN_VERSION the pinned modules need"
fi

# build_component NAME VERSION BINARIES... : runs "build_<name> SRC OUT" unless every binary is cached.
build_component() {
  local name=$1 version=$2; shift 2
  local dest="$CACHE/$name-$version" missing=0 b
  for b in "$@"; do [ -x "$dest/$b" ] || missing=1; done
  if [ $missing = 0 ]; then say "$name $version: cached in $dest"; return 0; fi
  local work="$CACHE/.work/$name-$version" out="$CACHE/.tmp-$name-$version-$$"
  rm -rf "$work" "$out"; mkdir -p "$work" "$out"
  local t0=$SECONDS
  say "$name $version: building $* (the first build takes minutes)"
  if ! "build_${name//-/_}" "$version" "$work" "$out"; then
    rm -rf "$out" "$work"
    die "$name $version: build failed (see the go output above; a 403 from the module proxy means it does not serve that module here)"
  fi
  for b in "$@"; do [ -x "$out/$b" ] || die "$name: $b was not produced"; done
  rm -rf "$dest"; mv "$out" "$dest"; rm -rf "$work"
  say "$name $version: built in $((SECONDS - t0)) s -> $dest"
}

# k8s.io/kubernetes requires its staging modules at v0.0.0 with replace directives into its own tree;
# outside the tree each one must be replaced by its published v0.<minor>.<patch>. The list is taken from
# the pinned kubernetes go.mod itself, so a version bump needs no edit here.
build_kubernetes() {
  local version=$1 work=$2 out=$3 staging_version="v0.${1#v1.}"
  local k8s_mod
  k8s_mod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  [ -f "$k8s_mod" ] || die "could not download k8s.io/kubernetes@$version"
  {
    printf 'module storage-operator-lab/kubernetes\n\ngo %s\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' \
      "$GO_MIN_VERSION" "$version"
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging_version"'#p' "$k8s_mod"
    printf ')\n'
  } > "$work/go.mod"
  cat > "$work/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
  local minor=${version#v1.}; minor=${minor%%.*}
  local ldflags="-s -w"
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  # (errexit does not apply inside `if !`: chain the steps so a failed tidy stops the build)
  (cd "$work" && go mod tidy && go build -ldflags "$ldflags" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet)
}

build_etcd() {
  local version=$1 work=$2 out=$3
  printf 'module storage-operator-lab/etcd\n\ngo %s\n\nrequire go.etcd.io/etcd/server/v3 %s\n' \
    "$GO_MIN_VERSION" "$version" > "$work/go.mod"
  cat > "$work/main.go" <<'GO'
// etcd's own server entry point, so the lab runs the real etcd built from its pinned module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$work" && go mod tidy && go build -ldflags "-s -w" -o "$out/etcd" .)
}

build_csi_sanity() {
  local version=$1 work=$2 out=$3
  (cd "$work" && GOBIN="$out" go install -ldflags "-s -w" \
    "github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@$version")
}

mkdir -p "$CACHE"
components=("$@")
[ ${#components[@]} -gt 0 ] || components=(kubernetes etcd csi-sanity)
for c in "${components[@]}"; do
  case $c in
    kubernetes) build_component kubernetes "$KUBERNETES_VERSION" \
                  kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet ;;
    etcd)       build_component etcd "$ETCD_VERSION" etcd ;;
    csi-sanity) build_component csi-sanity "$CSI_TEST_VERSION" csi-sanity ;;
    *) die "unknown component '$c' (known: kubernetes etcd csi-sanity; the NFS peer: hack/build-peer.sh)" ;;
  esac
done
