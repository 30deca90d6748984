"""The NFS provisioner's machinery: caches of claims, volumes, classes and backends (list + watch), one
work queue of claims and volumes, a bounded set of workers, and the Events users read on their claims.

It runs in the operator process while it leads, beside kopf, on the same event loop: every call it makes
is asyncio (aiohttp for the API, nfs-rs for NFS), so a burst of claims never takes a thread from the
other controllers. What to do with one claim or volume lives in ``provision``, ``reclaim`` and ``resize``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any, Literal

from storage_operator.api.meta import GROUP, VERSION
from storage_operator.config import OperatorConfig
from storage_operator.controllers.nfs import provision, reclaim, usage
from storage_operator.controllers.nfs.model import Backend
from storage_operator.controllers.nfs.queue import WorkQueue
from storage_operator.errors import InvalidSpec, KubeAPIError, NotFound, NotReady, StorageError
from storage_operator.kube.core_events import event_body
from storage_operator.kube.informer import Informer
from storage_operator.kube.light import LightClient
from storage_operator.metrics import Metrics
from storage_operator.nfs.aclient import AsyncNFS, NFSPool
from storage_operator.nfs.client import Capacity
from storage_operator.reconcile.nfsclass import PROVISIONER
from storage_operator.reconcile.nfsvolume import BACKEND_ANNOTATION, is_ours, wants_us

log = logging.getLogger("storage_operator")
Body = dict[str, Any]
Key = tuple[Literal["claim", "volume"], str]
# The same Event is posted again at most this often (a changed message is posted at once).
REPEAT_FAILURE_EVENT = 300.0
# Free space read from a backend is reused this long: a burst does not stat the export for every claim.
CAPACITY_TTL = 1.0
RETRY_FIRST = 1.0
RETRY_MAX = 30.0


class NFSProvisioner:
    def __init__(
        self, config: OperatorConfig, metrics: Metrics, kube: LightClient, pool: NFSPool, *, events: LightClient
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.kube = kube
        self.events = events  # its own client and rate limit, as client-go's event recorder has
        self.pool = pool
        self.claims = Informer(kube, "/api/v1/persistentvolumeclaims", self._claim_changed, name="claims")
        self.volumes = Informer(kube, "/api/v1/persistentvolumes", self._volume_changed, name="volumes")
        self.classes = Informer(
            kube, "/apis/storage.k8s.io/v1/storageclasses", self._class_changed, name="storage classes"
        )
        self.backends = Informer(kube, f"/apis/{GROUP}/{VERSION}/nfsbackends", self._backend_changed, name="backends")
        self.queue: WorkQueue[Key] = WorkQueue()
        self.cluster_id = config.cluster_id or ""
        self.ready = asyncio.Event()
        self._failures: dict[Key, int] = {}
        self._said: dict[tuple[str, str], tuple[str, float]] = {}  # (uid, reason) -> (message, when)
        self._capacity: dict[str, tuple[float, Capacity]] = {}
        self._parsed_backends: dict[str, tuple[str, Backend]] = {}  # name -> (resourceVersion, parsed)
        self._posting: set[asyncio.Task[None]] = set()
        self.last_sweep: dict[str, float] = {}  # backend -> when its orphans were last looked for
        self._post_gate = asyncio.Semaphore(16)

    # ------------------------------------------------------------------ life cycle
    async def run(self) -> None:
        informers = [self.classes, self.backends, self.volumes, self.claims]
        tasks = [asyncio.create_task(i.run(), name=f"informer {i.name}") for i in informers]
        try:
            for informer in informers:
                await informer.synced.wait()
            if not self.cluster_id:
                self.cluster_id = await self._cluster_id()
            self.ready.set()
            log.info(
                "NFS provisioner %s: %d claims, %d volumes, %d backends in view; %d workers",
                PROVISIONER,
                len(self.claims.cache),
                len(self.volumes.cache),
                len(self.backends.cache),
                self.config.nfs_workers,
            )
            tasks += [
                asyncio.create_task(self._worker(), name=f"nfs worker {i}") for i in range(self.config.nfs_workers)
            ]
            tasks.append(asyncio.create_task(usage.run(self), name="nfs usage"))
            await asyncio.gather(*tasks)
        finally:
            tasks += self._posting
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.queue.close()

    async def _cluster_id(self) -> str:
        """The kube-system namespace's UID: stable for a cluster's life, new in a replacement cluster.

        Retried while the API server has trouble; a refusal ends the provisioner (and the operator) with
        a message that says what to grant, rather than writing records that name no cluster.
        """
        delay = 0.5
        while True:
            try:
                found = await self.kube.get("/api/v1/namespaces/kube-system")
                return str(found["metadata"]["uid"])
            except (KubeAPIError, NotFound) as exc:
                if isinstance(exc, NotFound) or exc.status in (401, 403):
                    raise StorageError(
                        f"cannot read namespace kube-system to name this cluster in NFS ownership records ({exc}); "
                        "grant get on it or set STORAGE_OPERATOR_CLUSTER_ID"
                    ) from exc
                log.warning("reading namespace kube-system failed (%s); again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    # ------------------------------------------------------------------ what wakes whom
    def _claim_changed(self, key: str, old: Body | None, new: Body | None) -> None:
        if new is None:
            self._forget(("claim", key), old)
            return
        if self.wants(new) or self.bound_to_ours(new):
            self.queue.add(("claim", key))

    def _volume_changed(self, key: str, old: Body | None, new: Body | None) -> None:
        if new is not None and is_ours(new):
            self.queue.add(("volume", key))
            return
        if new is None and old is not None and is_ours(old):
            usage.forget(self, old)
            self._forget(("volume", key), old)

    def _forget(self, key: Key, gone: Body | None) -> None:
        """What was remembered about a claim or volume that no longer exists (its Events, its failures)."""
        uid = str(((gone or {}).get("metadata") or {}).get("uid", ""))
        for said in [k for k in self._said if k[0] == uid]:
            del self._said[said]
        self._failures.pop(key, None)

    def _class_changed(self, key: str, old: Body | None, new: Body | None) -> None:
        if new is not None and new.get("provisioner") == PROVISIONER:
            self.requeue_pending()

    def _backend_changed(self, key: str, old: Body | None, new: Body | None) -> None:
        was = bool(((old or {}).get("status") or {}).get("reachable"))
        now = bool(((new or {}).get("status") or {}).get("reachable"))
        if new is not None and ((now and not was) or old is None or _generation(old) != _generation(new)):
            self.requeue_pending()

    def requeue_pending(self) -> None:
        """Look at every waiting claim again now (a class or backend they may need changed)."""
        for key, pvc in list(self.claims.cache.items()):
            if self.wants(pvc):
                self._failures.pop(("claim", key), None)
                self.queue.add(("claim", key))

    def wants(self, pvc: Body) -> bool:
        class_name = (pvc.get("spec") or {}).get("storageClassName")
        return wants_us(pvc, self.classes.cache.get(class_name) if class_name else None)

    def bound_to_ours(self, pvc: Body) -> bool:
        name = (pvc.get("spec") or {}).get("volumeName")
        pv = self.volumes.cache.get(name) if name else None
        return pv is not None and is_ours(pv)

    # ------------------------------------------------------------------ the workers
    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            self.metrics.nfs_queue_depth.set(len(self.queue))
            kind, name = key
            try:
                if kind == "claim":
                    again = await provision.handle(self, name)
                else:
                    again = await reclaim.handle(self, name)
                self._failures.pop(key, None)
                if again is not None:
                    self.queue.add_after(key, again)
            except asyncio.CancelledError:
                raise
            except InvalidSpec as exc:
                self._failures.pop(key, None)
                log.info("%s %s: %s (waits for a change)", kind, name, exc)
            except StorageError as exc:
                failures = self._failures[key] = self._failures.get(key, 0) + 1
                delay = (
                    float(exc.delay)
                    if isinstance(exc, NotReady)
                    else min(RETRY_MAX, RETRY_FIRST * 2 ** min(failures - 1, 8))
                )
                log.info("%s %s: %s; again in %.1f s", kind, name, exc, delay)
                self.queue.add_after(key, delay)
            except Exception:
                failures = self._failures[key] = self._failures.get(key, 0) + 1
                log.exception("%s %s: failed", kind, name)
                self.queue.add_after(key, min(RETRY_MAX, RETRY_FIRST * 2 ** min(failures - 1, 8)))
            finally:
                self.queue.done(key)

    # ------------------------------------------------------------------ shared helpers
    def backend(self, name: str) -> Backend:
        body = self.backends.cache.get(name)
        if body is None:
            raise NotReady(f"NFSBackend {name} does not exist", delay=10)
        # Parsed once per version of the object, not once per claim of a burst.
        version = str(body["metadata"].get("resourceVersion", ""))
        parsed = self._parsed_backends.get(name)
        if parsed is None or parsed[0] != version:
            parsed = self._parsed_backends[name] = (version, Backend.from_body(name, body))
        return parsed[1]

    async def connect(self, backend: Backend) -> AsyncNFS:
        uid, gid = backend.identity
        return await self.pool.get(backend.target, uid=uid, gid=gid)

    async def capacity(self, backend: Backend, conn: AsyncNFS) -> Capacity:
        now = time.monotonic()
        cached = self._capacity.get(backend.name)
        if cached is not None and now - cached[0] < CAPACITY_TTL:
            return cached[1]
        found = await conn.capacity()
        self._capacity[backend.name] = (now, found)
        return found

    def volumes_on(self, backend: str) -> list[Body]:
        return [
            pv
            for pv in self.volumes.cache.values()
            if is_ours(pv) and ((pv["metadata"].get("annotations") or {}).get(BACKEND_ANNOTATION) == backend)
        ]

    async def say(self, obj: Body, type_: Literal["Normal", "Warning"], reason: str, message: str) -> None:
        """Post an Event on a claim or volume, in the background (a worker never waits for an Event: the
        PV comes first). The same one again only when its message changed (or after a while), so a claim
        retried every few seconds does not pile up Events."""
        uid = str(obj["metadata"].get("uid", ""))
        previous = self._said.get((uid, reason))
        now = time.monotonic()
        if previous is not None and previous[0] == message and now - previous[1] < REPEAT_FAILURE_EVENT:
            return
        self._said[(uid, reason)] = (message, now)
        body = event_body(
            {"apiVersion": "v1", **obj},
            type_=type_,
            reason=reason,
            message=message,
            instance=self.config.identity,
            now=datetime.now(UTC),
        )
        task = asyncio.create_task(self._post(body))
        self._posting.add(task)
        task.add_done_callback(self._posting.discard)

    async def _post(self, body: Body) -> None:
        async with self._post_gate:
            try:
                await self.events.post(f"/api/v1/namespaces/{body['metadata']['namespace']}/events", body)
            except (KubeAPIError, NotFound) as exc:
                log.warning("could not post event %s on %s: %s", body["reason"], body["involvedObject"]["name"], exc)

    def forget_said(self, obj: Body, reason: str) -> None:
        self._said.pop((str(obj["metadata"].get("uid", "")), reason), None)


def _generation(body: Body) -> int:
    return int((body.get("metadata") or {}).get("generation") or 0)
