#!/usr/bin/env bash
# Build the project's images from its Dockerfile with buildah: no Docker engine, no registry.
#
#   hack/build-image.sh [TARGET...]      targets: storage-operator (default), ceph, lab-pause
#
# Each target lands in the cache as an OCI archive named by the content of everything the Dockerfile
# reads (Dockerfile, hack/image-requirements.txt, pyproject.toml, README.md, storage_operator/, csi/,
# hack/link-ceph-bindings.sh):
#   $STORAGE_OPERATOR_CACHE/images/<target>-<key>.oci.tar       (image name localhost/<target>:<key>)
# An archive that exists is not built again; otherwise buildah builds with its layer cache (a private
# store under the cache), so a code edit rebuilds only the layers after `COPY storage_operator`. The last
# line of output is the archive's path per target ("<target> <path>").
#
# The base, debian:bookworm-slim, is made once with debootstrap from the machine's Debian mirror (no
# registry is reachable here) and kept in that store under the name the Dockerfile asks for. lab-pause is
# the lab node's pod sandbox image (the runtime's pause image cannot be pulled here): the base image
# sleeping; it is not part of what users deploy.
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HACK_DIR")
# shellcheck source=versions.env
source "$HACK_DIR/versions.env"
CACHE=${STORAGE_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/storage-operator}
SUITE=$IMAGE_BASE_SUITE
STORE=$CACHE/buildah
BASE_IMAGE=docker.io/library/debian:$SUITE-slim
BUILDAH=(buildah --root "$STORE/root" --runroot "$STORE/runroot" --storage-driver overlay)

say() { printf '[build-image] %s\n' "$*" >&2; }
BASE_WORK=
trap '[ -z "$BASE_WORK" ] || rm -rf "$BASE_WORK"' EXIT
die() { say "error: $*"; exit 1; }

for tool in buildah debootstrap; do
  command -v $tool >/dev/null || die "$tool is missing: run hack/install-packages.sh"
done
[ "$(id -u)" = 0 ] || die "buildah's overlay store and debootstrap need root"

grep -q "^FROM debian:$SUITE-slim " "$REPO/Dockerfile" \
  || die "the Dockerfile's base is not debian:$SUITE-slim (IMAGE_BASE_SUITE in hack/versions.env): change both"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(storage-operator)
for t in "${targets[@]}"; do
  case $t in storage-operator|ceph|lab-pause) ;; *) die "unknown target '$t' (known: storage-operator ceph lab-pause)";; esac
done

