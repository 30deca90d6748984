"""The node agent: scan at start, on every block uevent (debounced) and on a timer; publish the node's
DiskInventory only when what it says changed. Its one write to a device is an OSD's BlueStore, when a
CephOSD of its node asks and the device is still what was chosen (``preparer``).

Level-based like the operator: a full rescan re-probes every device and compares with what the API
server holds, so a deleted inventory, an edited one, or a write lost to an API server restart is put
right without anyone restarting the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from datetime import UTC, datetime

from storage_operator import __version__
from storage_operator.agent.eligibility import Policy
from storage_operator.agent.inventory import build_status, same_devices
from storage_operator.agent.preparer import Preparer
from storage_operator.agent.scanner import Scanner, Scope
from storage_operator.agent.watcher import BlockEvents
from storage_operator.api.v1alpha1.diskinventory import DiskInventoryStatus
from storage_operator.config import AgentConfig
from storage_operator.errors import StorageError
from storage_operator.kube.inventory import publish_inventory, read_inventory_status
from storage_operator.kube.light import LightClient
from storage_operator.logging import setup_logging
from storage_operator.metrics import AgentMetrics
from storage_operator.probes import serve

log = logging.getLogger("storage_operator.agent")
RETRY_PUBLISH = 2.0  # after a failed write, try again this soon (the API server may be restarting)


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.node = config.node_name
        scope = Scope(loop_backing_dir=config.loop_backing_dir)
        self.policy = Policy(
            min_size_bytes=config.min_size_bytes,
            consider_loop=config.consider_loop or config.loop_backing_dir is not None,
            consider_partitions=config.consider_partitions,
        )
        self.scanner = Scanner(scope=scope, mountinfo=config.mountinfo)
        self.metrics = AgentMetrics()
        self.api = LightClient.from_config(config.kubeconfig)
        self.stop = asyncio.Event()
        self.published: DiskInventoryStatus | None = None
        self.last_scan: float | None = None
        self.last_publish_error: str | None = None
        self.scan_failed = False

    def healthy(self) -> tuple[bool, str]:
        if self.last_scan is None:
            return False, "no scan yet"
        age = time.monotonic() - self.last_scan
        if age > 3 * self.config.rescan_seconds + 10:
            return False, f"last scan {age:.0f} s ago"
        if self.last_publish_error:
            return True, f"ok (scanning; publishing fails: {self.last_publish_error})"
        return True, "ok"

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        source = None if self.config.event_source == "auto" else self.config.event_source
        events = BlockEvents(source)
        events.start()
        runner = await serve(
            self.config.http_host, self.config.http_port, self.metrics, healthy=self.healthy, ready=self.healthy
        )
        log.info(
            "agent for node %s: /metrics and /healthz on %s:%d", self.node, self.config.http_host, self.config.http_port
        )
        next_full = 0.0
        reprobe: set[str] | None = None
        preparing = None
        if self.config.prepare_osds:
            preparer = Preparer(self.api, self.node, self.scanner.scope, self.config.mountinfo, self.policy)
            preparing = asyncio.create_task(preparer.run(self.stop), name="osd preparation")
        try:
            while not self.stop.is_set():
                full = reprobe is None
                await self._scan_and_publish(reprobe, check_server=full)
                if full:
                    next_full = time.monotonic() + self.config.rescan_seconds
                wait = max(0.0, next_full - time.monotonic())
                if self.last_publish_error or self.scan_failed:
                    wait = min(wait, RETRY_PUBLISH)
                changed = await self._wait(events, wait)
                if changed is None and self.scan_failed:
                    reprobe = None  # scan everything again
                elif changed is None and self.last_publish_error and time.monotonic() < next_full:
                    reprobe = set()  # retry the write without probing everything again
                else:
                    reprobe = changed
        finally:
            events.stop()
            if preparing is not None:
                preparing.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await preparing
            await runner.cleanup()
            await self.api.close()
        return 0

    async def _wait(self, events: BlockEvents, timeout: float) -> set[str] | None:
        """Changed device names, or None when the timer ran out (a full rescan is due) or we stop."""
        waiter = asyncio.ensure_future(events.wait(timeout, debounce=self.config.debounce_seconds))
        stopper = asyncio.ensure_future(self.stop.wait())
        done, pending = await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        changed = waiter.result() if waiter in done else None
        if changed:
            self.metrics.uevents.inc(len(changed))
        return changed

    async def _scan_and_publish(self, reprobe: set[str] | None, *, check_server: bool) -> None:
        started = time.monotonic()
        probes_before = self.scanner.probes_run
        try:
            devices, swaps = await asyncio.to_thread(self.scanner.scan, reprobe)
        except Exception as exc:  # a device vanishing under sysfs enumeration must not end the agent
            log.warning("scan failed (%s: %s); trying again shortly", exc.__class__.__name__, exc)
            self.scan_failed = True
            return
        self.scan_failed = False
        took = time.monotonic() - started
        self.last_scan = time.monotonic()
        self.metrics.scan_duration.observe(took)
        self.metrics.probes.inc(self.scanner.probes_run - probes_before)
        status = build_status(
            devices, self.policy, swaps, now=datetime.now(UTC), agent_version=__version__, scan_seconds=took
        )
        self.metrics.devices.set(status.device_count)
        self.metrics.available.set(status.available_count)
        try:
            if check_server:
                # What the API server holds may have been deleted or edited meanwhile: compare with it.
                self.published = await read_inventory_status(self.api, self.node)
            if same_devices(self.published, status):
                self.last_publish_error = None
                return
            await publish_inventory(self.api, self.node, status, self.published)
        except (StorageError, OSError) as exc:
            self.last_publish_error = str(exc)[:200]
            self.metrics.publishes.labels("error").inc()
            log.warning("could not publish the inventory of %s: %s", self.node, exc)
            self.published = None
            return
        self.published = status
        self.last_publish_error = None
        self.metrics.publishes.labels("success").inc()
        log.info(
            "published %s: %d devices, %d available (scan %.0f ms)",
            self.node,
            status.device_count,
            status.available_count,
            took * 1000,
        )


def run_agent(config: AgentConfig) -> int:
    setup_logging(config.log_level, config.log_format)
    return asyncio.run(Agent(config).run())
