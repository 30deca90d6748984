"""One CephFS file system, planned and folded: its pools (planned as any pool), `fs new`, data pools, MDS
settings, and the status that says whether the MDS daemons it needs are there.

Observed state: the recorded lab cluster with the file system "shared" (tests/fixtures/ceph), or a variant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from storage_operator.api.v1alpha1.cephfilesystem import CephFilesystemSpec, CephFilesystemStatus, MDSCounts
from storage_operator.ceph import crush, ecprofile, pools
from storage_operator.ceph import fs as cephfs
from storage_operator.ceph.command import Command
from storage_operator.ceph.ecprofile import ECProfile
from storage_operator.ceph.fs import FSMap
from storage_operator.ceph.world import PoolWorld
from storage_operator.reconcile.conditions import find
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.filesystems import (
    APPLICATION,
    DesiredFilesystem,
    FilesystemFold,
    FilesystemPlan,
    bind_existing,
    data_pool_name,
    desired_filesystem,
    fold_filesystem_status,
    mds_counts,
    mds_problem,
    metadata_pool_name,
    plan_filesystem,
)
from storage_operator.reconcile.pools import CLAIM, CONFIGURE, CREATE, PREPARE, STAGES, TUNE
from tests.unit.ceph_world import (
    NOW,
    SHARED_OWNER,
    empty_world,
    example_spec,
    recorded_fsmap,
    recorded_world,
    rename_pool,
    staged,
    untagged,
    with_pool,
    without,
    without_filesystems,
)

LATER = NOW + timedelta(hours=1)
SHARED_POOLS = ("shared-metadata", "shared-default", "shared-bulk")
NEW_FS_OWNER = "CephFilesystem.storage-system.99999999-8888-7777-6666-555555555555"
# Where plan_filesystem puts the file system's own commands: after the pools' stages.
FS_NEW, ADD_DATA_POOLS, FS_SETTINGS = STAGES, STAGES + 1, STAGES + 2


def shared_spec(**changes: Any) -> dict[str, Any]:
    """manifests/examples/cephfilesystem.yaml's spec (what made the recorded "shared"), with changes."""
    return {**example_spec("cephfilesystem.yaml"), **changes}


def desired(wire: dict[str, Any], owner: str = SHARED_OWNER, name: str = "shared") -> DesiredFilesystem:
    return desired_filesystem(name, CephFilesystemSpec.model_validate(wire), owner=owner)


def fs_stages(
    *,
    prepare: Sequence[Command] = (),
    create: Sequence[Command] = (),
    configure: Sequence[Command] = (),
    tune: Sequence[Command] = (),
    claim: Sequence[Command] = (),
    fs_new: Sequence[Command] = (),
    add: Sequence[Command] = (),
    settings: Sequence[Command] = (),
) -> list[list[Command]]:
    out: list[list[Command]] = [[] for _ in range(STAGES + 3)]
    for stage, commands in (
        (PREPARE, prepare),
        (CREATE, create),
        (CONFIGURE, configure),
        (TUNE, tune),
        (CLAIM, claim),
        (FS_NEW, fs_new),
        (ADD_DATA_POOLS, add),
        (FS_SETTINGS, settings),
    ):
        out[stage] = list(commands)
    return out


def commands_of(plan: FilesystemPlan) -> list[Command]:
    return [c for stage in plan.stages for c in stage]


def claims(owner: str, *names: str) -> list[Command]:
    return [pools.build_application_set(n, APPLICATION, pools.OWNER_KEY, owner) for n in names]


def fresh_cluster() -> PoolWorld:
    """The recorded cluster as if "shared" had never been made (replicapool and ecpool are there)."""
    return without(recorded_world(), *SHARED_POOLS)