# The content key: every file the Dockerfile copies (bytecode and editor leftovers excluded, as in
# .dockerignore), with its path, so a rename counts too.
content_key() {
  (cd "$REPO" && find Dockerfile .dockerignore hack/image-requirements.txt hack/link-ceph-bindings.sh \
      pyproject.toml README.md storage_operator csi -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
      -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

make_base() {
  if "${BUILDAH[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then return 0; fi
  local mirror work t0=$SECONDS
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  work=$(mktemp -d "$CACHE/.base-XXXXXX")
  BASE_WORK=$work   # removed on exit, whatever happens (a RETURN trap would outlive this function)
  say "base $BASE_IMAGE: debootstrap $SUITE from $mirror (once; ~40 s)"
  local r=$work/rootfs
  debootstrap --variant=minbase "$SUITE" "$r" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  # What the official slim image does: no docs, man pages or locales from packages; no apt caches.
  cat > "$r/etc/dpkg/dpkg.cfg.d/docker" <<'X'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/all_languages
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
X
  cat > "$r/etc/apt/apt.conf.d/docker-clean" <<'X'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
X
  echo 'Acquire::Languages "none";' > "$r/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' > "$r/etc/apt/apt.conf.d/docker-autoremove-suggests"
  # debootstrap configures only `$SUITE main`; the image needs the updates and security fixes too.
  rm -f "$r/etc/apt/sources.list"
  cat > "$r/etc/apt/sources.list.d/debian.sources" <<X
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
X
  find "$r/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$r"/usr/share/{man,info,groff,linda}/* "$r"/usr/share/lintian/overrides/*
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name all_languages ! -name locale.alias -exec rm -rf {} +
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* "$r"/var/log/* "$r"/tmp/*
  : > "$r/etc/hostname"; rm -f "$r/etc/resolv.conf"   # the runtime provides these
  rm -rf "$r"/dev/* "$r"/proc/* "$r"/sys/*            # images carry no device nodes
  tar --numeric-owner --xattrs -C "$r" -cf "$work/rootfs.tar" .
  local c
  c=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" add "$c" "$work/rootfs.tar" / >/dev/null
  "${BUILDAH[@]}" config --cmd bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
  "${BUILDAH[@]}" commit --quiet --rm "$c" "$BASE_IMAGE" >/dev/null
  rm -rf "$work"
  say "base $BASE_IMAGE: made in $((SECONDS - t0)) s"
}

build_target() {
  local target=$1 key=$2
  local archive="$CACHE/images/$target-$key.oci.tar" image="localhost/$target:$key"
  if [ -f "$archive" ]; then
    say "$target: cached ($archive)"
    echo "$target $archive"
    return 0
  fi
  make_base
  mkdir -p "$CACHE/images"
  # pip inside the build must trust what the host trusts (on some machines HTTPS is re-signed by a CA
  # only the host's bundle has): the bundle is bind-mounted under /dev, a tmpfs in RUN steps, so it never
  # lands in a layer; the build argument PIP_CERT points pip at it.
  local mounts=() bundle=/etc/ssl/certs/ca-certificates.crt
  [ -f "$bundle" ] && mounts=(-v "$bundle:/dev/host-ca.pem:ro" --build-arg PIP_CERT=/dev/host-ca.pem)
  local t0=$SECONDS
  say "$target: building $image"
  "${BUILDAH[@]}" bud --quiet --pull=never --layers --network host --isolation oci "${mounts[@]}" \
    --target "$target" -t "$image" -f "$REPO/Dockerfile" "$REPO" >&2
  local tmp="$archive.tmp-$$"
  rm -f "$tmp"
  # Uncompressed: the archive only travels to the local runtime, and compressing 500 MB is most of a
  # rebuild's time.
  "${BUILDAH[@]}" push --quiet --disable-compression "$image" "oci-archive:$tmp:$image" >&2
  mv "$tmp" "$archive"
  # Only the three newest archives of a target stay (switching branches back and forth finds them); the
  # buildah store keeps the layers of older ones for reuse.
  ls -1t "$CACHE/images/$target"-*.oci.tar | tail -n +4 | xargs -r rm -f
  # Likewise the store's named images of the target: the three newest stay. (Its unnamed intermediate
  # images are the layer cache and stay; `rm -rf $CACHE/buildah` starts over from an empty store.)
  "${BUILDAH[@]}" images --noheading --format '{{.Name}}:{{.Tag}} {{.CreatedAtRaw}}' 2>/dev/null \
    | awk -v n="localhost/$target" '$1 ~ "^"n":" {print}' | sort -k2 -r | tail -n +4 | cut -d' ' -f1 \
    | xargs -r "${BUILDAH[@]}" rmi >/dev/null 2>&1 || true
  say "$target: built in $((SECONDS - t0)) s, $(du -h "$archive" | cut -f1) archive, $image"
  echo "$target $archive"
}

build_pause() {
  make_base
  local key
  key=$("${BUILDAH[@]}" inspect --type image --format '{{.FromImageID}}' "$BASE_IMAGE" | cut -c1-16)
  local archive="$CACHE/images/lab-pause-$key.oci.tar" image="localhost/lab-pause:$key"
  if [ ! -f "$archive" ]; then
    mkdir -p "$CACHE/images"
    local c
    c=$("${BUILDAH[@]}" from --pull=never "$BASE_IMAGE")
    "${BUILDAH[@]}" config --entrypoint '["/bin/sleep"]' --cmd '["infinity"]' "$c"
    "${BUILDAH[@]}" commit --quiet --rm "$c" "$image" >/dev/null
    "${BUILDAH[@]}" push --quiet "$image" "oci-archive:$archive.tmp-$$:$image" >&2
    mv "$archive.tmp-$$" "$archive"
    say "lab-pause: built $image"
  fi
  echo "lab-pause $archive"
}

key=$(content_key)
for t in "${targets[@]}"; do
  if [ "$t" = lab-pause ]; then build_pause; else build_target "$t" "$key"; fi
done
