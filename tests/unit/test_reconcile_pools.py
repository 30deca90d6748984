"""One RADOS pool, planned and folded: (spec, observed) -> (commands by stage, refusal, pending, status, events).

The observed state is the recorded lab cluster (tests/fixtures/ceph), or a variant of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest

from storage_operator.api.v1alpha1.cephblockpool import CephBlockPoolSpec, CephBlockPoolStatus
from storage_operator.api.v1alpha1.pool import PoolSpec
from storage_operator.ceph import crush, ecprofile, pools
from storage_operator.ceph.command import Command
from storage_operator.ceph.crush import CrushRule
from storage_operator.ceph.ecprofile import ECProfile
from storage_operator.ceph.world import PoolWorld
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.pools import (
    CLAIM,
    CONFIGURE,
    CREATE,
    PREPARE,
    STAGES,
    TUNE,
    DesiredPool,
    PoolFold,
    PoolPlan,
    desired_pool,
    fold_pool_status,
    leftovers_of,
    owner_tag,
    parse_owner,
    plan_pool,
)
from tests.unit.ceph_world import (
    ECPOOL_OWNER,
    NEW_OWNER,
    NOW,
    REPLICAPOOL_OWNER,
    change_pool,
    empty_world,
    recorded_world,
    staged,
    tagged,
    untagged,
    with_hosts,
    with_pool,
)

GiB = 1024**3
LATER = NOW + timedelta(hours=1)
REPLICAPOOL_SPEC: dict[str, Any] = {
    "failureDomain": "osd",
    "replicated": {"size": 3},
    "quotas": {"maxBytes": 10 * GiB},
    "application": "rbd",
}
ECPOOL_SPEC: dict[str, Any] = {
    "failureDomain": "osd",
    "erasureCoded": {"dataChunks": 2, "codingChunks": 1},
    "application": "rbd",
    "parameters": {"compression_mode": "aggressive"},
}


def desired(name: str, wire: dict[str, Any], owner: str = NEW_OWNER) -> DesiredPool:
    """What a CephBlockPool with this (camelCase) spec wants of Ceph."""
    spec = CephBlockPoolSpec.model_validate(wire)
    return desired_pool(name, spec, application=spec.application, owner=owner)


def spec_with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def stages(
    *,
    prepare: Sequence[Command] = (),
    create: Sequence[Command] = (),
    configure: Sequence[Command] = (),
    tune: Sequence[Command] = (),
    claim: Sequence[Command] = (),
) -> list[list[Command]]:
    """A plan's stages, in the module's own layout."""
    out: list[list[Command]] = [[] for _ in range(STAGES)]
    for stage, commands in ((PREPARE, prepare), (CREATE, create), (CONFIGURE, configure), (TUNE, tune), (CLAIM, claim)):
        out[stage] = list(commands)
    return out


def claim(name: str, owner: str, app: str = "rbd") -> list[Command]:
    return [pools.build_application_set(name, app, pools.OWNER_KEY, owner)]


def untagged_replicapool(world: PoolWorld) -> PoolWorld:
    return with_pool(world, untagged(world.pools["replicapool"]))


# A rule that places copies on different hosts (made by hand, id 5), and replicapool placed with it.
BY_HOST = CrushRule(
    rule_id=5,
    name="by-host",
    rule_type=crush.RULE_TYPE_REPLICATED,
    root="default",
    device_class=None,
    failure_domain="host",
)


def replicapool_by_host() -> PoolWorld:
    world = recorded_world()
    world = replace(world, rules={**world.rules, BY_HOST.name: BY_HOST})
    return change_pool(world, "replicapool", crush_rule_id=BY_HOST.rule_id)


# What adopting replicapool with spec size 2 waits for: the shrink, and the min_size that follows it.
SHRINK_PENDING = ["size 3 -> 2 (drops copies)", "min_size 2 -> 1"]


def claimed_by_new_owner() -> dict[str, dict[str, str]]:
    return {"rbd": {pools.OWNER_KEY: NEW_OWNER}}


# ---------------------------------------------------------------------------- the recorded cluster


def test_recorded_cluster_is_what_the_tables_assume() -> None:
    world = recorded_world()
    replicapool, ecpool = world.pools["replicapool"], world.pools["ecpool"]
    assert (replicapool.size, replicapool.min_size, replicapool.quota_max_bytes) == (3, 2, 10 * GiB)
    assert crush.rule_by_id(world.rules, replicapool.crush_rule_id) == world.rules["replicated-osd"]
    assert replicapool.owner == REPLICAPOOL_OWNER
    assert (ecpool.erasure_coded, ecpool.ec_profile, ecpool.ec_overwrites, ecpool.owner) == (
        True,
        "ecpool-ec",
        True,
        ECPOOL_OWNER,
    )
    assert world.profiles["ecpool-ec"] == ECProfile(
        k=2, m=1, plugin="jerasure", failure_domain="osd", device_class=None
    )
    assert world.topology.device_classes() == {"hdd"}
    assert (world.topology.failure_domains("osd"), world.topology.failure_domains("host")) == (3, 1)


# ---------------------------------------------------------------------------- desired_pool


@pytest.mark.parametrize(
    ("replicated", "min_size"),
    [
        ({"size": 1, "requireSafeReplicaSize": False}, 1),
        ({"size": 2}, 1),
        ({"size": 3}, 2),
        ({"size": 4}, 2),
        ({"size": 5}, 3),
        ({"size": 3, "minSize": 3}, 3),
        ({"size": 4, "minSize": 1}, 1),
    ],
)
def test_desired_min_size_defaults_to_a_majority_unless_the_spec_says(
    replicated: dict[str, Any], min_size: int
) -> None:
    pool = desired("p", {"replicated": replicated})
    assert (pool.size, pool.min_size, pool.ec) == (replicated["size"], min_size, None)


@pytest.mark.parametrize(
    ("quotas", "expected"),
    [
        (None, (0, 0)),
        ({}, (0, 0)),
        ({"maxBytes": 5 * GiB}, (5 * GiB, 0)),
        ({"maxObjects": 1000}, (0, 1000)),
        ({"maxBytes": 0, "maxObjects": 7}, (0, 7)),
    ],
)
def test_desired_quotas_unset_mean_no_limit(quotas: dict[str, int] | None, expected: tuple[int, int]) -> None:
    wire: dict[str, Any] = {"replicated": {"size": 3}}
    if quotas is not None:
        wire["quotas"] = quotas
    pool = desired("p", wire)
    assert (pool.quota_max_bytes, pool.quota_max_objects) == expected


def test_desired_erasure_coded_profile_carries_failure_domain_and_device_class() -> None:
    wire = {
        "failureDomain": "host",
        "deviceClass": "ssd",
        "erasureCoded": {"dataChunks": 4, "codingChunks": 2, "algorithm": "isa"},
    }
    pool = desired("archive", wire)
    assert pool.ec == ECProfile(k=4, m=2, plugin="isa", failure_domain="host", device_class="ssd")
    assert (pool.size, pool.min_size, pool.allow_size_one) == (None, None, False)
    assert pool.profile_name == "archive-ec"
    assert pool.describe() == "erasure-coded 4+2 isa (failure domain host, class ssd)"


def test_desired_replicated_defaults() -> None:
    pool = desired_pool(
        "p", PoolSpec.model_validate({"replicated": {}}), application="cephfs", owner="CephFilesystem.ns.uid"
    )
    assert (pool.failure_domain, pool.device_class, pool.size, pool.min_size) == ("host", None, 3, 2)
    assert (pool.application, pool.owner, pool.parameters, pool.target_size_ratio) == (
        "cephfs",
        "CephFilesystem.ns.uid",
        {},
        None,
    )
    assert pool.rule_name == "replicated-host"
    assert desired("p", {"deviceClass": "nvme", "failureDomain": "osd", "replicated": {}}).rule_name == (
        "replicated-osd-nvme"
    )


def test_desired_size_one_needs_the_safety_switch_off() -> None:
    assert desired("p", {"replicated": {"size": 1, "requireSafeReplicaSize": False}}).allow_size_one
    assert not desired("p", {"replicated": {"size": 3}}).allow_size_one


# ---------------------------------------------------------------------------- plan_pool: new pools


@dataclass(frozen=True)
class NewPool:
    id: str
    name: str
    spec: dict[str, Any]
    world: Callable[[], PoolWorld]
    expected: list[list[Command]]


NEW_POOLS = [
    NewPool(
        "replicated-rule-exists",
        "newpool",
        {"failureDomain": "osd", "replicated": {"size": 3}},
        recorded_world,
        stages(
            create=[pools.build_create_replicated("newpool", size=3, rule="replicated-osd")],
            configure=[pools.build_application_enable("newpool", "rbd")],
            tune=[pools.build_set("newpool", "min_size", "2")],
            claim=claim("newpool", NEW_OWNER),
        ),
    ),
    NewPool(
        "replicated-rule-missing-with-quotas-and-parameters",
        "newpool",
        {
            "failureDomain": "osd",
            "deviceClass": "hdd",
            "replicated": {"size": 2, "targetSizeRatio": 0.2},
            "quotas": {"maxBytes": GiB, "maxObjects": 1000},
            "parameters": {"compression_mode": "aggressive"},
        },
        empty_world,
        stages(
            prepare=[crush.build_create_replicated_rule("replicated-osd-hdd", "osd", "hdd")],
            create=[pools.build_create_replicated("newpool", size=2, rule="replicated-osd-hdd")],
            configure=[
                pools.build_application_enable("newpool", "rbd"),
                pools.build_set_quota("newpool", "max_bytes", GiB),
                pools.build_set_quota("newpool", "max_objects", 1000),
                pools.build_set("newpool", "compression_mode", "aggressive"),
                pools.build_set("newpool", "target_size_ratio", "0.2"),
            ],
            tune=[pools.build_set("newpool", "min_size", "1")],
            claim=claim("newpool", NEW_OWNER),
        ),
    ),
    NewPool(
        "replicated-rule-missing-on-an-empty-cluster",
        "replicapool",
        REPLICAPOOL_SPEC,
        empty_world,
        stages(
            prepare=[crush.build_create_replicated_rule("replicated-osd", "osd", None)],
            create=[pools.build_create_replicated("replicapool", size=3, rule="replicated-osd")],
            configure=[
                pools.build_application_enable("replicapool", "rbd"),
                pools.build_set_quota("replicapool", "max_bytes", 10 * GiB),
            ],
            tune=[pools.build_set("replicapool", "min_size", "2")],
            claim=claim("replicapool", NEW_OWNER),
        ),
    ),
    NewPool(
        "replicated-size-one-is-confirmed",
        "scratch",
        {"failureDomain": "host", "replicated": {"size": 1, "requireSafeReplicaSize": False}},
        recorded_world,
        stages(
            prepare=[crush.build_create_replicated_rule("replicated-host", "host", None)],
            create=[pools.build_create_replicated("scratch", size=1, rule="replicated-host")],
            configure=[
                pools.build_set("scratch", "size", "1", confirm=True),
                pools.build_application_enable("scratch", "rbd"),
            ],
            tune=[pools.build_set("scratch", "min_size", "1")],
            claim=claim("scratch", NEW_OWNER),
        ),
    ),
    NewPool(
        "erasure-coded-for-rbd-allows-overwrites",
        "ecpool",
        ECPOOL_SPEC,
        empty_world,
        stages(
            prepare=[
                ecprofile.build_profile_set(
                    "ecpool-ec", ECProfile(k=2, m=1, plugin="jerasure", failure_domain="osd", device_class=None)
                )
            ],
            create=[pools.build_create_erasure("ecpool", profile="ecpool-ec")],
            configure=[
                pools.build_set("ecpool", "allow_ec_overwrites", "true"),
                pools.build_application_enable("ecpool", "rbd"),
                pools.build_set("ecpool", "compression_mode", "aggressive"),
            ],
            claim=claim("ecpool", NEW_OWNER),
        ),
    ),
    NewPool(
        "erasure-coded-for-rgw-keeps-overwrites-off",
        "objects",
        {"failureDomain": "osd", "deviceClass": "hdd", "erasureCoded": {"dataChunks": 2, "codingChunks": 1}},
        empty_world,
        stages(
            prepare=[
                ecprofile.build_profile_set(
                    "objects-ec", ECProfile(k=2, m=1, plugin="jerasure", failure_domain="osd", device_class="hdd")
                )
            ],
            create=[pools.build_create_erasure("objects", profile="objects-ec")],
            configure=[pools.build_application_enable("objects", "rgw")],
            claim=claim("objects", NEW_OWNER, app="rgw"),
        ),
    ),
    NewPool(
        "erasure-coded-overwrites-a-leftover-profile",
        "ecpool",
        ECPOOL_SPEC,
        lambda: replace(
            empty_world(),
            profiles={"ecpool-ec": ECProfile(k=4, m=2, plugin="jerasure", failure_domain="host", device_class=None)},
        ),
        stages(
            prepare=[
                ecprofile.build_profile_set(
                    "ecpool-ec",
                    ECProfile(k=2, m=1, plugin="jerasure", failure_domain="osd", device_class=None),
                    force=True,
                )
            ],
            create=[pools.build_create_erasure("ecpool", profile="ecpool-ec")],
            configure=[
                pools.build_set("ecpool", "allow_ec_overwrites", "true"),
                pools.build_application_enable("ecpool", "rbd"),
                pools.build_set("ecpool", "compression_mode", "aggressive"),
            ],
            claim=claim("ecpool", NEW_OWNER),
        ),
    ),
]


@pytest.mark.parametrize("case", NEW_POOLS, ids=lambda c: c.id)
def test_plan_new_pool(case: NewPool) -> None:
    spec = case.spec
    if case.id == "erasure-coded-for-rgw-keeps-overwrites-off":
        spec = {**spec, "application": "rgw"}
    plan = plan_pool(desired(case.name, spec), case.world())
    assert (plan.refusal, plan.creates, plan.adopts, plan.pending) == (None, True, False, [])
    assert staged(plan.stages) == staged(case.expected)
    assert plan.commands[-1].prefix == "osd pool application set", "the owner is recorded last"


def test_plan_new_pool_says_what_it_creates() -> None:
    plan = plan_pool(desired("replicapool", REPLICAPOOL_SPEC), empty_world())
    assert plan.changes == ["created as replicated size 3 (failure domain osd), quota 10.0 GiB"]


# ---------------------------------------------------------------------------- plan_pool: refusals


@dataclass(frozen=True)
class Refusal:
    id: str
    name: str
    spec: dict[str, Any]
    world: Callable[[], PoolWorld]
    says: tuple[str, ...]
    owner: str = NEW_OWNER
    foreign_owner: str | None = None


REFUSALS = [
    Refusal(
        "size-larger-than-osds",
        "newpool",
        {"failureDomain": "osd", "replicated": {"size": 4}},
        recorded_world,
        ("size 4", "has 3 OSDs"),
    ),
    Refusal(
        "size-larger-than-hosts",
        "newpool",
        {"failureDomain": "host", "replicated": {"size": 2}},
        recorded_world,
        ("size 2", "different host", "has 1 host"),
    ),
    Refusal(
        "size-larger-than-hosts-of-the-class",
        "newpool",
        {"failureDomain": "host", "deviceClass": "hdd", "replicated": {"size": 3}},
        recorded_world,
        ("size 3", "has 1 host", "class hdd"),
    ),
    Refusal(
        "device-class-no-osd-has",
        "newpool",
        {"failureDomain": "osd", "deviceClass": "ssd", "replicated": {"size": 3}},
        recorded_world,
        ("'ssd'", "classes in the cluster: hdd"),
    ),
    Refusal(
        "device-class-no-osd-has-erasure-coded",
        "newpool",
        {"failureDomain": "osd", "deviceClass": "nvme", "erasureCoded": {"dataChunks": 2, "codingChunks": 1}},
        empty_world,
        ("'nvme'", "hdd"),
    ),
    Refusal(
        "erasure-coding-wider-than-osds",
        "newpool",
        {"failureDomain": "osd", "erasureCoded": {"dataChunks": 3, "codingChunks": 1}},
        recorded_world,
        ("3+1", "4 chunks", "has 3 OSDs"),
    ),
    Refusal(
        "erasure-coding-wider-than-hosts",
        "newpool",
        {"failureDomain": "host", "erasureCoded": {"dataChunks": 2, "codingChunks": 1}},
        recorded_world,
        ("2+1", "3 chunks", "has 1 hosts"),
    ),
    Refusal(
        "existing-pool-grown-beyond-osds",
        "replicapool",
        spec_with(REPLICAPOOL_SPEC, replicated={"size": 4}),
        recorded_world,
        ("size 4", "has 3 OSDs"),
        owner=REPLICAPOOL_OWNER,
    ),
    Refusal(
        "existing-pool-moved-to-missing-device-class",
        "replicapool",
        spec_with(REPLICAPOOL_SPEC, deviceClass="ssd"),
        recorded_world,
        ("'ssd'", "hdd"),
        owner=REPLICAPOOL_OWNER,
    ),
    Refusal(
        "replicated-pool-asked-as-erasure-coded",
        "replicapool",
        spec_with(REPLICAPOOL_SPEC, replicated=None, erasureCoded={"dataChunks": 2, "codingChunks": 1}),
        recorded_world,
        ("replicapool", "exists as a replicated pool", "erasure-coded"),
        owner=REPLICAPOOL_OWNER,
    ),
    Refusal(
        "erasure-coded-pool-asked-as-replicated",
        "ecpool",
        spec_with(ECPOOL_SPEC, erasureCoded=None, replicated={"size": 3}),
        recorded_world,
        ("ecpool", "erasure-coded pool", "replicated one"),
        owner=ECPOOL_OWNER,
    ),
    Refusal(
        "erasure-coding-k-m-changed",
        "ecpool",
        spec_with(ECPOOL_SPEC, erasureCoded={"dataChunks": 3, "codingChunks": 1}),
        recorded_world,
        ("2+1", "3+1", "cannot change", "in place"),
        owner=ECPOOL_OWNER,
    ),
    Refusal(
        "erasure-coding-plugin-changed",
        "ecpool",
        spec_with(ECPOOL_SPEC, erasureCoded={"dataChunks": 2, "codingChunks": 1, "algorithm": "isa"}),
        recorded_world,
        ("jerasure", "isa", "cannot change", "in place"),
        owner=ECPOOL_OWNER,
    ),
    Refusal(
        "erasure-coding-failure-domain-changed",
        "ecpool",
        spec_with(ECPOOL_SPEC, failureDomain="host"),
        recorded_world,
        ("failure domain osd", "failure domain host", "cannot change", "in place"),
        owner=ECPOOL_OWNER,
    ),
    Refusal(
        "erasure-coding-changed-on-adoption-too",
        "ecpool",
        spec_with(ECPOOL_SPEC, erasureCoded={"dataChunks": 3, "codingChunks": 1}),
        lambda: with_pool(recorded_world(), untagged(recorded_world().pools["ecpool"])),
        ("cannot change", "in place"),
    ),
    Refusal(
        "tagged-for-another-application",
        "replicapool",
        REPLICAPOOL_SPEC,
        lambda: change_pool(recorded_world(), "replicapool", applications={"rgw": {}}),
        ("replicapool", "tagged for application rgw", "not rbd"),
    ),
    Refusal(
        "owned-by-another-live-object",
        "replicapool",
        REPLICAPOOL_SPEC,
        recorded_world,
        ("already managed by CephBlockPool storage-system/other", "another name"),
        foreign_owner="CephBlockPool storage-system/other",
    ),
]


@pytest.mark.parametrize("case", REFUSALS, ids=lambda c: c.id)
def test_plan_refuses_with_nothing_to_run(case: Refusal) -> None:
    plan = plan_pool(desired(case.name, case.spec, owner=case.owner), case.world(), foreign_owner=case.foreign_owner)
    assert plan.refusal is not None
    for part in case.says:
        assert part in plan.refusal
    assert plan.commands == []
    assert (plan.creates, plan.adopts, plan.pending, plan.changes) == (False, False, [], [])


def test_refusal_for_another_owner_holds_even_with_confirmation() -> None:
    plan = plan_pool(
        desired("replicapool", REPLICAPOOL_SPEC),
        recorded_world(),
        confirm=True,
        foreign_owner="CephBlockPool storage-system/other",
    )
    assert plan.refusal is not None
    assert plan.commands == []


# ---------------------------------------------------------------------------- plan_pool: pools the caller owns


@dataclass(frozen=True)
class Owned:
    id: str
    name: str
    spec: dict[str, Any]
    expected: list[list[Command]]
    world: Callable[[], PoolWorld] = recorded_world
    changes: tuple[str, ...] = ()


OWNED = [
    Owned("replicapool-as-recorded", "replicapool", REPLICAPOOL_SPEC, stages()),
    Owned("ecpool-as-recorded", "ecpool", ECPOOL_SPEC, stages()),
    Owned(
        "replicated-parameters-already-set",
        "replicapool",
        spec_with(REPLICAPOOL_SPEC, parameters={}),
        stages(),
        world=lambda: change_pool(recorded_world(), "replicapool", options={"compression_mode": "none"}),
    ),
    Owned(
        "size-3-to-2-applied-directly",
        "replicapool",
        spec_with(REPLICAPOOL_SPEC, replicated={"size": 2}),
        stages(
            configure=[pools.build_set("replicapool", "size", "2")],
            tune=[pools.build_set("replicapool", "min_size", "1")],
        ),
        changes=("size 3 -> 2 (drops copies)", "min_size 2 -> 1"),
    ),
    Owned(
        # Setting size resets min_size to Ceph's default: the spec's min_size is set again after it.
        "size-3-to-2-keeping-min-size",
        "replicapool",
        spec_with(REPLICAPOOL_SPEC, replicated={"size": 2, "minSize": 2}),
        stages(
            configure=[pools.build_set("replicapool", "size", "2")],
            tune=[pools.build_set("replicapool", "min_size", "2")],
        ),
    ),
    Owned(
        "size-2-to-3",
        "replicapool",
        REPLICAPOOL_SPEC,
        stages(
            configure=[pools.build_set("replicapool", "size", "3")],
            tune=[pools.build_set("replicapool", "min_size", "2")],
        ),
        world=lambda: change_pool(recorded_world(), "replicapool", size=2, min_size=1),
        changes=("size 2 -> 3", "min_size 1 -> 2"),
    ),
    Owned(
        "min-size-only",
        "replicapool",
        spec_with(REPLICAPOOL_SPEC, replicated={"size": 3, "minSize": 1}),
        stages(tune=[pools.build_set("replicapool", "min_size", "1")]),
        changes=("min_size 2 -> 1",),
    ),
    Owned(
        "same-placement-under-another-rule-name-stays",
        "replicapool",
        REPLICAPOOL_SPEC,
        stages(),
        # Ceph's own replicated_rule takes "default" and chooses OSDs, as replicated-osd does: nothing moves.
        world=lambda: change_pool(recorded_world(), "replicapool", crush_rule_id=0),
    ),
    Owned(
        "placement-by-host-moved-to-osd",
        "replicapool",
        REPLICAPOOL_SPEC,
        stages(configure=[pools.build_set("replicapool", "crush_rule", "replicated-osd")]),
        world=replicapool_by_host,
        changes=("CRUSH rule by-host (failure domain host) -> replicated-osd (moves data)",),
    ),
    Owned(
        "quota-raised",
        "replicapool",
        spec_with(REPLICAPOOL_SPEC, quotas={"maxBytes": 20 * GiB, "maxObjects": 5000}),
        stages(
            configure=[
                pools.build_set_quota("replicapool", "max_bytes", 20 * GiB),
                pools.build_set_quota("replicapool", "max_objects", 5000),
            ]
        ),
    ),
    Owned(
        "quota-removed",
        "replicapool",
        spec_with(REPLICAPOOL_SPEC, quotas=None),
        stages(configure=[pools.build_set_quota("replicapool", "max_bytes", 0)]),
        changes=("set max_bytes of replicapool to no limit",),
    ),
    Owned(
        "parameter-and-target-ratio",
        "replicapool",
        spec_with(
            REPLICAPOOL_SPEC,
            replicated={"size": 3, "targetSizeRatio": 0.5},
            parameters={"compression_mode": "passive"},
        ),
        stages(
            configure=[
                pools.build_set("replicapool", "compression_mode", "passive"),
                pools.build_set("replicapool", "target_size_ratio", "0.5"),
            ]
        ),
    ),
    Owned(
        "erasure-coded-parameter-changed",
        "ecpool",
        spec_with(ECPOOL_SPEC, parameters={"compression_mode": "force"}),
        stages(configure=[pools.build_set("ecpool", "compression_mode", "force")]),
    ),
    Owned(
        "erasure-coded-overwrites-turned-on",
        "ecpool",
        ECPOOL_SPEC,
        stages(configure=[pools.build_set("ecpool", "allow_ec_overwrites", "true")]),
        world=lambda: change_pool(recorded_world(), "ecpool", ec_overwrites=False),
        changes=("allow EC overwrites",),
    ),
    Owned(
        "device-class-creates-its-rule-then-moves",
        "replicapool",
        spec_with(REPLICAPOOL_SPEC, deviceClass="hdd"),
        stages(
            prepare=[crush.build_create_replicated_rule("replicated-osd-hdd", "osd", "hdd")],
            configure=[pools.build_set("replicapool", "crush_rule", "replicated-osd-hdd")],
        ),
        changes=("CRUSH rule replicated-osd (failure domain osd) -> replicated-osd-hdd (moves data)",),
    ),
    Owned(
        "device-class-with-its-rule-already-there",
        "replicapool",
        spec_with(REPLICAPOOL_SPEC, deviceClass="hdd"),
        stages(configure=[pools.build_set("replicapool", "crush_rule", "replicated-osd-hdd")]),
        world=lambda: replace(
            recorded_world(),
            rules={
                **recorded_world().rules,
                "replicated-osd-hdd": CrushRule(
                    rule_id=4,
                    name="replicated-osd-hdd",
                    rule_type=crush.RULE_TYPE_REPLICATED,
                    root="default",
                    device_class="hdd",
                    failure_domain="osd",
                ),
            },
        ),
    ),
    Owned(
        "failure-domain-host-on-three-hosts",
        "replicapool",
        spec_with(REPLICAPOOL_SPEC, failureDomain="host"),
        stages(
            prepare=[crush.build_create_replicated_rule("replicated-host", "host", None)],
            configure=[pools.build_set("replicapool", "crush_rule", "replicated-host")],
        ),
        world=lambda: with_hosts(recorded_world(), ["node-a", "node-b", "node-c"]),
    ),
]


@pytest.mark.parametrize("case", OWNED, ids=lambda c: c.id)
def test_plan_pool_the_caller_owns(case: Owned) -> None:
    world = case.world()
    owner = world.pools[case.name].owner
    assert owner is not None
    plan = plan_pool(desired(case.name, case.spec, owner=owner), world)
    assert (plan.refusal, plan.creates, plan.adopts, plan.pending) == (None, False, False, [])
    assert staged(plan.stages) == staged(case.expected)
    for change in case.changes:
        assert change in plan.changes
    assert all(c.prefix != "osd pool application set" for c in plan.commands), "already claimed"


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("pg_autoscale_mode", "off"), ("fast_read", "false")],
)
def test_plan_parameter_equal_to_what_ceph_reports_is_not_set_again(parameter: str, value: str) -> None:
    # The recorded replicapool has "pg_autoscale_mode": "off" and "fast_read": false (top-level keys).
    spec = spec_with(REPLICAPOOL_SPEC, parameters={parameter: value})
    plan = plan_pool(desired("replicapool", spec, owner=REPLICAPOOL_OWNER), recorded_world())
    assert plan.commands == []


# ---------------------------------------------------------------------------- plan_pool: adoption


@dataclass(frozen=True)
class Adoption:
    id: str
    spec: dict[str, Any]
    world: Callable[[], PoolWorld]
    applied: list[list[Command]]  # without the CLAIM
    pending: tuple[str, ...] = ()
    confirmed: list[list[Command]] | None = None  # with confirm=True, without the CLAIM


def _shrunk_replicapool() -> PoolWorld:
    return untagged_replicapool(change_pool(recorded_world(), "replicapool", size=2, min_size=1))


ADOPTIONS = [
    Adoption("as-found", REPLICAPOOL_SPEC, lambda: untagged_replicapool(recorded_world()), stages()),
    Adoption(
        "owner-gone",
        REPLICAPOOL_SPEC,
        lambda: with_pool(recorded_world(), tagged(recorded_world().pools["replicapool"], "CephBlockPool.old.gone")),
        stages(),
    ),
    Adoption(
        "size-increase-and-min-size-applied",
        REPLICAPOOL_SPEC,
        _shrunk_replicapool,
        stages(
            configure=[pools.build_set("replicapool", "size", "3")],
            tune=[pools.build_set("replicapool", "min_size", "2")],
        ),
    ),
    Adoption(
        "min-size-applied",
        spec_with(REPLICAPOOL_SPEC, replicated={"size": 3, "minSize": 1}),
        lambda: untagged_replicapool(recorded_world()),
        stages(tune=[pools.build_set("replicapool", "min_size", "1")]),
    ),
    Adoption(
        "quotas-parameters-application-applied",
        spec_with(
            REPLICAPOOL_SPEC,
            quotas={"maxBytes": 20 * GiB, "maxObjects": 10},
            parameters={"compression_mode": "aggressive"},
        ),
        lambda: change_pool(recorded_world(), "replicapool", applications={}),
        stages(
            configure=[
                pools.build_application_enable("replicapool", "rbd"),
                pools.build_set_quota("replicapool", "max_bytes", 20 * GiB),
                pools.build_set_quota("replicapool", "max_objects", 10),
                pools.build_set("replicapool", "compression_mode", "aggressive"),
            ]
        ),
    ),
    Adoption(
        "smaller-size-waits",
        spec_with(REPLICAPOOL_SPEC, replicated={"size": 2}),
        lambda: untagged_replicapool(recorded_world()),
        # The shrink's min_size waits with it (setting size resets min_size).
        stages(),
        pending=("size 3 -> 2 (drops copies)", "min_size 2 -> 1"),
        confirmed=stages(
            configure=[pools.build_set("replicapool", "size", "2")],
            tune=[pools.build_set("replicapool", "min_size", "1")],
        ),
    ),
    Adoption(
        "smaller-size-waits-with-gone-owner",
        spec_with(REPLICAPOOL_SPEC, replicated={"size": 2}),
        lambda: with_pool(recorded_world(), tagged(recorded_world().pools["replicapool"], "CephBlockPool.old.gone")),
        stages(),
        pending=("size 3 -> 2 (drops copies)", "min_size 2 -> 1"),
        confirmed=stages(
            configure=[pools.build_set("replicapool", "size", "2")],
            tune=[pools.build_set("replicapool", "min_size", "1")],
        ),
    ),
    Adoption(
        "device-class-waits",
        spec_with(REPLICAPOOL_SPEC, deviceClass="hdd"),
        lambda: untagged_replicapool(recorded_world()),
        # Making the rule moves nothing; using it does.
        stages(prepare=[crush.build_create_replicated_rule("replicated-osd-hdd", "osd", "hdd")]),
        pending=("CRUSH rule replicated-osd (failure domain osd) -> replicated-osd-hdd (moves data)",),
        confirmed=stages(
            prepare=[crush.build_create_replicated_rule("replicated-osd-hdd", "osd", "hdd")],
            configure=[pools.build_set("replicapool", "crush_rule", "replicated-osd-hdd")],
        ),
    ),
    Adoption(
        "other-crush-rule-waits",
        REPLICAPOOL_SPEC,
        lambda: untagged_replicapool(replicapool_by_host()),
        stages(),
        pending=("CRUSH rule by-host (failure domain host) -> replicated-osd (moves data)",),
        confirmed=stages(configure=[pools.build_set("replicapool", "crush_rule", "replicated-osd")]),
    ),
    Adoption(
        "failure-domain-waits",
        spec_with(REPLICAPOOL_SPEC, failureDomain="host"),
        lambda: untagged_replicapool(with_hosts(recorded_world(), ["node-a", "node-b", "node-c"])),
        stages(prepare=[crush.build_create_replicated_rule("replicated-host", "host", None)]),
        pending=("CRUSH rule replicated-osd (failure domain osd) -> replicated-host (moves data)",),
        confirmed=stages(
            prepare=[crush.build_create_replicated_rule("replicated-host", "host", None)],
            configure=[pools.build_set("replicapool", "crush_rule", "replicated-host")],
        ),
    ),
    Adoption(
        "smaller-size-and-other-rule-wait-together",
        spec_with(REPLICAPOOL_SPEC, replicated={"size": 2}),
        lambda: untagged_replicapool(replicapool_by_host()),
        stages(),
        pending=(
            "CRUSH rule by-host (failure domain host) -> replicated-osd (moves data)",
            "size 3 -> 2 (drops copies)",
            "min_size 2 -> 1",
        ),
        confirmed=stages(
            configure=[
                pools.build_set("replicapool", "crush_rule", "replicated-osd"),
                pools.build_set("replicapool", "size", "2"),
            ],
            tune=[pools.build_set("replicapool", "min_size", "1")],
        ),
    ),
    Adoption(
        "same-placement-under-another-rule-name-stays",
        REPLICAPOOL_SPEC,
        lambda: untagged_replicapool(change_pool(recorded_world(), "replicapool", crush_rule_id=0)),
        stages(),
    ),
]


@pytest.mark.parametrize("case", ADOPTIONS, ids=lambda c: c.id)
def test_plan_adoption_applies_what_moves_no_data(case: Adoption) -> None:
    world = case.world()
    plan = plan_pool(desired("replicapool", case.spec), world)
    assert (plan.refusal, plan.creates, plan.adopts) == (None, False, True)
    assert plan.pending == list(case.pending)
    expected = case.applied
    if not case.pending:
        expected = [*expected[:CLAIM], claim("replicapool", NEW_OWNER)]
    assert staged(plan.stages) == staged(expected)
    if case.pending:
        assert plan.stages[CLAIM] == [], "not ours while changes wait"
        for command in plan.commands:
            assert command.args.get("var") != "crush_rule"
            if command.args.get("var") == "size":
                assert int(str(command.args["val"])) > world.pools["replicapool"].size


@pytest.mark.parametrize("case", [c for c in ADOPTIONS if c.confirmed is not None], ids=lambda c: c.id)
def test_plan_adoption_confirmed_applies_everything_and_claims(case: Adoption) -> None:
    assert case.confirmed is not None
    plan = plan_pool(desired("replicapool", case.spec), case.world(), confirm=True)
    assert (plan.refusal, plan.adopts, plan.pending) == (None, True, [])
    expected = [*case.confirmed[:CLAIM], claim("replicapool", NEW_OWNER)]
    assert staged(plan.stages) == staged(expected)
    for change in case.pending:
        assert change in plan.changes


@pytest.mark.parametrize(
    ("world", "owner"),
    [(recorded_world, REPLICAPOOL_OWNER), (lambda: untagged_replicapool(recorded_world()), NEW_OWNER)],
    ids=["owned", "adopted"],
)
def test_plan_names_no_change_that_changes_nothing(world: Callable[[], PoolWorld], owner: str) -> None:
    spec = spec_with(REPLICAPOOL_SPEC, replicated={"size": 2, "minSize": 2})
    plan = plan_pool(desired("replicapool", spec, owner=owner), world())
    for change in [*plan.changes, *plan.pending]:
        before, arrow, after = change.partition(" -> ")
        assert not arrow or before.split()[-1] != after.split()[0], f"not a change: {change!r}"


def test_confirmation_changes_nothing_for_the_owner() -> None:
    spec = spec_with(REPLICAPOOL_SPEC, replicated={"size": 2})
    owned = desired("replicapool", spec, owner=REPLICAPOOL_OWNER)
    assert staged(plan_pool(owned, recorded_world()).stages) == staged(
        plan_pool(owned, recorded_world(), confirm=True).stages
    )


# ---------------------------------------------------------------------------- leftovers_of


def _twin_of_ecpool(world: PoolWorld) -> PoolWorld:
    """Another pool using ecpool's profile and rule (made by hand)."""
    return with_pool(world, replace(world.pools["ecpool"], pool_id=9, name="ecpool-twin"))


