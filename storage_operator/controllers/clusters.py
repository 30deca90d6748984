"""CephCluster: keep its status true (health, capacity, OSDs, mons), and hold its deletion while pools
or file systems still use it. A managed cluster is also made and kept running (``managed``)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from storage_operator.api.v1alpha1.cephcluster import CephClusterSpec, CephClusterStatus
from storage_operator.ceph.daemons import build_osd_dump, parse_osd_dump
from storage_operator.ceph.observe import observe_cluster
from storage_operator.ceph.status import HEALTH_CODES
from storage_operator.ceph.world import ClusterObservation
from storage_operator.controllers import managed
from storage_operator.controllers.errors import failure_of
from storage_operator.controllers.loop import Outcome
from storage_operator.controllers.osd_lifecycle import Managed
from storage_operator.controllers.osds import sync_osds
from storage_operator.controllers.rollout import Daemons
from storage_operator.controllers.runtime import Body, Runtime
from storage_operator.errors import StorageError
from storage_operator.kube import objects
from storage_operator.reconcile.cluster import (
    Failure,
    fold_bootstrapping,
    fold_connected,
    fold_failure,
    fold_managed_progress,
)
from storage_operator.reconcile.deletion import cluster_blockers
from storage_operator.reconcile.events import Event

KIND = "CephCluster"
BOOTSTRAP_RECHECK = 2.0  # while a managed cluster comes up: look again this soon


async def reconcile(rt: Runtime, body: Body) -> Outcome:
    meta = body["metadata"]
    namespace, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    spec = CephClusterSpec.model_validate(body.get("spec") or {})
    previous = rt.status_of(body, CephClusterStatus)
    now = datetime.now(UTC)
    if not spec.external.enable:
        return await _reconcile_managed(rt, body, spec, previous, now)
    error: BaseException | None = None
    try:
        connection = await rt.connection(namespace, name, spec)
        session = rt.sessions.get(f"{namespace}/{name}", connection)
        observed = await observe_cluster(session)
    except StorageError as exc:
        error = exc
        reason, message = failure_of(exc)
        fold = fold_failure(spec, previous, Failure(reason, message), generation=generation, now=now)
        rt.metrics.ceph_connected.labels(namespace, name).set(0)
        _forget_health(rt, namespace, name)
    else:
        fold = fold_connected(spec, previous, observed, generation=generation, now=now)
        _export(rt, namespace, name, observed)
    await rt.write_status(KIND, body, previous, fold.status, fold.events)
    refresh = float(spec.refresh_interval_seconds)
    if error is not None:
        return Outcome(ok=False, recheck=refresh, error=error)
    return Outcome(ok=True, recheck=refresh)


async def _reconcile_managed(
    rt: Runtime, body: Body, spec: CephClusterSpec, previous: CephClusterStatus | None, now: datetime
) -> Outcome:
    meta = body["metadata"]
    namespace, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    events: list[Event] = []
    daemons = Daemons({})
    try:
        managed.check_namespace(rt, body)  # before anything is read there: elsewhere it may read nothing
        daemons = await Daemons.load(rt, namespace, name)
        identity = await managed.ensure_identity(rt, body, spec, events, daemons)
    except StorageError as exc:
        # Cannot run (wrong namespace, no node for a mon): say why; the selection is still planned.
        selection, osd_events, phases = await sync_osds(rt, body, spec)
        reason, message = failure_of(exc)
        fold = fold_failure(spec, previous, Failure(reason, message), generation=generation, now=now)
        fold = fold_managed_progress(fold, selection, phases, now=now, generation=generation)
        await rt.write_status(KIND, body, previous, fold.status, events + fold.events + osd_events)
        return Outcome(ok=False, recheck=float(spec.refresh_interval_seconds), error=exc)
    session = rt.sessions.get(f"{namespace}/{name}", managed.connection_of(identity, rt))
    answered_before = previous is not None and previous.ceph is not None and bool(previous.ceph.fsid)
    if not answered_before and not daemons.all_available("mon", [m.mon_id for m in identity.mons]):
        # A new cluster whose mon pods are not Ready yet (Ready: in the quorum) cannot answer: say so now
        # rather than after a connection attempt's timeout.
        return await _unanswered(rt, body, spec, previous, identity, events, None)
    try:
        observed = await observe_cluster(session)
    except StorageError as exc:
        # A fresh session next time: a session that failed answers "unreachable" for a while without
        # trying, and the mons of a cluster being made come up within seconds.
        await rt.sessions.drop(f"{namespace}/{name}")
        return await _unanswered(rt, body, spec, previous, identity, events, exc)
    daemons.session = session
    for deployment in managed.mon_deployments(managed.owner_of(body), spec, identity):
        await daemons.apply(rt, deployment)  # an image change of a mon rolls only once Ceph answers
    await managed.retire_mons(rt, body, identity, daemons, events)
    events += await managed.replace_lost_mons(rt, body, spec, identity, quorum=observed.status.quorum, daemons=daemons)
    await managed.ensure_mgr(rt, body, spec, identity, daemons)
    osd_map = parse_osd_dump(await session.call(build_osd_dump()))
    daemons.ceph_unsettled = [f"osd.{i}" for i, s in sorted(osd_map.items()) if s.in_ and not s.up]
    context = Managed(managed.owner_of(body), session, identity.fsid, spec.ceph_version.image, osd_map, daemons)
    selection, osd_events, phases = await sync_osds(rt, body, spec, context)
    fold = fold_connected(spec, previous, observed, generation=generation, now=now)
    fold = fold_managed_progress(fold, selection, phases, now=now, generation=generation)
    upgrading = daemons.describe()
    if upgrading and fold.status.phase in ("Ready", "Warning"):
        fold.status.phase = "Progressing"
        fold.status.message = f"{upgrading}; {fold.status.message}"
    _export(rt, namespace, name, observed)
    await rt.write_status(KIND, body, previous, fold.status, events + daemons.events + fold.events + osd_events)
    # Settled: Ready with every mon of the placement in the quorum (a count just changed shows soon).
    quorum = set(observed.status.quorum)
    settled = fold.status.phase == "Ready" and all(m.mon_id in quorum for m in identity.mons)
    return Outcome(ok=True, recheck=float(spec.refresh_interval_seconds) if settled else BOOTSTRAP_RECHECK)


async def _unanswered(  # noqa: PLR0917 (the pass's state, handed over as it is)
    rt: Runtime,
    body: Body,
    spec: CephClusterSpec,
    previous: CephClusterStatus | None,
    identity: managed.Identity,
    events: list[Event],
    error: StorageError | None,
) -> Outcome:
    """A managed cluster whose mons do not answer: still coming up (Progressing), or, when it answered
    before, down (Failure). The CephOSDs are planned either way."""
    generation, now = body["metadata"].get("generation"), datetime.now(UTC)
    selection, osd_events, phases = await sync_osds(rt, body, spec)
    mons = ", ".join(f"{m.mon_id} on {m.node}" for m in identity.mons)
    if error is None:
        waiting = f"waiting for the mons ({mons}) to start and form a quorum"
        fold = fold_bootstrapping(spec, previous, waiting, generation=generation, now=now, selection=selection)
    elif previous is not None and previous.ceph is not None and previous.ceph.fsid:
        # It answered before: its mons are down or lost their quorum now. That is a failure.
        reason, message = failure_of(error)
        fold = fold_failure(spec, previous, Failure(reason, message), generation=generation, now=now)
        fold = fold_managed_progress(fold, selection, phases, now=now, generation=generation)
    else:
        waiting = f"waiting for the mons ({mons}) to form a quorum ({failure_of(error)[1]})"
        fold = fold_bootstrapping(spec, previous, waiting, generation=generation, now=now, selection=selection)
    await rt.write_status(KIND, body, previous, fold.status, events + fold.events + osd_events)
    return Outcome(ok=True, recheck=BOOTSTRAP_RECHECK)


def _export(rt: Runtime, namespace: str, name: str, observed: ClusterObservation) -> None:
    m, labels = rt.metrics, (namespace, name)
    s, df = observed.status, observed.df
    m.ceph_connected.labels(*labels).set(1)
    if s.health in HEALTH_CODES:
        m.ceph_health.labels(*labels).set(HEALTH_CODES[s.health])
    m.ceph_capacity.labels(*labels).set(df.total_bytes)
    m.ceph_used.labels(*labels).set(df.used_bytes)
    m.ceph_available.labels(*labels).set(df.available_bytes)
    m.ceph_osds.labels(*labels).set(s.osds)
    m.ceph_osds_up.labels(*labels).set(s.osds_up)
    m.ceph_osds_in.labels(*labels).set(s.osds_in)


def _forget_health(rt: Runtime, namespace: str, name: str) -> None:
    with contextlib.suppress(KeyError):
        rt.metrics.ceph_health.remove(namespace, name)


def _uses(item: Body, cluster: str, only_cluster: bool) -> bool:
    ref = (item.get("spec") or {}).get("clusterRef") or {}
    return ref.get("name") == cluster or (not ref.get("name") and only_cluster)


async def delete(rt: Runtime, body: Body) -> None:
    """Let the object go only when no CephBlockPool or CephFilesystem of this cluster is left."""
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    clusters = await rt.kube(objects.list_objects, rt.api, KIND, namespace)
    only = len(clusters) == 1
    pools = await rt.kube(objects.list_objects, rt.api, "CephBlockPool", namespace)
    filesystems = await rt.kube(objects.list_objects, rt.api, "CephFilesystem", namespace)
    blockers = cluster_blockers(
        sorted(p["metadata"]["name"] for p in pools if _uses(p, name, only)),
        sorted(f["metadata"]["name"] for f in filesystems if _uses(f, name, only)),
    )
    if blockers:
        previous = rt.status_of(body, CephClusterStatus) or CephClusterStatus()
        await rt.hold_deletion(KIND, body, previous, blockers)
    spec = CephClusterSpec.model_validate(body.get("spec") or {})
    if not spec.external.enable:
        await managed.tear_down(rt, body, spec)
    await rt.sessions.drop(f"{namespace}/{name}")
    rt.metrics.forget_cluster(namespace, name)
    if spec.external.enable:
        await rt.post(body, Event.normal("Deleted", "disconnected; nothing in the external cluster was changed"))
