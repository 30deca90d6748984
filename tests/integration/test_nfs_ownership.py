"""Who owns what on an export: a root-squashing export (directories made as the backend's identity, a
refused owner explained), and cluster replacement (a claim of the same namespace and name takes its
directory back, data intact; nobody else can, and a live owner elsewhere is waited for)."""

from __future__ import annotations

import contextlib
import json
import shutil
import stat
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes import client

from storage_operator.lab.nfs import SQUASHED_OWNER, SQUASHED_PSEUDO
from storage_operator.reconcile.nfsrecord import RECORD_NAME
from tests.nfs_support import (
    LAB_BACKEND,
    Claims,
    claims_namespace,
    mount_like_a_node,
    nfs_backend,
    on_disk,
    pv_exists,
    read_backend,
    record_of,
    storage_class,
)
from tests.operator_support import condition, status, unique
from tests.support import LabHandle, eventually

Body = dict[str, Any]


@pytest.fixture
def claims(lab: LabHandle) -> Any:
    with claims_namespace(lab, "nfs-own") as found:
        yield found


def squashed_backend(lab: LabHandle) -> contextlib.AbstractContextManager[str]:
    return nfs_backend(
        lab,
        "squashed",
        exportPath=SQUASHED_PSEUDO,
        directoryUID=SQUASHED_OWNER,
        directoryGID=SQUASHED_OWNER,
        onDelete="delete",
    )


def ready(lab: LabHandle, name: str) -> Body | None:
    body = read_backend(lab, name)
    return body if status(body).get("phase") == "Ready" else None


def test_a_root_squashing_export_is_detected_and_used_as_the_backends_identity(lab: LabHandle, claims: Claims) -> None:
    export = lab.config.paths.nfs / "export-squashed"
    with squashed_backend(lab) as name:
        found = eventually(lambda: ready(lab, name), timeout=30)
        assert status(found)["rootSquash"] is True
        squash = condition(found, "RootSquash")
        assert squash["status"] == "True"
        assert f"uid {SQUASHED_OWNER}" in squash["message"]

        with storage_class(lab, {"backend": name}) as sc:
            claims.create("squashed", storage_class=sc)
            pv = claims.pv_of("squashed")
            directory = on_disk(lab, pv, export=export)
            info = directory.stat()
            assert (info.st_uid, info.st_gid) == (SQUASHED_OWNER, SQUASHED_OWNER)
            assert stat.S_IMODE(info.st_mode) == 0o770
            with (
                mount_like_a_node(pv, uid=SQUASHED_OWNER, gid=SQUASHED_OWNER) as mounted,
                mounted.open("data", "wb") as f,
            ):
                f.write(b"squashed but writable")
            assert (directory / "data").read_bytes() == b"squashed but writable"

        with storage_class(lab, {"backend": name, "uid": "2000"}) as sc:
            claims.create("other-owner", storage_class=sc)
            message = claims.wait_event("other-owner", "ProvisioningFailed", contains="squashes root")
            assert "uid 2000" in message
            assert f"uid {SQUASHED_OWNER}" in message

        claims.delete("squashed")
        with lab.api() as api:
            eventually(lambda: not pv_exists(api, pv["metadata"]["name"]), timeout=30)
        assert not directory.exists()


def adopting(lab: LabHandle, pattern: str) -> contextlib.AbstractContextManager[str]:
    return storage_class(
        lab,
        {"backend": LAB_BACKEND, "adopt": "true", "onDelete": "retain", "pathPattern": pattern},
        reclaim="Retain",
    )


def delete_claim_and_volume(lab: LabHandle, claims: Claims, name: str) -> None:
    """What leaving a cluster looks like under Retain: the claim goes, the admin deletes the PV."""
    pv = claims.pv_of(name)
    claims.delete(name)
    with lab.api() as api:
        eventually(lambda: claims.get(name) is None, timeout=30)
        client.CoreV1Api(api).delete_persistent_volume(pv["metadata"]["name"])
        eventually(lambda: not pv_exists(api, pv["metadata"]["name"]), timeout=30)


def test_the_same_claim_created_again_gets_its_data_back(lab: LabHandle, claims: Claims) -> None:
    with adopting(lab, "${namespace}-${pvc.name}") as sc:
        written = {}
        for name in ("db", "cache"):
            made = claims.create(name, storage_class=sc)
            pv = claims.pv_of(name)
            with mount_like_a_node(pv) as mounted, mounted.open("payload", "wb") as f:
                f.write(f"data of {name}".encode())
            written[name] = (on_disk(lab, pv), made["metadata"]["uid"])
        for name in written:
            delete_claim_and_volume(lab, claims, name)
        for directory, _uid in written.values():
            assert record_of(directory)["released"]  # kept, and marked free to adopt

        for name, (directory, old_uid) in written.items():
            again = claims.create(name, storage_class=sc)
            pv = claims.pv_of(name)
            assert on_disk(lab, pv) == directory
            with mount_like_a_node(pv) as mounted, mounted.open("payload", "rb") as f:
                assert f.read() == f"data of {name}".encode()
            record = record_of(directory)
            assert record["claimUID"] == again["metadata"]["uid"] != old_uid
            assert record["adoptedFrom"].endswith(old_uid)
            assert "released" not in record
            assert claims.wait_event(name, "ProvisioningSucceeded", contains="adopted")


