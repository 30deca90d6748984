"""The NFS bridge against the real thing: claims of the lab's StorageClasses get directories on the lab's
NFS-Ganesha (made by the operator process over nfs-rs, as its ServiceAccount) and PVs the real
kube-controller-manager binds; deletion, refusals, capacity, resize, backend status."""

from __future__ import annotations

import stat
import time
from typing import Any

import pytest
from kubernetes import client

from storage_operator.api.meta import GROUP, VERSION
from storage_operator.lab.nfs import VOLUMES_DIR
from storage_operator.reconcile.nfsrecord import RECORD_NAME
from tests.nfs_support import (
    LAB_BACKEND,
    PROVISIONER,
    Claims,
    claims_namespace,
    mount_like_a_node,
    nfs_backend,
    on_disk,
    pv_exists,
    read_backend,
    read_pv,
    record_of,
    storage_class,
)
from tests.operator_support import condition, metrics_text, status, unique
from tests.support import LabHandle, eventually

Body = dict[str, Any]


@pytest.fixture
def claims(lab: LabHandle) -> Any:
    with claims_namespace(lab) as found:
        yield found


def test_a_claim_of_the_default_class_is_bound_to_its_own_directory(lab: LabHandle, claims: Claims) -> None:
    made = claims.create("data", size="2Mi", storage_class=None)  # the lab's default class: nfs
    assert made["spec"]["storageClassName"] == "nfs"
    pv = claims.pv_of("data")
    uid = made["metadata"]["uid"]
    assert pv["metadata"]["name"] == f"pvc-{uid}"
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == PROVISIONER
    assert pv["spec"]["capacity"]["storage"] == "2Mi"
    assert pv["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["spec"]["claimRef"]["uid"] == uid
    assert pv["spec"]["nfs"]["server"] == "127.0.0.1"
    assert pv["spec"]["nfs"]["path"] == f"/export/{VOLUMES_DIR}/{claims.namespace}-data-pvc-{uid}"
    assert "nfsvers=4.1" in pv["spec"]["mountOptions"]
    assert f"port={lab.config.ports.nfs}" in pv["spec"]["mountOptions"]

    directory = on_disk(lab, pv)
    info = directory.stat()
    assert stat.S_ISDIR(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o770  # the backend's directoryMode, not 0777
    assert (info.st_uid, info.st_gid) == (0, 1000)  # the example backend's directoryGID
    record = record_of(directory)
    assert (record["namespace"], record["claim"], record["claimUID"]) == (claims.namespace, "data", uid)
    assert (record["backend"], record["volume"]) == (LAB_BACKEND, pv["metadata"]["name"])
    assert record["sizeBytes"] == 2 * 1024**2
    assert stat.S_IMODE((directory / RECORD_NAME).stat().st_mode) == 0o644

    with mount_like_a_node(pv) as mounted, mounted.open("written-by-a-pod.txt", "wb") as f:
        f.write(b"hello")
    assert (directory / "written-by-a-pod.txt").read_bytes() == b"hello"

    # Events are posted in the background (a PV never waits for one): they may come just after the binding.
    assert claims.wait_event("data", "Provisioning", timeout=10)
    assert claims.wait_event("data", "ProvisioningSucceeded", contains=f"pvc-{uid}", timeout=10)
    # Nothing of ours is written on the user's claim: no finalizer, no annotation of ours.
    pvc = claims.get("data")
    assert pvc is not None
    assert not [f for f in pvc["metadata"].get("finalizers") or [] if not f.startswith("kubernetes.io/")]
    assert not [a for a in pvc["metadata"].get("annotations") or {} if a.startswith(PROVISIONER)]


@pytest.mark.parametrize("modes", [("ReadWriteMany",), ("ReadOnlyMany",), ("ReadWriteOnce", "ReadOnlyMany")])
def test_access_modes_are_carried_to_the_volume(claims: Claims, modes: tuple[str, ...]) -> None:
    claims.create("shared", modes=modes)
    assert tuple(claims.pv_of("shared")["spec"]["accessModes"]) == modes


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"selector": {"matchLabels": {"disk": "fast"}}}, "selector"),
        ({"volumeMode": "Block"}, "volumeMode Block"),
        ({"dataSource": {"kind": "PersistentVolumeClaim", "name": "other"}}, "not supported"),
    ],
    ids=["selector", "block", "data-source"],
)
def test_claims_that_cannot_be_served_get_an_event_and_no_volume(
    lab: LabHandle, claims: Claims, spec: Body, says: str
) -> None:
    made = claims.create("refused", **spec)
    message = claims.wait_event("refused", "ProvisioningFailed", contains=says)
    assert message
    time.sleep(1)
    pvc = claims.get("refused")
    assert (pvc or {}).get("status", {}).get("phase") == "Pending"
    with lab.api() as api:
        assert not pv_exists(api, f"pvc-{made['metadata']['uid']}")


