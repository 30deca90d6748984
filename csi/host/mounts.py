"""Mounts on the node: what /proc/self/mountinfo says, and mount/unmount through the mount tools.

A FUSE daemon that died leaves its mount point behind, answering every access with ENOTCONN: "stale".
Unstage and unpublish detach such mounts lazily instead of failing, so a crash never blocks cleanup.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from csi.host.run import run
from storage_operator.reconcile.mountinfo import MountEntry, parse_mountinfo

STALE_ERRNOS = frozenset({errno.ENOTCONN, errno.ESTALE, errno.EIO, errno.ECONNABORTED})


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
