"""Loop devices over files (the userspace RBD mapper's image files): attach, find, refresh, detach."""

from __future__ import annotations

import os
from pathlib import Path

from csi.host.run import run

SYS_BLOCK = Path("/sys/block")


async def attach(backing: Path) -> str:
    # direct I/O: the page cache of the FUSE file below is bypassed, so what the file system writes
    # reaches the image (and another node) without a second cache in between.
    _code, out = await run("losetup", "--find", "--show", "--direct-io=on", str(backing))
    return out.strip()


def find(backing: Path) -> str | None:
    """The loop device attached to ``backing`` (None when there is none)."""
    want = os.path.normpath(str(backing))
    for entry in sorted(SYS_BLOCK.glob("loop*")):
        file = entry / "loop" / "backing_file"
        try:
            if os.path.normpath(file.read_text().strip()) == want:
                return f"/dev/{entry.name}"
        except OSError:
            continue
    return None


async def refresh(device: str) -> None:
    """Make the device take the (grown) size of its file."""
    await run("losetup", "--set-capacity", device)


async def detach(device: str) -> None:
    await run("losetup", "--detach", device, ok=(0, 1))


def attached_under(directory: Path) -> list[str]:
    """Loop devices whose backing file lies in ``directory`` (a mapper's mount, even a dead one)."""
    base = os.path.normpath(str(directory))
    found = []
    for entry in sorted(SYS_BLOCK.glob("loop*")):
        try:
            backing = os.path.normpath((entry / "loop" / "backing_file").read_text().strip())
        except OSError:
            continue
        if str(Path(backing).parent) == base:
            found.append(f"/dev/{entry.name}")
    return found