@pytest.mark.parametrize(
    ("pool", "world", "expected"),
    [
        ("ecpool", recorded_world, [ecprofile.build_profile_rm("ecpool-ec"), crush.build_rule_rm("ecpool")]),
        (
            "shared-bulk",
            recorded_world,
            [ecprofile.build_profile_rm("shared-bulk-ec"), crush.build_rule_rm("shared-bulk")],
        ),
        ("replicapool", recorded_world, []),
        ("shared-metadata", recorded_world, []),
        ("ecpool", lambda: _twin_of_ecpool(recorded_world()), []),
        (
            "ecpool",
            lambda: change_pool(recorded_world(), "ecpool", ec_profile="default"),
            [crush.build_rule_rm("ecpool")],
        ),
        (
            "ecpool",
            lambda: change_pool(recorded_world(), "ecpool", crush_rule_id=1),
            [ecprofile.build_profile_rm("ecpool-ec")],
        ),
    ],
    ids=["ecpool", "shared-bulk", "replicated", "cephfs-metadata", "shared-by-another-pool", "own-profile", "own-rule"],
)
def test_leftovers_of_an_erasure_coded_pool(pool: str, world: Callable[[], PoolWorld], expected: list[Command]) -> None:
    observed = world()
    assert leftovers_of(observed.pools[pool], observed) == expected