def volume_created() -> PoolWorld:
    """ "shared" as `ceph fs volume create shared` would have made it: pools cephfs.shared.meta and
    cephfs.shared.data (same ids 4 and 5), without an owner tag; and the bulk pool, untagged too."""
    world = rename_pool(recorded_world(), "shared-metadata", "cephfs.shared.meta")
    world = rename_pool(world, "shared-default", "cephfs.shared.data")
    for name in ("cephfs.shared.meta", "cephfs.shared.data", "shared-bulk"):
        world = with_pool(world, untagged(world.pools[name]))
    return world


def fsmap_with(**changes: Any) -> FSMap:
    """The recorded fs map with "shared" changed (e.g. active=() for no active MDS)."""
    fsmap = recorded_fsmap()
    shared = replace(fsmap.filesystems["shared"], **changes)
    return replace(fsmap, filesystems={"shared": shared})


# ---------------------------------------------------------------------------- desired_filesystem


def test_desired_filesystem_names_its_pools_after_itself() -> None:
    fs = desired(shared_spec())
    assert (metadata_pool_name("shared"), data_pool_name("shared", "bulk")) == ("shared-metadata", "shared-bulk")
    assert [p.name for p in fs.pools] == list(SHARED_POOLS)
    assert fs.metadata.name == "shared-metadata"
    assert all(p.application == "cephfs" and p.owner == SHARED_OWNER for p in fs.pools)
    assert (fs.metadata.size, fs.metadata.min_size, fs.metadata.failure_domain) == (3, 2, "osd")
    assert fs.data[1].ec == ECProfile(k=2, m=1, plugin="jerasure", failure_domain="osd", device_class=None)
    assert (fs.max_mds, fs.standby_replay, fs.standby_count_wanted) == (1, True, 1)


def test_desired_filesystem_metadata_server_defaults() -> None:
    spec = {"metadataPool": {"replicated": {}}, "dataPools": [{"name": "data", "replicated": {}}]}
    fs = desired(spec, name="home")
    assert [p.name for p in fs.pools] == ["home-metadata", "home-data"]
    assert (fs.max_mds, fs.standby_replay, fs.standby_count_wanted) == (1, True, 1)


# ---------------------------------------------------------------------------- plan_filesystem


def test_plan_new_filesystem_pools_then_fs_new_then_data_pools_then_settings() -> None:
    plan = plan_filesystem(
        desired(shared_spec(), owner=NEW_FS_OWNER), fresh_cluster(), without_filesystems(recorded_fsmap())
    )
    assert (plan.refusal, plan.creates, plan.adopts, plan.pending, plan.extra_data_pools) == (None, True, False, [], [])
    bulk = ECProfile(k=2, m=1, plugin="jerasure", failure_domain="osd", device_class=None)
    expected = fs_stages(
        prepare=[ecprofile.build_profile_set("shared-bulk-ec", bulk)],
        create=[
            pools.build_create_replicated("shared-metadata", size=3, rule="replicated-osd"),
            pools.build_create_replicated("shared-default", size=3, rule="replicated-osd"),
            pools.build_create_erasure("shared-bulk", profile="shared-bulk-ec"),
        ],
        configure=[
            *(pools.build_application_enable(n, "cephfs") for n in SHARED_POOLS),
            pools.build_set("shared-bulk", "allow_ec_overwrites", "true"),
        ],
        tune=[pools.build_set("shared-metadata", "min_size", "2"), pools.build_set("shared-default", "min_size", "2")],
        claim=claims(NEW_FS_OWNER, *SHARED_POOLS),
        fs_new=[cephfs.build_fs_new("shared", "shared-metadata", "shared-default")],
        add=[cephfs.build_add_data_pool("shared", "shared-bulk")],
        settings=[
            cephfs.build_fs_set("shared", "max_mds", "1"),
            cephfs.build_fs_set("shared", "allow_standby_replay", "true"),
            cephfs.build_fs_set("shared", "standby_count_wanted", "1"),
        ],
    )
    assert staged(plan.stages) == staged(expected)
    assert plan.changes[0] == "created file system shared"
    assert "add data pool shared-bulk to shared" in plan.changes


