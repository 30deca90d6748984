"""The CRDs in the real API server: examples accepted, bad input rejected at admission with the field
named, unknown fields pruned, status only through its subresource, kopf's bookkeeping kept, columns."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from storage_operator.api.meta import API_VERSION, GROUP, PAUSED_ANNOTATION, VERSION
from storage_operator.api.v1alpha1 import kind_named
from tests.support import EXAMPLES_DIR, LabHandle, is_subset, load_example

Body = dict[str, Any]


def _body(obj: object) -> Body:
    assert isinstance(obj, dict)
    return obj


def _message(exc: ApiException) -> str:
    return str(json.loads(exc.body or "{}").get("message", ""))


class Objects:
    """Create/read/patch custom objects of any of our kinds (namespaced ones in a test namespace)."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.api = client.CustomObjectsApi(api)
        self.namespace = namespace

    def _plural(self, body: Body) -> tuple[str, bool]:
        kind = kind_named(body["kind"])
        return kind.plural, kind.scope == "Namespaced"

    def create(self, body: Body, **kw: Any) -> Body:
        # These objects only show what the API server accepts: the operator must leave them alone.
        body["metadata"].setdefault("annotations", {})[PAUSED_ANNOTATION] = "true"
        plural, namespaced = self._plural(body)
        if namespaced:
            body["metadata"]["namespace"] = self.namespace
            return _body(self.api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, body, **kw))
        return _body(self.api.create_cluster_custom_object(GROUP, VERSION, plural, body, **kw))

    def get(self, kind: str, name: str) -> Body:
        k = kind_named(kind)
        if k.scope == "Namespaced":
            return _body(self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, k.plural, name))
        return _body(self.api.get_cluster_custom_object(GROUP, VERSION, k.plural, name))

    def patch(self, kind: str, name: str, patch: Body, *, status: bool = False) -> Body:
        k = kind_named(kind)
        ct = "application/merge-patch+json"
        if k.scope == "Namespaced":
            fn = self.api.patch_namespaced_custom_object_status if status else self.api.patch_namespaced_custom_object
            return _body(fn(GROUP, VERSION, self.namespace, k.plural, name, patch, _content_type=ct))
        cfn = self.api.patch_cluster_custom_object_status if status else self.api.patch_cluster_custom_object
        return _body(cfn(GROUP, VERSION, k.plural, name, patch, _content_type=ct))

    def delete(self, kind: str, name: str) -> None:
        k = kind_named(kind)
        try:
            if k.scope == "Namespaced":
                self.api.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, k.plural, name)
            else:
                self.api.delete_cluster_custom_object(GROUP, VERSION, k.plural, name)
        except ApiException as exc:
            if exc.status != 404:
                raise


@pytest.fixture
def objects(lab: LabHandle) -> Iterator[Objects]:
    namespace = f"api-{uuid.uuid4().hex[:8]}"
    with lab.api() as api:
        client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        yield Objects(api, namespace)
        client.CoreV1Api(api).delete_namespace(namespace)


