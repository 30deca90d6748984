"""Removing an OSD when its CephOSD is deleted, without losing data:

refuse while a pool would lose copies (condition RemovalBlocked, an Event) -> ``osd out`` -> wait
until ``osd safe-to-destroy`` -> stop its Deployment -> ``osd purge`` -> the device: wiped by the node's
agent only when the cluster's cleanupPolicy carries the confirmation, else left as it is (an Event
says so). Each call does what it can and, until all is done, keeps the finalizer and comes back.

When the whole cluster goes (it is deleted, or already gone), nothing is asked of Ceph: the daemon is
stopped and the device wiped or kept by the same rule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NoReturn

from storage_operator.api.v1alpha1.cephcluster import CLEANUP_CONFIRMATION, CephClusterSpec
from storage_operator.api.v1alpha1.cephosd import CephOSDSpec, CephOSDStatus
from storage_operator.ceph.crush import rule_by_id
from storage_operator.ceph.daemons import (
    build_osd_dump,
    build_osd_out,
    build_osd_purge,
    build_safe_to_destroy,
    parse_osd_dump,
    parse_safe_to_destroy,
)
from storage_operator.ceph.observe import observe_pool_world
from storage_operator.ceph.session import ClusterSession
from storage_operator.controllers.errors import deletion_waits
from storage_operator.controllers.runtime import Body, Runtime
from storage_operator.errors import NotFound
from storage_operator.kube import objects, workloads
from storage_operator.reconcile.conditions import find, set_condition
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.managed import DAEMON_ID_LABEL, DAEMON_LABEL, daemon_name, osd_key_secret
from storage_operator.reconcile.osd_removal import PoolNeeds, fold_removal, removal_blockers
from storage_operator.reconcile.osds import CLUSTER_LABEL, cluster_label

KIND = "CephOSD"
WIPE = "DeviceWipe"


async def remove(rt: Runtime, body: Body) -> None:
    meta = body["metadata"]
    namespace = str(meta["namespace"])
    spec = CephOSDSpec.model_validate(body.get("spec") or {})
    status = rt.status_of(body, CephOSDStatus) or CephOSDStatus()
    rt.announced.pop(str(meta["uid"]), None)
    if status.osd_id is None and status.osd_uuid is None:
        return  # never allocated: nothing in Ceph, nothing on the device
    if status.phase == "Preparing":
        # The agent ends it (Prepared, or Failed when it sees the deletion first) before anything else.
        raise deletion_waits(f"the agent on {spec.node} is preparing {spec.device.path}; removal follows")
    cluster = await _cluster(rt, namespace, spec.cluster_ref.name)
    cluster_spec = CephClusterSpec.model_validate(cluster.get("spec") or {}) if cluster else None
    live = cluster is not None and not cluster["metadata"].get("deletionTimestamp")
    if status.osd_id is None and status.osd_uuid is not None:
        # Allocation was under way: Ceph may hold an id for the uuid (its status write was lost). The
        # device was never written (the agent prepares only with an id), so nothing is wiped.
        found = await _id_of(rt, namespace, spec.cluster_ref.name, status.osd_uuid) if live else None
        if found is None:
            await _forget_key(rt, namespace, spec, status)
            return
        status = status.model_copy(update={"osd_id": found})
    wipe = find(status.conditions, WIPE)
    if wipe is None:
        if live and status.osd_id is not None:
            await _leave_cluster(rt, body, spec, status, namespace)
        elif not await _stop(rt, namespace, spec.cluster_ref.name, status, wait=True):
            # The daemon holds its device open (exclusively): nothing can be wiped before it is gone.
            raise deletion_waits(f"stopping osd.{status.osd_id} on {spec.node}")
        if cluster_spec is not None and cluster_spec.cleanup_policy.confirmation == CLEANUP_CONFIRMATION:
            await _ask_for_wipe(rt, body, spec, status)
        await rt.post(
            body,
            Event.normal(
                "DeviceKept",
                f"{spec.device.path} on {spec.node} keeps osd.{status.osd_id}'s data: the cluster's "
                f"cleanupPolicy does not say {CLEANUP_CONFIRMATION!r}",
            ),
        )
    elif status.phase == "Wiping":
        raise deletion_waits(f"the agent on {spec.node} is wiping {spec.device.path}")
    elif status.phase != "Wiped":
        failed = Event.warning("WipeFailed", f"{status.message}; the device is left as it is")
        await rt.post(body, failed)
        if cluster is not None:
            await rt.post(cluster, failed)  # the CephOSD is about to go; its cluster keeps the word
    await _forget_key(rt, namespace, spec, status)


async def _forget_key(rt: Runtime, namespace: str, spec: CephOSDSpec, status: CephOSDStatus) -> None:
    if status.osd_uuid is not None:
        secret = osd_key_secret(spec.cluster_ref.name, status.osd_uuid)
        await rt.kube(workloads.delete_secret, rt.api, namespace, secret)


async def _session(rt: Runtime, namespace: str, cluster: str) -> ClusterSession:
    body = await rt.kube(objects.get_object, rt.api, "CephCluster", cluster, namespace)
    connection = await rt.connection(namespace, cluster, CephClusterSpec.model_validate(body.get("spec") or {}))
    return rt.sessions.get(f"{namespace}/{cluster}", connection)


async def _id_of(rt: Runtime, namespace: str, cluster: str, osd_uuid: str) -> int | None:
    session = await _session(rt, namespace, cluster)
    osd_map = parse_osd_dump(await session.call(build_osd_dump()))
    return next((i for i, s in osd_map.items() if s.uuid == osd_uuid), None)


async def _cluster(rt: Runtime, namespace: str, name: str) -> Body | None:
    try:
        return await rt.kube(objects.get_object, rt.api, "CephCluster", name, namespace)
    except NotFound:
        return None


async def _leave_cluster(rt: Runtime, body: Body, spec: CephOSDSpec, status: CephOSDStatus, namespace: str) -> None:
    """out, drained, stopped, purged: or a reason to wait (raises until the OSD is gone from Ceph)."""
    osd_id = status.osd_id
    if osd_id is None:
        return
    session = await _session(rt, namespace, spec.cluster_ref.name)
    state = parse_osd_dump(await session.call(build_osd_dump())).get(osd_id)
    if state is None:
        if not await _stop(rt, namespace, spec.cluster_ref.name, status, wait=True):
            raise deletion_waits(f"stopping osd.{osd_id} on {spec.node}")
        return  # purged already (an earlier pass)
    if state.in_:
        world = await observe_pool_world(session)
        needs = []
        for pool in world.pools.values():
            rule = rule_by_id(world.rules, pool.crush_rule_id)
            stats = world.df.pools.get(pool.name)
            domain = rule.failure_domain if rule is not None else None
            needs.append(PoolNeeds(pool.name, pool.size, domain, stats.objects if stats else 0))
        blockers = removal_blockers(osd_id, world.topology, needs)
        if blockers:
            await _hold(rt, body, status, blockers=blockers, message="")
        await session.call(build_osd_out(osd_id))
    verdict = parse_safe_to_destroy(await session.call(build_safe_to_destroy(osd_id)), osd_id)
    if not verdict.ok:
        await _hold(
            rt, body, status, blockers=[], message=f"osd.{osd_id} is out; waiting for its data to move ({verdict.why})"
        )
    if not await _stop(rt, namespace, spec.cluster_ref.name, status, wait=True):
        await _hold(rt, body, status, blockers=[], message=f"osd.{osd_id} holds no data any more; stopping its daemon")
    await session.call(build_osd_purge(osd_id))
    await rt.post(body, Event.normal("Purged", f"osd.{osd_id} purged from the cluster (CRUSH entry, key, id)"))


async def _hold(rt: Runtime, body: Body, previous: CephOSDStatus, *, blockers: list[str], message: str) -> NoReturn:
    status, events = fold_removal(previous, blockers=blockers, message=message, now=datetime.now(UTC))
    await rt.write_status(KIND, body, previous, status, events)
    raise deletion_waits(status.message or "removal waits")


async def _stop(rt: Runtime, namespace: str, cluster: str, status: CephOSDStatus, *, wait: bool) -> bool:
    """Delete the OSD's Deployment; with ``wait``: True once no pod of it is left."""
    if status.osd_id is None:
        return True
    await rt.kube(workloads.delete_deployment, rt.api, namespace, daemon_name(cluster, "osd", str(status.osd_id)))
    if not wait:
        return True
    selector = f"{DAEMON_LABEL}=osd,{DAEMON_ID_LABEL}={status.osd_id},{CLUSTER_LABEL}={cluster_label(cluster)}"
    return not await rt.kube(workloads.list_pods, rt.api, namespace, selector)


async def _ask_for_wipe(rt: Runtime, body: Body, spec: CephOSDSpec, previous: CephOSDStatus) -> NoReturn:
    status = previous.model_copy(deep=True)
    status.phase, status.up, status.in_ = "Wiping", False, False
    status.message = (
        f"osd.{previous.osd_id} is gone from the cluster; the agent on {spec.node} wipes {spec.device.path} "
        "(the cluster's cleanupPolicy confirms it)"
    )
    status.conditions = set_condition(
        status.conditions, WIPE, "True", "Requested", status.message, now=datetime.now(UTC)
    )
    await rt.write_status(KIND, body, previous, status, [Event.normal("Wiping", status.message)])
    raise deletion_waits(status.message)