def test_plan_new_filesystem_on_an_empty_cluster_makes_the_rule_first() -> None:
    plan = plan_filesystem(
        desired(shared_spec(), owner=NEW_FS_OWNER), empty_world(), without_filesystems(recorded_fsmap())
    )
    rule = crush.build_create_replicated_rule("replicated-osd", "osd", None)
    assert plan.refusal is None
    assert rule in plan.stages[PREPARE]
    assert all(rule not in stage for stage in plan.stages[PREPARE + 1 :])


def test_plan_existing_filesystem_matching_its_spec_does_nothing() -> None:
    plan = plan_filesystem(desired(shared_spec()), recorded_world(), recorded_fsmap())
    assert (plan.refusal, plan.creates, plan.adopts, plan.pending) == (None, False, False, [])
    assert commands_of(plan) == []
    assert plan.changes == []
    assert plan.extra_data_pools == []
    assert [p.name for p in plan.desired.pools] == list(SHARED_POOLS)


def test_plan_existing_filesystem_changes_its_mds_settings() -> None:
    spec = shared_spec(metadataServer={"activeCount": 2, "activeStandby": False, "standbyCount": 0})
    plan = plan_filesystem(desired(spec), recorded_world(), recorded_fsmap())
    assert staged(plan.stages) == staged(
        fs_stages(
            settings=[
                cephfs.build_fs_set("shared", "max_mds", "2"),
                cephfs.build_fs_set("shared", "allow_standby_replay", "false"),
                cephfs.build_fs_set("shared", "standby_count_wanted", "0"),
            ]
        )
    )
    assert plan.changes == ["max_mds 1 -> 2", "allow_standby_replay true -> false", "standby_count_wanted 1 -> 0"]


def test_plan_existing_filesystem_gets_a_new_data_pool() -> None:
    spec = shared_spec()
    spec["dataPools"] = [*spec["dataPools"], {"name": "archive", "failureDomain": "osd", "replicated": {"size": 2}}]
    plan = plan_filesystem(desired(spec), recorded_world(), recorded_fsmap())
    assert (plan.refusal, plan.creates) == (None, False)
    assert staged(plan.stages) == staged(
        fs_stages(
            create=[pools.build_create_replicated("shared-archive", size=2, rule="replicated-osd")],
            configure=[pools.build_application_enable("shared-archive", "cephfs")],
            tune=[pools.build_set("shared-archive", "min_size", "1")],
            claim=claims(SHARED_OWNER, "shared-archive"),
            add=[cephfs.build_add_data_pool("shared", "shared-archive")],
        )
    )
    assert "add data pool shared-archive to shared" in plan.changes


def test_plan_leaves_data_pools_not_in_the_spec_attached() -> None:
    spec = shared_spec()
    spec["dataPools"] = spec["dataPools"][:1]
    plan = plan_filesystem(desired(spec), recorded_world(), recorded_fsmap())
    assert plan.extra_data_pools == ["shared-bulk"]
    assert commands_of(plan) == []


def test_bind_existing_maps_the_spec_onto_the_pools_fs_volume_create_made() -> None:
    world = volume_created()
    fs = recorded_fsmap().filesystems["shared"]
    bound = bind_existing(desired(shared_spec()), fs, world)
    assert [p.name for p in bound.pools] == ["cephfs.shared.meta", "cephfs.shared.data", "shared-bulk"]
    assert bound.metadata.size == 3
    assert bound.data[1].ec is not None


def test_plan_adopts_a_filesystem_made_by_fs_volume_create() -> None:
    world = volume_created()
    plan = plan_filesystem(desired(shared_spec(), owner=NEW_FS_OWNER), world, recorded_fsmap())
    assert (plan.refusal, plan.creates, plan.adopts, plan.pending, plan.extra_data_pools) == (None, False, True, [], [])
    assert staged(plan.stages) == staged(
        fs_stages(claim=claims(NEW_FS_OWNER, "cephfs.shared.meta", "cephfs.shared.data", "shared-bulk"))
    )


