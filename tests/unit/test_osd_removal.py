"""Whether an OSD may leave its cluster without losing data, what its CephOSD says meanwhile, and the
selection of a cluster's own OSDs whose devices are no longer "available" (their BlueStore) (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage_operator.api.v1alpha1.cephcluster import NodeSelection, StorageSpec
from storage_operator.api.v1alpha1.cephosd import CephOSDStatus
from storage_operator.api.v1alpha1.diskinventory import Device, DiskInventoryStatus, UnavailableReason
from storage_operator.ceph.osd import OsdNode, Topology
from storage_operator.reconcile.conditions import find
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.osd_removal import PoolNeeds, fold_removal, removal_blockers
from storage_operator.reconcile.osds import DesiredOSD, select_osds

GiB = 1024**3
NOW = datetime(2026, 11, 27, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
REMOVING = "draining osd.0: marked out, waiting for Ceph to say it is safe to destroy"


def osd(osd_id: int, host: str | None, *, up: bool = True, in_: bool = True) -> OsdNode:
    return OsdNode(osd_id, f"osd.{osd_id}", "hdd", host, up, in_)


def topology(*osds: OsdNode) -> Topology:
    return Topology(tuple(osds))


def pool(name: str, size: int, failure_domain: str | None = "host", objects: int = 0) -> PoolNeeds:
    return PoolNeeds(name, size, failure_domain, objects)


THREE_HOSTS = topology(osd(0, "node-a"), osd(1, "node-b"), osd(2, "node-c"))


# ---------------------------------------------------------------------------- removal_blockers


def test_osd_not_in_the_topology_holds_nothing() -> None:
    assert removal_blockers(9, THREE_HOSTS, [pool("scratch", 1, objects=100), pool("rbd", 3)]) == []


def test_no_pools_no_blockers() -> None:
    assert removal_blockers(0, THREE_HOSTS, []) == []


def test_size_one_pool_with_objects_blocks() -> None:
    assert removal_blockers(0, THREE_HOSTS, [pool("scratch", 1, objects=12)]) == [
        "pool scratch keeps one copy (size 1) and holds 12 objects: what osd.0 stores of it exists nowhere else"
    ]


def test_size_one_pool_without_objects_is_fine() -> None:
    assert removal_blockers(0, THREE_HOSTS, [pool("scratch", 1, objects=0)]) == []


def test_size_one_pool_without_objects_still_needs_a_place() -> None:
    blockers = removal_blockers(0, topology(osd(0, "node-a")), [pool("scratch", 1, "osd")])
    assert blockers == ["pool scratch keeps 1 copies on different osds; 0 osd(s) would be left up and in"]


def test_size_three_failure_domain_osd_with_three_osds_blocks() -> None:
    one_host = topology(osd(0, "vm"), osd(1, "vm"), osd(2, "vm"))
    assert removal_blockers(0, one_host, [pool("replicapool", 3, "osd")]) == [
        "pool replicapool keeps 3 copies on different osds; 2 osd(s) would be left up and in"
    ]


def test_size_three_failure_domain_osd_with_four_osds_is_fine() -> None:
    one_host = topology(osd(0, "vm"), osd(1, "vm"), osd(2, "vm"), osd(3, "vm"))
    assert removal_blockers(0, one_host, [pool("replicapool", 3, "osd")]) == []


def test_failure_domain_host_counts_distinct_hosts() -> None:
    # Five OSDs, but on two hosts: a pool of size 3 by host has only two places anyway.
    two_hosts = topology(osd(0, "node-a"), osd(1, "node-a"), osd(2, "node-a"), osd(3, "node-b"), osd(4, "node-b"))
    assert removal_blockers(0, two_hosts, [pool("rbd", 3, "host")]) == [
        "pool rbd keeps 3 copies on different hosts; 2 host(s) would be left up and in"
    ]
    assert removal_blockers(0, two_hosts, [pool("rbd", 2, "host")]) == []


def test_failure_domain_host_removing_the_last_osd_of_a_host() -> None:
    assert removal_blockers(0, THREE_HOSTS, [pool("rbd", 3, "host")]) == [
        "pool rbd keeps 3 copies on different hosts; 2 host(s) would be left up and in"
    ]
    four_hosts = topology(*THREE_HOSTS.osds, osd(3, "node-d"))
    assert removal_blockers(0, four_hosts, [pool("rbd", 3, "host")]) == []


def test_failure_domain_host_another_osd_on_the_same_host_keeps_it() -> None:
    crowded = topology(*THREE_HOSTS.osds, osd(3, "node-a"))
    assert removal_blockers(0, crowded, [pool("rbd", 3, "host")]) == []


def test_unknown_failure_domain_is_judged_as_host() -> None:
    one_host = topology(osd(0, "vm"), osd(1, "vm"), osd(2, "vm"), osd(3, "vm"))
    assert removal_blockers(0, one_host, [pool("rbd", 2, None)]) == [
        "pool rbd keeps 2 copies on different hosts; 1 host(s) would be left up and in"
    ]


def test_osds_without_a_host_are_no_host() -> None:
    stray = topology(osd(0, "node-a"), osd(1, None), osd(2, None))
    assert removal_blockers(0, stray, [pool("rbd", 1, "host")]) == [
        "pool rbd keeps 1 copies on different hosts; 0 host(s) would be left up and in"
    ]


@pytest.mark.parametrize(
    "other",
    [osd(3, "vm", up=False), osd(3, "vm", in_=False), osd(3, "vm", up=False, in_=False)],
    ids=["down", "out", "down-and-out"],
)
def test_down_or_out_osds_do_not_stay(other: OsdNode) -> None:
    osds = topology(osd(0, "vm"), osd(1, "vm"), osd(2, "vm"), other)
    assert removal_blockers(0, osds, [pool("replicapool", 3, "osd")]) == [
        "pool replicapool keeps 3 copies on different osds; 2 osd(s) would be left up and in"
    ]


def test_the_leaving_osd_being_down_does_not_matter() -> None:
    osds = topology(osd(0, "vm", up=False, in_=False), osd(1, "vm"), osd(2, "vm"), osd(3, "vm"))
    assert removal_blockers(0, osds, [pool("replicapool", 3, "osd")]) == []


def test_every_pool_that_would_lose_data_in_name_order() -> None:
    pools = [pool("zeta", 3, "host"), pool("alpha", 1, objects=5), pool("fine", 2, "host"), pool("mid", 3, "osd")]
    blockers = removal_blockers(0, THREE_HOSTS, pools)
    assert [b.split()[1] for b in blockers] == ["alpha", "mid", "zeta"]


# ---------------------------------------------------------------------------- fold_removal

BLOCKERS = ["pool scratch keeps one copy (size 1) and holds 12 objects: what osd.0 stores of it exists nowhere else"]
WHY = "removal refused, it would lose data: " + BLOCKERS[0]


def running() -> CephOSDStatus:
    return CephOSDStatus(phase="Running", message="osd.0 up and in", osd_id=0, osd_uuid="u", up=True, in_=True)


def test_blocked_sets_the_condition_and_warns() -> None:
    status, events = fold_removal(running(), blockers=BLOCKERS, message=REMOVING, now=NOW)
    condition = find(status.conditions, "RemovalBlocked")
    assert condition is not None
    assert (condition.status, condition.reason, condition.message) == ("True", "WouldLoseData", WHY)
    assert condition.last_transition_time == NOW
    assert status.message == WHY
    assert events == [Event.warning("RemovalBlocked", WHY)]


def test_blocked_keeps_the_phase() -> None:
    status, _ = fold_removal(running(), blockers=BLOCKERS, message=REMOVING, now=NOW)
    assert status.phase == "Running"


def test_blocked_joins_every_blocker() -> None:
    status, _ = fold_removal(running(), blockers=["one", "two"], message=REMOVING, now=NOW)
    assert status.message == "removal refused, it would lose data: one; two"


def test_blocked_again_for_the_same_reason_warns_once() -> None:
    first, _ = fold_removal(running(), blockers=BLOCKERS, message=REMOVING, now=NOW)
    second, events = fold_removal(first, blockers=BLOCKERS, message=REMOVING, now=LATER)
    assert events == []
    assert second == first  # the transition time stays that of the first time


def test_blocked_for_another_reason_warns_again() -> None:
    first, _ = fold_removal(running(), blockers=BLOCKERS, message=REMOVING, now=NOW)
    _, events = fold_removal(first, blockers=["other"], message=REMOVING, now=LATER)
    assert events == [Event.warning("RemovalBlocked", "removal refused, it would lose data: other")]


def test_not_blocked_enters_removing_with_one_event() -> None:
    status, events = fold_removal(running(), blockers=[], message=REMOVING, now=NOW)
    assert status.phase == "Removing"
    assert status.message == REMOVING
    assert events == [Event.normal("Removing", REMOVING)]
    assert find(status.conditions, "RemovalBlocked") is None  # never blocked: no condition


def test_already_removing_says_nothing_new() -> None:
    first, _ = fold_removal(running(), blockers=[], message=REMOVING, now=NOW)
    second, events = fold_removal(first, blockers=[], message="osd.0 safe to destroy: purging", now=LATER)
    assert events == []
    assert second.phase == "Removing"
    assert second.message == "osd.0 safe to destroy: purging"


def test_unblocked_flips_the_condition_and_starts_removing() -> None:
    blocked, _ = fold_removal(running(), blockers=BLOCKERS, message=REMOVING, now=NOW)
    status, events = fold_removal(blocked, blockers=[], message=REMOVING, now=LATER)
    condition = find(status.conditions, "RemovalBlocked")
    assert condition is not None
    assert (condition.status, condition.reason, condition.message) == ("False", "Safe", "nothing would be lost")
    assert condition.last_transition_time == LATER
    assert status.phase == "Removing"
    assert events == [Event.normal("Removing", REMOVING)]


def test_unblocked_condition_stays_false_without_a_new_transition() -> None:
    blocked, _ = fold_removal(running(), blockers=BLOCKERS, message=REMOVING, now=NOW)
    unblocked, _ = fold_removal(blocked, blockers=[], message=REMOVING, now=LATER)
    again, events = fold_removal(unblocked, blockers=[], message=REMOVING, now=LATER + timedelta(minutes=1))
    assert again == unblocked
    assert events == []


def test_blocked_again_after_being_unblocked_warns_and_keeps_removing() -> None:
    blocked, _ = fold_removal(running(), blockers=BLOCKERS, message=REMOVING, now=NOW)
    unblocked, _ = fold_removal(blocked, blockers=[], message=REMOVING, now=LATER)
    status, events = fold_removal(unblocked, blockers=BLOCKERS, message=REMOVING, now=LATER)
    assert events == [Event.warning("RemovalBlocked", WHY)]
    assert status.phase == "Removing"
    condition = find(status.conditions, "RemovalBlocked")
    assert condition is not None
    assert condition.status == "True"


def test_fold_removal_leaves_the_previous_status_alone() -> None:
    previous = running()
    fold_removal(previous, blockers=BLOCKERS, message=REMOVING, now=NOW)
    fold_removal(previous, blockers=[], message=REMOVING, now=NOW)
    assert previous == running()


# ---------------------------------------------------------------------------- select_osds: owned devices

IS_CEPH_OSD = UnavailableReason(
    code="IsCephOSD",
    message="Ceph BlueStore label at offset 0 (0x0): OSD 0 of cluster c4d2894c-7da7-4e23-9b34-1fa473841b4f "
    "(OSD uuid 66666666-7777-4888-9999-aaaaaaaaaaaa)",
)


def loop(name: str, *, reasons: list[UnavailableReason] | None = None) -> Device:
    return Device(
        name=name,
        path=f"/dev/{name}",
        size_bytes=4 * GiB,
        type="loop",
        available=not reasons,
        reasons=reasons or [],
    )


LOOP0 = loop("loop0", reasons=[IS_CEPH_OSD])
LOOP1 = loop("loop1")
INVENTORIES = {
    "node-a": DiskInventoryStatus(phase="Ready", devices=[LOOP0, LOOP1], device_count=2),
    "node-b": DiskInventoryStatus(phase="Ready", devices=[LOOP0, LOOP1], device_count=2),
}
BY_FILTER = StorageSpec(nodes=[NodeSelection(name="node-a", device_filter="^loop[0-9]+$")])
EXPLICIT = StorageSpec.model_validate({"nodes": [{"name": "node-a", "devices": [{"name": "loop0"}]}]})


@pytest.mark.parametrize("storage", [BY_FILTER, EXPLICIT], ids=["filter", "explicit"])
def test_owned_device_stays_desired_though_not_available(storage: StorageSpec) -> None:
    selection = select_osds("ceph", storage, INVENTORIES, frozenset({("node-a", "/dev/loop0")}))
    assert DesiredOSD("ceph-node-a-loop0", "node-a", LOOP0) in selection.desired
    assert selection.unusable == []
    assert selection.problems == []


def test_owned_and_new_devices_together() -> None:
    selection = select_osds("ceph", BY_FILTER, INVENTORIES, frozenset({("node-a", "/dev/loop0")}))
    assert selection.desired == [
        DesiredOSD("ceph-node-a-loop0", "node-a", LOOP0),
        DesiredOSD("ceph-node-a-loop1", "node-a", LOOP1),
    ]


def test_not_owned_unavailable_device_is_unusable() -> None:
    selection = select_osds("ceph", EXPLICIT, INVENTORIES)
    assert selection.desired == []
    assert selection.unusable == [f"node-a/loop0: IsCephOSD ({IS_CEPH_OSD.message})"]


def test_owned_is_per_node() -> None:
    selection = select_osds("ceph", EXPLICIT, INVENTORIES, frozenset({("node-b", "/dev/loop0")}))
    assert selection.desired == []
    assert len(selection.unusable) == 1
    assert selection.unusable[0].startswith("node-a/loop0: IsCephOSD")


def test_owned_is_by_device_path() -> None:
    selection = select_osds("ceph", EXPLICIT, INVENTORIES, frozenset({("node-a", "loop0")}))
    assert selection.desired == []
    assert len(selection.unusable) == 1


def test_owned_but_not_selected_is_not_desired() -> None:
    storage = StorageSpec.model_validate({"nodes": [{"name": "node-a", "devices": [{"name": "loop1"}]}]})
    selection = select_osds("ceph", storage, INVENTORIES, frozenset({("node-a", "/dev/loop0")}))
    assert selection.desired == [DesiredOSD("ceph-node-a-loop1", "node-a", LOOP1)]
