"""CephCluster status folds: (spec, previous status, what the cluster said or why it could not) -> (status, events).

Observations are the recorded `ceph status` / `ceph df detail` / `ceph version` replies of the lab cluster.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from storage_operator.api.v1alpha1.cephcluster import (
    Capacity,
    CephClusterSpec,
    CephClusterStatus,
    ClusterSummary,
    MonStatus,
    OSDCounts,
)
from storage_operator.api.v1alpha1.cephcluster import HealthCheck as HealthCheckStatus
from storage_operator.ceph.world import ClusterObservation
from storage_operator.reconcile.cluster import (
    ClusterFold,
    Failure,
    fold_bootstrapping,
    fold_connected,
    fold_failure,
    fold_managed_progress,
    spec_problems,
)
from storage_operator.reconcile.conditions import find
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.osds import Selection
from tests.unit.ceph_world import LAB_FSID, NOW, example_spec, lab_with_health_of, observation

LATER = NOW + timedelta(minutes=5)
MON_HOSTS = "[v2:127.0.0.1:26410,v1:127.0.0.1:26411]"
UNREACHABLE = Failure("Unreachable", f"no monitor of {MON_HOSTS} answered within 10 s")


def external() -> CephClusterSpec:
    return CephClusterSpec.model_validate(example_spec("cephcluster-external.yaml"))


def managed() -> CephClusterSpec:
    return CephClusterSpec.model_validate(example_spec("cephcluster-managed.yaml"))


def connected(
    previous: CephClusterStatus | None = None,
    observed: ClusterObservation | None = None,
    *,
    spec: CephClusterSpec | None = None,
    now: Any = NOW,
    generation: int | None = 1,
) -> ClusterFold:
    return fold_connected(spec or external(), previous, observed or observation(), generation=generation, now=now)


def condition(status: CephClusterStatus, type_: str) -> tuple[str, str, str]:
    found = find(status.conditions, type_)
    assert found is not None, f"no condition {type_}"
    return found.status, found.reason, found.message


# ---------------------------------------------------------------------------- fold_connected


def test_connected_lab_is_ready() -> None:
    fold = connected()
    status = fold.status
    assert status.phase == "Ready"
    assert status.observed_generation == 1
    assert status.summary == ClusterSummary(mons="1/1", osds="3/3", used="872 MiB", capacity="9.0 GiB")
    assert status.message == "HEALTH_OK: 3/3 OSDs up, 3 in; 1/1 mons in quorum; 872 MiB of 9.0 GiB used"
    ceph = status.ceph
    assert ceph is not None
    assert (ceph.health, ceph.fsid, ceph.version, ceph.last_checked, ceph.details) == (
        "HEALTH_OK",
        LAB_FSID,
        "16.2.15",
        NOW,
        {},
    )
    assert ceph.capacity == Capacity(bytes_total=9663676416, bytes_used=913846272, bytes_available=8749830144)
    assert ceph.osds == OSDCounts.model_validate({"total": 3, "up": 3, "in": 3})
    assert ceph.mons == MonStatus(total=1, quorum=["a"])
    assert condition(status, "Connected") == ("True", "Connected", f"connected to cluster {LAB_FSID}")
    assert condition(status, "HealthOK") == ("True", "HealthOK", "Ceph reports HEALTH_OK")
    assert condition(status, "SpecValid") == ("True", "Valid", "the spec is valid")
    assert [c.type for c in status.conditions] == ["Connected", "HealthOK", "SpecValid"]


def test_connected_event_only_the_first_time() -> None:
    first = connected()
    connects = [e for e in first.events if e.reason == "Connected"]
    assert connects == [Event.normal("Connected", f"connected to Ceph 16.2.15 cluster {LAB_FSID} through {MON_HOSTS}")]
    assert all(e.type == "Normal" for e in first.events)
    second = connected(first.status, now=LATER)
    assert second.events == []
    assert second.status.ceph is not None
    assert second.status.ceph.last_checked == LATER
    since = find(second.status.conditions, "Connected")
    assert since is not None
    assert since.last_transition_time == NOW


def test_connected_without_mon_hosts_names_the_monitors_generically() -> None:
    spec = external().model_copy(update={"external": external().external.model_copy(update={"mon_hosts": []})})
    [event] = [e for e in connected(spec=spec).events if e.reason == "Connected"]
    assert event.message.endswith("through its monitors")


def test_health_ok_to_warn_is_a_warning_naming_the_check() -> None:
    ok = connected()
    warn = connected(ok.status, lab_with_health_of("status-health-warn.json"), now=LATER)
    status = warn.status
    assert status.phase == "Warning"
    assert warn.events == [Event.warning("HealthWarn", "HEALTH_WARN (was HEALTH_OK): OSDMAP_FLAGS: noout flag(s) set")]
    assert status.ceph is not None
    assert status.ceph.health == "HEALTH_WARN"
    assert status.ceph.details == {
        "OSDMAP_FLAGS": HealthCheckStatus(severity="HEALTH_WARN", message="noout flag(s) set")
    }
    assert status.message is not None
    assert status.message.endswith("; OSDMAP_FLAGS: noout flag(s) set")
    assert condition(status, "HealthOK") == ("False", "HealthWarn", "OSDMAP_FLAGS: noout flag(s) set")
    health = find(status.conditions, "HealthOK")
    assert health is not None
    assert health.last_transition_time == LATER
    connected_since = find(status.conditions, "Connected")
    assert connected_since is not None
    assert connected_since.last_transition_time == NOW
    again = connected(status, lab_with_health_of("status-health-warn.json"), now=LATER + timedelta(minutes=1))
    assert again.events == []


def test_health_warn_to_ok_is_a_normal_event() -> None:
    warn = connected(None, lab_with_health_of("status-health-warn.json"))
    ok = connected(warn.status, observation(), now=LATER)
    assert ok.events == [Event.normal("HealthOK", "HEALTH_OK (was HEALTH_WARN)")]
    assert ok.status.phase == "Ready"
    assert ok.status.ceph is not None
    assert ok.status.ceph.details == {}
    assert condition(ok.status, "HealthOK")[0] == "True"


@pytest.mark.parametrize(
    ("health", "phase", "shown", "event"),
    [
        ("HEALTH_OK", "Ready", "HEALTH_OK", None),
        ("HEALTH_WARN", "Warning", "HEALTH_WARN", ("Warning", "HealthWarn")),
        ("HEALTH_ERR", "Error", "HEALTH_ERR", ("Warning", "HealthError")),
        ("HEALTH_UNKNOWN", "Progressing", "HEALTH_UNKNOWN", None),
        ("HEALTH_SOMETHING_NEW", "Progressing", "HEALTH_UNKNOWN", ("Warning", "HealthError")),
    ],
)
def test_phase_by_health(health: str, phase: str, shown: str, event: tuple[str, str] | None) -> None:
    lab = observation()
    fold = connected(connected().status, replace(lab, status=replace(lab.status, health=health)), now=LATER)
    assert fold.status.phase == phase
    assert fold.status.ceph is not None
    assert fold.status.ceph.health == shown
    assert [(e.type, e.reason) for e in fold.events] == ([event] if event else [])


WAITING = "waiting for the mons (a on node-a) to form a quorum"


def bootstrapping(previous: CephClusterStatus | None = None, *, spec: CephClusterSpec | None = None) -> ClusterFold:
    return fold_bootstrapping(spec or managed(), previous, WAITING, generation=1, now=NOW, selection=Selection())


def test_a_bootstrapped_cluster_that_answers_is_connected() -> None:
    waiting = bootstrapping().status
    assert condition(waiting, "Connected") == ("False", "Bootstrapping", WAITING)
    fold = connected(waiting, spec=managed(), now=LATER, generation=2)
    assert condition(fold.status, "Connected")[0] == "True"
    assert "Connected" in [e.reason for e in fold.events]
    assert fold.status.phase == "Ready"


# ---------------------------------------------------------------------------- fold_failure


def test_failure_keeps_the_last_facts_and_forgets_the_health() -> None:
    ok = connected()
    fold = fold_failure(external(), ok.status, UNREACHABLE, generation=2, now=LATER)
    status = fold.status
    assert fold.events == [Event.warning("Unreachable", UNREACHABLE.message)]
    assert (status.phase, status.message, status.observed_generation) == ("Failure", UNREACHABLE.message, 2)
    assert status.ceph is not None
    assert ok.status.ceph is not None
    assert status.ceph.health == "HEALTH_UNKNOWN"
    assert status.ceph.details == {}
    assert (status.ceph.fsid, status.ceph.version, status.ceph.capacity, status.ceph.last_checked) == (
        LAB_FSID,
        "16.2.15",
        ok.status.ceph.capacity,
        NOW,
    )
    assert status.summary == ClusterSummary()
    assert condition(status, "Connected") == ("False", "Unreachable", UNREACHABLE.message)
    assert condition(status, "HealthOK")[:2] == ("Unknown", "NotConnected")
    since = find(status.conditions, "Connected")
    assert since is not None
    assert since.last_transition_time == LATER


def test_failure_event_only_when_reason_or_message_change() -> None:
    first = fold_failure(external(), None, UNREACHABLE, generation=1, now=NOW)
    assert first.events == [Event.warning("Unreachable", UNREACHABLE.message)]
    assert first.status.ceph is None
    same = fold_failure(external(), first.status, UNREACHABLE, generation=1, now=LATER)
    assert same.events == []
    other_message = Failure("Unreachable", "no monitor answered within 20 s")
    assert fold_failure(external(), same.status, other_message, generation=1, now=LATER).events == [
        Event.warning("Unreachable", other_message.message)
    ]
    other_reason = Failure("AuthenticationFailed", UNREACHABLE.message)
    assert fold_failure(external(), same.status, other_reason, generation=1, now=LATER).events == [
        Event.warning("AuthenticationFailed", UNREACHABLE.message)
    ]


def test_reconnecting_after_a_failure_posts_connected_again() -> None:
    failed = fold_failure(external(), connected().status, UNREACHABLE, generation=1, now=LATER)
    back = connected(failed.status, now=LATER + timedelta(minutes=1))
    assert [e.reason for e in back.events] == ["Connected", "HealthOK"]
    assert back.events[1].message == "HEALTH_OK"
    assert back.status.phase == "Ready"
    assert condition(back.status, "Connected")[0] == "True"


# ---------------------------------------------------------------------------- managed mode


def test_bootstrapping_is_progressing_and_said_once() -> None:
    first = bootstrapping()
    assert [(e.type, e.reason) for e in first.events] == [("Normal", "Bootstrapping"), ("Warning", "SelectionProblem")]
    assert first.status.phase == "Progressing"
    assert first.status.message.startswith(WAITING)
    assert condition(first.status, "SpecValid")[0] == "True"
    second = bootstrapping(first.status)
    assert second.events == []
    connected_ = find(second.status.conditions, "Connected")
    assert connected_ is not None
    assert connected_.last_transition_time == NOW


@pytest.mark.parametrize(
    ("phases", "phase", "prefix"),
    [
        ({}, "Ready", "HEALTH_OK"),
        ({"a": "Running", "b": "Running"}, "Ready", "HEALTH_OK"),
        ({"a": "Running", "b": "Prepared", "c": "Preparing"}, "Progressing", "1/3 OSDs running; "),
        ({"a": "Running", "b": "Failed"}, "Warning", "CephOSDs not running: b; "),
        ({"a": "Down", "b": "Running"}, "Warning", "CephOSDs not running: a; "),
    ],
    ids=["no-osds", "all-running", "starting", "failed", "down"],
)
def test_a_managed_cluster_is_ready_only_when_every_osd_runs(phases: dict[str, str], phase: str, prefix: str) -> None:
    fold = fold_managed_progress(connected(spec=managed()), Selection(), phases, now=NOW, generation=1)
    assert fold.status.phase == phase
    assert (fold.status.message or "").startswith(prefix)


def test_a_failing_managed_cluster_stays_failing() -> None:
    failed = fold_failure(managed(), None, UNREACHABLE, generation=1, now=NOW)
    fold = fold_managed_progress(failed, Selection(), {"a": "Pending"}, now=NOW, generation=1)
    assert (fold.status.phase, fold.status.message) == ("Failure", UNREACHABLE.message)


# ---------------------------------------------------------------------------- spec_problems


@pytest.mark.parametrize(
    ("storage", "paths"),
    [
        ({}, []),
        ({"deviceFilter": "^sd[b-z]$", "devicePathFilter": "^/dev/disk/by-id/nvme-.*"}, []),
        ({"deviceFilter": "^sd[b-z"}, ["spec.storage.deviceFilter"]),
        ({"devicePathFilter": "(by-id"}, ["spec.storage.devicePathFilter"]),
        (
            {"nodes": [{"name": "node-a", "deviceFilter": "^loop"}, {"name": "node-b", "deviceFilter": "*loop"}]},
            ["spec.storage.nodes[1].deviceFilter"],
        ),
        (
            {"deviceFilter": "[", "devicePathFilter": "(", "nodes": [{"name": "node-a", "deviceFilter": "?"}]},
            ["spec.storage.deviceFilter", "spec.storage.devicePathFilter", "spec.storage.nodes[0].deviceFilter"],
        ),
    ],
    ids=["none", "valid", "device-filter", "device-path-filter", "node-filter", "all-three"],
)
def test_spec_problems_finds_invalid_regexes(storage: dict[str, Any], paths: list[str]) -> None:
    problems = spec_problems(CephClusterSpec.model_validate({"storage": storage}))
    assert [p.split(" ", 1)[0] for p in problems] == paths
    assert all("is not a valid regular expression" in p for p in problems)


def test_invalid_spec_condition_and_one_event() -> None:
    spec = CephClusterSpec.model_validate(
        {**example_spec("cephcluster-managed.yaml"), "storage": {"nodes": [{"name": "node-b", "deviceFilter": "(["}]}}
    )
    first = bootstrapping(spec=spec)
    [problem] = spec_problems(spec)
    assert first.events[-1] == Event.warning("InvalidSpec", problem)
    assert condition(first.status, "SpecValid") == ("False", "InvalidRegex", problem)
    assert bootstrapping(first.status, spec=spec).events == []
    fixed = bootstrapping(first.status)
    assert fixed.events == []
    assert condition(fixed.status, "SpecValid")[0] == "True"


def test_invalid_spec_is_reported_while_connected_and_while_failing() -> None:
    wire = example_spec("cephcluster-external.yaml")
    spec = CephClusterSpec.model_validate({**wire, "storage": {"deviceFilter": "sd[b-"}})
    fold = connected(spec=spec)
    assert [e.reason for e in fold.events if e.type == "Warning"] == ["InvalidSpec"]
    assert condition(fold.status, "SpecValid")[:2] == ("False", "InvalidRegex")
    failed = fold_failure(spec, fold.status, UNREACHABLE, generation=1, now=LATER)
    assert [e.reason for e in failed.events] == ["Unreachable"]
    assert condition(failed.status, "SpecValid")[0] == "False"
