"""One RADOS pool: what the spec wants, what to do about what Ceph has, and the status that says so (pure).

``plan_pool`` returns commands in stages (a stage's commands run together, stages in order), or a refusal
with the reason and nothing to run: a spec that the cluster cannot satisfy is refused before anything
is made, so nothing is ever left half-made.

Ownership: a pool this operator created or adopted carries its owner in Ceph itself (application metadata
``storage-operator.owner``), so a new Kubernetes cluster pointed at the same Ceph tells "ours, apply the
spec" from "found there: adopt it, and ask before moving or dropping data".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from storage_operator.api.v1alpha1.cephblockpool import CephBlockPoolStatus
from storage_operator.api.v1alpha1.pool import PoolQuotaStatus, PoolSpec, PoolUsage
from storage_operator.ceph import crush, ecprofile, pools
from storage_operator.ceph.command import Command
from storage_operator.ceph.df import PoolStats
from storage_operator.ceph.ecprofile import ECProfile
from storage_operator.ceph.world import PoolWorld
from storage_operator.reconcile.conditions import set_condition
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.outcome import fold_unready
from storage_operator.reconcile.units import human_bytes

# Stages of one pool's plan; plans of several pools (a file system's) are merged stage by stage.
# min_size has a stage of its own after size: setting size resets min_size to Ceph's default.
PREPARE, CREATE, CONFIGURE, TUNE, CLAIM = range(5)
STAGES = 5

APPS_NEEDING_EC_OVERWRITES = frozenset({"rbd", "cephfs"})


@dataclass(frozen=True)
class DesiredPool:
    name: str
    application: str
    failure_domain: str
    device_class: str | None
    size: int | None  # replicated
    min_size: int | None  # replicated
    allow_size_one: bool
    ec: ECProfile | None
    quota_max_bytes: int
    quota_max_objects: int
    parameters: dict[str, str]
    target_size_ratio: float | None
    owner: str

    @property
    def rule_name(self) -> str:
        return crush.replicated_rule_name(self.failure_domain, self.device_class)

    @property
    def profile_name(self) -> str:
        return ecprofile.profile_name(self.name)

    def describe(self) -> str:
        if self.ec is not None:
            return f"erasure-coded {self.ec.describe()}"
        cls = f", class {self.device_class}" if self.device_class else ""
        return f"replicated size {self.size} (failure domain {self.failure_domain}{cls})"


def desired_pool(name: str, spec: PoolSpec, *, application: str, owner: str) -> DesiredPool:
    ec = None
    if spec.erasure_coded is not None:
        ec = ECProfile(
            k=spec.erasure_coded.data_chunks,
            m=spec.erasure_coded.coding_chunks,
            plugin=spec.erasure_coded.algorithm,
            failure_domain=spec.failure_domain,
            device_class=spec.device_class,
        )
    replicated = spec.replicated
    size = replicated.size if replicated is not None else None
    min_size = None
    if replicated is not None:
        min_size = replicated.min_size or pools.default_min_size(replicated.size)
    quotas = spec.quotas
    return DesiredPool(
        name=name,
        application=application,
        failure_domain=spec.failure_domain,
        device_class=spec.device_class,
        size=size,
        min_size=min_size,
        allow_size_one=replicated is not None and not replicated.require_safe_replica_size,
        ec=ec,
        quota_max_bytes=(quotas.max_bytes or 0) if quotas else 0,
        quota_max_objects=(quotas.max_objects or 0) if quotas else 0,
        parameters=dict(spec.parameters),
        target_size_ratio=replicated.target_size_ratio if replicated is not None else None,
        owner=owner,
    )


@dataclass
class PoolPlan:
    pool: str
    stages: list[list[Command]] = field(default_factory=lambda: [[] for _ in range(STAGES)])
    refusal: str | None = None
    pending: list[str] = field(default_factory=list)  # changes that wait for confirmation
    changes: list[str] = field(default_factory=list)  # what will change, for Events
    creates: bool = False
    adopts: bool = False  # the pool exists and is not (yet) ours

    @property
    def commands(self) -> list[Command]:
        return [c for stage in self.stages for c in stage]

    def add(self, stage: int, command: Command, change: str | None = None) -> None:
        if command not in self.stages[stage]:
            self.stages[stage].append(command)
        if change and change not in self.changes:
            self.changes.append(change)


def refused(pool: str, reason: str) -> PoolPlan:
    return PoolPlan(pool=pool, refusal=reason)


def check_feasible(desired: DesiredPool, world: PoolWorld) -> str | None:
    """Why the cluster cannot hold this pool as specified, or None when it can."""
    topo = world.topology
    if desired.device_class is not None and desired.device_class not in topo.device_classes():
        have = ", ".join(sorted(topo.device_classes())) or "none"
        return f"no OSD has device class {desired.device_class!r} (classes in the cluster: {have})"
    domains = topo.failure_domains(desired.failure_domain, desired.device_class)
    of_class = f" with OSDs of class {desired.device_class}" if desired.device_class else ""
    unit = "OSDs" if desired.failure_domain == "osd" else "hosts"
    if desired.ec is not None:
        chunks = desired.ec.k + desired.ec.m
        if chunks > domains:
            return (
                f"erasure coding {desired.ec.k}+{desired.ec.m} puts {chunks} chunks on {chunks} different "
                f"{unit}, but the cluster has {domains} {unit}{of_class}"
            )
    elif desired.size is not None and desired.size > domains:
        return (
            f"size {desired.size} puts each copy on a different {desired.failure_domain}, but the cluster has "
            f"{domains} {unit}{of_class}"
        )
    return None


def plan_pool(
    desired: DesiredPool,
    world: PoolWorld,
    *,
    confirm: bool = False,
    foreign_owner: str | None = None,
) -> PoolPlan:
    """Commands that make Ceph's pool match ``desired``, or a refusal that says why none can."""
    existing = world.pools.get(desired.name)
    if existing is None:
        problem = check_feasible(desired, world)
        return refused(desired.name, problem) if problem else _plan_create(desired, world)
    return _plan_update(desired, existing, world, confirm=confirm, foreign_owner=foreign_owner)


