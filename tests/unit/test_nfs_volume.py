"""PersistentVolumes of the NFS provisioner: which claims it serves, which it refuses (and why, in words the
user acts on), the PV it makes, and reading a PV of ours back."""

from __future__ import annotations

from typing import Any

import pytest

from storage_operator.errors import InvalidSpec
from storage_operator.reconcile.nfsclass import PROVISIONER, VolumeSettings
from storage_operator.reconcile.nfsvolume import (
    BACKEND_ANNOTATION,
    DIRECTORY_ANNOTATION,
    ON_DELETE_ANNOTATION,
    PROVISIONED_BY,
    VOLUME_FINALIZER,
    Placement,
    build_pv,
    claim_facts,
    is_ours,
    pick_backend,
    pv_directory,
    refusal,
    requested_bytes,
    volume_name,
    wants_us,
)

UID = "0a1b2c3d-0000-4000-8000-123456789abc"
ANNOTATION = "volume.kubernetes.io/storage-provisioner"
BETA_ANNOTATION = "volume.beta.kubernetes.io/storage-provisioner"


def pvc(
    *,
    annotations: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
    phase: str | None = "Pending",
    deleting: bool = False,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "data", "namespace": "team-a", "uid": UID}
    if annotations is not None:
        metadata["annotations"] = annotations
    if labels is not None:
        metadata["labels"] = labels
    if deleting:
        metadata["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata,
        "spec": {
            "storageClassName": "nfs",
            "accessModes": ["ReadWriteMany"],
            "resources": {"requests": {"storage": "1Gi"}},
            **(spec or {}),
        },
    }
    if phase is not None:
        body["status"] = {"phase": phase}
    return body


def storage_class(
    *, name: str = "nfs", provisioner: str = PROVISIONER, binding: str | None = "Immediate"
) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"name": name}, "provisioner": provisioner}
    if binding is not None:
        body["volumeBindingMode"] = binding
    return body


def volume_settings(**overrides: Any) -> VolumeSettings:
    values: dict[str, Any] = {
        "backend": "fast",
        "path_pattern": "${namespace}-${pvc.name}",
        "on_delete": "archive",
        "mode": 0o770,
        "uid": None,
        "gid": None,
        "adopt": False,
        "capacity_check": True,
        "mount_options": ("hard", "nfsvers=4.1"),
        "reclaim_policy": "Delete",
    }
    values.update(overrides)
    return VolumeSettings(**values)