# ---------------------------------------------------------------------------- owners


def test_owner_tag_round_trip() -> None:
    tag = owner_tag("CephBlockPool", "storage-system", "ce746244-968d-42ba-af79-664100eb5c1b")
    assert tag == REPLICAPOOL_OWNER
    assert parse_owner(tag) == ("CephBlockPool", "storage-system", "ce746244-968d-42ba-af79-664100eb5c1b")


@pytest.mark.parametrize("owner", ["", "rook", "CephBlockPool.ns", "a..b", "a.b.c.d"])
def test_parse_owner_of_something_else(owner: str) -> None:
    assert parse_owner(owner) is None


# ---------------------------------------------------------------------------- fold_pool_status


def _fold(
    previous: CephBlockPoolStatus | None,
    plan: PoolPlan | None,
    world: PoolWorld | None = None,
    *,
    applied: bool = True,
    now: Any = NOW,
    generation: int | None = 1,
    error: tuple[str, str] | None = None,
    name: str = "replicapool",
) -> PoolFold:
    """One pass: the plan's commands applied (when there are any), then Ceph re-observed as ``world``."""
    done = [c.describe() for c in plan.commands] if plan is not None and applied else []
    return fold_pool_status(
        previous,
        pool_name=name,
        generation=generation,
        now=now,
        plan=plan,
        applied=done,
        observed=world.pools.get(name) if world is not None else None,
        stats=world.df.pools.get(name) if world is not None else None,
        error=error,
    )


