"""What every controller of the operator process shares: the API client, Ceph sessions, metrics, and
the helpers that turn a Kubernetes object into a Ceph session.

The Kubernetes client blocks; its calls run on a thread pool of their own so they never stall the event
loop (nor queue behind a slow Ceph cluster, whose calls have pools of their own).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

from kubernetes import client
from pydantic import BaseModel

from storage_operator.api.meta import CommonStatus, status_of
from storage_operator.api.v1alpha1.cephcluster import CephClusterSpec
from storage_operator.ceph.connection import ConnectionSpec
from storage_operator.ceph.session import ClusterSession, SessionRegistry
from storage_operator.config import OperatorConfig
from storage_operator.controllers.errors import deletion_waits
from storage_operator.controllers.nfs.provisioner import NFSProvisioner
from storage_operator.errors import CephUnavailable, KubeAPIError, NotFound, NotReady
from storage_operator.kube import events as kube_events
from storage_operator.kube import objects, workloads
from storage_operator.kube.patch import merge_patch
from storage_operator.metrics import Metrics
from storage_operator.reconcile.deletion import fold_blocked
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.managed import MonPlace, admin_secret, config_map_name
from storage_operator.reconcile.pools import parse_owner

T = TypeVar("T")
S = TypeVar("S", bound=CommonStatus)
Body = dict[str, Any]
log = logging.getLogger("storage_operator")


@dataclass(frozen=True)
class ClusterHandle:
    """A CephCluster resolved for use: its body, a session to it, and how often to look again."""

    namespace: str
    name: str
    body: Body
    session: ClusterSession
    refresh_seconds: float

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class Runtime:
    config: OperatorConfig
    api: client.ApiClient
    metrics: Metrics
    sessions: SessionRegistry = field(init=False)
    kicks: dict[str, asyncio.Event] = field(default_factory=dict)
    seen_generation: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # uid -> kind of every running loop
    announced: dict[str, str] = field(default_factory=dict)  # CephOSD uid -> the phase last told in an Event
    mon_out_since: dict[str, float] = field(default_factory=dict)  # "ns/cluster/mon" -> when it left the quorum
    nfs: NFSProvisioner | None = None  # set while leading: the NFS provisioner (its caches and connections)
    _kube_pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = SessionRegistry(workers=self.config.ceph_workers)
        self._kube_pool = ThreadPoolExecutor(max_workers=self.config.kube_workers, thread_name_prefix="kube")

    async def kube(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._kube_pool, functools.partial(fn, *args, **kwargs))

    async def close(self) -> None:
        await self.sessions.close_all()
        self._kube_pool.shutdown(wait=False, cancel_futures=True)

    def nfs_provisioner(self) -> NFSProvisioner:
        if self.nfs is None:
            raise NotReady("the NFS provisioner is not running", delay=2)
        return self.nfs

    # ------------------------------------------------------------------ wake-ups
    def kick(self, uid: str) -> asyncio.Event:
        return self.kicks.setdefault(uid, asyncio.Event())

    def forget(self, uid: str) -> None:
        self.kicks.pop(uid, None)
        self.seen_generation.pop(uid, None)
        self.kinds.pop(uid, None)

    def kick_kind(self, kind: str) -> None:
        """Wake every loop of ``kind`` (something they all depend on changed: a DiskInventory)."""
        for uid, k in self.kinds.items():
            if k == kind and uid in self.kicks:
                self.kicks[uid].set()

    # ------------------------------------------------------------------ status and Events
    @staticmethod
    def status_of(body: Body, model: type[S]) -> S | None:
        """The object's status as ``model``, without kopf's bookkeeping; None before the first write."""
        return status_of(body, model)

    async def hold_deletion(self, kind: str, body: Body, previous: S, blockers: list[str]) -> NoReturn:
        """Say why the deletion waits (condition, Event on change) and have kopf try again later."""
        status, events = fold_blocked(previous, blockers, kind=kind, now=datetime.now(UTC))
        await self.write_status(kind, body, previous, status, events)
        raise deletion_waits(status.message or "deletion blocked")

    async def write_status(
        self, kind: str, body: Body, previous: CommonStatus | None, status: BaseModel, events: list[Event]
    ) -> None:
        """Patch the status when it changed, then post the Events (status first: Events describe it)."""
        meta = body["metadata"]
        wire = status.model_dump(by_alias=True, exclude_none=True, mode="json")
        before = previous.model_dump(by_alias=True, exclude_none=True, mode="json") if previous else {}
        patch = merge_patch(before, wire)
        if patch:
            try:
                await self.kube(objects.patch_status, self.api, kind, meta["name"], meta.get("namespace"), patch)
            except NotFound:
                return  # deleted meanwhile: nothing to report on
        for event in events:
            await self.post(body, event)

    async def post(self, body: Body, event: Event) -> None:
        try:
            await self.kube(
                kube_events.post_event,
                self.api,
                body,
                type_=event.type,
                reason=event.reason,
                message=event.message,
                instance=self.config.identity,
            )
        except (KubeAPIError, NotFound) as exc:
            log.warning("could not post event %s on %s: %s", event.reason, body["metadata"].get("name"), exc)

    # ------------------------------------------------------------------ Ceph clusters
    async def cluster(self, namespace: str, ref: str | None) -> ClusterHandle:
        """The CephCluster a pool or file system names (or the namespace's only one), with a session."""
        if ref is None:
            found = await self.kube(objects.list_objects, self.api, "CephCluster", namespace)
            if len(found) != 1:
                raise NotReady(
                    f"spec.clusterRef is not set and namespace {namespace} has {len(found)} CephClusters "
                    "(it must have exactly one); set spec.clusterRef.name",
                    delay=30,
                )
            body = found[0]
        else:
            try:
                body = await self.kube(objects.get_object, self.api, "CephCluster", ref, namespace)
            except NotFound:
                raise NotReady(f"CephCluster {ref} does not exist in namespace {namespace}", delay=10) from None
        name = str(body["metadata"]["name"])
        spec = CephClusterSpec.model_validate(body.get("spec") or {})
        connection = await self.connection(namespace, name, spec)
        session = self.sessions.get(f"{namespace}/{name}", connection)
        return ClusterHandle(namespace, name, body, session, float(spec.refresh_interval_seconds))

    async def connection(self, namespace: str, name: str, spec: CephClusterSpec) -> ConnectionSpec:
        if not spec.external.enable:
            return await self._managed_connection(namespace, name)
        ref = spec.external.secret_ref
        if ref is None:
            raise CephUnavailable("SecretMissing", f"CephCluster {name} names no secretRef")
        secret_ns = ref.namespace or namespace
        where = f"Secret {secret_ns}/{ref.name}"
        try:
            data = await self.kube(objects.read_secret, self.api, secret_ns, ref.name)
        except NotFound:
            raise CephUnavailable("SecretMissing", f"{where} does not exist") from None
        except KubeAPIError as exc:
            if exc.status == 403:
                raise CephUnavailable(
                    "SecretForbidden",
                    f"the operator may not read {where}: it reads Secrets only in its own namespace "
                    f"{self.config.namespace}; keep the cluster's Secret there",
                ) from None
            raise
        missing = [k for k in ("userID", "userKey") if not data.get(k)]
        if missing:
            raise CephUnavailable("SecretInvalid", f"{where} has no {' or '.join(missing)}")
        return ConnectionSpec(
            mon_hosts=tuple(spec.external.mon_hosts),
            user_id=data["userID"].strip().removeprefix("client."),
            key=data["userKey"].strip(),
            expected_fsid=spec.external.fsid,
            connect_timeout=self.config.ceph_connect_timeout,
            op_timeout=self.config.ceph_op_timeout,
        )

    async def _managed_connection(self, namespace: str, name: str) -> ConnectionSpec:
        """A managed cluster: its mons from its ConfigMap, the admin key from its Secret (both made by the
        operator when it bootstrapped the cluster)."""
        conf = await self.kube(workloads.read_config_map, self.api, namespace, config_map_name(name))
        mons = json.loads((conf or {}).get("mons.json") or "{}")
        if not conf or not mons:
            raise NotReady(f"managed CephCluster {name} has no mons yet", delay=5)
        try:
            data = await self.kube(objects.read_secret, self.api, namespace, admin_secret(name))
        except NotFound:
            raise NotReady(f"managed CephCluster {name} has no admin key yet", delay=5) from None
        return ConnectionSpec(
            mon_hosts=tuple(MonPlace.from_json(i, d).addrvec for i, d in sorted(mons.items())),
            user_id=data["userID"],
            key=data["userKey"],
            expected_fsid=conf.get("fsid"),
            connect_timeout=self.config.ceph_connect_timeout,
            op_timeout=self.config.ceph_op_timeout,
        )

    async def live_owner(self, owner: str | None, mine: str) -> str | None:
        """The name of the live object that owns a Ceph pool tagged ``owner``, when that is not us."""
        if owner is None or owner == mine:
            return None
        parsed = parse_owner(owner)
        if parsed is None:
            return None
        kind, namespace, uid = parsed
        try:
            name = await self.kube(objects.exists_with_uid, self.api, kind, namespace, uid)
        except (KeyError, KubeAPIError):
            return None
        return f"{kind} {namespace}/{name}" if name else None