def our_pv(annotations: dict[str, str] | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": f"pvc-{UID}"}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"metadata": metadata}


# ---------------------------------------------------------------- wants_us

ANNOTATED = {ANNOTATION: PROVISIONER}


@pytest.mark.parametrize(
    ("claim", "sc", "expected"),
    [
        # the PV controller's annotation says so
        (pvc(annotations={ANNOTATION: PROVISIONER}), None, True),
        (pvc(annotations={BETA_ANNOTATION: PROVISIONER}), None, True),
        (pvc(annotations={ANNOTATION: PROVISIONER}), storage_class(binding="WaitForFirstConsumer"), True),
        (pvc(annotations={ANNOTATION: PROVISIONER}, phase=None), None, True),  # no status yet: Pending
        # no annotation yet: an Immediate class of ours is enough, a WaitForFirstConsumer one is not
        (pvc(), storage_class(), True),
        (pvc(annotations={}), storage_class(binding=None), True),  # Immediate is the default
        (pvc(), storage_class(binding="WaitForFirstConsumer"), False),
        (pvc(), None, False),
        (pvc(), storage_class(provisioner="ebs.csi.aws.com"), False),
        (pvc(), storage_class(name="other"), False),  # a class that is not the claim's
        (pvc(spec={"storageClassName": None}), storage_class(), False),
        (pvc(annotations={ANNOTATION: "ebs.csi.aws.com"}), None, False),
        (pvc(annotations={"other": PROVISIONER}), None, False),
        # bound, binding or going away: never
        (pvc(annotations=ANNOTATED, phase="Bound"), None, False),
        (pvc(annotations=ANNOTATED, phase="Lost"), None, False),
        (pvc(phase="Bound"), storage_class(), False),
        (pvc(annotations=ANNOTATED, spec={"volumeName": "pvc-x"}), None, False),
        (pvc(spec={"volumeName": "pvc-x"}), storage_class(), False),
        (pvc(annotations=ANNOTATED, deleting=True), None, False),
        (pvc(deleting=True), storage_class(), False),
    ],
)
def test_wants_us(claim: dict[str, Any], sc: dict[str, Any] | None, expected: bool) -> None:
    assert wants_us(claim, sc) is expected


def test_wants_us_copes_with_a_bare_object() -> None:
    assert wants_us({}, None) is False
    assert wants_us({"metadata": None, "spec": None, "status": None}, None) is False


# ---------------------------------------------------------------- refusal


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"selector": {"matchLabels": {"disk": "ssd"}}}, ["selector", "remove spec.selector"]),
        ({"volumeMode": "Block"}, ["volumeMode Block", "not a block device"]),
        (
            {"dataSource": {"kind": "PersistentVolumeClaim", "name": "src"}},
            ["PersistentVolumeClaim src", "not supported", "remove spec.dataSource"],
        ),
        ({"dataSourceRef": {"kind": "VolumeSnapshot", "name": "snap"}}, ["VolumeSnapshot snap", "not supported"]),
        (
            {"dataSource": {"kind": "PersistentVolumeClaim", "name": "a"}, "dataSourceRef": {"kind": "X", "name": "b"}},
            ["X b"],
        ),
        ({"dataSource": {"name": "src"}}, ["a data source src"]),
        ({"accessModes": []}, ["no accessModes"]),
        ({"accessModes": None}, ["no accessModes"]),
        ({"accessModes": ["ReadWriteMany", "ReadWriteSometimes"]}, ["unsupported access mode(s) ReadWriteSometimes"]),
        ({"accessModes": ["rwx", "RWO"]}, ["unsupported access mode(s) rwx, RWO"]),
    ],
)
def test_refusals_say_what_to_change(spec: dict[str, Any], words: list[str]) -> None:
    why = refusal(pvc(spec=spec))
    assert why is not None
    for word in words:
        assert word in why


def test_a_claim_without_access_modes_key_is_refused() -> None:
    claim = pvc()
    del claim["spec"]["accessModes"]
    assert refusal(claim) == "the claim has no accessModes"
    assert refusal({}) == "the claim has no accessModes"


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"accessModes": ["ReadWriteOnce"]},
        {"accessModes": ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]},
        {"volumeMode": "Filesystem"},
        {"selector": None, "dataSource": None, "dataSourceRef": None},
    ],
)
def test_ordinary_claims_are_not_refused(spec: dict[str, Any]) -> None:
    assert refusal(pvc(spec=spec)) is None


# ---------------------------------------------------------------- requested_bytes


@pytest.mark.parametrize(
    ("storage", "size"),
    [
        ("1Gi", 2**30),
        ("500M", 500 * 10**6),
        ("1.5Gi", 3 * 2**29),
        ("100", 100),
        ("1e9", 10**9),
        ("0.5Ki", 512),
        (2048, 2048),  # a number where a string belongs still reads
    ],
)
def test_requested_bytes(storage: object, size: int) -> None:
    assert requested_bytes(pvc(spec={"resources": {"requests": {"storage": storage}}})) == size


@pytest.mark.parametrize(
    "spec",
    [
        {"resources": None},
        {"resources": {}},
        {"resources": {"requests": {}}},
        {"resources": {"limits": {"storage": "1Gi"}}},
    ],
)
def test_a_claim_requesting_no_storage_is_invalid(spec: dict[str, Any]) -> None:
    with pytest.raises(InvalidSpec, match=r"requests no storage \(spec.resources.requests.storage\)"):
        requested_bytes(pvc(spec=spec))
    with pytest.raises(InvalidSpec, match="requests no storage"):
        requested_bytes({})