def test_plan_filesystem_adoption_waits_for_changes_that_drop_data() -> None:
    spec = shared_spec(metadataPool={"failureDomain": "osd", "replicated": {"size": 2}})
    plan = plan_filesystem(desired(spec, owner=NEW_FS_OWNER), volume_created(), recorded_fsmap())
    assert plan.adopts
    assert plan.pending == ["cephfs.shared.meta: size 3 -> 2 (drops copies)", "cephfs.shared.meta: min_size 2 -> 1"]
    assert all(c.args.get("pool") != "cephfs.shared.meta" for c in commands_of(plan))
    confirmed = plan_filesystem(desired(spec, owner=NEW_FS_OWNER), volume_created(), recorded_fsmap(), confirm=True)
    assert confirmed.pending == []
    assert pools.build_set("cephfs.shared.meta", "size", "2") in confirmed.stages[CONFIGURE]
    assert claims(NEW_FS_OWNER, "cephfs.shared.meta")[0] in confirmed.stages[CLAIM]


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        (shared_spec(metadataPool={"failureDomain": "osd", "replicated": {"size": 4}}), ["size 4", "3 OSDs"]),
        (
            shared_spec(metadataPool={"failureDomain": "host", "replicated": {"size": 3}}),
            ["size 3", "1 hosts"],
        ),
        (
            shared_spec(
                dataPools=[
                    {"name": "default", "failureDomain": "osd", "replicated": {"size": 3}},
                    {"name": "bulk", "failureDomain": "osd", "erasureCoded": {"dataChunks": 3, "codingChunks": 1}},
                ]
            ),
            ["shared-bulk", "cannot change"],
        ),
        (
            shared_spec(
                dataPools=[
                    {"name": "default", "failureDomain": "osd", "deviceClass": "ssd", "replicated": {"size": 3}},
                    {"name": "extra", "failureDomain": "osd", "erasureCoded": {"dataChunks": 3, "codingChunks": 1}},
                ]
            ),
            ["'ssd'", "3+1", "; "],
        ),
    ],
    ids=["metadata-too-large", "metadata-by-host", "bulk-layout-changed", "two-pools-refused"],
)
def test_plan_a_refused_pool_refuses_the_whole_filesystem(spec: dict[str, Any], says: list[str]) -> None:
    # bulk-layout-changed: its profile is known to the planner, as the controller reads it.
    world = replace(
        recorded_world(),
        profiles={
            **recorded_world().profiles,
            "shared-bulk-ec": ECProfile(k=2, m=1, plugin="jerasure", failure_domain="osd", device_class=None),
        },
    )
    plan = plan_filesystem(desired(spec), world, recorded_fsmap())
    assert plan.refusal is not None
    for part in says:
        assert part in plan.refusal
    assert commands_of(plan) == []
    assert not plan.creates


def test_plan_new_filesystem_refused_makes_nothing() -> None:
    spec = shared_spec(metadataPool={"failureDomain": "osd", "replicated": {"size": 4}})
    plan = plan_filesystem(desired(spec), fresh_cluster(), without_filesystems(recorded_fsmap()))
    assert plan.refusal is not None
    assert commands_of(plan) == []
    assert not plan.creates


def test_plan_filesystem_whose_pool_another_object_owns_is_refused() -> None:
    plan = plan_filesystem(
        desired(shared_spec(), owner=NEW_FS_OWNER),
        recorded_world(),
        recorded_fsmap(),
        foreign_owner="CephFilesystem storage-system/shared",
    )
    assert plan.refusal is not None
    assert "already managed by CephFilesystem storage-system/shared" in plan.refusal
    assert commands_of(plan) == []


# ---------------------------------------------------------------------------- MDS


def test_mds_counts_from_the_recorded_fs_map() -> None:
    fsmap = recorded_fsmap()
    assert mds_counts(fsmap.filesystems["shared"], fsmap) == MDSCounts(active=1, standby=2, standby_replay=1)
    assert mds_counts(None, fsmap) == MDSCounts(active=0, standby=2, standby_replay=0)


