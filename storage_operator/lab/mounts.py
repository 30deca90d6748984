"""Mounts under the lab directory (ceph-fuse, bind mounts of later CSI tests) and their removal."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from storage_operator.errors import LabError
from storage_operator.reconcile.mountinfo import parse_mountinfo


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root``, deepest first (the order to unmount them in)."""
    base = str(root.resolve())
    found = []
    for entry in parse_mountinfo(Path("/proc/self/mountinfo").read_text()):
        point = entry.mount_point
        if point == base or point.startswith(base + os.sep):
            found.append(point)
    return sorted(set(found), key=lambda p: p.count(os.sep), reverse=True)


def unmount(point: str) -> None:
    done = subprocess.run(["umount", point], capture_output=True, text=True, check=False, timeout=30)
    if done.returncode != 0:
        # A busy FUSE mount still goes away lazily; never leave it behind.
        lazy = subprocess.run(["umount", "-l", point], capture_output=True, text=True, check=False, timeout=30)
        if lazy.returncode != 0:
            raise LabError(f"cannot unmount {point}: {done.stderr.strip()} / {lazy.stderr.strip()}")