def test_a_claim_larger_than_the_free_space_stays_pending_with_an_event(lab: LabHandle, claims: Claims) -> None:
    claims.create("huge", size="100Pi")
    message = claims.wait_event("huge", "ProvisioningFailed", contains="available")
    assert "100 PiB" in message
    assert LAB_BACKEND in message
    pvc = claims.get("huge")
    assert (pvc or {}).get("status", {}).get("phase") == "Pending"
    with storage_class(lab, {"backend": LAB_BACKEND, "capacityCheck": "false"}) as unchecked:
        claims.create("huge-anyway", size="100Pi", storage_class=unchecked)
        claims.wait_bound("huge-anyway")


@pytest.mark.parametrize("on_delete", ["delete", "retain", "archive"])
def test_a_released_volume_is_handled_per_on_delete_and_its_pv_removed(
    lab: LabHandle, claims: Claims, on_delete: str
) -> None:
    with storage_class(lab, {"backend": LAB_BACKEND, "onDelete": on_delete}) as sc:
        claims.create("gone", storage_class=sc)
        pv = claims.pv_of("gone")
        directory = on_disk(lab, pv)
        (directory / "sub").mkdir()
        (directory / "sub" / "file").write_bytes(b"x" * 1000)
        assert "storage.baremetal.io" in " ".join(pv["metadata"]["finalizers"])
        claims.delete("gone")
        with lab.api() as api:
            eventually(lambda: not pv_exists(api, pv["metadata"]["name"]), timeout=30)
    archived = [p for p in directory.parent.iterdir() if p.name.startswith(f"archived-{directory.name}-")]
    if on_delete == "delete":
        assert not directory.exists()
        assert not archived
    elif on_delete == "retain":
        assert (directory / "sub" / "file").read_bytes() == b"x" * 1000
        assert record_of(directory)["released"]  # a claim of the same name may adopt it later
        assert not archived
    else:
        assert not directory.exists()
        (kept,) = archived
        assert (kept / "sub" / "file").read_bytes() == b"x" * 1000
    # A PV is cluster-scoped: its Events are in namespace default.
    in_default = Claims(claims.api, "default")
    said = {"delete": "deleted directory", "retain": "kept directory", "archive": "archived directory"}[on_delete]
    assert in_default.wait_event(pv["metadata"]["name"], "VolumeReclaimed", contains=said, timeout=10)


def test_retain_policy_volumes_are_left_alone_when_released(lab: LabHandle, claims: Claims) -> None:
    with storage_class(lab, {"backend": LAB_BACKEND, "onDelete": "delete"}, reclaim="Retain") as sc:
        claims.create("kept", storage_class=sc)
        pv = claims.pv_of("kept")
        directory = on_disk(lab, pv)
        claims.delete("kept")
        with lab.api() as api:
            eventually(lambda: read_pv(api, pv["metadata"]["name"])["status"]["phase"] == "Released", timeout=30)
            time.sleep(1)
            assert read_pv(api, pv["metadata"]["name"])["status"]["phase"] == "Released"
            assert directory.is_dir()
            # Deleting the PV by hand: the directory stays and is marked released (adoptable).
            client.CoreV1Api(api).delete_persistent_volume(pv["metadata"]["name"])
            eventually(lambda: not pv_exists(api, pv["metadata"]["name"]), timeout=30)
    assert directory.is_dir()
    assert record_of(directory)["released"]


def test_resize_updates_the_volume_and_the_claim(lab: LabHandle, claims: Claims) -> None:
    claims.create("grow", size="1Mi")
    pv = claims.pv_of("grow")
    claims.core.patch_namespaced_persistent_volume_claim(
        "grow", claims.namespace, {"spec": {"resources": {"requests": {"storage": "3Mi"}}}}
    )

    def grown() -> Body | None:
        pvc = claims.get("grow")
        return pvc if pvc and pvc["status"].get("capacity", {}).get("storage") == "3Mi" else None

    eventually(grown, timeout=30)
    with lab.api() as api:
        assert read_pv(api, pv["metadata"]["name"])["spec"]["capacity"]["storage"] == "3Mi"
    assert record_of(on_disk(lab, pv))["sizeBytes"] == 3 * 1024**2
    assert claims.wait_event("grow", "VolumeResizeSuccessful")


