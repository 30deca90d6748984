"""One plugin process: its settings, Ceph sessions, operation locks, metrics, and the services' backends."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from importlib.metadata import PackageNotFoundError, version

from csi.backends.cephfs import CephFSStore
from csi.backends.cephfs_node import CephFSStager
from csi.backends.node import NodeBackend, Stager
from csi.backends.rbd import RBDStore
from csi.backends.rbd_node import RBDStager
from csi.backends.service import VolumeService
from csi.backends.store import Store
from csi.cluster import Clusters, Credentials
from csi.config import CSIConfig
from csi.locks import OperationLocks
from csi.metrics import CSIMetrics
from storage_operator.ceph.status import build_status

PROBE_TTL = 2.0
PROBE_TIMEOUT = 3.0
# The tools a node plugin runs, by driver.
NODE_TOOLS = {"cephfs": ("ceph-fuse", "mount", "umount"), "rbd": ("rbd-fuse", "losetup", "mount", "umount", "blkid")}


def monitor_endpoints(monitors: tuple[str, ...]) -> list[tuple[str, int]]:
    """(host, port) pairs to reach the monitors at, msgr2 where offered (pure)."""
    out: list[tuple[str, int]] = []
    for mon in monitors:
        parts = [p.strip() for p in mon.strip().removeprefix("[").removesuffix("]").split(",") if p.strip()]
        for part in [p for p in parts if p.startswith("v2:")] or parts:
            addr = part.split(":", 1)[1] if part.startswith(("v1:", "v2:", "any:")) else part
            addr = addr.split("/", 1)[0]  # a nonce
            host, sep, port = addr.rpartition(":")
            if not sep or "]" in port:
                host, port = addr, ""
            out.append((host.strip("[]"), int(port) if port.isdigit() else 3300))
    return out


def package_version() -> str:
    try:
        return version("storage-operator")
    except PackageNotFoundError:
        return "0.0.0"


class Plugin:
    def __init__(self, config: CSIConfig) -> None:
        self.config = config
        self.version = package_version()
        self.metrics = CSIMetrics(config.driver_name)
        own = None
        if config.user_id and config.user_key.get_secret_value():
            own = Credentials(config.user_id, config.user_key.get_secret_value())
        self.clusters = Clusters(config.monitor_list, own)
        self.locks = OperationLocks()
        self.store: Store = CephFSStore() if config.driver == "cephfs" else RBDStore()
        self.service = VolumeService(self.store, self.clusters, self.locks, clone_wait=config.clone_wait)
        self.node: NodeBackend | None = None
        if config.serves_node:
            stager: Stager = CephFSStager(config, self.clusters) if config.driver == "cephfs" else RBDStager(config)
            self.node = NodeBackend(config, stager, self.locks)
        self._probed: tuple[float, bool] | None = None

    async def probe(self) -> bool:
        """Ready when Ceph answers (with the controller's credentials: a health query; else a monitor
        accepts a connection) and, on a node, the tools it runs are installed."""
        if self._probed and time.monotonic() - self._probed[0] < PROBE_TTL:
            return self._probed[1]
        ready = await self._probe()
        self._probed = (time.monotonic(), ready)
        return ready

    async def _probe(self) -> bool:
        if self.config.serves_node and any(shutil.which(t) is None for t in NODE_TOOLS[self.config.driver]):
            return False
        if self.clusters.own is not None:
            try:
                await self.clusters.session().call(build_status(), timeout=PROBE_TIMEOUT)
            except Exception:
                return False
            return True
        for host, port in monitor_endpoints(self.config.monitor_list):
            with contextlib.suppress(OSError, TimeoutError):
                _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), PROBE_TIMEOUT)
                writer.close()
                return True
        return False

    async def close(self) -> None:
        await self.clusters.close()