def _plan_create(desired: DesiredPool, world: PoolWorld) -> PoolPlan:
    plan = PoolPlan(pool=desired.name, creates=True)
    if desired.ec is not None:
        current = world.profiles.get(desired.profile_name)
        # A leftover profile of the same name (from a pool deleted by hand) is overwritten: no pool uses it.
        force = current is not None and current != desired.ec
        plan.add(PREPARE, ecprofile.build_profile_set(desired.profile_name, desired.ec, force=force))
        plan.add(CREATE, pools.build_create_erasure(desired.name, profile=desired.profile_name))
        if desired.application in APPS_NEEDING_EC_OVERWRITES:
            plan.add(CONFIGURE, pools.build_set(desired.name, "allow_ec_overwrites", "true"))
    else:
        assert desired.size is not None  # noqa: S101 (a replicated DesiredPool always has one)
        if desired.rule_name not in world.rules:
            plan.add(
                PREPARE,
                crush.build_create_replicated_rule(desired.rule_name, desired.failure_domain, desired.device_class),
            )
        plan.add(CREATE, pools.build_create_replicated(desired.name, size=desired.size, rule=desired.rule_name))
        if desired.size == 1:
            # Ceph takes `size` at creation as a default it may refuse for 1; set it again, confirmed.
            plan.add(CONFIGURE, pools.build_set(desired.name, "size", "1", confirm=True))
        if desired.min_size is not None:
            plan.add(TUNE, pools.build_set(desired.name, "min_size", str(desired.min_size)))
    plan.add(CONFIGURE, pools.build_application_enable(desired.name, desired.application))
    for cmd in _quota_commands(desired, None):
        plan.add(CONFIGURE, cmd)
    for cmd in _option_commands(desired, {}):
        plan.add(CONFIGURE, cmd)
    plan.add(CLAIM, pools.build_application_set(desired.name, desired.application, pools.OWNER_KEY, desired.owner))
    plan.changes.append(f"created as {desired.describe()}" + _quota_note(desired))
    return plan


