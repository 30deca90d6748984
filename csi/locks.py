"""One operation per volume (and per request name) at a time: the second gets ABORTED at once.

The CSI spec asks a plugin to refuse, not queue, a concurrent call for a volume already being worked
on; the CO retries with backoff. The keys live in this process: the sidecars' leader election makes one
controller replica the only caller, and a node plugin is the only one acting on its node.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable

from csi.errors import Aborted


class OperationLocks:
    def __init__(self) -> None:
        self._held: set[str] = set()

    def busy(self, key: str) -> bool:
        return key in self._held

    @contextlib.asynccontextmanager
    async def hold(self, *keys: str) -> AsyncIterator[None]:
        taken = self._take(keys)
        try:
            yield
        finally:
            self._held.difference_update(taken)

    def _take(self, keys: Iterable[str]) -> list[str]:
        wanted = [k for k in dict.fromkeys(keys) if k]
        for key in wanted:
            if key in self._held:
                raise Aborted(f"an operation on {key} is already in progress; retry later")
        self._held.update(wanted)
        return wanted
