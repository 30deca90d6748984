"""CephBlockPool: observe the pool in Ceph, plan, apply, fold the status; delete it only without RBD images."""

from __future__ import annotations

from datetime import UTC, datetime

from storage_operator.api.v1alpha1.cephblockpool import CephBlockPoolSpec, CephBlockPoolStatus
from storage_operator.ceph.observe import delete_pools, list_rbd_images, observe_pool_world
from storage_operator.ceph.world import PoolWorld
from storage_operator.controllers.errors import failure_of
from storage_operator.controllers.loop import Outcome
from storage_operator.controllers.runtime import Body, ClusterHandle, Runtime
from storage_operator.errors import CephUnavailable, NotReady, StorageError
from storage_operator.reconcile.deletion import pool_blockers
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.pools import desired_pool, fold_pool_status, leftovers_of, owner_tag, plan_pool

KIND = "CephBlockPool"


def pool_name_of(body: Body, spec: CephBlockPoolSpec) -> str:
    return spec.pool_name or str(body["metadata"]["name"])


async def reconcile(rt: Runtime, body: Body) -> Outcome:
    meta = body["metadata"]
    namespace, generation = meta["namespace"], meta.get("generation")
    spec = CephBlockPoolSpec.model_validate(body.get("spec") or {})
    previous = rt.status_of(body, CephBlockPoolStatus)
    name = pool_name_of(body, spec)
    desired = desired_pool(name, spec, application=spec.application, owner=owner_tag(KIND, namespace, str(meta["uid"])))
    now = datetime.now(UTC)
    cluster: ClusterHandle | None = None
    try:
        cluster = await rt.cluster(namespace, spec.cluster_ref.name if spec.cluster_ref else None)
        world = await observe_pool_world(cluster.session, profiles=[desired.profile_name] if desired.ec else [])
        existing = world.pools.get(name)
        foreign = await rt.live_owner(existing.owner if existing else None, desired.owner)
        plan = plan_pool(desired, world, confirm=spec.confirm_adoption_changes, foreign_owner=foreign)
        applied: list[str] = []
        if plan.refusal is None and plan.commands:
            applied = await cluster.session.run_stages(plan.stages)
            world = await observe_pool_world(cluster.session)
        fold = fold_pool_status(
            previous,
            pool_name=name,
            generation=generation,
            now=now,
            plan=plan,
            applied=applied,
            observed=world.pools.get(name),
            stats=world.df.pools.get(name),
        )
        _export(rt, namespace, cluster.name, name, world)
    except StorageError as exc:
        fold = fold_pool_status(
            previous, pool_name=name, generation=generation, now=now, plan=None, error=failure_of(exc)
        )
        await rt.write_status(KIND, body, previous, fold.status, fold.events)
        return Outcome(ok=False, recheck=cluster.refresh_seconds if cluster else None, error=exc)
    await rt.write_status(KIND, body, previous, fold.status, fold.events)
    return Outcome(ok=True, recheck=cluster.refresh_seconds)


def _export(rt: Runtime, namespace: str, cluster: str, pool: str, world: PoolWorld) -> None:
    stats, observed = world.df.pools.get(pool), world.pools.get(pool)
    labels = (namespace, cluster, pool)
    if stats is not None:
        rt.metrics.pool_stored.labels(*labels).set(stats.stored)
        rt.metrics.pool_objects.labels(*labels).set(stats.objects)
    if observed is not None:
        rt.metrics.pool_quota_bytes.labels(*labels).set(observed.quota_max_bytes)
        rt.metrics.pool_quota_objects.labels(*labels).set(observed.quota_max_objects)


async def delete(rt: Runtime, body: Body) -> None:
    """Remove the pool from Ceph unless RBD images are in it; a pool that is not ours is left alone."""
    meta = body["metadata"]
    namespace = meta["namespace"]
    spec = CephBlockPoolSpec.model_validate(body.get("spec") or {})
    name = pool_name_of(body, spec)
    mine = owner_tag(KIND, namespace, str(meta["uid"]))
    previous = rt.status_of(body, CephBlockPoolStatus) or CephBlockPoolStatus()
    try:
        cluster = await rt.cluster(namespace, spec.cluster_ref.name if spec.cluster_ref else None)
        world = await observe_pool_world(cluster.session)
    except NotReady as exc:
        # No usable cluster object any more: nothing can be checked, so nothing is deleted in Ceph.
        await rt.post(body, Event.warning("PoolLeftInCeph", f"pool {name} (if any) is left in Ceph: {exc}"))
        return
    except CephUnavailable as exc:
        if previous.pool_id is None:
            # Never recorded as made: let the object go, touch nothing in Ceph.
            await rt.post(body, Event.warning("PoolLeftInCeph", f"pool {name} was never recorded as made: {exc}"))
            return
        await rt.hold_deletion(KIND, body, previous, [f"cannot check pool {name} for RBD images: {exc}"])
    pool = world.pools.get(name)
    if pool is None:
        return
    if pool.owner != mine:
        await rt.post(
            body,
            Event.normal(
                "PoolLeftInCeph",
                f"pool {name} is left in Ceph: this object never took it over (it was adopted with changes "
                "still waiting for confirmation, or belongs to another object)",
            ),
        )
        return
    images = await list_rbd_images(cluster.session, name)
    blockers = pool_blockers(name, images)
    if blockers:
        await rt.hold_deletion(KIND, body, previous, blockers)
    await delete_pools(cluster.session, [name])
    await cluster.session.run_stages([leftovers_of(pool, world)])
    rt.metrics.forget_pool(namespace, cluster.name, name)
    await rt.post(body, Event.normal("Deleted", f"deleted pool {name} (id {pool.pool_id}) from Ceph"))
