"""Mounts under the lab directory (ceph-fuse, bind mounts of later CSI tests) and their removal."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from storage_operator.errors import LabError


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal (\040 ...).
    return field.encode().decode("unicode_escape")


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root``, deepest first (the order to unmount them in)."""
    base = str(root.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = _unescape(line.split()[4])
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