@pytest.mark.parametrize(
    ("metadata_server", "fsmap", "says"),
    [
        ({"activeCount": 1, "activeStandby": True, "standbyCount": 1}, recorded_fsmap, None),
        ({"activeCount": 1, "activeStandby": False, "standbyCount": 0}, recorded_fsmap, None),
        (
            {"activeCount": 2, "activeStandby": True, "standbyCount": 1},
            recorded_fsmap,
            ["2 active MDS wanted, 1 active", "2 standby-replay wanted, 1 running"],
        ),
        (
            {"activeCount": 2, "activeStandby": False, "standbyCount": 1},
            recorded_fsmap,
            ["2 active MDS wanted, 1 active"],
        ),
        (
            {"activeCount": 1, "activeStandby": True, "standbyCount": 3},
            recorded_fsmap,
            ["3 spare standby wanted, 2 free"],
        ),
        (
            {"activeCount": 1, "activeStandby": True, "standbyCount": 1},
            lambda: replace(fsmap_with(active=(), standby_replay=()), standbys=()),
            ["1 active MDS wanted, 0 active", "1 standby-replay wanted, 0 running", "1 spare standby wanted, 0 free"],
        ),
    ],
    ids=["as-recorded", "fewer-wanted", "two-active", "two-active-no-replay", "more-standbys", "none-running"],
)
def test_mds_problem_names_what_is_missing(
    metadata_server: dict[str, Any], fsmap: Callable[[], FSMap], says: list[str] | None
) -> None:
    observed = fsmap()
    problem = mds_problem(
        desired(shared_spec(metadataServer=metadata_server)), observed.filesystems["shared"], observed
    )
    if says is None:
        assert problem is None
        return
    assert problem is not None
    for part in says:
        assert part in problem
    assert "start more ceph-mds daemons" in problem


def test_mds_problem_of_a_filesystem_not_made_yet() -> None:
    problem = mds_problem(desired(shared_spec()), None, without_filesystems(recorded_fsmap()))
    assert problem is not None
    assert "1 active MDS wanted, 0 active" in problem


# ---------------------------------------------------------------------------- fold_filesystem_status


def _fold(
    previous: CephFilesystemStatus | None,
    plan: FilesystemPlan | None,
    *,
    world: PoolWorld | None = None,
    fsmap: FSMap | None = None,
    applied: bool = True,
    now: Any = NOW,
    generation: int | None = 1,
    error: tuple[str, str] | None = None,
    spec: dict[str, Any] | None = None,
) -> FilesystemFold:
    done = [c.describe() for c in commands_of(plan)] if plan is not None and applied else []
    return fold_filesystem_status(
        previous,
        desired=plan.desired if plan is not None else desired(spec or shared_spec()),
        generation=generation,
        now=now,
        plan=plan,
        applied=done,
        world=world,
        fsmap=fsmap,
        error=error,
    )


def _as_recorded(spec: dict[str, Any] | None = None, fsmap: FSMap | None = None) -> FilesystemFold:
    fsmap = fsmap or recorded_fsmap()
    plan = plan_filesystem(desired(spec or shared_spec()), recorded_world(), fsmap)
    return _fold(None, plan, world=recorded_world(), fsmap=fsmap)


def test_fold_ready_with_its_active_mds() -> None:
    fold = _as_recorded()
    status = fold.status
    assert fold.events == []
    assert (status.phase, status.fs_name, status.fscid, status.adopted) == ("Ready", "shared", 1, False)
    assert status.message == "file system shared (fscid 1) matches the spec"
    assert status.mds == MDSCounts(active=1, standby=2, standby_replay=1)
    assert status.observed_generation == 1
    assert [(p.name, p.role, p.pool_id) for p in status.pools] == [
        ("shared-metadata", "metadata", 4),
        ("shared-default", "data", 5),
        ("shared-bulk", "data", 6),
    ]
    assert status.pools[0].usage is not None
    assert status.pools[0].usage.used == "90.5 KiB"
    ready, mds = find(status.conditions, "Ready"), find(status.conditions, "MDSAvailable")
    assert ready is not None
    assert mds is not None
    assert (ready.status, ready.reason, mds.status, mds.reason) == ("True", "Ready", "True", "MDSAvailable")
    assert [c.type for c in status.conditions] == ["MDSAvailable", "Ready"]