def test_fold_created_pool_is_ready_with_a_created_event() -> None:
    plan = plan_pool(desired("replicapool", REPLICAPOOL_SPEC), empty_world())
    fold = _fold(None, plan, recorded_world())
    status = fold.status
    assert fold.events == [
        Event.normal("Created", "pool replicapool: created as replicated size 3 (failure domain osd), quota 10.0 GiB")
    ]
    assert (status.phase, status.pool_name, status.pool_id, status.adopted) == ("Ready", "replicapool", 2, False)
    assert status.observed_generation == 1
    assert status.message == "pool replicapool (id 2) matches the spec"
    assert status.pending_changes == []
    assert status.quotas is not None
    assert (status.quotas.max_bytes, status.quotas.max_objects) == (10 * GiB, 0)
    assert status.usage is not None
    assert (status.usage.used, status.usage.objects, status.usage.max_available_bytes) == ("0 B", 0, 2755548672)
    [ready] = status.conditions
    assert (ready.type, ready.status, ready.reason) == ("Ready", "True", "Ready")
    assert (ready.last_transition_time, ready.observed_generation) == (NOW, 1)


def test_fold_no_change_posts_no_event_and_keeps_the_transition_time() -> None:
    world = recorded_world()
    first = _fold(None, plan_pool(desired("replicapool", REPLICAPOOL_SPEC, owner=REPLICAPOOL_OWNER), world), world)
    plan = plan_pool(desired("replicapool", REPLICAPOOL_SPEC, owner=REPLICAPOOL_OWNER), world)
    assert plan.commands == []
    again = _fold(first.status, plan, world, now=LATER, generation=2)
    assert again.events == []
    assert again.status.phase == "Ready"
    assert again.status.observed_generation == 2
    assert again.status.conditions[0].last_transition_time == NOW
    assert again.status.conditions[0].observed_generation == 2


