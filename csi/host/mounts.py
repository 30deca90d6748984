"""Mounts on the node: /proc/self/mountinfo parsed (pure), and mount/unmount through the mount tools.

A FUSE daemon that died leaves its mount point behind, answering every access with ENOTCONN: "stale".
Unstage and unpublish detach such mounts lazily instead of failing, so a crash never blocks cleanup.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

from csi.host.run import run

STALE_ERRNOS = frozenset({errno.ENOTCONN, errno.ESTALE, errno.EIO, errno.ECONNABORTED})


@dataclass(frozen=True)
class MountEntry:
    mount_id: int
    device: str  # major:minor
    root: str  # the path inside the source file system that is mounted (a bind mount's origin)
    mount_point: str
    options: str
    fstype: str
    source: str


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo (octal).
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and re.fullmatch(r"[0-7]{3}", field[i + 1 : i + 4]):
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[MountEntry]:
    entries = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        a, b = left.split(), right.split()
        if len(a) < 6 or len(b) < 2:
            continue
        entries.append(
            MountEntry(
                mount_id=int(a[0]),
                device=a[2],
                root=_unescape(a[3]),
                mount_point=_unescape(a[4]),
                options=a[5],
                fstype=b[0],
                source=_unescape(b[1]),
            )
        )
    return entries


def mounts() -> list[MountEntry]:
    return parse_mountinfo(Path("/proc/self/mountinfo").read_text())


def mount_at(path: Path | str) -> MountEntry | None:
    """The top-most mount at ``path`` (None when nothing is mounted there)."""
    target = os.path.normpath(str(path))
    found = None
    for entry in mounts():
        if entry.mount_point == target:
            found = entry
    return found


def is_stale(path: Path | str) -> bool:
    try:
        Path(path).stat()
    except OSError as exc:
        return exc.errno in STALE_ERRNOS
    return False


async def unmount(path: Path | str) -> None:
    """Unmount everything at ``path``; a stale or busy-but-dead mount is detached lazily."""
    while mount_at(path) is not None:
        if is_stale(path):
            await run("umount", "-l", str(path))
        else:
            await run("umount", str(path))


async def bind(
    source: Path | str, target: Path | str, *, read_only: bool = False, options: tuple[str, ...] = ()
) -> None:
    await run("mount", "--bind", str(source), str(target))
    if read_only or options:
        opts = ",".join(["remount", "bind", *(["ro"] if read_only else []), *options])
        await run("mount", "-o", opts, str(target))


async def mount(source: str, target: Path | str, fstype: str, options: tuple[str, ...] = ()) -> None:
    argv = ["mount", "-t", fstype]
    if options:
        argv += ["-o", ",".join(options)]
    await run(*argv, source, str(target))