def test_fold_created_filesystem_posts_created() -> None:
    plan = plan_filesystem(desired(shared_spec()), fresh_cluster(), without_filesystems(recorded_fsmap()))
    fold = _fold(None, plan, world=recorded_world(), fsmap=recorded_fsmap())
    assert fold.events == [Event.normal("Created", "created file system shared and its pools")]
    assert fold.status.phase == "Ready"
    assert fold.status.adopted is False


def test_fold_updated_filesystem_posts_what_changed() -> None:
    spec = shared_spec(metadataServer={"activeCount": 1, "activeStandby": True, "standbyCount": 0})
    plan = plan_filesystem(desired(spec), recorded_world(), recorded_fsmap())
    fold = _fold(None, plan, world=recorded_world(), fsmap=fsmap_with(standby_count_wanted=0))
    assert fold.events == [Event.normal("Updated", "file system shared: standby_count_wanted 1 -> 0")]
    assert fold.status.phase == "Ready"


def test_fold_without_active_mds_is_progressing_with_one_event() -> None:
    down = replace(fsmap_with(active=(), standby_replay=()), standbys=())
    first = _as_recorded(fsmap=down)
    status = first.status
    assert status.phase == "Progressing"
    assert status.message is not None
    assert "no active MDS" in status.message
    ready, mds = find(status.conditions, "Ready"), find(status.conditions, "MDSAvailable")
    assert ready is not None
    assert mds is not None
    assert (ready.status, ready.reason) == ("False", "MDSMissing")
    assert (mds.status, mds.reason) == ("False", "MDSMissing")
    assert [(e.type, e.reason) for e in first.events] == [("Warning", "MDSMissing")]
    assert first.events[0].message == mds.message
    assert status.mds == MDSCounts(active=0, standby=0, standby_replay=0)

    plan = plan_filesystem(desired(shared_spec()), recorded_world(), down)
    second = _fold(status, plan, world=recorded_world(), fsmap=down, now=LATER)
    assert second.events == []
    mds_again = find(second.status.conditions, "MDSAvailable")
    assert mds_again is not None
    assert mds_again.last_transition_time == NOW

    back = _fold(second.status, plan, world=recorded_world(), fsmap=recorded_fsmap(), now=LATER)
    assert back.events == [Event.normal("MDSAvailable", "the MDS daemons of shared are all up")]
    assert back.status.phase == "Ready"
    mds_back = find(back.status.conditions, "MDSAvailable")
    assert mds_back is not None
    assert (mds_back.status, mds_back.last_transition_time) == ("True", LATER)


def test_fold_ready_with_a_standby_short_says_so() -> None:
    short = replace(recorded_fsmap(), standbys=())
    fold = _as_recorded(fsmap=short)
    assert fold.status.phase == "Ready"
    assert fold.status.message is not None
    assert "1 spare standby wanted, 0 free" in fold.status.message
    assert [e.reason for e in fold.events] == ["MDSMissing"]
    mds = find(fold.status.conditions, "MDSAvailable")
    assert mds is not None
    assert mds.status == "False"


def test_fold_reports_the_missing_active_mds() -> None:
    spec = shared_spec(metadataServer={"activeCount": 2, "activeStandby": False, "standbyCount": 1})
    fold = _as_recorded(spec, fsmap=fsmap_with(max_mds=2, allow_standby_replay=False))
    assert fold.status.phase == "Progressing"
    assert fold.status.message is not None
    assert "2 active MDS wanted, 1 active" in fold.status.message
    assert [e.reason for e in fold.events] == ["MDSMissing"]