def _plan_update(
    desired: DesiredPool,
    pool: pools.ObservedPool,
    world: PoolWorld,
    *,
    confirm: bool,
    foreign_owner: str | None,
) -> PoolPlan:
    """``foreign_owner``: the live object that owns this pool when that is not the caller (then: refuse)."""
    plan = PoolPlan(pool=desired.name)
    owner = pool.owner
    if owner is not None and owner != desired.owner and foreign_owner:
        return refused(
            desired.name, f"pool {desired.name} is already managed by {foreign_owner}; give this one another name"
        )
    plan.adopts = owner != desired.owner
    # Changes that move or drop data are applied to an adopted pool only once confirmed.
    careful: list[tuple[int, Command, str]] = []

    refusal = _layout_changes(desired, pool, world, plan, careful) or _application_change(desired, pool, plan)
    if refusal:
        return refused(desired.name, refusal)
    for cmd in _quota_commands(desired, pool):
        plan.add(CONFIGURE, cmd, cmd.describe())
    for cmd in _option_commands(desired, pool.options):
        plan.add(CONFIGURE, cmd, cmd.describe())

    if careful and plan.adopts and not confirm:
        plan.pending = [change for _, _, change in careful if change]
    else:
        for stage, cmd, change in careful:
            plan.add(stage, cmd, change)
    if plan.adopts and not plan.pending:
        plan.add(CLAIM, pools.build_application_set(desired.name, desired.application, pools.OWNER_KEY, desired.owner))
    return plan


def _layout_changes(
    desired: DesiredPool,
    pool: pools.ObservedPool,
    world: PoolWorld,
    plan: PoolPlan,
    careful: list[tuple[int, Command, str]],
) -> str | None:
    """How the data is laid out: replicated (size, rule) or erasure-coded (profile); a refusal if it
    cannot change in place."""
    if pool.erasure_coded != (desired.ec is not None):
        have = "erasure-coded" if pool.erasure_coded else "replicated"
        want = "erasure-coded" if desired.ec is not None else "replicated"
        return (
            f"pool {desired.name} exists as a {have} pool and Ceph cannot turn it into a {want} one; "
            "create a new pool and migrate the data"
        )
    if desired.ec is None:
        return _replicated_changes(desired, pool, world, plan, careful)
    problem = _ec_problem(desired, pool, world)
    if problem:
        return problem
    if desired.application in APPS_NEEDING_EC_OVERWRITES and not pool.ec_overwrites:
        plan.add(CONFIGURE, pools.build_set(desired.name, "allow_ec_overwrites", "true"), "allow EC overwrites")
    return None


def _application_change(desired: DesiredPool, pool: pools.ObservedPool, plan: PoolPlan) -> str | None:
    if desired.application in pool.applications:
        return None
    others = sorted(pool.applications)
    if others:
        return (
            f"pool {desired.name} is tagged for application {', '.join(others)}, not {desired.application}; "
            "it belongs to something else"
        )
    plan.add(
        CONFIGURE,
        pools.build_application_enable(desired.name, desired.application),
        f"application {desired.application}",
    )
    return None


