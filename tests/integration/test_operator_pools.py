"""CephBlockPool against the lab's real Ceph, reconciled by the lab's operator (its own process, as its
ServiceAccount): every claim is checked with the mons themselves, not only in the object's status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storage_operator.api.meta import PAUSED_ANNOTATION
from storage_operator.ceph import images
from storage_operator.ceph.pools import OWNER_KEY
from tests.operator_support import Storage, ceph_json, condition, own_namespace, pool_names, status, unique
from tests.support import LabHandle

KIND = "CephBlockPool"
GiB = 1024**3


@pytest.fixture(scope="module")
def ns(lab: LabHandle) -> Iterator[Storage]:
    with own_namespace(lab) as storage:
        yield storage


def replicated(size: int, **extra: object) -> dict[str, object]:
    return {"clusterRef": {"name": "ceph"}, "failureDomain": "osd", "replicated": {"size": size}, **extra}


def quota(lab: LabHandle, name: str) -> tuple[int, int]:
    """(max bytes, max objects) from the OSD map (`get-quota` waits for the pool's first stats)."""
    (entry,) = [p for p in ceph_json(lab, "osd pool ls", detail="detail") if p["pool_name"] == name]
    return int(entry["quota_max_bytes"]), int(entry["quota_max_objects"])


def pool_settings(lab: LabHandle, name: str) -> dict[str, object]:
    got = ceph_json(lab, "osd pool get", pool=name, var="all")
    assert isinstance(got, dict)
    return got


def test_replicated_pool_is_created_then_resized_in_place(lab: LabHandle, ns: Storage) -> None:
    name = unique("rep")
    ns.create(KIND, name, replicated(3))
    body = ns.wait_phase(KIND, name, "Ready")
    pool_id = status(body)["poolId"]
    got = pool_settings(lab, name)
    assert (got["size"], got["min_size"], got["crush_rule"]) == (3, 2, "replicated-osd")
    assert got["pool_id"] == pool_id
    apps = ceph_json(lab, "osd pool application get", pool=name)
    assert apps["rbd"][OWNER_KEY].endswith(body["metadata"]["uid"])
    assert condition(body, "Ready")["status"] == "True"
    ns.wait_event(name, "Created", contains="replicated size 3")

    ns.patch(KIND, name, {"replicated": {"size": 2}})
    after = ns.wait(KIND, name, lambda b: status(b).get("observedGeneration") == 2 and status(b)["phase"] == "Ready")
    got = pool_settings(lab, name)
    assert (got["size"], got["min_size"]) == (2, 1)
    assert status(after)["poolId"] == pool_id  # changed in place, not made again
    ns.wait_event(name, "Updated", contains="size 3 -> 2")


def test_erasure_coded_2_plus_1_with_failure_domain_osd(lab: LabHandle, ns: Storage) -> None:
    name = unique("ec")
    spec = {
        "clusterRef": {"name": "ceph"},
        "failureDomain": "osd",
        "erasureCoded": {"dataChunks": 2, "codingChunks": 1},
        "application": "rbd",
        "parameters": {"compression_mode": "aggressive"},
    }
    ns.create(KIND, name, spec)
    ns.wait_phase(KIND, name, "Ready")
    got = pool_settings(lab, name)
    assert got["erasure_code_profile"] == f"{name}-ec"
    assert got["allow_ec_overwrites"] is True  # RBD needs partial writes on EC pools
    profile = ceph_json(lab, "osd erasure-code-profile get", name=f"{name}-ec")
    assert (profile["k"], profile["m"], profile["crush-failure-domain"]) == ("2", "1", "osd")
    compression = ceph_json(lab, "osd pool get", pool=name, var="compression_mode")
    assert compression["compression_mode"] == "aggressive"


def test_quotas_are_set_changed_and_lifted(lab: LabHandle, ns: Storage) -> None:
    name = unique("quota")
    ns.create(KIND, name, replicated(3, quotas={"maxBytes": GiB, "maxObjects": 1000}))
    body = ns.wait_phase(KIND, name, "Ready")
    assert quota(lab, name) == (GiB, 1000)
    assert status(body)["quotas"] == {"maxBytes": GiB, "maxObjects": 1000}

    ns.patch(KIND, name, {"quotas": {"maxBytes": 2 * GiB, "maxObjects": None}})
    ns.wait(KIND, name, lambda b: status(b).get("quotas") == {"maxBytes": 2 * GiB, "maxObjects": 0})
    assert quota(lab, name) == (2 * GiB, 0)


def test_device_class_makes_a_class_restricted_rule(lab: LabHandle, ns: Storage) -> None:
    name = unique("cls")
    ns.create(KIND, name, replicated(2, deviceClass="hdd"))
    ns.wait_phase(KIND, name, "Ready")
    assert pool_settings(lab, name)["crush_rule"] == "replicated-osd-hdd"
    (rule,) = [r for r in ceph_json(lab, "osd crush rule dump") if r["rule_name"] == "replicated-osd-hdd"]
    take = next(step for step in rule["steps"] if step["op"] == "take")
    assert take["item_name"] == "default~hdd"


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        (replicated(4), "size 4 puts each copy on a different osd, but the cluster has 3 OSDs"),
        (replicated(2, deviceClass="nvme"), "no OSD has device class 'nvme' (classes in the cluster: hdd)"),
        (
            {
                "clusterRef": {"name": "ceph"},
                "failureDomain": "osd",
                "erasureCoded": {"dataChunks": 3, "codingChunks": 1},
            },
            "erasure coding 3+1 puts 4 chunks on 4 different OSDs, but the cluster has 3 OSDs",
        ),
    ],
    ids=["size-beyond-failure-domains", "device-class-no-osd-has", "ec-wider-than-the-cluster"],
)
def test_unsatisfiable_specs_are_refused_with_nothing_made(
    lab: LabHandle, ns: Storage, spec: dict[str, object], says: str
) -> None:
    name = unique("no")
    rules_before = {r["rule_name"] for r in ceph_json(lab, "osd crush rule dump")}
    ns.create(KIND, name, spec)
    body = ns.wait_phase(KIND, name, "Failure")
    assert says in status(body)["message"]
    ready = condition(body, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Refused")
    ns.wait_event(name, "Refused", contains=says)
    assert name not in pool_names(lab)
    assert {r["rule_name"] for r in ceph_json(lab, "osd crush rule dump")} == rules_before
    assert f"{name}-ec" not in ceph_json(lab, "osd erasure-code-profile ls")
    ns.delete(KIND, name)
    ns.wait_gone(KIND, name)


def test_deletion_waits_for_rbd_images_then_removes_the_pool(lab: LabHandle, ns: Storage) -> None:
    name = unique("img")
    ns.create(KIND, name, replicated(3))
    ns.wait_phase(KIND, name, "Ready")
    with lab.ceph() as ceph:
        images.create_image(ceph, name, "disk-of-a-database", 8 * 1024**2)
    ns.delete(KIND, name)
    body = ns.wait(KIND, name, lambda b: condition(b, "DeletionIsBlocked").get("status") == "True")
    assert "disk-of-a-database" in condition(body, "DeletionIsBlocked")["message"]
    assert status(body)["phase"] == "Deleting"
    ns.wait_event(name, "DeletionIsBlocked", contains="disk-of-a-database")
    assert name in pool_names(lab)  # the data is still there

    with lab.ceph() as ceph:
        images.remove_image(ceph, name, "disk-of-a-database")
    ns.wait_gone(KIND, name)
    assert name not in pool_names(lab)


def test_a_pool_made_by_hand_is_adopted_and_data_moving_changes_wait_for_confirmation(
    lab: LabHandle, ns: Storage
) -> None:
    name = unique("hand")
    with lab.ceph() as ceph:
        ceph.mon_command("osd pool create", pool=name, pg_num=8, size=3)
        ceph.mon_command("osd pool application enable", pool=name, app="rbd")
    pool_id = pool_settings(lab, name)["pool_id"]

    ns.create(KIND, name, replicated(2, quotas={"maxObjects": 100}))
    body = ns.wait_phase(KIND, name, "Progressing")
    s = status(body)
    assert s["adopted"] is True
    assert s["poolId"] == pool_id
    assert s["pendingChanges"] == ["size 3 -> 2 (drops copies)", "min_size 2 -> 1"]
    assert condition(body, "Ready")["reason"] == "ConfirmationRequired"
    ns.wait_event(name, "Adopted", contains=f"id {pool_id}")
    ns.wait_event(name, "ConfirmationRequired", contains="size 3 -> 2")
    assert pool_settings(lab, name)["size"] == 3  # nothing that drops data happened
    assert quota(lab, name) == (0, 100)  # what does not move data was applied
    assert OWNER_KEY not in ceph_json(lab, "osd pool application get", pool=name)["rbd"]

    ns.patch(KIND, name, {"confirmAdoptionChanges": True})
    body = ns.wait(KIND, name, lambda b: status(b).get("phase") == "Ready" and status(b).get("observedGeneration") == 2)
    assert (pool_settings(lab, name)["size"], pool_settings(lab, name)["min_size"]) == (2, 1)
    assert pool_settings(lab, name)["pool_id"] == pool_id  # adopted, never created twice
    assert status(body)["pendingChanges"] == []
    assert OWNER_KEY in ceph_json(lab, "osd pool application get", pool=name)["rbd"]
    assert [r for _t, r, _m in ns.events(name)].count("Adopted") == 1


def test_a_pool_another_object_manages_is_refused(lab: LabHandle, ns: Storage) -> None:
    first, second = unique("own"), unique("dup")
    ns.create(KIND, first, replicated(3))
    ns.wait_phase(KIND, first, "Ready")
    ns.create(KIND, second, replicated(2, poolName=first))
    body = ns.wait_phase(KIND, second, "Failure")
    assert f"already managed by CephBlockPool {ns.namespace}/{first}" in status(body)["message"]
    assert pool_settings(lab, first)["size"] == 3  # the second object changed nothing
    ns.delete(KIND, second)
    ns.wait_gone(KIND, second)
    assert first in pool_names(lab)  # deleting the refused object does not delete the other's pool


def test_a_paused_object_is_left_alone_until_unpaused(lab: LabHandle, ns: Storage) -> None:
    name = unique("pause")
    ns.create(KIND, name, replicated(3), annotations={PAUSED_ANNOTATION: "true"})
    with pytest.raises(AssertionError):
        ns.wait(KIND, name, lambda b: bool(status(b)), timeout=3)
    assert name not in pool_names(lab)
    body = ns.get(KIND, name)
    assert body is not None
    assert body["metadata"].get("finalizers") in (None, [])
    ns.custom.patch_namespaced_custom_object(
        "storage.baremetal.io",
        "v1alpha1",
        ns.namespace,
        "cephblockpools",
        name,
        {"metadata": {"annotations": {PAUSED_ANNOTATION: None}}},
        _content_type="application/merge-patch+json",
    )
    ns.wait_phase(KIND, name, "Ready")
    assert name in pool_names(lab)
