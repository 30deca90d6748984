"""/proc/<pid>/mountinfo parsed (pure): the one parser the node agent, the lab and the CSI node plugin share."""

from __future__ import annotations

import re
from dataclasses import dataclass

_OCTAL = re.compile(r"[0-7]{3}")


@dataclass(frozen=True)
class MountEntry:
    mount_id: int
    device: str  # major:minor, as the kernel writes it
    root: str  # the path inside the source file system that is mounted (a bind mount's origin)
    mount_point: str
    options: str
    fstype: str
    source: str


def unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040 ...); anything else that
    looks like an escape but is not a whole one is kept as written."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and _OCTAL.fullmatch(field[i + 1 : i + 4]):
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[MountEntry]:
    """Every well-formed line, in the kernel's order (later mounts on the same point come later)."""
    entries = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        a, b = left.split(), right.split()
        if len(a) < 6 or len(b) < 2 or not a[0].isdigit():
            continue
        entries.append(
            MountEntry(
                mount_id=int(a[0]),
                device=a[2],
                root=unescape(a[3]),
                mount_point=unescape(a[4]),
                options=a[5],
                fstype=b[0],
                source=unescape(b[1]),
            )
        )
    return entries


def device_numbers(entry: MountEntry) -> tuple[int, int] | None:
    """(major, minor) of the mounted device; None when the field is not two numbers."""
    major, sep, minor = entry.device.partition(":")
    if not sep or not (major.isdigit() and minor.isdigit()):
        return None
    return int(major), int(minor)
