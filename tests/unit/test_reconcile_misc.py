"""The small pure pieces of the reconcile layer: conditions, byte units, events, unready outcomes, and
deletion that waits for dependents."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage_operator.api.meta import Condition, ConditionStatus
from storage_operator.api.v1alpha1.cephblockpool import CephBlockPoolStatus
from storage_operator.api.v1alpha1.cephcluster import CephClusterStatus
from storage_operator.api.v1alpha1.cephfilesystem import CephFilesystemStatus
from storage_operator.ceph import subvolumes
from storage_operator.reconcile.conditions import find, is_true, remove_condition, set_condition
from storage_operator.reconcile.deletion import (
    cluster_blockers,
    filesystem_blockers,
    fold_blocked,
    listing,
    pool_blockers,
)
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.outcome import fold_unready
from storage_operator.reconcile.units import human_bytes
from tests.unit.ceph_world import NOW, fixture, recorded_world

LATER = NOW + timedelta(minutes=10)


def cond(type_: str, status: ConditionStatus = "True", reason: str = "Ok", message: str = "") -> Condition:
    return Condition(type=type_, status=status, reason=reason, message=message, last_transition_time=NOW)


# ---------------------------------------------------------------------------- conditions


def test_set_condition_new_one_starts_now() -> None:
    [ready] = set_condition([], "Ready", "True", "Ready", "fine", now=NOW, generation=3)
    assert ready == Condition(
        type="Ready", status="True", reason="Ready", message="fine", last_transition_time=NOW, observed_generation=3
    )


@pytest.mark.parametrize(
    ("before", "after", "moves"),
    [
        ("True", "True", False),
        ("False", "False", False),
        ("Unknown", "Unknown", False),
        ("True", "False", True),
        ("False", "True", True),
        ("True", "Unknown", True),
        ("Unknown", "False", True),
    ],
)
def test_set_condition_moves_the_transition_time_only_when_the_status_flips(
    before: ConditionStatus, after: ConditionStatus, moves: bool
) -> None:
    [updated] = set_condition(
        [cond("Ready", before, "Old", "old message")], "Ready", after, "New", "new message", now=LATER, generation=2
    )
    assert updated.last_transition_time == (LATER if moves else NOW)
    assert (updated.status, updated.reason, updated.message, updated.observed_generation) == (
        after,
        "New",
        "new message",
        2,
    )


def test_set_condition_keeps_the_others_sorted_by_type_and_copies() -> None:
    conditions = [cond("Ready"), cond("Connected"), cond("HealthOK")]
    out = set_condition(conditions, "DeletionIsBlocked", "True", "HasDependents", "waits", now=LATER)
    assert [c.type for c in out] == ["Connected", "DeletionIsBlocked", "HealthOK", "Ready"]
    assert [c.type for c in conditions] == ["Ready", "Connected", "HealthOK"], "the input is left as it was"
    assert find(out, "Ready") == cond("Ready")
    replaced = set_condition(out, "Ready", "False", "Broken", "x", now=LATER)
    assert [c.type for c in replaced] == ["Connected", "DeletionIsBlocked", "HealthOK", "Ready"]
    assert sum(c.type == "Ready" for c in replaced) == 1


def test_set_condition_truncates_the_message_to_what_the_api_takes() -> None:
    [long] = set_condition([], "Ready", "False", "Refused", "x" * 40000, now=NOW)
    assert len(long.message) == 32768


def test_find_remove_is_true() -> None:
    conditions = [cond("Connected", "True"), cond("HealthOK", "False"), cond("Supported", "Unknown")]
    assert find(conditions, "HealthOK") == conditions[1]
    assert find(conditions, "Ready") is None
    assert (is_true(conditions, "Connected"), is_true(conditions, "HealthOK")) == (True, False)
    assert (is_true(conditions, "Supported"), is_true(conditions, "Ready")) == (False, False)
    assert [c.type for c in remove_condition(conditions, "HealthOK")] == ["Connected", "Supported"]
    assert remove_condition(conditions, "Ready") == conditions


# ---------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (92718, "90.5 KiB"),
        (100 * 1024, "100 KiB"),
        (913846272, "872 MiB"),
        (10 * 1024**3, "10.0 GiB"),
        (9663676416, "9.0 GiB"),
        (5 * 1024**4, "5.0 TiB"),
        (3 * 1024**6, "3.0 EiB"),
        (2048 * 1024**6, "2048 EiB"),
    ],
)
def test_human_bytes(n: int, shown: str) -> None:
    assert human_bytes(n) == shown


# ---------------------------------------------------------------------------- events


def test_events_are_values() -> None:
    assert Event.normal("Created", "made") == Event("Normal", "Created", "made")
    assert Event.warning("Refused", "no") == Event("Warning", "Refused", "no")
    assert Event.normal("A", "m") != Event.warning("A", "m")
    assert len({Event.normal("A", "m"), Event.normal("A", "m")}) == 1


# ---------------------------------------------------------------------------- outcome


def test_fold_unready_leaves_a_status_alone_when_nothing_is_wrong() -> None:
    status = CephBlockPoolStatus(phase="Ready", message="fine", conditions=[cond("Ready")])
    before = status.model_copy(deep=True)
    assert fold_unready(status, subject="pool p", now=LATER, generation=1) is None
    assert status == before


def test_fold_unready_error_wins_over_refusal_and_pending() -> None:
    status = CephFilesystemStatus(pending_changes=["a: size 3 -> 2 (drops copies)"])
    events = fold_unready(
        status,
        subject="file system shared",
        now=NOW,
        generation=1,
        error=("Busy", "all connections are waiting"),
        refusal="no",
        pending=["b"],
    )
    assert events == [Event.warning("Busy", "all connections are waiting")]
    assert (status.phase, status.pending_changes) == ("Failure", ["a: size 3 -> 2 (drops copies)"])
    events = fold_unready(status, subject="file system shared", now=NOW, generation=1, refusal="no", pending=["b"])
    assert events == [Event.warning("Refused", "no")]
    assert (status.phase, status.pending_changes) == ("Failure", [])


# ---------------------------------------------------------------------------- deletion


def test_listing_counts_what_it_does_not_show() -> None:
    assert listing([]) == ""
    assert listing(["a", "b"]) == "a, b"
    names = [f"n{i}" for i in range(10)]
    assert listing(names) == ", ".join(names)
    assert listing([*names, "n10", "n11", "n12"]) == ", ".join(names) + " and 3 more"


@pytest.mark.parametrize(
    ("images", "expected"),
    [
        ([], []),
        (["csi-vol-1"], ["pool replicapool holds 1 RBD image(s): csi-vol-1"]),
        (
            [f"img-{i:02}" for i in range(12)],
            ["pool replicapool holds 12 RBD image(s): " + ", ".join(f"img-{i:02}" for i in range(10)) + " and 2 more"],
        ),
    ],
    ids=["none", "one", "twelve"],
)
def test_pool_blockers(images: list[str], expected: list[str]) -> None:
    assert pool_blockers("replicapool", images) == expected


def recorded_subvolumes() -> list[str]:
    """What listing the recorded "shared" gives: sv-a in the default group, sv-b in group grp."""
    [group] = subvolumes.parse_names(fixture("subvolumegroup-ls-shared.json"))
    return [
        *subvolumes.parse_names(fixture("subvolume-ls-shared.json")),
        *(f"{group}/{n}" for n in subvolumes.parse_names(fixture("subvolume-ls-shared-grp.json"))),
    ]


def recorded_data_objects() -> dict[str, int]:
    df = recorded_world().df
    return {name: df.pools[name].objects for name in ("shared-default", "shared-bulk")}


def test_filesystem_blockers_subvolumes() -> None:
    names = recorded_subvolumes()
    assert names == ["sv-a", "grp/sv-b"]
    assert filesystem_blockers("shared", subvolumes=names, data_objects=recorded_data_objects()) == [
        "file system shared holds 2 subvolume(s): sv-a, grp/sv-b"
    ]


def test_filesystem_blockers_none_when_empty() -> None:
    assert recorded_data_objects() == {"shared-default": 0, "shared-bulk": 0}
    assert filesystem_blockers("shared", subvolumes=[], data_objects=recorded_data_objects()) == []


def test_filesystem_blockers_without_an_active_mds_block_to_be_safe() -> None:
    [blocker] = filesystem_blockers("shared", subvolumes=None, data_objects={})
    assert "no active MDS" in blocker
    assert "preserveFilesystemOnDelete" in blocker
    assert "shared" in blocker


def test_filesystem_blockers_objects_in_data_pools() -> None:
    blockers = filesystem_blockers(
        "shared", subvolumes=[], data_objects={"shared-default": 3, "shared-bulk": 0, "shared-archive": 12}
    )
    assert blockers == [
        "its data pools still hold objects (files outside subvolumes, or deleted ones not yet purged): "
        "shared-archive (12), shared-default (3)"
    ]
    assert len(filesystem_blockers("shared", subvolumes=None, data_objects={"shared-default": 1})) == 2


@pytest.mark.parametrize(
    ("pools", "filesystems", "expected"),
    [
        ([], [], []),
        (["replicapool", "ecpool"], [], ["CephBlockPools still use it: replicapool, ecpool"]),
        ([], ["shared"], ["CephFilesystems still use it: shared"]),
        (
            ["replicapool"],
            ["shared"],
            ["CephBlockPools still use it: replicapool", "CephFilesystems still use it: shared"],
        ),
    ],
)
def test_cluster_blockers(pools: list[str], filesystems: list[str], expected: list[str]) -> None:
    assert cluster_blockers(pools, filesystems) == expected


def test_fold_blocked_sets_deleting_and_posts_once() -> None:
    previous = CephBlockPoolStatus(phase="Ready", message="fine", pool_id=2, conditions=[cond("Ready")])
    blockers = pool_blockers("replicapool", ["csi-vol-1"])
    status, events = fold_blocked(previous, blockers, kind="CephBlockPool", now=NOW)
    message = "deletion of this CephBlockPool waits: pool replicapool holds 1 RBD image(s): csi-vol-1"
    assert isinstance(status, CephBlockPoolStatus)
    assert (status.phase, status.message, status.pool_id) == ("Deleting", message, 2)
    assert events == [Event.warning("DeletionIsBlocked", message)]
    blocked = find(status.conditions, "DeletionIsBlocked")
    assert blocked is not None
    assert (blocked.status, blocked.reason, blocked.message, blocked.last_transition_time) == (
        "True",
        "HasDependents",
        message,
        NOW,
    )
    assert previous.phase == "Ready", "the previous status is left as it was"

    again, events = fold_blocked(status, blockers, kind="CephBlockPool", now=LATER)
    assert events == []
    still = find(again.conditions, "DeletionIsBlocked")
    assert still is not None
    assert still.last_transition_time == NOW

    more, events = fold_blocked(again, pool_blockers("replicapool", ["a", "b"]), kind="CephBlockPool", now=LATER)
    assert [e.reason for e in events] == ["DeletionIsBlocked"]
    assert more.message is not None
    assert "2 RBD image(s): a, b" in more.message


def test_fold_blocked_for_a_cluster() -> None:
    blockers = cluster_blockers(["replicapool"], ["shared"])
    status, events = fold_blocked(CephClusterStatus(), blockers, kind="CephCluster", now=NOW)
    assert isinstance(status, CephClusterStatus)
    assert status.phase == "Deleting"
    assert events == [
        Event.warning(
            "DeletionIsBlocked",
            "deletion of this CephCluster waits: CephBlockPools still use it: replicapool; "
            "CephFilesystems still use it: shared",
        )
    ]