@pytest.mark.parametrize("storage", ["lots", "-1Gi", "1GB", ""])
def test_a_bad_quantity_is_invalid_and_named(storage: str) -> None:
    with pytest.raises(InvalidSpec, match=r"spec\.resources\.requests\.storage: ") as info:
        requested_bytes(pvc(spec={"resources": {"requests": {"storage": storage}}}))
    assert repr(storage) in str(info.value)


# ---------------------------------------------------------------- claim_facts, names


def test_claim_facts() -> None:
    claim = pvc(labels={"team": "a"}, annotations={"note": "x"})
    facts = claim_facts(claim)
    assert (facts.namespace, facts.name, facts.uid, facts.pv_name) == ("team-a", "data", UID, f"pvc-{UID}")
    assert facts.labels == {"team": "a"}
    assert facts.annotations == {"note": "x"}
    claim["metadata"]["labels"]["team"] = "changed"  # a copy: later edits of the cached object do not leak in
    assert facts.labels == {"team": "a"}


def test_claim_facts_without_labels_or_annotations() -> None:
    claim = pvc()
    claim["metadata"]["labels"] = None
    facts = claim_facts(claim)
    assert facts.labels == {}
    assert facts.annotations == {}


def test_volume_name_is_deterministic() -> None:
    assert volume_name(UID) == f"pvc-{UID}" == volume_name(UID)


# ---------------------------------------------------------------- build_pv


def test_build_pv() -> None:
    placement = Placement("fast", "nfs.example", "/srv/export", "volumes/team-a-data")
    pv = build_pv(
        pvc(spec={"accessModes": ["ReadWriteMany", "ReadOnlyMany"]}), volume_settings(), placement, 10 * 2**30
    )
    assert pv == {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{UID}",
            "annotations": {
                PROVISIONED_BY: PROVISIONER,
                BACKEND_ANNOTATION: "fast",
                DIRECTORY_ANNOTATION: "volumes/team-a-data",
                ON_DELETE_ANNOTATION: "archive",
            },
            "finalizers": [VOLUME_FINALIZER],
        },
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteMany", "ReadOnlyMany"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": "nfs",
            "mountOptions": ["hard", "nfsvers=4.1"],
            "volumeMode": "Filesystem",
            "nfs": {"server": "nfs.example", "path": "/srv/export/volumes/team-a-data"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": "team-a",
                "name": "data",
                "uid": UID,
            },
        },
    }
    assert is_ours(pv)


def test_build_pv_names_and_annotations_are_the_contract_with_deletion() -> None:
    assert PROVISIONED_BY == "pv.kubernetes.io/provisioned-by"
    assert BACKEND_ANNOTATION == "nfs.storage.baremetal.io/backend"
    assert DIRECTORY_ANNOTATION == "nfs.storage.baremetal.io/directory"
    assert ON_DELETE_ANNOTATION == "nfs.storage.baremetal.io/on-delete"
    assert VOLUME_FINALIZER == "nfs.storage.baremetal.io/volume"


@pytest.mark.parametrize(
    ("size", "capacity"), [(2**30, "1Gi"), (1536 * 2**20, "1536Mi"), (10**9, "1000000000"), (5 * 2**40, "5Ti")]
)
def test_build_pv_capacity(size: int, capacity: str) -> None:
    pv = build_pv(pvc(), volume_settings(), Placement("b", "s", "/e", "d"), size)
    assert pv["spec"]["capacity"] == {"storage": capacity}


@pytest.mark.parametrize(
    ("export", "directory", "path"),
    [
        ("/", "volumes/x", "/volumes/x"),
        ("/srv/export/", "volumes/x", "/srv/export/volumes/x"),
        ("/srv", "a/b/c", "/srv/a/b/c"),
    ],
)
def test_nfs_path_joins_export_and_directory(export: str, directory: str, path: str) -> None:
    assert Placement("b", "s", export, directory).nfs_path == path
    pv = build_pv(pvc(), volume_settings(), Placement("b", "s", export, directory), 1)
    assert pv["spec"]["nfs"]["path"] == path
    assert pv["metadata"]["annotations"][DIRECTORY_ANNOTATION] == directory


