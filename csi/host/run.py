"""Run a node tool and wait for it; a failure is a HostCommandError with its stderr."""

from __future__ import annotations

import asyncio
import logging
import os

from csi.errors import HostCommandError

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT = 120.0


async def run(*argv: str, timeout: float = DEFAULT_TIMEOUT, ok: tuple[int, ...] = (0,)) -> tuple[int, str]:
    """(exit code, stdout) of ``argv``; raises unless the code is in ``ok``. Never pass a secret in argv:
    command lines are readable by anyone on the node (keys go through csi.host.keyfile)."""
    log.debug("run %s", " ".join(argv))
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "LC_ALL": "C"},
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise HostCommandError(argv[0], -9, f"no answer within {timeout:.0f} s") from None
    code = proc.returncode if proc.returncode is not None else -1
    if code not in ok:
        raise HostCommandError(argv[0], code, err.decode(errors="replace") or out.decode(errors="replace"))
    return code, out.decode(errors="replace")