def test_fold_update_posts_what_changed() -> None:
    world = recorded_world()
    spec = spec_with(REPLICAPOOL_SPEC, quotas={"maxBytes": 20 * GiB})
    plan = plan_pool(desired("replicapool", spec, owner=REPLICAPOOL_OWNER), world)
    after = change_pool(world, "replicapool", quota_max_bytes=20 * GiB)
    fold = _fold(None, plan, after)
    assert fold.events == [Event.normal("Updated", "pool replicapool: set max_bytes of replicapool to 21474836480")]
    assert fold.status.phase == "Ready"
    assert fold.status.quotas is not None
    assert fold.status.quotas.max_bytes == 20 * GiB


def test_fold_usage_from_df() -> None:
    world = recorded_world()
    spec = {"failureDomain": "osd", "replicated": {"size": 3}, "application": "cephfs"}
    plan = plan_pool(desired("shared-metadata", spec, owner=world.pools["shared-metadata"].owner or ""), world)
    usage = _fold(None, plan, world, name="shared-metadata").status.usage
    assert usage is not None
    assert (usage.stored_bytes, usage.bytes_used, usage.objects) == (92718, 380928, 23)
    assert (usage.used, usage.percent_used, usage.max_available_bytes) == ("90.5 KiB", 0.0046, 2755548672)


