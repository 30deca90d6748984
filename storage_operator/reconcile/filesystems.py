"""One CephFS file system: its pools (planned as any pool), `fs new`, data pools, MDS settings, and a
status that says whether the MDS daemons it needs are there (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from storage_operator.api.meta import ConditionStatus
from storage_operator.api.v1alpha1.cephfilesystem import (
    CephFilesystemSpec,
    CephFilesystemStatus,
    FilesystemPoolStatus,
    MDSCounts,
)
from storage_operator.ceph import fs as cephfs
from storage_operator.ceph.command import Command
from storage_operator.ceph.fs import FSMap, ObservedFilesystem
from storage_operator.ceph.world import PoolWorld
from storage_operator.reconcile.conditions import find, set_condition
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.outcome import fold_unready
from storage_operator.reconcile.pools import (
    STAGES,
    DesiredPool,
    PoolPlan,
    desired_pool,
    merge,
    plan_pool,
    usage_of,
)

APPLICATION = "cephfs"


@dataclass(frozen=True)
class DesiredFilesystem:
    name: str
    metadata: DesiredPool
    data: tuple[DesiredPool, ...]
    max_mds: int
    standby_replay: bool
    standby_count_wanted: int

    @property
    def pools(self) -> tuple[DesiredPool, ...]:
        return (self.metadata, *self.data)


def metadata_pool_name(fs_name: str) -> str:
    return f"{fs_name}-metadata"


def data_pool_name(fs_name: str, suffix: str) -> str:
    return f"{fs_name}-{suffix}"


def desired_filesystem(fs_name: str, spec: CephFilesystemSpec, *, owner: str) -> DesiredFilesystem:
    return DesiredFilesystem(
        name=fs_name,
        metadata=desired_pool(metadata_pool_name(fs_name), spec.metadata_pool, application=APPLICATION, owner=owner),
        data=tuple(
            desired_pool(data_pool_name(fs_name, p.name), p, application=APPLICATION, owner=owner)
            for p in spec.data_pools
        ),
        max_mds=spec.metadata_server.active_count,
        standby_replay=spec.metadata_server.active_standby,
        standby_count_wanted=spec.metadata_server.standby_count,
    )


def bind_existing(desired: DesiredFilesystem, fs: ObservedFilesystem, world: PoolWorld) -> DesiredFilesystem:
    """An existing file system keeps its own pools: the spec's metadata and default data pool map onto
    them whatever they are called (e.g. `ceph fs volume create`'s cephfs.NAME.meta)."""
    meta = world.pool_by_id(fs.metadata_pool_id)
    first = world.pool_by_id(fs.data_pool_ids[0]) if fs.data_pool_ids else None
    data = list(desired.data)
    if first is not None:
        data[0] = replace(data[0], name=first.name)
    metadata = replace(desired.metadata, name=meta.name) if meta is not None else desired.metadata
    return replace(desired, metadata=metadata, data=tuple(data))


@dataclass
class FilesystemPlan:
    desired: DesiredFilesystem
    pool_plans: list[PoolPlan]
    stages: list[list[Command]] = field(default_factory=list)
    refusal: str | None = None
    creates: bool = False
    adopts: bool = False
    changes: list[str] = field(default_factory=list)
    extra_data_pools: list[str] = field(default_factory=list)  # attached in Ceph, not in the spec: left alone

    @property
    def pending(self) -> list[str]:
        return [f"{p.pool}: {change}" for p in self.pool_plans for change in p.pending]


def plan_filesystem(
    desired: DesiredFilesystem,
    world: PoolWorld,
    fsmap: FSMap,
    *,
    confirm: bool = False,
    foreign_owner: str | None = None,
) -> FilesystemPlan:
    existing = fsmap.filesystems.get(desired.name)
    if existing is not None:
        desired = bind_existing(desired, existing, world)
    plans = [plan_pool(p, world, confirm=confirm, foreign_owner=foreign_owner) for p in desired.pools]
    plan = FilesystemPlan(desired=desired, pool_plans=plans)
    refusals = [p.refusal for p in plans if p.refusal is not None]
    if refusals:
        plan.refusal = "; ".join(refusals)
        return plan
    plan.adopts = existing is not None and any(p.adopts for p in plans)
    fs_stage: list[Command] = []
    settings_stage: list[Command] = []
    if existing is None:
        plan.creates = True
        fs_stage.append(cephfs.build_fs_new(desired.name, desired.metadata.name, desired.data[0].name))
        attached: set[str] = {desired.data[0].name}
        plan.changes.append(f"created file system {desired.name}")
    else:
        attached = {p.name for p in world.pools.values() if p.pool_id in existing.data_pool_ids}
        known = {p.name for p in desired.data}
        plan.extra_data_pools = sorted(attached - known)
    adds = [cephfs.build_add_data_pool(desired.name, p.name) for p in desired.data if p.name not in attached]
    plan.changes += [c.describe() for c in adds]
    settings = {
        "max_mds": (str(desired.max_mds), existing.max_mds if existing else None),
        "allow_standby_replay": (
            "true" if desired.standby_replay else "false",
            existing.allow_standby_replay if existing else None,
        ),
        "standby_count_wanted": (
            str(desired.standby_count_wanted),
            existing.standby_count_wanted if existing else None,
        ),
    }
    for var, (want, have) in settings.items():
        if have is None or _setting(have) != want:
            settings_stage.append(cephfs.build_fs_set(desired.name, var, want))
            if existing is not None:
                plan.changes.append(f"{var} {_setting(have)} -> {want}")
    pool_stages = merge(plans)
    # Pools first (prepared, created, configured, claimed), then the file system, its data pools, its settings.
    plan.stages = [*pool_stages, fs_stage, adds, settings_stage]
    assert len(pool_stages) == STAGES  # noqa: S101 (a changed stage layout must be seen here)
    for p in plans:
        # A new file system's pools are new too; "created file system" says it all.
        if not (plan.creates and p.creates):
            plan.changes += [f"pool {p.pool}: {change}" for change in p.changes]
    return plan


def _setting(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------------------- status


def mds_counts(fs: ObservedFilesystem | None, fsmap: FSMap) -> MDSCounts:
    if fs is None:
        return MDSCounts(active=0, standby=len(fsmap.standbys), standby_replay=0)
    return MDSCounts(active=len(fs.active), standby=len(fsmap.standbys), standby_replay=len(fs.standby_replay))


def mds_problem(desired: DesiredFilesystem, fs: ObservedFilesystem | None, fsmap: FSMap) -> str | None:
    """What is missing of the MDS daemons the spec asks for (the operator runs none in external mode)."""
    counts = mds_counts(fs, fsmap)
    missing = []
    if counts.active < desired.max_mds:
        missing.append(f"{desired.max_mds} active MDS wanted, {counts.active} active")
    if desired.standby_replay and counts.standby_replay < desired.max_mds:
        missing.append(f"{desired.max_mds} standby-replay wanted, {counts.standby_replay} running")
    if counts.standby < desired.standby_count_wanted:
        missing.append(f"{desired.standby_count_wanted} spare standby wanted, {counts.standby} free")
    if not missing:
        return None
    return (
        "; ".join(missing)
        + ": start more ceph-mds daemons for this cluster (in external mode the operator runs no MDS daemons)"
    )


@dataclass
class FilesystemFold:
    status: CephFilesystemStatus
    events: list[Event] = field(default_factory=list)


def fold_filesystem_status(
    previous: CephFilesystemStatus | None,
    *,
    desired: DesiredFilesystem,
    generation: int | None,
    now: datetime,
    plan: FilesystemPlan | None,
    applied: list[str] | None = None,
    world: PoolWorld | None = None,
    fsmap: FSMap | None = None,
    error: tuple[str, str] | None = None,
) -> FilesystemFold:
    status = previous.model_copy(deep=True) if previous is not None else CephFilesystemStatus()
    status.observed_generation = generation
    status.fs_name = desired.name
    fs = fsmap.filesystems.get(desired.name) if fsmap is not None else None
    events = _fold_observed(status, desired, plan, fs, fsmap=fsmap, world=world)
    unready = fold_unready(
        status,
        subject=f"file system {desired.name}",
        now=now,
        generation=generation,
        error=error,
        refusal=plan.refusal if plan else None,
        pending=plan.pending if plan else (),
    )
    if unready is not None:
        return FilesystemFold(status, events + unready)
    status.pending_changes = []
    if plan is not None and applied:
        if plan.creates:
            events.append(Event.normal("Created", f"created file system {desired.name} and its pools"))
        elif plan.changes:
            events.append(Event.normal("Updated", f"file system {desired.name}: " + "; ".join(plan.changes)))
    problem = mds_problem(desired, fs, fsmap) if fsmap is not None else None
    events += _fold_mds(status, desired, problem, now=now, generation=generation)
    extra = ""
    if plan is not None and plan.extra_data_pools:
        extra = f"; data pools not in the spec are left attached: {', '.join(plan.extra_data_pools)}"
    if fs is not None and len(fs.active) >= desired.max_mds:
        status.phase = "Ready"
        shortfall = f"; {problem}" if problem else ""
        status.message = f"file system {desired.name} (fscid {status.fscid}) matches the spec{shortfall}{extra}"
        ready: tuple[ConditionStatus, str] = ("True", "Ready")
    else:
        status.phase = "Progressing"
        active = len(fs.active) if fs is not None else 0
        serving = "has no active MDS" if active == 0 else f"has {active} of {desired.max_mds} active MDS"
        status.message = f"file system {desired.name} {serving}: {problem}{extra}"
        ready = ("False", "MDSMissing")
    status.conditions = set_condition(
        status.conditions, "Ready", ready[0], ready[1], status.message, now=now, generation=generation
    )
    return FilesystemFold(status, events)


def _fold_observed(
    status: CephFilesystemStatus,
    desired: DesiredFilesystem,
    plan: FilesystemPlan | None,
    fs: ObservedFilesystem | None,
    *,
    fsmap: FSMap | None,
    world: PoolWorld | None,
) -> list[Event]:
    """fscid, MDS counts, pools and their usage, adoption: what was seen, whatever the outcome."""
    if fs is not None and fsmap is not None:
        status.fscid = fs.fscid
        status.mds = mds_counts(fs, fsmap)
    if world is not None and plan is not None:
        status.pools = [
            FilesystemPoolStatus(
                name=p.name,
                role="metadata" if p is plan.desired.metadata else "data",
                pool_id=world.pools[p.name].pool_id if p.name in world.pools else None,
                usage=usage_of(world.df.pools.get(p.name)),
            )
            for p in plan.desired.pools
        ]
    if plan is not None and plan.adopts and not status.adopted and fs is not None:
        status.adopted = True
        waiting = ", except changes that wait for confirmation" if plan.pending else ""
        return [
            Event.normal(
                "Adopted",
                f"adopted existing file system {desired.name} (fscid {fs.fscid}); the spec is applied to it{waiting}",
            )
        ]
    if status.adopted is None:
        status.adopted = False
    return []


def _fold_mds(
    status: CephFilesystemStatus,
    desired: DesiredFilesystem,
    problem: str | None,
    *,
    now: datetime,
    generation: int | None,
) -> list[Event]:
    before = find(status.conditions, "MDSAvailable")
    events = []
    if problem:
        if before is None or before.status != "False" or before.message != problem:
            events.append(Event.warning("MDSMissing", problem))
        status.conditions = set_condition(
            status.conditions, "MDSAvailable", "False", "MDSMissing", problem, now=now, generation=generation
        )
    else:
        if before is not None and before.status == "False":
            events.append(Event.normal("MDSAvailable", f"the MDS daemons of {desired.name} are all up"))
        status.conditions = set_condition(
            status.conditions,
            "MDSAvailable",
            "True",
            "MDSAvailable",
            "every MDS the spec asks for is up",
            now=now,
            generation=generation,
        )
    return events