def test_bad_class_parameters_are_named_in_an_event(lab: LabHandle, claims: Claims) -> None:
    with storage_class(lab, {"backend": LAB_BACKEND, "onDelete": "shred", "colour": "blue"}) as sc:
        claims.create("badclass", storage_class=sc)
        message = claims.wait_event("badclass", "ProvisioningFailed")
        assert "colour" in message
    with storage_class(lab, {"backend": "no-such-backend"}) as sc:
        claims.create("nobackend", storage_class=sc)
        assert claims.wait_event("nobackend", "ProvisioningFailed", contains="no-such-backend")


def test_the_backend_reports_capacity_volumes_and_no_root_squash(lab: LabHandle, claims: Claims) -> None:
    claims.create("counted")
    claims.wait_bound("counted")

    def counted() -> Body | None:
        body = read_backend(lab, LAB_BACKEND)
        return body if status(body).get("volumes", 0) >= 1 else None

    body = eventually(counted, timeout=45)
    st = status(body)
    assert (st["phase"], st["reachable"], st["version"]) == ("Ready", True, "4.1")
    assert 0 < st["freeBytes"] <= st["totalBytes"]
    assert condition(body, "Reachable")["status"] == "True"
    assert condition(body, "RootSquash")["status"] == "False"
    assert condition(body, "Ready")["status"] == "True"


def test_an_unreachable_backend_says_so(lab: LabHandle) -> None:
    with nfs_backend(lab, "nowhere", port=lab.config.ports.nfs + 7) as name:

        def unreachable() -> Body | None:
            body = read_backend(lab, name)
            return body if status(body).get("phase") == "Unreachable" else None

        body = eventually(unreachable, timeout=30)
        assert condition(body, "Reachable")["status"] == "False"
        assert "unreachable" in status(body)["message"]


def test_metrics_count_provisions_and_backend_space(lab: LabHandle, claims: Claims) -> None:
    claims.create("measured")
    claims.wait_bound("measured")
    text = metrics_text(lab.config.ports.operator_http)
    assert (
        f'storage_operator_nfs_operations_total{{backend="{LAB_BACKEND}",operation="provision",result="success"}}'
        in text
    )
    assert "storage_operator_nfs_operation_duration_seconds_bucket" in text
    assert f'storage_operator_nfs_backend_free_bytes{{backend="{LAB_BACKEND}"}}' in text
    assert f'storage_operator_nfs_backend_volumes{{backend="{LAB_BACKEND}"}}' in text


def test_usage_is_measured_and_a_volume_over_its_request_is_warned(lab: LabHandle, claims: Claims) -> None:
    claims.create("small", size="1Mi")
    pv = claims.pv_of("small")
    (on_disk(lab, pv) / "big").write_bytes(b"x" * (3 * 1024**2))
    # The lab measures every 30 s (a production operator: every 5 min).
    message = claims.wait_event("small", "VolumeOverRequest", timeout=90)
    assert "3.0 MiB" in message
    assert "1.0 MiB" in message
    labels = f'backend="{LAB_BACKEND}",claim="small",namespace="{claims.namespace}",volume="{pv["metadata"]["name"]}"'
    text = metrics_text(lab.config.ports.operator_http)
    used = next(
        line for line in text.splitlines() if line.startswith(f"storage_operator_nfs_volume_used_bytes{{{labels}}}")
    )
    assert float(used.split()[-1]) >= 3 * 1024**2


def test_a_backend_with_volumes_on_it_cannot_be_deleted(lab: LabHandle, claims: Claims) -> None:
    with nfs_backend(lab, "busy", baseDirectory=unique("busy")) as name, lab.api() as api:
        with storage_class(lab, {"backend": name}) as sc:
            claims.create("holds", storage_class=sc)
            pv = claims.pv_of("holds")
            client.CustomObjectsApi(api).delete_cluster_custom_object(GROUP, VERSION, "nfsbackends", name)

            def blocked() -> Body | None:
                body = read_backend(lab, name)
                return body if condition(body, "DeletionIsBlocked").get("status") == "True" else None

            body = eventually(blocked, timeout=30)
            assert pv["metadata"]["name"] in condition(body, "DeletionIsBlocked")["message"]
            claims.delete("holds")
            eventually(lambda: not pv_exists(api, pv["metadata"]["name"]), timeout=30)
        eventually(lambda: read_backend(lab, name) is None, timeout=30)