def test_a_directory_is_never_handed_to_another_claim(lab: LabHandle, claims: Claims) -> None:
    with adopting(lab, "app-${pvc.labels.app}") as sc:
        app = unique("app")
        claims.create("first", storage_class=sc, labels={"app": app})
        directory = on_disk(lab, claims.pv_of("first"))
        (directory / "secret").write_text("first's")
        delete_claim_and_volume(lab, claims, "first")

        claims.create("second", storage_class=sc, labels={"app": app})  # renders the same directory
        message = claims.wait_event("second", "ProvisioningFailed", contains="different claim")
        assert f"{claims.namespace}/first" in message
        assert (claims.get("second") or {})["status"]["phase"] == "Pending"
        assert (directory / "secret").read_text() == "first's"

        claims.delete("second")
        claims.create("first", storage_class=sc, labels={"app": app})
        assert on_disk(lab, claims.pv_of("first")) == directory


def test_a_claim_still_alive_in_another_cluster_is_waited_for(lab: LabHandle, claims: Claims) -> None:
    with adopting(lab, "${namespace}-${pvc.name}") as sc:
        claims.create("moved", storage_class=sc)
        directory = on_disk(lab, claims.pv_of("moved"))
        delete_claim_and_volume(lab, claims, "moved")
        # As if another cluster (still running) owned it and renewed its record a minute ago.
        record = record_of(directory)
        record.pop("released", None)
        record["cluster"] = "0000-another-cluster"
        record["seen"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        (directory / RECORD_NAME).write_text(json.dumps(record))

        claims.create("moved", storage_class=sc)
        message = claims.wait_event("moved", "ProvisioningFailed", contains="0000-another-cluster")
        assert "was alive" in message
        assert (claims.get("moved") or {})["status"]["phase"] == "Pending"

        # That cluster went away long ago: the claim takes the directory back (on its next look).
        record["seen"] = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
        (directory / RECORD_NAME).write_text(json.dumps(record))
        claims.core.patch_namespaced_persistent_volume_claim(
            "moved", claims.namespace, {"metadata": {"labels": {"nudge": "1"}}}
        )
        assert on_disk(lab, claims.pv_of("moved")) == directory


def test_an_orphaned_empty_directory_is_removed_and_nothing_else(lab: LabHandle, claims: Claims) -> None:
    """A claim deleted before its PV was made, while the operator was down: its empty directory goes."""
    with lab.api() as api:
        cluster = str(client.CoreV1Api(api).read_namespace("kube-system").metadata.uid)
    base = lab.config.paths.nfs_export / "volumes"
    long_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    cases = {
        "orphan": (cluster, long_ago, False),  # removed
        "with-data": (cluster, long_ago, True),  # holds data: kept
        "just-made": (cluster, datetime.now(UTC).isoformat(), False),  # may be mid-provisioning: kept
        "other-cluster": ("0000-another-cluster", long_ago, False),  # not ours to judge: kept
    }
    made = {}
    for name, (owner, created, data) in cases.items():
        directory = base / f"{claims.namespace}-{name}"
        directory.mkdir()
        uid = unique("uid")
        record = {
            "kind": "NFSVolume",
            "version": 1,
            "backend": LAB_BACKEND,
            "cluster": owner,
            "namespace": claims.namespace,
            "claim": name,
            "claimUID": uid,
            "volume": f"pvc-{uid}",
            "sizeBytes": 1024,
            "created": created,
        }
        (directory / RECORD_NAME).write_text(json.dumps(record))
        if data:
            (directory / "precious").write_text("keep me")
        made[name] = directory
    try:
        eventually(lambda: not made["orphan"].exists(), timeout=120, interval=1)
        assert (made["with-data"] / "precious").read_text() == "keep me"
        assert made["just-made"].is_dir()
        assert made["other-cluster"].is_dir()

        def orphans_event() -> bool:
            with lab.api() as api:
                events = client.CoreV1Api(api).list_namespaced_event(
                    "default", field_selector=f"involvedObject.name={LAB_BACKEND}"
                )
            return any(e.reason == "OrphansRemoved" and made["orphan"].name in e.message for e in events.items)

        # The Event is posted after the directory is gone (Events go through their own rate-limited
        # queue): it may land a moment after the removal is visible.
        assert eventually(orphans_event, timeout=15)
    finally:
        for directory in made.values():
            shutil.rmtree(directory, ignore_errors=True)
