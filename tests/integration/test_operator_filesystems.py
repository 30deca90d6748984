"""CephFilesystem against the lab's real Ceph and its MDS daemons (the lab runs four: the example file
system takes one active, one standby-replay and one spare; one is left for these tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.operator_support import Storage, ceph_json, condition, own_namespace, pool_names, status, unique
from tests.support import LabHandle, remove_pools_by_hand

KIND = "CephFilesystem"


@pytest.fixture(scope="module")
def ns(lab: LabHandle) -> Iterator[Storage]:
    with own_namespace(lab) as storage:
        yield storage


def fs_spec(**extra: object) -> dict[str, object]:
    spec: dict[str, object] = {
        "clusterRef": {"name": "ceph"},
        "metadataPool": {"failureDomain": "osd", "replicated": {"size": 3}},
        "dataPools": [{"name": "data", "failureDomain": "osd", "replicated": {"size": 3}}],
        "metadataServer": {"activeCount": 1, "activeStandby": False, "standbyCount": 0},
        "preserveFilesystemOnDelete": False,
    }
    spec.update(extra)
    return spec


def filesystems(lab: LabHandle) -> dict[str, dict[str, object]]:
    return {str(f["name"]): f for f in ceph_json(lab, "fs ls")}


def test_a_filesystem_is_created_with_its_mds_and_deletion_waits_for_subvolumes(lab: LabHandle, ns: Storage) -> None:
    name = unique("fs")
    ns.create(KIND, name, fs_spec())
    body = ns.wait_phase(KIND, name, "Ready", timeout=60)  # an MDS takes the new file system's rank
    s = status(body)
    listed = filesystems(lab)[name]
    assert listed["metadata_pool"] == f"{name}-metadata"
    assert listed["data_pools"] == [f"{name}-data"]
    assert s["fscid"] == next(
        f["id"] for f in ceph_json(lab, "fs dump")["filesystems"] if f["mdsmap"]["fs_name"] == name
    )
    assert s["mds"]["active"] == 1
    assert [p["name"] for p in s["pools"]] == [f"{name}-metadata", f"{name}-data"]
    assert condition(body, "MDSAvailable")["status"] == "True"
    ns.wait_event(name, "Created")

    with lab.ceph() as ceph:
        ceph.mgr_command("fs subvolume create", vol_name=name, sub_name="home-of-alice")
    ns.delete(KIND, name)
    body = ns.wait(KIND, name, lambda b: condition(b, "DeletionIsBlocked").get("status") == "True", timeout=30)
    assert "home-of-alice" in condition(body, "DeletionIsBlocked")["message"]
    ns.wait_event(name, "DeletionIsBlocked", contains="home-of-alice")
    assert name in filesystems(lab)

    with lab.ceph() as ceph:
        ceph.mgr_command("fs subvolume rm", vol_name=name, sub_name="home-of-alice")
    ns.wait_gone(KIND, name, timeout=120)  # the subvolume is purged in the background first
    assert name not in filesystems(lab)
    assert not {f"{name}-metadata", f"{name}-data"} & set(pool_names(lab))


def test_missing_mds_daemons_are_named_in_a_condition(lab: LabHandle, ns: Storage) -> None:
    name = unique("fs")
    ns.create(
        KIND,
        name,
        fs_spec(
            metadataServer={"activeCount": 1, "activeStandby": True, "standbyCount": 5},
            preserveFilesystemOnDelete=False,
        ),
    )
    body = ns.wait(KIND, name, lambda b: condition(b, "MDSAvailable").get("status") == "False", timeout=60)
    message = condition(body, "MDSAvailable")["message"]
    assert "5 spare standby wanted" in message
    assert "the operator runs no MDS daemons" in message
    ns.wait_event(name, "MDSMissing", contains="5 spare standby wanted")
    fs = next(f for f in ceph_json(lab, "fs dump")["filesystems"] if f["mdsmap"]["fs_name"] == name)
    assert fs["mdsmap"]["standby_count_wanted"] == 5
    ns.delete(KIND, name)
    ns.wait_gone(KIND, name, timeout=90)


def test_a_filesystem_made_by_hand_is_adopted_with_its_own_pools(lab: LabHandle, ns: Storage) -> None:
    name = unique("hand")
    meta, data = f"cephfs.{name}.meta", f"cephfs.{name}.data"  # as `ceph fs volume create` names them
    with lab.ceph() as ceph:
        for pool in (meta, data):
            ceph.mon_command("osd pool create", pool=pool, pg_num=8, size=3)
        ceph.mon_command("fs new", fs_name=name, metadata=meta, data=data)
        fscid = next(f["id"] for f in ceph.mon_command("fs dump")["filesystems"] if f["mdsmap"]["fs_name"] == name)

    ns.create(KIND, name, fs_spec())
    body = ns.wait_phase(KIND, name, "Ready", timeout=60)
    s = status(body)
    assert s["adopted"] is True
    assert s["fscid"] == fscid
    assert [p["name"] for p in s["pools"]] == [meta, data]
    ns.wait_event(name, "Adopted", contains=f"fscid {fscid}")
    names = pool_names(lab)
    assert f"{name}-metadata" not in names  # nothing made twice
    assert f"{name}-data" not in names
    assert filesystems(lab)[name]["data_pools"] == [data]

    ns.delete(KIND, name)
    ns.wait_gone(KIND, name, timeout=90)
    assert name not in filesystems(lab)  # adopted, then owned: deleted as the spec says


def test_preserve_on_delete_keeps_the_filesystem_and_its_pools(lab: LabHandle, ns: Storage) -> None:
    name = unique("keep")
    ns.create(KIND, name, fs_spec(preserveFilesystemOnDelete=True))
    ns.wait_phase(KIND, name, "Ready", timeout=60)
    ns.delete(KIND, name)
    ns.wait_gone(KIND, name)
    assert name in filesystems(lab)
    with lab.ceph() as ceph:  # the test's own cleanup, as an admin would do it
        ceph.mon_command("fs fail", fs_name=name)
        ceph.mon_command("fs rm", fs_name=name, yes_i_really_mean_it=True)
        remove_pools_by_hand(ceph, f"{name}-metadata", f"{name}-data")
