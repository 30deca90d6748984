"""Block-device uevents on the asyncio loop: from udevd when it runs, from the kernel otherwise.

Without udevd (the lab, minimal hosts) the udev netlink group is silent, so the kernel's own uevents
are read instead; loop devices exist before anything is attached, so attach and detach arrive as
"change" events. Events are coalesced for a short debounce so one `losetup` (several events) makes one
rescan.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pyudev

log = logging.getLogger("storage_operator.agent")
UDEV_CONTROL = Path("/run/udev/control")


def event_source() -> str:
    """'udev' when a udev daemon runs on this host (it then also delivers enriched properties)."""
    return "udev" if UDEV_CONTROL.exists() else "kernel"


class BlockEvents:
    """Collects the names of block devices that changed, and wakes whoever waits for them."""

    def __init__(self, source: str | None = None) -> None:
        self.source = source or event_source()
        self.handled = 0
        self._monitor = pyudev.Monitor.from_netlink(pyudev.Context(), source=self.source)
        self._monitor.filter_by("block")
        self._changed: set[str] = set()
        self._event = asyncio.Event()

    def start(self) -> None:
        self._monitor.start()
        asyncio.get_running_loop().add_reader(self._monitor.fileno(), self._drain)
        log.info("listening to %s uevents for block devices", self.source)

    def stop(self) -> None:
        asyncio.get_running_loop().remove_reader(self._monitor.fileno())

    def _drain(self) -> None:
        while True:
            device = self._monitor.poll(timeout=0)
            if device is None:
                break
            self.handled += 1
            self._changed.add(device.sys_name)
        if self._changed:
            self._event.set()

    async def wait(self, timeout: float, *, debounce: float) -> set[str] | None:
        """Names of the devices that changed (after ``debounce`` more seconds of quiet), or None on timeout."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return None
        await asyncio.sleep(debounce)
        self._drain()
        changed, self._changed = self._changed, set()
        self._event.clear()
        return changed