def kubectl(lab: LabHandle, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The lab's own kubectl, as a user runs it."""
    return subprocess.run(
        [str(lab.config.root / "bin" / "kubectl"), "--kubeconfig", str(lab.config.paths.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def unique(body: Body) -> Body:
    """The example with a unique name, so cluster-scoped objects of parallel cases do not collide."""
    body = copy.deepcopy(body)
    body["metadata"]["name"] = f"{body['metadata']['name']}-{uuid.uuid4().hex[:6]}"
    return body


# ----------------------------------------------------------------------------- the CRDs and examples


def test_crds_are_served_with_short_names_and_the_storage_category(lab: LabHandle) -> None:
    result = kubectl(lab, "api-resources", f"--api-group={GROUP}", "-o", "wide")
    assert result.returncode == 0, result.stderr
    for kind in ("CephCluster", "CephOSD", "CephBlockPool", "CephFilesystem", "DiskInventory", "NFSBackend"):
        assert kind in result.stdout
    assert "ceph" in result.stdout.split()  # the short name DESIGN.md promises
    listed = kubectl(lab, "get", "storage", "-A")
    assert listed.returncode == 0, listed.stderr


# Our kinds' examples (the StorageClass and claim of the NFS bridge are core objects).
OUR_EXAMPLES = sorted(p for p in EXAMPLES_DIR.glob("*.yaml") if load_example(p.name)["apiVersion"] == API_VERSION)


@pytest.mark.parametrize("path", OUR_EXAMPLES, ids=lambda p: p.name)
def test_example_is_accepted_and_a_server_side_apply_round_trip_changes_nothing(
    lab: LabHandle, objects: Objects, path: Path
) -> None:
    example = load_example(path.name)
    scoped = kind_named(example["kind"]).scope == "Namespaced"
    ns_args = ["-n", objects.namespace] if scoped else []
    # Apply into the test namespace (the file names storage-system; -n cannot override that).
    body = copy.deepcopy(example)
    if scoped:
        body["metadata"]["namespace"] = objects.namespace
    else:  # a cluster-scoped example may be one the lab itself applied (NFSBackend lab-nfs): not that one
        body["metadata"]["name"] = f"{example['metadata']['name']}-{uuid.uuid4().hex[:6]}"
    name = body["metadata"]["name"]
    body["metadata"].setdefault("annotations", {})[PAUSED_ANNOTATION] = "true"  # not for the operator
    manifest = json.dumps(body)
    first = kubectl(lab, "apply", "--server-side", "--field-manager=examples", "-f", "-", stdin=manifest)
    assert first.returncode == 0, first.stderr
    try:
        created = objects.get(example["kind"], name)
        second = kubectl(lab, "apply", "--server-side", "--field-manager=examples", "-f", "-", stdin=manifest)
        assert second.returncode == 0, second.stderr
        again = objects.get(example["kind"], name)
        assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        assert again["metadata"]["generation"] == 1
        assert again["spec"] == created["spec"]
        assert is_subset(example["spec"], again["spec"])  # what the user wrote is stored as written
        got = kubectl(lab, "get", kind_named(example["kind"]).plural, name, *ns_args)
        assert got.returncode == 0, got.stderr
    finally:
        objects.delete(example["kind"], name)


# ----------------------------------------------------------------------------- rejected at admission


def _set(path: str, value: Any) -> Callable[[Body], None]:
    def mutate(body: Body) -> None:
        *parents, leaf = path.split(".")
        node = body
        for p in parents:
            node = node.setdefault(p, {}) if not p.isdigit() else node[int(p)]
        if value is DELETE:
            node.pop(leaf, None)
        elif leaf.isdigit():
            node[int(leaf)] = value
        else:
            node[leaf] = value

    return mutate


DELETE = object()

EXTERNAL = "cephcluster-external.yaml"
MANAGED = "cephcluster-managed.yaml"
POOL = "cephblockpool-replicated.yaml"
ECPOOL = "cephblockpool-erasure-coded.yaml"
FS = "cephfilesystem.yaml"
NFS = "nfsbackend.yaml"
OSD = "cephosd.yaml"
INV = "diskinventory.yaml"

# (example, mutations, what the error must name)
INVALID: list[tuple[str, str, list[Callable[[Body], None]], list[str]]] = [
    ("even-mon-count", MANAGED, [_set("spec.mon.count", 4)], ["spec.mon.count", "must be odd"]),
    ("too-many-mons", MANAGED, [_set("spec.mon.count", 11)], ["spec.mon.count", "less than or equal to 9"]),
    ("mon-count-not-a-number", MANAGED, [_set("spec.mon.count", "three")], ["spec.mon.count"]),
    ("external-without-monhosts", EXTERNAL, [_set("spec.external.monHosts", [])], ["spec.external.monHosts"]),
    ("external-without-secret", EXTERNAL, [_set("spec.external.secretRef", DELETE)], ["spec.external.secretRef"]),
    (
        "external-with-storage-nodes",
        EXTERNAL,
        [_set("spec.storage", {"nodes": [{"name": "node-a"}]})],
        ["spec.storage", "external"],
    ),
    ("external-bad-fsid", EXTERNAL, [_set("spec.external.fsid", "not-a-uuid")], ["spec.external.fsid"]),
    (
        "cleanup-confirmation-typo",
        MANAGED,
        [_set("spec.cleanupPolicy.confirmation", "yes")],
        ["spec.cleanupPolicy.confirmation", "yes-really-destroy-data"],
    ),
    (
        "all-devices-and-filter",
        MANAGED,
        [_set("spec.storage.useAllDevices", True), _set("spec.storage.deviceFilter", "^sd")],
        ["spec.storage.deviceFilter"],
    ),
    ("all-nodes-and-nodes", MANAGED, [_set("spec.storage.useAllNodes", True)], ["spec.storage.nodes"]),
    (
        "duplicate-storage-node",
        MANAGED,
        [_set("spec.storage.nodes", [{"name": "node-a"}, {"name": "node-a"}])],
        ["spec.storage.nodes[1]", "Duplicate value"],
    ),
    (
        "pool-both-kinds",
        POOL,
        [_set("spec.erasureCoded", {"dataChunks": 2, "codingChunks": 1})],
        ["spec", "exactly one of replicated or erasureCoded"],
    ),
    ("pool-no-kind", POOL, [_set("spec.replicated", DELETE)], ["exactly one of replicated or erasureCoded"]),
    ("replicas-zero", POOL, [_set("spec.replicated.size", 0)], ["spec.replicated.size", "greater than or equal to 1"]),
    ("replicas-eleven", POOL, [_set("spec.replicated.size", 11)], ["spec.replicated.size", "less than or equal to 10"]),
    ("single-replica-unconfirmed", POOL, [_set("spec.replicated.size", 1)], ["spec.replicated.size", "single copy"]),
    ("ec-one-data-chunk", ECPOOL, [_set("spec.erasureCoded.dataChunks", 1)], ["spec.erasureCoded.dataChunks"]),
    ("ec-no-coding-chunk", ECPOOL, [_set("spec.erasureCoded.codingChunks", 0)], ["spec.erasureCoded.codingChunks"]),
    ("failure-domain-rack", POOL, [_set("spec.failureDomain", "rack")], ["spec.failureDomain", "Unsupported value"]),
    ("negative-quota", POOL, [_set("spec.quotas.maxBytes", -1)], ["spec.quotas.maxBytes"]),
    (
        "min-size-above-size",
        POOL,
        [_set("spec.replicated.minSize", 4)],
        ["spec.replicated.minSize", "cannot be larger than replicated.size"],
    ),
    (
        "pool-parameter-not-allowed",
        POOL,
        [_set("spec.parameters", {"size": "1"})],
        ["spec.parameters", "parameters may only set: compression_mode"],
    ),
    ("bad-device-class", POOL, [_set("spec.deviceClass", "SSD!")], ["spec.deviceClass"]),
    (
        "ec-metadata-pool",
        FS,
        [_set("spec.metadataPool", {"erasureCoded": {"dataChunks": 2, "codingChunks": 1}})],
        ["spec.metadataPool.erasureCoded", "replicated"],
    ),
    ("no-data-pools", FS, [_set("spec.dataPools", [])], ["spec.dataPools"]),
    (
        "ec-default-data-pool",
        FS,
        [_set("spec.dataPools.0", {"name": "default", "erasureCoded": {"dataChunks": 2, "codingChunks": 1}})],
        ["spec.dataPools", "first data pool must be replicated"],
    ),
    (
        "duplicate-data-pool",
        FS,
        [_set("spec.dataPools.1", {"name": "default", "replicated": {"size": 3}})],
        ["spec.dataPools[1]", "Duplicate value"],
    ),
    ("zero-active-mds", FS, [_set("spec.metadataServer.activeCount", 0)], ["spec.metadataServer.activeCount"]),
    ("on-delete-shred", NFS, [_set("spec.onDelete", "shred")], ["spec.onDelete", "Unsupported value"]),
    ("empty-path-pattern", NFS, [_set("spec.pathPattern", "")], ["spec.pathPattern"]),
    ("absolute-path-pattern", NFS, [_set("spec.pathPattern", "/etc/${pv.name}")], ["spec.pathPattern", "relative"]),
    ("dotdot-path-pattern", NFS, [_set("spec.pathPattern", "a/../${pv.name}")], ["spec.pathPattern", "'..'"]),
    ("unknown-placeholder", NFS, [_set("spec.pathPattern", "${pvc.annotations}")], ["spec.pathPattern"]),
    ("escaping-base-directory", NFS, [_set("spec.baseDirectory", "../elsewhere")], ["spec.baseDirectory"]),
    ("port-zero", NFS, [_set("spec.port", 0)], ["spec.port"]),
    ("nfs-version-4.2", NFS, [_set("spec.version", "4.2")], ["spec.version", "Unsupported value"]),
    ("mode-not-octal", NFS, [_set("spec.directoryMode", "0999")], ["spec.directoryMode"]),
    ("no-export-path", NFS, [_set("spec.exportPath", DELETE)], ["spec.exportPath", "Required value"]),
    ("osd-device-not-in-dev", OSD, [_set("spec.device.path", "sdb")], ["spec.device.path"]),
    ("osd-without-node", OSD, [_set("spec.node", DELETE)], ["spec.node", "Required value"]),
    ("inventory-without-spec", INV, [_set("spec", DELETE)], ["spec", "Required value"]),
    ("inventory-bad-node-name", INV, [_set("spec.nodeName", "Node_A")], ["spec.nodeName"]),
]


def test_the_invalid_table_is_big_enough() -> None:
    assert len(INVALID) >= 20
    assert len({name for name, *_ in INVALID}) == len(INVALID)


@pytest.mark.parametrize(("name", "example", "mutations", "expected"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_object_is_rejected_at_admission_naming_the_field(
    objects: Objects, name: str, example: str, mutations: list[Callable[[Body], None]], expected: list[str]
) -> None:
    body = unique(load_example(example))
    for mutate in mutations:
        mutate(body)
    try:
        created = objects.create(body)
    except ApiException as exc:
        rejected = exc
    else:
        objects.delete(created["kind"], created["metadata"]["name"])
        pytest.fail(f"{name}: the API server accepted it")
    assert rejected.status == 422, rejected.body
    message = _message(rejected)
    for fragment in expected:
        assert fragment in message, f"{name}: {fragment!r} not in {message!r}"


# ----------------------------------------------------------------------------- pruning, status, kopf


def test_unknown_fields_are_pruned_and_refused_under_strict_validation(objects: Objects) -> None:
    body = unique(load_example(POOL))
    body["spec"]["replicas"] = 3  # a typo of replicated.size
    body["spec"]["replicated"]["sise"] = 2
    with pytest.raises(ApiException) as strict:
        objects.create(copy.deepcopy(body), field_validation="Strict")
    message = _message(strict.value)
    assert 'unknown field "spec.replicas"' in message
    assert 'unknown field "spec.replicated.sise"' in message

    created = objects.create(body)  # default (Warn): accepted, unknown fields dropped
    assert "replicas" not in created["spec"]
    assert "sise" not in created["spec"]["replicated"]
    assert created["spec"]["replicated"]["size"] == 3


def test_status_is_written_only_through_the_status_subresource(objects: Objects) -> None:
    body = unique(load_example(POOL))
    body["status"] = {"phase": "Ready", "poolId": 99}
    created = objects.create(body)
    name = created["metadata"]["name"]
    assert "poolId" not in created.get("status", {})
    objects.patch("CephBlockPool", name, {"status": {"phase": "Ready"}, "metadata": {"labels": {"x": "y"}}})
    after_main = objects.get("CephBlockPool", name)
    assert after_main["metadata"]["labels"] == {"x": "y"}
    assert "phase" not in after_main.get("status", {})
    objects.patch("CephBlockPool", name, {"status": {"phase": "Ready", "poolId": 7}}, status=True)
    assert objects.get("CephBlockPool", name)["status"]["poolId"] == 7
    with pytest.raises(ApiException) as bad:
        objects.patch("CephBlockPool", name, {"status": {"phase": "Exploded"}}, status=True)
    assert "status.phase" in _message(bad.value)


def test_kopf_bookkeeping_survives_the_structural_schema(objects: Objects) -> None:
    created = objects.create(unique(load_example(MANAGED)))
    name = created["metadata"]["name"]
    progress = {
        "progress": {
            "reconcile/spec": {"started": "2026-11-26T10:00:00.000000+00:00", "retries": 2, "success": False},
        },
        "dummy": "2026-11-26T10:00:01",
    }
    objects.patch("CephCluster", name, {"status": {"kopf": progress}}, status=True)
    annotation = {"kopf.zalando.org/last-handled-configuration": json.dumps({"spec": created["spec"]})}
    objects.patch("CephCluster", name, {"metadata": {"annotations": annotation}})
    stored = objects.get("CephCluster", name)
    assert stored["status"]["kopf"] == progress
    assert stored["metadata"]["annotations"] == annotation | {PAUSED_ANNOTATION: "true"}


# ----------------------------------------------------------------------------- kubectl get columns


def _table(output: str) -> list[list[str]]:
    lines = output.rstrip("\n").splitlines()
    # kubectl pads columns with at least three spaces; headers themselves may hold one ("POOL ID").
    starts = [0, *(m.start() for m in re.finditer(r"(?<=  )\S", lines[0]))]
    return [[line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)] for line in lines]


def test_kubectl_get_cephclusters_shows_status_columns(lab: LabHandle, objects: Objects) -> None:
    created = objects.create(unique(load_example(EXTERNAL)))
    name = created["metadata"]["name"]
    status = {
        "phase": "Ready",
        "message": "connected to 1 monitor; HEALTH_OK",
        "ceph": {"health": "HEALTH_OK", "fsid": "3259fa2e-4ceb-47e8-9170-048faad1b99e"},
        "summary": {"mons": "1/1", "osds": "3/3", "used": "871 MiB", "capacity": "9.0 GiB"},
    }
    objects.patch("CephCluster", name, {"status": status}, status=True)

    normal = kubectl(lab, "get", "cephclusters", "-n", objects.namespace)
    assert normal.returncode == 0, normal.stderr
    header, row = _table(normal.stdout)
    assert header == ["NAME", "PHASE", "HEALTH", "MONS", "OSDS", "USED", "CAPACITY", "EXTERNAL", "AGE"]
    assert row[:8] == [name, "Ready", "HEALTH_OK", "1/1", "3/3", "871 MiB", "9.0 GiB", "true"]

    wide = kubectl(lab, "get", "ceph", "-n", objects.namespace, "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    header, row = _table(wide.stdout)
    assert header[-2:] == ["MESSAGE", "FSID"]
    assert row[-2:] == ["connected to 1 monitor; HEALTH_OK", "3259fa2e-4ceb-47e8-9170-048faad1b99e"]


@pytest.mark.parametrize(
    ("example", "status", "expected"),
    [
        (OSD, {"phase": "Running", "osdId": 4, "up": True, "in": True},
         {"NODE": "node-a", "DEVICE": "/dev/loop0", "OSD": "4", "PHASE": "Running", "UP": "true", "IN": "true"}),
        (POOL, {"phase": "Ready", "poolId": 5, "usage": {"used": "1.2 GiB"}},
         {"PHASE": "Ready", "POOL ID": "5", "REPLICAS": "3", "FAILURE DOMAIN": "osd", "USED": "1.2 GiB"}),
        (FS, {"phase": "Ready", "fscid": 1, "mds": {"active": 1, "standby": 1}},
         {"PHASE": "Ready", "FSCID": "1", "ACTIVE MDS": "1", "MDS UP": "1", "STANDBY": "1"}),
        (INV, {"deviceCount": 3, "availableCount": 2, "lastScan": "2026-11-26T10:00:00Z"},
         {"NODE": "node-a", "DEVICES": "3", "AVAILABLE": "2"}),
        (NFS, {"phase": "Ready", "free": "73 GiB", "volumes": 12},
         {"SERVER": "127.0.0.1", "EXPORT": "/export", "PHASE": "Ready", "FREE": "73 GiB", "VOLUMES": "12"}),
    ],
    ids=["CephOSD", "CephBlockPool", "CephFilesystem", "DiskInventory", "NFSBackend"],
)  # fmt: skip
def test_kubectl_get_columns_of_every_other_kind(
    lab: LabHandle, objects: Objects, example: str, status: Body, expected: dict[str, str]
) -> None:
    created = objects.create(unique(load_example(example)))
    kind, name = created["kind"], created["metadata"]["name"]
    try:
        objects.patch(kind, name, {"status": status}, status=True)
        scope = ["-n", objects.namespace] if kind_named(kind).scope == "Namespaced" else []
        out = kubectl(lab, "get", kind_named(kind).plural, name, *scope)
        assert out.returncode == 0, out.stderr
        header, row = _table(out.stdout)
        assert dict(zip(header, row, strict=True)) | expected == dict(zip(header, row, strict=True))
    finally:
        objects.delete(kind, name)
