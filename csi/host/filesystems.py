"""File systems on a node's block devices: probe, make (first use only), grow, and measure."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from csi.errors import FailedPrecondition, HostCommandError
from csi.host.run import run

# A file system smaller than its device by less than this is not worth growing (metadata rounding).
GROW_SLACK = 4 * 1024 * 1024
MKFS = {"ext4": ("mkfs.ext4", "-q", "-F", "-E", "nodiscard,lazy_itable_init=1"), "xfs": ("mkfs.xfs", "-q", "-K")}


@dataclass(frozen=True)
class Usage:
    total: int
    available: int
    used: int
    inodes: int = 0
    inodes_free: int = 0
    inodes_used: int = 0


async def probe(device: str) -> str | None:
    """The signature on ``device`` (a file system, a partition table, ...), None when it is blank."""
    code, out = await run("blkid", "-p", "-o", "value", "-s", "TYPE", device, ok=(0, 2))
    if code == 2:
        # blkid found no TYPE; a partition table or other signature still means "not blank".
        code, out = await run("blkid", "-p", "-o", "value", "-s", "PTTYPE", device, ok=(0, 2))
        return f"partition table {out.strip()}" if code == 0 and out.strip() else None
    return out.strip() or None


async def make(device: str, fstype: str) -> None:
    await run(*MKFS[fstype], device, timeout=600)


def parse_dumpe2fs(text: str) -> int:
    """The size in bytes of an ext4 file system from ``dumpe2fs -h`` (pure)."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return int(fields.get("Block count", "0")) * int(fields.get("Block size", "0"))


async def ext4_size(device: str) -> int:
    _code, out = await run("dumpe2fs", "-h", device)
    return parse_dumpe2fs(out)


async def grow_unmounted(device: str, fstype: str) -> bool:
    """Grow an unmounted ext4 to its device (a volume expanded while no node had it staged). xfs grows
    only when mounted: ``grow`` after the mount does it. Returns whether anything was done."""
    if fstype != "ext4" or await ext4_size(device) >= device_size(device) - GROW_SLACK:
        return False
    await run("e2fsck", "-f", "-p", device, timeout=600, ok=(0, 1))
    await run("resize2fs", device, timeout=600)
    return True


async def grow(device: str, fstype: str, mount_point: Path) -> None:
    """Grow a mounted file system to its device."""
    if fstype == "xfs":
        await run("xfs_growfs", str(mount_point), timeout=600)
        return
    try:
        await run("resize2fs", device, timeout=600)
    except HostCommandError as exc:
        if "Permission denied" in exc.stderr:
            # The kernel's online ext4 resize needs CAP_SYS_RESOURCE (a privileged node plugin has it).
            raise FailedPrecondition(
                "ext4 cannot grow while mounted: this node plugin lacks CAP_SYS_RESOURCE; the file system "
                "grows when the volume is staged next"
            ) from exc
        raise


def device_size(device: str) -> int:
    with Path(device).open("rb") as f:
        return f.seek(0, os.SEEK_END)


def is_block_device(path: Path) -> bool:
    try:
        return stat.S_ISBLK(path.stat().st_mode)
    except OSError:
        return False


def usage(path: Path) -> Usage:
    st = os.statvfs(path)
    total, free = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
    return Usage(
        total=total,
        available=free,
        used=max(0, total - st.f_bfree * st.f_frsize),
        inodes=st.f_files,
        inodes_free=st.f_ffree,
        inodes_used=max(0, st.f_files - st.f_ffree),
    )
