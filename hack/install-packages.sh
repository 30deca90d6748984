#!/usr/bin/env bash
# Install the Debian packages the lab needs, only when one is missing (a no-op on a ready machine).
#   hack/install-packages.sh            # needs root (apt-get)
set -euo pipefail

PACKAGES=(
  # Ceph 16.2 daemons, CLI and the Python bindings the operator imports (python3-rados & co.)
  ceph-mon ceph-mgr ceph-osd ceph-mds ceph-common ceph-base ceph-mgr-modules-core ceph-fuse
  # the CSI node plugin: RBD images mapped in userspace (no rbd kernel module), xfs for RBD volumes
  rbd-fuse xfsprogs
  python3-rados python3-rbd python3-cephfs
  # NFS server for the NFS bridge
  nfs-ganesha nfs-ganesha-vfs
  # disks: loop devices, signature probing, partitions
  mount util-linux fdisk gdisk e2fsprogs fuse3
  # the lab's real node (LAB_PROFILE=node): container runtime, CNI plugins, the bridge it sits on, and
  # the image build without a Docker engine or registry (hack/build-image.sh)
  containerd runc containernetworking-plugins iproute2 buildah debootstrap
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "[install-packages] all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "[install-packages] missing: ${missing[*]}; run as root: sudo $0" >&2
  exit 1
fi
echo "[install-packages] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's packages enable and start services on install where an init system runs; the lab runs its
# own daemons on its own ports, so stop any that came up (only those these packages ship).
for svc in nfs-ganesha ceph-mon.target ceph-mgr.target ceph-osd.target ceph-mds.target ceph.target; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
echo "[install-packages] done"