def test_fold_refusal_is_a_failure_with_one_event() -> None:
    world = recorded_world()
    plan = plan_pool(desired("newpool", {"failureDomain": "osd", "replicated": {"size": 4}}), world)
    first = _fold(None, plan, world, name="newpool")
    assert plan.refusal is not None
    assert first.events == [Event.warning("Refused", plan.refusal)]
    assert (first.status.phase, first.status.message) == ("Failure", plan.refusal)
    [ready] = first.status.conditions
    assert (ready.status, ready.reason, ready.message) == ("False", "Refused", plan.refusal)
    second = _fold(first.status, plan, world, now=LATER, name="newpool")
    assert second.events == []
    assert second.status.conditions[0].last_transition_time == NOW
    other = plan_pool(desired("newpool", {"failureDomain": "osd", "replicated": {"size": 5}}), world)
    third = _fold(second.status, other, world, name="newpool")
    assert third.events == [Event.warning("Refused", other.refusal or "")]


def test_fold_refusal_after_ready() -> None:
    world = recorded_world()
    ready = _fold(None, plan_pool(desired("replicapool", REPLICAPOOL_SPEC, owner=REPLICAPOOL_OWNER), world), world)
    refused = plan_pool(desired("replicapool", ECPOOL_SPEC, owner=REPLICAPOOL_OWNER), world)
    fold = _fold(ready.status, refused, world, now=LATER)
    assert [e.reason for e in fold.events] == ["Refused"]
    assert fold.status.phase == "Failure"
    assert fold.status.pool_id == 2, "what was observed stays"
    assert fold.status.conditions[0].last_transition_time == LATER