def test_build_pv_takes_policy_options_and_on_delete_from_the_settings() -> None:
    settings = volume_settings(reclaim_policy="Retain", mount_options=("nfsvers=3", "port=2050"), on_delete="retain")
    pv = build_pv(pvc(spec={"storageClassName": "slow"}), settings, Placement("b", "s", "/e", "d"), 1)
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["mountOptions"] == ["nfsvers=3", "port=2050"]
    assert pv["spec"]["storageClassName"] == "slow"
    assert pv["metadata"]["annotations"][ON_DELETE_ANNOTATION] == "retain"
    assert pv_directory(pv) == ("b", "d", "retain")


def test_build_pv_does_not_share_lists_with_the_claim() -> None:
    claim = pvc()
    pv = build_pv(claim, volume_settings(), Placement("b", "s", "/e", "d"), 1)
    pv["spec"]["accessModes"].append("ReadWriteOnce")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


# ---------------------------------------------------------------- reading a PV back


@pytest.mark.parametrize("on_delete", ["delete", "retain", "archive"])
def test_pv_directory(on_delete: str) -> None:
    pv = our_pv({BACKEND_ANNOTATION: "fast", DIRECTORY_ANNOTATION: "volumes/x", ON_DELETE_ANNOTATION: on_delete})
    assert pv_directory(pv) == ("fast", "volumes/x", on_delete)


@pytest.mark.parametrize("tampered", ["Delete", "DELETE", "rm -rf", "", "delete ", "archive,delete", None])
def test_a_tampered_or_missing_on_delete_never_deletes(tampered: str | None) -> None:
    annotations = {BACKEND_ANNOTATION: "fast", DIRECTORY_ANNOTATION: "volumes/x"}
    if tampered is not None:
        annotations[ON_DELETE_ANNOTATION] = tampered
    assert pv_directory(our_pv(annotations)) == ("fast", "volumes/x", "retain")


@pytest.mark.parametrize(
    "annotations",
    [
        None,
        {},
        {BACKEND_ANNOTATION: "fast"},
        {DIRECTORY_ANNOTATION: "volumes/x"},
        {BACKEND_ANNOTATION: "", DIRECTORY_ANNOTATION: "volumes/x"},
        {BACKEND_ANNOTATION: "fast", DIRECTORY_ANNOTATION: ""},
    ],
)
def test_a_pv_without_its_annotations_is_invalid(annotations: dict[str, str] | None) -> None:
    with pytest.raises(InvalidSpec, match=f"PV pvc-{UID} lacks the") as info:
        pv_directory(our_pv(annotations))
    assert BACKEND_ANNOTATION in str(info.value)
    assert DIRECTORY_ANNOTATION in str(info.value)


@pytest.mark.parametrize(
    ("pv", "expected"),
    [
        ({"metadata": {"annotations": {PROVISIONED_BY: PROVISIONER}}}, True),
        ({"metadata": {"annotations": {PROVISIONED_BY: "other"}}}, False),
        ({"metadata": {"annotations": None}}, False),
        ({"metadata": {}}, False),
        ({}, False),
    ],
)
def test_is_ours(pv: dict[str, Any], expected: bool) -> None:
    assert is_ours(pv) is expected


# ---------------------------------------------------------------- pick_backend


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        ([("a", True, 100), ("b", True, 200)], "b"),
        ([("b", True, 200), ("a", True, 100)], "b"),
        ([("b", True, 100), ("a", True, 100), ("c", True, 100)], "a"),  # ties: name order
        ([("a", False, 10**12), ("b", True, 1)], "b"),  # unreachable skipped, however free
        ([("a", True, None), ("b", True, 0)], "a"),  # unknown free counts as 0
        ([("a", True, None), ("b", True, 1)], "b"),
        ([("only", True, 0)], "only"),
        ([("a", False, 100), ("b", False, 200)], None),
        ([], None),
    ],
)
def test_pick_backend(candidates: list[tuple[str, bool, int | None]], expected: str | None) -> None:
    assert pick_backend(candidates) == expected
