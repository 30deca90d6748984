"""Wait for things to become ready, with a deadline and a useful message when they do not."""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from storage_operator.errors import LabError, StorageError
from storage_operator.lab import processes
from storage_operator.lab.state import ProcessRecord

T = TypeVar("T")


def wait_for(
    what: str,
    check: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.1,
    watch: tuple[ProcessRecord, ...] = (),
) -> T:
    """Call ``check`` until it returns something other than None (or False).

    Fails fast when one of the ``watch`` processes dies, quoting the end of its log.
    """
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        for record in watch:
            reason = processes.exited_early(record)
            if reason:
                raise LabError(f"{what}: {reason}")
        try:
            result = check()
        except (StorageError, OSError) as exc:
            result, last_error = None, str(exc)
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            logs = ", ".join(r.log for r in watch)
            raise LabError(f"{what} not ready after {timeout:.0f} s{detail}; see {logs or 'the logs'}")
        time.sleep(interval)


def tls_context(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key) if key else None)
    return ctx


def http_get(url: str, ctx: ssl.SSLContext | None = None, timeout: float = 2.0) -> tuple[int, str]:
    """GET a lab URL (always http(s)://127.0.0.1:...); HTTP errors come back as their status."""
    if not url.startswith(("https://127.0.0.1:", "http://127.0.0.1:")):
        raise LabError(f"refusing to probe {url}: the lab only talks to 127.0.0.1")
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=timeout) as resp:  # noqa: S310 (checked above)
            return int(resp.status), resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def http_ok(url: str, ctx: ssl.SSLContext | None = None) -> bool | None:
    status, _ = http_get(url, ctx)
    return True if status == 200 else None