def _replicated_changes(
    desired: DesiredPool,
    pool: pools.ObservedPool,
    world: PoolWorld,
    plan: PoolPlan,
    careful: list[tuple[int, Command, str]],
) -> str | None:
    assert desired.size is not None  # noqa: S101 (replicated)
    rule = crush.rule_by_id(world.rules, pool.crush_rule_id)
    same_placement = rule is not None and (rule.failure_domain, rule.device_class, rule.root) == (
        desired.failure_domain,
        desired.device_class,
        crush.DEFAULT_ROOT,
    )
    grows = desired.size > pool.size
    if not same_placement or grows:
        problem = check_feasible(desired, world)
        if problem:
            return problem
    if not same_placement:
        if desired.rule_name not in world.rules:
            plan.add(
                PREPARE,
                crush.build_create_replicated_rule(desired.rule_name, desired.failure_domain, desired.device_class),
            )
        was = rule.describe() if rule is not None else f"rule {pool.crush_rule_id}"
        careful.append(
            (
                CONFIGURE,
                pools.build_set(desired.name, "crush_rule", desired.rule_name),
                f"CRUSH rule {was} -> {desired.rule_name} (moves data)",
            )
        )
    # Setting size resets min_size to Ceph's default, so min_size follows in a later stage whenever size
    # changes; with a shrink that waits for confirmation, its min_size waits with it.
    min_size = None
    if desired.min_size is not None and (desired.min_size != pool.min_size or desired.size != pool.size):
        min_size = pools.build_set(desired.name, "min_size", str(desired.min_size))
    # Re-sent after a size change even when equal; described only when it really changes.
    min_change = f"min_size {pool.min_size} -> {desired.min_size}" if desired.min_size != pool.min_size else ""
    if desired.size != pool.size:
        cmd = pools.build_set(desired.name, "size", str(desired.size), confirm=desired.size == 1)
        change = f"size {pool.size} -> {desired.size}"
        if desired.size < pool.size:
            careful.append((CONFIGURE, cmd, change + " (drops copies)"))
            if min_size is not None:
                careful.append((TUNE, min_size, min_change))
            return None
        plan.add(CONFIGURE, cmd, change)
    if min_size is not None:
        plan.add(TUNE, min_size, min_change)
    return None


def _ec_problem(desired: DesiredPool, pool: pools.ObservedPool, world: PoolWorld) -> str | None:
    assert desired.ec is not None  # noqa: S101 (erasure-coded)
    have = world.profiles.get(pool.ec_profile or "")
    if have is None:
        return None  # its profile cannot be read; nothing to compare, nothing to change
    if not have.same_layout(desired.ec) or not have.same_placement(desired.ec):
        return (
            f"pool {desired.name} is erasure-coded {have.describe()} and the spec asks "
            f"{desired.ec.describe()}: Ceph cannot change a pool's erasure coding in place; "
            "create a new pool and migrate the data"
        )
    return None


def _quota_commands(desired: DesiredPool, pool: pools.ObservedPool | None) -> list[Command]:
    have_bytes = pool.quota_max_bytes if pool else 0
    have_objects = pool.quota_max_objects if pool else 0
    out = []
    if desired.quota_max_bytes != have_bytes:
        out.append(pools.build_set_quota(desired.name, "max_bytes", desired.quota_max_bytes))
    if desired.quota_max_objects != have_objects:
        out.append(pools.build_set_quota(desired.name, "max_objects", desired.quota_max_objects))
    return out


def _option_commands(desired: DesiredPool, options: dict[str, str]) -> list[Command]:
    wanted = dict(desired.parameters)
    if desired.target_size_ratio is not None:
        wanted["target_size_ratio"] = _number(desired.target_size_ratio)
    return [
        pools.build_set(desired.name, var, value)
        for var, value in sorted(wanted.items())
        if options.get(var) != pools.normalize_option(var, value)
    ]


def _quota_note(desired: DesiredPool) -> str:
    limits = []
    if desired.quota_max_bytes:
        limits.append(human_bytes(desired.quota_max_bytes))
    if desired.quota_max_objects:
        limits.append(f"{desired.quota_max_objects} objects")
    return f", quota {' / '.join(limits)}" if limits else ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def parse_owner(owner: str) -> tuple[str, str, str] | None:
    """'<Kind>.<namespace>.<uid>' -> (kind, namespace, uid), or None when it is not one of ours."""
    parts = owner.split(".")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


