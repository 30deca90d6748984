"""CephFilesystem: pools, `fs new`, data pools, MDS settings and status; deletion only without subvolumes
(and kept altogether with preserveFilesystemOnDelete)."""

from __future__ import annotations

from datetime import UTC, datetime

from storage_operator.api.v1alpha1.cephfilesystem import CephFilesystemSpec, CephFilesystemStatus
from storage_operator.ceph import fs as cephfs
from storage_operator.ceph.observe import delete_pools, list_subvolumes, observe_fsmap, observe_pool_world
from storage_operator.controllers.errors import failure_of
from storage_operator.controllers.loop import Outcome
from storage_operator.controllers.managed import ensure_mds, mds_count
from storage_operator.controllers.runtime import Body, ClusterHandle, Runtime
from storage_operator.errors import CephUnavailable, NotReady, StorageError
from storage_operator.reconcile.deletion import filesystem_blockers
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.filesystems import (
    bind_existing,
    desired_filesystem,
    fold_filesystem_status,
    plan_filesystem,
)
from storage_operator.reconcile.pools import leftovers_of, owner_tag

KIND = "CephFilesystem"


async def reconcile(rt: Runtime, body: Body) -> Outcome:
    meta = body["metadata"]
    namespace, generation = meta["namespace"], meta.get("generation")
    spec = CephFilesystemSpec.model_validate(body.get("spec") or {})
    previous = rt.status_of(body, CephFilesystemStatus)
    desired = desired_filesystem(str(meta["name"]), spec, owner=owner_tag(KIND, namespace, str(meta["uid"])))
    now = datetime.now(UTC)
    cluster: ClusterHandle | None = None
    try:
        cluster = await rt.cluster(namespace, spec.cluster_ref.name if spec.cluster_ref else None)
        profiles = [p.profile_name for p in desired.pools if p.ec is not None]
        world = await observe_pool_world(cluster.session, profiles=profiles)
        fsmap = await observe_fsmap(cluster.session)
        existing = fsmap.filesystems.get(desired.name)
        meta_pool = world.pool_by_id(existing.metadata_pool_id) if existing else world.pools.get(desired.metadata.name)
        foreign = await rt.live_owner(meta_pool.owner if meta_pool else None, desired.metadata.owner)
        plan = plan_filesystem(desired, world, fsmap, confirm=spec.confirm_adoption_changes, foreign_owner=foreign)
        applied: list[str] = []
        if plan.refusal is None and any(plan.stages):
            applied = await cluster.session.run_stages(plan.stages)
            world = await observe_pool_world(cluster.session)
            fsmap = await observe_fsmap(cluster.session)
        if plan.refusal is None:
            server = spec.metadata_server
            wanted = mds_count(server.active_count, server.active_standby, server.standby_count)
            await ensure_mds(rt, cluster.body, cluster.session, desired.name, wanted)
        fold = fold_filesystem_status(
            previous,
            desired=plan.desired,
            generation=generation,
            now=now,
            plan=plan,
            applied=applied,
            world=world,
            fsmap=fsmap,
        )
    except StorageError as exc:
        fold = fold_filesystem_status(
            previous, desired=desired, generation=generation, now=now, plan=None, error=failure_of(exc)
        )
        await rt.write_status(KIND, body, previous, fold.status, fold.events)
        return Outcome(ok=False, recheck=cluster.refresh_seconds if cluster else None, error=exc)
    await rt.write_status(KIND, body, previous, fold.status, fold.events)
    # Not ready yet (MDS daemons starting, in managed mode): look again soon, not after a whole interval.
    soon = min(cluster.refresh_seconds, 5.0)
    return Outcome(ok=True, recheck=cluster.refresh_seconds if fold.status.phase == "Ready" else soon)


async def delete(rt: Runtime, body: Body) -> None:
    """Remove the file system and its pools unless subvolumes (or files) are in it; keep everything with
    preserveFilesystemOnDelete; leave alone what this object never took over. A managed cluster's MDS
    daemons for it stop only with the file system itself: one that is kept keeps being served."""
    meta = body["metadata"]
    namespace, name = meta["namespace"], str(meta["name"])
    spec = CephFilesystemSpec.model_validate(body.get("spec") or {})
    if spec.preserve_filesystem_on_delete:
        await rt.post(
            body,
            Event.normal("FilesystemKept", f"file system {name} and its pools are kept (preserveFilesystemOnDelete)"),
        )
        return
    previous = rt.status_of(body, CephFilesystemStatus) or CephFilesystemStatus()
    mine = owner_tag(KIND, namespace, str(meta["uid"]))
    try:
        cluster = await rt.cluster(namespace, spec.cluster_ref.name if spec.cluster_ref else None)
        world = await observe_pool_world(cluster.session)
        fsmap = await observe_fsmap(cluster.session)
    except NotReady as exc:
        await rt.post(body, Event.warning("FilesystemLeftInCeph", f"file system {name} (if any) is left: {exc}"))
        return
    except CephUnavailable as exc:
        if previous.fscid is None:
            await rt.post(body, Event.warning("FilesystemLeftInCeph", f"{name} was never recorded as made: {exc}"))
            return
        await rt.hold_deletion(KIND, body, previous, [f"cannot check file system {name} for subvolumes: {exc}"])
    session = cluster.session
    desired = desired_filesystem(name, spec, owner=mine)
    fs = fsmap.filesystems.get(name)
    if fs is not None:
        desired = bind_existing(desired, fs, world)
        attached = {p.name for p in world.pools.values() if p.pool_id in (fs.metadata_pool_id, *fs.data_pool_ids)}
        data_pools = [p.name for p in world.pools.values() if p.pool_id in fs.data_pool_ids]
    else:
        attached = {p.name for p in desired.pools if p.name in world.pools}
        data_pools = [p.name for p in desired.data if p.name in world.pools]
    meta_pool = world.pools.get(desired.metadata.name)
    if fs is not None and (meta_pool is None or meta_pool.owner != mine):
        await rt.post(
            body,
            Event.normal(
                "FilesystemLeftInCeph",
                f"file system {name} is left in Ceph: this object never took it over (adoption waiting for "
                "confirmation, or another owner)",
            ),
        )
        return
    subvolumes: list[str] | None = []
    if fs is not None:
        subvolumes = await list_subvolumes(session, name) if fs.active else None
    objects_in = {p: world.df.pools[p].objects for p in data_pools if p in world.df.pools}
    blockers = filesystem_blockers(name, subvolumes=subvolumes, data_objects=objects_in)
    if blockers:
        await rt.hold_deletion(KIND, body, previous, blockers)
    if fs is not None:
        await session.run_stages([[cephfs.build_fs_fail(name)], [cephfs.build_fs_rm(name)]])
    await ensure_mds(rt, cluster.body, session, name, 0)
    ours = sorted(n for n in attached if world.pools[n].owner == mine)
    await delete_pools(session, ours)
    await session.run_stages([[c for pool in ours for c in leftovers_of(world.pools[pool], world)]])
    await rt.post(body, Event.normal("Deleted", f"removed file system {name} and its pools {', '.join(ours)}"))