def test_fold_pending_changes_wait_for_confirmation() -> None:
    world = untagged_replicapool(recorded_world())
    spec = spec_with(REPLICAPOOL_SPEC, replicated={"size": 2})
    plan = plan_pool(desired("replicapool", spec), world)
    first = _fold(None, plan, world)
    status = first.status
    assert [(e.type, e.reason) for e in first.events] == [("Normal", "Adopted"), ("Warning", "ConfirmationRequired")]
    assert first.events[0].message == (
        "adopted existing pool replicapool (id 2); the spec is applied to it, except changes that wait for confirmation"
    )
    assert "size 3 -> 2 (drops copies)" in first.events[1].message
    assert "confirmAdoptionChanges" in first.events[1].message
    assert (status.phase, status.adopted, status.pending_changes) == ("Progressing", True, SHRINK_PENDING)
    [ready] = status.conditions
    assert (ready.status, ready.reason) == ("False", "ConfirmationRequired")

    second = _fold(status, plan_pool(desired("replicapool", spec), world), world, now=LATER)
    assert second.events == []
    assert second.status.pending_changes == SHRINK_PENDING

    confirmed = plan_pool(desired("replicapool", spec), world, confirm=True)
    after = change_pool(recorded_world(), "replicapool", size=2, min_size=1, applications=claimed_by_new_owner())
    third = _fold(second.status, confirmed, after, now=LATER)
    assert [e.reason for e in third.events] == ["Updated"]
    assert "size 3 -> 2 (drops copies)" in third.events[0].message
    assert (third.status.phase, third.status.adopted, third.status.pending_changes) == ("Ready", True, [])
    assert third.status.conditions[0].last_transition_time == LATER