def test_fold_with_one_of_two_active_mds_does_not_say_none_is_active() -> None:
    spec = shared_spec(metadataServer={"activeCount": 2, "activeStandby": False, "standbyCount": 1})
    fold = _as_recorded(spec, fsmap=fsmap_with(max_mds=2, allow_standby_replay=False))
    assert fold.status.message is not None
    assert "no active MDS" not in fold.status.message


def test_fold_mentions_data_pools_left_attached() -> None:
    spec = shared_spec()
    spec["dataPools"] = spec["dataPools"][:1]
    fold = _as_recorded(spec)
    assert fold.status.phase == "Ready"
    assert fold.status.message is not None
    assert fold.status.message.endswith("; data pools not in the spec are left attached: shared-bulk")


def test_fold_refused_filesystem() -> None:
    spec = shared_spec(metadataPool={"failureDomain": "osd", "replicated": {"size": 4}})
    plan = plan_filesystem(desired(spec), recorded_world(), recorded_fsmap())
    first = _fold(None, plan, world=recorded_world(), fsmap=recorded_fsmap())
    assert plan.refusal is not None
    assert first.events == [Event.warning("Refused", plan.refusal)]
    assert (first.status.phase, first.status.message) == ("Failure", plan.refusal)
    ready = find(first.status.conditions, "Ready")
    assert ready is not None
    assert (ready.status, ready.reason) == ("False", "Refused")
    again = _fold(first.status, plan, world=recorded_world(), fsmap=recorded_fsmap(), now=LATER)
    assert again.events == []


def test_fold_error_keeps_what_was_observed() -> None:
    ready = _as_recorded().status
    fold = _fold(ready, None, error=("Unreachable", "no monitor answers"), now=LATER, generation=2)
    assert fold.events == [Event.warning("Unreachable", "no monitor answers")]
    assert (fold.status.phase, fold.status.fscid, fold.status.observed_generation) == ("Failure", 1, 2)
    condition = find(fold.status.conditions, "Ready")
    assert condition is not None
    assert (condition.status, condition.reason, condition.last_transition_time) == ("False", "Unreachable", LATER)
    assert fold.status.pools == ready.pools


def test_fold_adopted_filesystem_posts_adopted_once() -> None:
    world = volume_created()
    plan = plan_filesystem(desired(shared_spec(), owner=NEW_FS_OWNER), world, recorded_fsmap())
    first = _fold(None, plan, world=world, fsmap=recorded_fsmap())
    assert first.events[0] == Event.normal(
        "Adopted", "adopted existing file system shared (fscid 1); the spec is applied to it"
    )
    assert first.status.adopted is True
    assert [p.name for p in first.status.pools] == ["cephfs.shared.meta", "cephfs.shared.data", "shared-bulk"]
    assert first.status.pools[0].usage is not None
    assert first.status.pools[0].usage.used == "90.5 KiB"
    second = _fold(first.status, plan, world=world, fsmap=recorded_fsmap(), now=LATER)
    assert all(e.reason != "Adopted" for e in second.events)
    assert second.status.adopted is True


def test_fold_filesystem_waiting_for_confirmation() -> None:
    spec = shared_spec(metadataPool={"failureDomain": "osd", "replicated": {"size": 2}})
    plan = plan_filesystem(desired(spec, owner=NEW_FS_OWNER), volume_created(), recorded_fsmap())
    fold = _fold(None, plan, world=volume_created(), fsmap=recorded_fsmap(), applied=False)
    assert [(e.type, e.reason) for e in fold.events] == [("Normal", "Adopted"), ("Warning", "ConfirmationRequired")]
    assert "except changes that wait for confirmation" in fold.events[0].message
    assert fold.status.phase == "Progressing"
    assert fold.status.pending_changes == plan.pending
    assert fold.status.message is not None
    assert fold.status.message.startswith("file system shared was adopted")