def owner_tag(kind: str, namespace: str, uid: str) -> str:
    return f"{kind}.{namespace}.{uid}"


def merge(plans: Sequence[PoolPlan]) -> list[list[Command]]:
    """Stage-wise union of several pools' plans (a file system's pools are prepared together); a command
    two pools need (the same CRUSH rule) is sent once."""
    stages: list[list[Command]] = []
    for i in range(STAGES):
        stage: list[Command] = []
        for plan in plans:
            stage += [c for c in plan.stages[i] if c not in stage]
        stages.append(stage)
    return stages


def leftovers_of(pool: pools.ObservedPool, world: PoolWorld) -> list[Command]:
    """What creating an erasure-coded pool made beside it (its profile, the rule Ceph named after it),
    once no other pool uses them."""
    out = []
    others = [p for p in world.pools.values() if p.name != pool.name]
    if pool.ec_profile == ecprofile.profile_name(pool.name) and all(p.ec_profile != pool.ec_profile for p in others):
        out.append(ecprofile.build_profile_rm(pool.ec_profile))
    rule = crush.rule_by_id(world.rules, pool.crush_rule_id)
    named_after_pool = pool.erasure_coded and rule is not None and rule.name == pool.name
    if rule is not None and named_after_pool and all(p.crush_rule_id != rule.rule_id for p in others):
        out.append(crush.build_rule_rm(rule.name))
    return out


# ---------------------------------------------------------------------------- status


def usage_of(stats: PoolStats | None) -> PoolUsage | None:
    if stats is None:
        return None
    return PoolUsage(
        stored_bytes=stats.stored,
        bytes_used=stats.bytes_used,
        objects=stats.objects,
        percent_used=stats.percent_used,
        max_available_bytes=stats.max_avail,
        used=human_bytes(stats.stored),
    )


@dataclass
class PoolFold:
    status: CephBlockPoolStatus
    events: list[Event] = field(default_factory=list)


def fold_pool_status(
    previous: CephBlockPoolStatus | None,
    *,
    pool_name: str,
    generation: int | None,
    now: datetime,
    plan: PoolPlan | None,
    applied: Sequence[str] = (),
    observed: pools.ObservedPool | None = None,
    stats: PoolStats | None = None,
    error: tuple[str, str] | None = None,
) -> PoolFold:
    """The status after one pass: failed (reason, message), refused, waiting for confirmation, or Ready."""
    status = previous.model_copy(deep=True) if previous is not None else CephBlockPoolStatus()
    status.observed_generation = generation
    status.pool_name = pool_name
    events: list[Event] = []
    if observed is not None:
        status.pool_id = observed.pool_id
        status.quotas = PoolQuotaStatus(max_bytes=observed.quota_max_bytes, max_objects=observed.quota_max_objects)
    status.usage = usage_of(stats) or status.usage
    if plan is not None and plan.adopts and not status.adopted and observed is not None:
        status.adopted = True
        events.append(
            Event.normal(
                "Adopted",
                f"adopted existing pool {pool_name} (id {observed.pool_id}); the spec is applied to it"
                + (", except changes that wait for confirmation" if plan.pending else ""),
            )
        )
    elif status.adopted is None:
        status.adopted = False
    unready = fold_unready(
        status,
        subject=f"pool {pool_name}",
        now=now,
        generation=generation,
        error=error,
        refusal=plan.refusal if plan else None,
        pending=plan.pending if plan else (),
    )
    if unready is not None:
        return PoolFold(status, events + unready)
    if plan is not None and applied and plan.changes:
        reason = "Created" if plan.creates else "Updated"
        events.append(Event.normal(reason, f"pool {pool_name}: " + "; ".join(plan.changes)))
    status.phase = "Ready"
    status.pending_changes = []
    status.message = f"pool {pool_name} (id {status.pool_id}) matches the spec"
    status.conditions = set_condition(
        status.conditions, "Ready", "True", "Ready", status.message, now=now, generation=generation
    )
    return PoolFold(status, events)