def test_fold_adopted_event_is_posted_once() -> None:
    world = untagged_replicapool(change_pool(recorded_world(), "replicapool", size=2, min_size=1))
    plan = plan_pool(desired("replicapool", REPLICAPOOL_SPEC), world)
    first = _fold(None, plan, recorded_world())
    assert first.events[0] == Event.normal(
        "Adopted", "adopted existing pool replicapool (id 2); the spec is applied to it"
    )
    assert first.status.adopted is True
    assert first.status.phase == "Ready"
    # The owner tag write failed: the next pass adopts again, without a second Adopted event.
    second = _fold(first.status, plan_pool(desired("replicapool", REPLICAPOOL_SPEC), world), world, now=LATER)
    assert all(e.reason != "Adopted" for e in second.events)
    assert second.status.adopted is True


def test_fold_adoption_of_a_matching_pool_posts_no_empty_update() -> None:
    world = untagged_replicapool(recorded_world())
    plan = plan_pool(desired("replicapool", REPLICAPOOL_SPEC), world)
    assert [c.prefix for c in plan.commands] == ["osd pool application set"]
    fold = _fold(None, plan, recorded_world())
    assert fold.events[0].reason == "Adopted"
    for event in fold.events:
        assert not event.message.rstrip().endswith(":"), f"an Event that names nothing: {event}"


def test_fold_error_is_a_failure_named_by_its_reason() -> None:
    world = recorded_world()
    ready = _fold(None, plan_pool(desired("replicapool", REPLICAPOOL_SPEC, owner=REPLICAPOOL_OWNER), world), world)
    error = ("Unreachable", "no monitor of cluster lab answers at 127.0.0.1:26410")
    fold = _fold(ready.status, None, None, now=LATER, generation=3, error=error)
    status = fold.status
    assert fold.events == [Event.warning("Unreachable", error[1])]
    assert (status.phase, status.message, status.observed_generation) == ("Failure", error[1], 3)
    [cond] = status.conditions
    assert (cond.status, cond.reason, cond.last_transition_time) == ("False", "Unreachable", LATER)
    assert status.pool_id == 2, "the last observation stays"
    assert status.usage == ready.status.usage
    again = _fold(status, None, None, now=LATER + timedelta(minutes=1), generation=3, error=error)
    assert again.events == []
    other = _fold(status, None, None, generation=3, error=("CephCommandFailed", "errno 1"))
    assert other.events == [Event.warning("CephCommandFailed", "errno 1")]


def test_fold_error_keeps_pending_changes() -> None:
    world = untagged_replicapool(recorded_world())
    plan = plan_pool(desired("replicapool", spec_with(REPLICAPOOL_SPEC, replicated={"size": 2})), world)
    pending = _fold(None, plan, world).status
    failed = _fold(pending, None, None, error=("Busy", "all connections are waiting")).status
    assert failed.phase == "Failure"
    assert failed.pending_changes == SHRINK_PENDING


def test_fold_first_error_without_previous_status() -> None:
    fold = _fold(None, None, None, error=("Unreachable", "no answer"), generation=None)
    assert (fold.status.phase, fold.status.adopted, fold.status.pool_name) == ("Failure", False, "replicapool")
    assert fold.status.observed_generation is None
    assert fold.events == [Event.warning("Unreachable", "no answer")]


def test_fold_status_round_trips_through_the_wire() -> None:
    world = untagged_replicapool(recorded_world())
    plan = plan_pool(desired("replicapool", spec_with(REPLICAPOOL_SPEC, replicated={"size": 2})), world)
    status = _fold(None, plan, world).status
    wire = status.to_wire()
    assert wire["pendingChanges"] == SHRINK_PENDING
    assert wire["observedGeneration"] == 1
    assert CephBlockPoolStatus.model_validate(wire) == status
