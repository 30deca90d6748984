"""An NFSBackend's status from one look at its export: phase, conditions, capacity, root squash, and Events
only on transitions (a backend checked every minute must not post an Event every minute)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from storage_operator.api.meta import Condition
from storage_operator.api.v1alpha1.nfsbackend import NFSBackendSpec, NFSBackendStatus
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.nfsbackend import Probe, fold_backend

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
WHERE = "nfs://nfs.example:2049/srv/export"
GiB = 2**30


def spec(**fields: Any) -> NFSBackendSpec:
    return NFSBackendSpec.model_validate({"server": "nfs.example", "exportPath": "/srv/export", **fields})


def probe(**fields: Any) -> Probe:
    values: dict[str, Any] = {
        "version": "4.1",
        "total_bytes": 100 * GiB,
        "available_bytes": 40 * GiB,
        "root_squash": False,
    }
    values.update(fields)
    return Probe(**values)


def fold(
    previous: NFSBackendStatus | None,
    *,
    probe: Probe | None = None,
    error: tuple[str, str] | None = None,
    backend: NFSBackendSpec | None = None,
    volumes: int = 3,
    now: datetime = T0,
    generation: int | None = 4,
) -> tuple[NFSBackendStatus, list[Event]]:
    return fold_backend(
        previous,
        backend or spec(),
        probe=probe,
        error=error,
        volumes=volumes,
        now=now,
        generation=generation,
    )


def condition(status: NFSBackendStatus, type_: str) -> Condition:
    found = [c for c in status.conditions if c.type == type_]
    assert len(found) == 1, f"expected one {type_} condition in {status.conditions}"
    return found[0]


# ---------------------------------------------------------------- unreachable


def test_unreachable() -> None:
    status, events = fold(None, error=("Unreachable", "connection refused"))
    assert (status.phase, status.reachable, status.message) == ("Unreachable", False, "connection refused")
    assert (status.volumes, status.observed_generation, status.last_checked) == (3, 4, T0)
    for type_ in ("Reachable", "Ready"):
        found = condition(status, type_)
        assert (found.status, found.reason, found.message) == ("False", "Unreachable", "connection refused")
    assert events == [Event.warning("Unreachable", f"{WHERE}: connection refused")]


def test_unreachable_without_an_error_says_no_answer() -> None:
    status, events = fold(None)
    assert (status.phase, status.message) == ("Unreachable", "no answer")
    assert events == [Event.warning("Unreachable", f"{WHERE}: no answer")]


@pytest.mark.parametrize("reason", ["PermissionDenied", "BadExport", "Timeout"])
def test_other_errors_are_phase_error(reason: str) -> None:
    status, events = fold(None, error=(reason, "the server said no"))
    assert (status.phase, status.reachable) == ("Error", False)
    assert condition(status, "Reachable").reason == reason
    assert condition(status, "Ready").reason == reason
    assert events == [Event.warning(reason, f"{WHERE}: the server said no")]


def test_where_names_a_non_standard_port() -> None:
    _, events = fold(None, error=("Unreachable", "x"), backend=spec(port=12049))
    assert events[0].message == "nfs://nfs.example:12049/srv/export: x"


def test_unreachable_warns_once_then_again_only_when_the_message_changes() -> None:
    first, events = fold(None, error=("Unreachable", "connection refused"))
    assert len(events) == 1
    second, events = fold(first, error=("Unreachable", "connection refused"), now=T0 + timedelta(minutes=1))
    assert events == []
    assert second.last_checked == T0 + timedelta(minutes=1)
    # the condition did not flip: its transition time stays
    assert condition(second, "Ready").last_transition_time == T0
    third, events = fold(second, error=("Unreachable", "no route to host"), now=T0 + timedelta(minutes=2))
    assert events == [Event.warning("Unreachable", f"{WHERE}: no route to host")]
    assert third.message == "no route to host"
    _, events = fold(third, error=("Unreachable", "no route to host"), now=T0 + timedelta(minutes=3))
    assert events == []


def test_ready_then_unreachable_warns() -> None:
    ready, _ = fold(None, probe=probe())
    down, events = fold(ready, error=("Unreachable", "timed out"), now=T0 + timedelta(minutes=1))
    assert events == [Event.warning("Unreachable", f"{WHERE}: timed out")]
    assert (down.phase, down.reachable) == ("Unreachable", False)
    assert condition(down, "Ready").status == "False"
    assert condition(down, "Ready").last_transition_time == T0 + timedelta(minutes=1)


def test_fold_does_not_change_the_previous_status() -> None:
    ready, _ = fold(None, probe=probe())
    before = ready.model_copy(deep=True)
    fold(ready, error=("Unreachable", "timed out"), now=T0 + timedelta(minutes=1))
    assert ready == before


# ---------------------------------------------------------------- reachable


def test_ready() -> None:
    status, events = fold(None, probe=probe(), volumes=7, generation=2)
    assert status.phase == "Ready"
    assert status.reachable is True
    assert (status.version, status.total_bytes, status.free_bytes) == ("4.1", 100 * GiB, 40 * GiB)
    assert status.free == "40.0 GiB"
    assert status.root_squash is False
    assert (status.volumes, status.observed_generation, status.last_checked) == (7, 2, T0)
    assert status.message == "40.0 GiB free of 100 GiB, 7 volumes"
    reachable = condition(status, "Reachable")
    assert (reachable.status, reachable.reason) == ("True", "Answered")
    assert reachable.message == f"{WHERE} answered over NFSv4.1"
    squash = condition(status, "RootSquash")
    assert (squash.status, squash.reason) == ("False", "NoRootSquash")
    ready = condition(status, "Ready")
    assert (ready.status, ready.reason, ready.message) == ("True", "Ready", status.message)
    assert events == [Event.normal("Ready", f"{WHERE} is reachable over NFSv4.1: 40.0 GiB free of 100 GiB, 7 volumes")]


def test_ready_posts_its_event_only_on_the_transition() -> None:
    first, _ = fold(None, probe=probe())
    second, events = fold(first, probe=probe(available_bytes=39 * GiB), now=T0 + timedelta(minutes=1))
    assert events == []
    assert second.free == "39.0 GiB"
    assert condition(second, "Ready").last_transition_time == T0
    down, _ = fold(second, error=("Unreachable", "x"), now=T0 + timedelta(minutes=2))
    back, events = fold(down, probe=probe(version="3"), now=T0 + timedelta(minutes=3))
    assert [e.reason for e in events] == ["Ready"]
    assert "NFSv3" in events[0].message
    assert (back.phase, back.reachable, back.version) == ("Ready", True, "3")


def test_free_is_human_readable() -> None:
    status, _ = fold(None, probe=probe(total_bytes=2 * 2**40, available_bytes=1536 * 2**20))
    assert status.free == "1.5 GiB"
    assert status.message == "1.5 GiB free of 2.0 TiB, 3 volumes"


def test_conditions_are_sorted_and_unique() -> None:
    status, _ = fold(None, probe=probe())
    for n in range(3):
        status, _ = fold(status, probe=probe(root_squash=n % 2 == 0), now=T0 + timedelta(minutes=n))
    assert [c.type for c in status.conditions] == ["Reachable", "Ready", "RootSquash"]


# ---------------------------------------------------------------- root squash


def test_root_squash_without_directory_uid_points_at_the_fix() -> None:
    status, events = fold(None, probe=probe(root_squash=True))
    squash = condition(status, "RootSquash")
    assert (squash.status, squash.reason) == ("True", "RootSquashed")
    assert "maps uid 0 to an anonymous user" in squash.message
    assert "the anonymous user (uid 65534)" in squash.message
    assert "set spec.directoryUID/directoryGID" in squash.message
    assert status.root_squash is True
    assert status.phase == "Ready"  # root squash alone does not stop provisioning
    assert events[0] == Event.normal("RootSquashed", squash.message)
    assert [e.reason for e in events] == ["RootSquashed", "Ready"]


@pytest.mark.parametrize(
    ("fields", "owner"),
    [
        ({"directoryUID": 1000}, "uid 1000 gid 1000"),  # the gid defaults to the uid
        ({"directoryUID": 1000, "directoryGID": 2000}, "uid 1000 gid 2000"),
        ({"directoryUID": 0, "directoryGID": 0}, "uid 0 gid 0"),
    ],
)
def test_root_squash_with_directory_uid_names_the_owner(fields: dict[str, Any], owner: str) -> None:
    status, events = fold(None, probe=probe(root_squash=True), backend=spec(**fields))
    message = condition(status, "RootSquash").message
    assert message.endswith(f"directories are made as {owner}")
    assert "65534" not in message
    assert Event.normal("RootSquashed", message) in events


def test_root_squash_event_only_when_it_first_appears() -> None:
    first, _ = fold(None, probe=probe(root_squash=True))
    second, events = fold(first, probe=probe(root_squash=True), now=T0 + timedelta(minutes=1))
    assert events == []
    assert condition(second, "RootSquash").last_transition_time == T0
    # an outage in between does not make it new again
    down, _ = fold(second, error=("Unreachable", "x"), now=T0 + timedelta(minutes=2))
    _, events = fold(down, probe=probe(root_squash=True), now=T0 + timedelta(minutes=3))
    assert "RootSquashed" not in [e.reason for e in events]
    # gone, then back: new again
    cleared, events = fold(first, probe=probe(root_squash=False), now=T0 + timedelta(minutes=4))
    assert events == []
    assert condition(cleared, "RootSquash").status == "False"
    _, events = fold(cleared, probe=probe(root_squash=True), now=T0 + timedelta(minutes=5))
    assert [e.reason for e in events] == ["RootSquashed"]


# ---------------------------------------------------------------- unusable identity


def test_unusable_identity_is_an_error_with_not_writable() -> None:
    why = "cannot create directories under volumes as uid 65534: NFS4ERR_ACCESS"
    status, events = fold(None, probe=probe(root_squash=True, unusable=why))
    assert (status.phase, status.message, status.reachable) == ("Error", why, True)
    ready = condition(status, "Ready")
    assert (ready.status, ready.reason, ready.message) == ("False", "NotWritable", why)
    assert condition(status, "Reachable").status == "True"
    assert condition(status, "RootSquash").status == "True"
    assert status.free == "40.0 GiB"  # capacity is still reported
    assert events == [
        Event.normal("RootSquashed", condition(status, "RootSquash").message),
        Event.warning("NotWritable", why),
    ]


def test_not_writable_warns_once_per_message() -> None:
    first, _ = fold(None, probe=probe(unusable="no write permission"))
    second, events = fold(first, probe=probe(unusable="no write permission"), now=T0 + timedelta(minutes=1))
    assert events == []
    _, events = fold(second, probe=probe(unusable="disk quota exceeded"), now=T0 + timedelta(minutes=2))
    assert events == [Event.warning("NotWritable", "disk quota exceeded")]


def test_ready_after_not_writable_posts_ready() -> None:
    broken, _ = fold(None, probe=probe(unusable="no write permission"))
    fixed, events = fold(broken, probe=probe(), now=T0 + timedelta(minutes=1))
    assert fixed.phase == "Ready"
    assert [e.reason for e in events] == ["Ready"]
    assert condition(fixed, "Ready").last_transition_time == T0 + timedelta(minutes=1)
