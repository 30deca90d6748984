"""The FUSE daemons a node plugin starts (ceph-fuse, rbd-fuse) daemonize: they are found by their command
line, and waited for when their mount goes, so "unstaged" means the mapper has really let go (an image
stays watched, and cannot be deleted, while its rbd-fuse still runs)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

GONE_TIMEOUT = 10.0


def pids_of(program: str, argument: str) -> list[int]:
    """PIDs of ``program`` whose command line has an argument equal to ``argument``."""
    found = []
    want = argument.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and Path(argv[0].decode(errors="replace")).name == program and want in argv:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


async def wait_gone(pids: list[int], timeout: float = GONE_TIMEOUT) -> None:
    """Wait for ``pids`` to exit; after ``timeout`` they get SIGTERM, then SIGKILL."""
    deadline = time.monotonic() + timeout
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            pids = [p for p in pids if _alive(p)]
            if not pids:
                return
            await asyncio.sleep(0.02)
