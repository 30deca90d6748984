"""The operator process: serve metrics and health, win the leader lease, run the controllers (kopf)
while leading, step down cleanly.

Every replica serves /metrics, /healthz and /readyz; only the leader runs kopf. Losing the lease stops
kopf (its daemons finish their pass) and the replica goes back to standing by.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Any, NoReturn

import kopf

from storage_operator.config import OperatorConfig
from storage_operator.controllers import handlers
from storage_operator.controllers.leader import LeaderElector
from storage_operator.controllers.nfs.provisioner import NFSProvisioner
from storage_operator.controllers.runtime import Runtime
from storage_operator.kube.client import api_client, close_client, endpoint
from storage_operator.kube.light import LightClient, RateLimiter
from storage_operator.logging import setup_logging
from storage_operator.metrics import Metrics
from storage_operator.nfs.aclient import NFSPool
from storage_operator.probes import serve

log = logging.getLogger("storage_operator")
FINALIZER = "storage.baremetal.io/finalizer"
KOPF_STOP_TIMEOUT = 60.0


def kopf_settings(config: OperatorConfig) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.peering.standalone = True  # leadership is our Lease's business, not kopf's peering
    settings.scanning.disabled = True  # no CRD/namespace discovery: fewer permissions, fixed resources
    settings.posting.enabled = False  # the controllers post their own, deliberate Events
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="storage.baremetal.io", key="last-handled-configuration"
    )
    settings.networking.request_timeout = 60
    settings.watching.server_timeout = 300
    return settings


def build_registry(rt: Runtime) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    found = endpoint(rt.api)

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        # kopf's own HTTP client authenticates exactly as our client does: same server, CA, identity.
        return kopf.ConnectionInfo(
            server=found.server,
            ca_path=found.ca_path,
            insecure=found.insecure,
            scheme=found.scheme,
            token=found.token,
            certificate_path=found.certificate_path,
            private_key_path=found.private_key_path,
            default_namespace=rt.config.namespace,
        )

    handlers.register(registry, rt)
    return registry


class Process:
    def __init__(self, config: OperatorConfig) -> None:
        self.config = config
        self.rt = Runtime(config=config, api=api_client(config.kubeconfig), metrics=Metrics())
        self.elector = LeaderElector(self.rt, config)
        self.stop = asyncio.Event()
        self.kopf_task: asyncio.Task[None] | None = None
        self.kopf_ready = asyncio.Event()

    def healthy(self) -> tuple[bool, str]:
        if self.elector.is_leader and (self.kopf_task is None or self.kopf_task.done()):
            return False, "leader without a running controller loop"
        return True, "ok (leader)" if self.elector.is_leader else "ok (standby)"

    def ready(self) -> tuple[bool, str]:
        if not self.elector.is_leader:
            return True, "standby: ready to take over"
        nfs_ready = self.rt.nfs is not None and self.rt.nfs.ready.is_set()
        if self.kopf_ready.is_set() and nfs_ready:
            return True, "leader: controllers running"
        return False, "leader: starting"

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        runner = await serve(
            self.config.http_host, self.config.http_port, self.rt.metrics, healthy=self.healthy, ready=self.ready
        )
        log.info(
            "storage-operator %s: /metrics and /healthz on %s:%d; candidate for lease %s/%s",
            self.config.identity,
            self.config.http_host,
            self.config.http_port,
            self.config.namespace,
            self.config.lease_name,
        )
        code = 0
        try:
            while not self.stop.is_set():
                if not await self.elector.acquire(self.stop):
                    break
                self.rt.metrics.leader.set(1)
                code = await self._lead()
                self.rt.metrics.leader.set(0)
                if code:
                    break
        finally:
            await self.elector.release()
            await runner.cleanup()
            await self.rt.close()
            close_client(self.rt.api)
        return code

    async def _lead(self) -> int:
        """Run the controllers until the lease is lost (0: stand by again), we are stopped (0), or they die (1)."""
        limits = (self.config.kube_qps, self.config.kube_burst)
        kube = LightClient.from_config(self.config.kubeconfig, limiter=RateLimiter(*limits))
        events = LightClient.from_config(
            self.config.kubeconfig, limiter=RateLimiter(self.config.events_qps, self.config.events_burst)
        )
        pool = NFSPool(timeout=self.config.nfs_timeout)
        self.rt.nfs = NFSProvisioner(self.config, self.rt.metrics, kube, pool, events=events)
        nfs_task = asyncio.create_task(self.rt.nfs.run(), name="nfs provisioner")
        try:
            return await self._lead_kopf(nfs_task)
        finally:
            nfs_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await nfs_task
            self.rt.nfs = None
            await pool.close()
            await kube.close()
            await events.close()

    async def _lead_kopf(self, nfs_task: asyncio.Task[None]) -> int:
        kopf_stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.kopf_ready.clear()
        self.kopf_task = asyncio.create_task(
            kopf.operator(
                registry=build_registry(self.rt),
                settings=kopf_settings(self.config),
                clusterwide=True,
                standalone=True,
                stop_flag=kopf_stop,
                ready_flag=self.kopf_ready,
                # Ours (the pod's name), not kopf's guess from the user name: a pod's uid need not have a
                # passwd entry, and then kopf's detection fails. (Its Identity, a NewType of str, is not
                # exported.)
                identity=self.config.identity,  # type: ignore[arg-type]
            )
        )
        holding = asyncio.create_task(self.elector.hold(self.stop))
        done, _ = await asyncio.wait({self.kopf_task, holding, nfs_task}, return_when=asyncio.FIRST_COMPLETED)
        if nfs_task in done and not nfs_task.cancelled() and nfs_task.exception() is not None:
            log.error("the NFS provisioner failed: %s", nfs_task.exception())
        if not kopf_stop.done():  # kopf may have finished (and resolved its flag) on its own
            kopf_stop.set_result(None)
        try:
            await asyncio.wait_for(asyncio.shield(self.kopf_task), KOPF_STOP_TIMEOUT)
        except TimeoutError:
            log.error("the controllers did not stop within %.0f s; cancelling them", KOPF_STOP_TIMEOUT)
            self.kopf_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.kopf_task
        except Exception:
            log.exception("the controllers failed")
        if (self.kopf_task in done or nfs_task in done) and not self.stop.is_set():
            holding.cancel()
            log.error("the controller loop ended on its own; exiting")
            return 1
        lost = not await holding
        if lost:
            log.warning("lost the lease; standing by again")
        return 0


def run_operator(config: OperatorConfig) -> NoReturn:
    setup_logging(config.log_level, config.log_format)
    code = asyncio.run(Process(config).run())
    # A thread blocked in librados (a monitor that accepts and never answers) cannot be interrupted, and
    # the interpreter would wait for it at exit for its full timeout: flush, then leave without joining.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
