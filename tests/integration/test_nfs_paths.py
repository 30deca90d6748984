"""The NFS bridge's directory names against hostile input, on the real lab: label and annotation values a
pathPattern reads never make anything outside the base directory, a missing label keeps the claim Pending
until it is added, two claims rendering to the same directory each get their own, and
`storage-operator nfs volumes` shows who owns what on the export."""

from __future__ import annotations

import os
import posixpath
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from storage_operator.lab.nfs import EXPORT_PSEUDO, VOLUMES_DIR
from storage_operator.reconcile.nfsvolume import DIRECTORY_ANNOTATION
from tests.nfs_support import (
    LAB_BACKEND,
    Claims,
    claims_namespace,
    on_disk,
    pv_exists,
    read_pv,
    record_of,
    storage_class,
    tree,
)
from tests.operator_support import unique
from tests.support import LabHandle, eventually

Body = dict[str, Any]
REPO_ROOT = Path(__file__).resolve().parents[2]
HOSTILE_PATTERN = "${pvc.annotations.evil}/${pvc.labels.app}-${pvc.name}"
LONG_VALUE = ("../" * 4000)[:10240]  # 10 kB of climbing

# (claim, annotation "evil", label "app", the directory's first segment, its second without the claim name):
# every character outside [A-Za-z0-9._-] becomes "_", every run of dots "_", a leading dot "_"; a value longer
# than 63 characters is cut to 54 + "-" + 8 hex characters of its SHA-256.
HOSTILE: list[tuple[str, str, str, str, str]] = [
    ("climb", "../..", "a..b", "___", "a_b-"),
    ("absolute", "/etc", "x...y", "_etc", "x_y-"),
    ("encoded", "%2e%2e", "A_.._Z", "_2e_2e", "A___Z-"),
    ("half-encoded", "..%2f..", "a.-.b", "__2f_", "a.-.b-"),
    ("through", "a/../../b", "ok", "a_____b", "ok-"),
    ("backslash", "\\..\\", "", "___", "-"),  # an empty label value is valid and renders empty
    ("nul", "a\x00/../b", "n", "a____b", "n-"),  # the API server accepts a NUL in an annotation value
    ("dot", ".", "d", "_", "d-"),
    ("dotdot", "..", "dd", "_", "dd-"),
    ("newline", "x\n..", "nl", "x__", "nl-"),
    ("unicode", "é/..", "u", "___", "u-"),
    ("long", LONG_VALUE, "l", "_" * 54 + "-dbfcc464", "l-"),
]


@pytest.fixture
def claims(lab: LabHandle) -> Any:
    with claims_namespace(lab, "nfspath") as found:
        yield found


def directory_of(pv: Body) -> str:
    directory = pv["metadata"]["annotations"][DIRECTORY_ANNOTATION]
    assert isinstance(directory, str)
    return directory


def wait_gone(api: client.ApiClient, volume: str, timeout: float = 60) -> None:
    eventually(lambda: not pv_exists(api, volume), timeout=timeout)


def outside_volumes(paths: set[str]) -> set[str]:
    return {p for p in paths if p != VOLUMES_DIR and not p.startswith(VOLUMES_DIR + "/")}


def is_safe_relative(path: str) -> bool:
    segments = path.split("/")
    return all(s not in ("", ".", "..") and len(s.encode("utf-8", "surrogatepass")) <= 255 for s in segments)


def test_label_values_that_climb_are_refused_by_the_api_server(claims: Claims) -> None:
    # Kubernetes allows only [A-Za-z0-9] at both ends of a label value: "..", "." and "..." never reach us.
    for value in ("..", ".", "...", "../x", "a/b"):
        with pytest.raises(ApiException) as refused:
            claims.create(unique("badlabel"), labels={"app": value})
        assert refused.value.status == 422
        assert "metadata.labels" in str(refused.value.body)


def test_hostile_labels_and_annotations_make_nothing_outside_the_base_directory(lab: LabHandle, claims: Claims) -> None:
    export = Path(lab.config.paths.nfs_export)
    before = tree(export)
    with storage_class(lab, {"backend": LAB_BACKEND, "pathPattern": HOSTILE_PATTERN, "onDelete": "delete"}) as sc:
        for name, evil, app, _first, _second in HOSTILE:
            made = claims.create(name, storage_class=sc, labels={"app": app}, annotations={"evil": evil})
            assert made["metadata"]["annotations"]["evil"] == evil  # stored as sent, NUL and 10 kB included
        # An empty value renders an empty directory name: refused, with the reason, and nothing is made.
        refused = claims.create("empty", storage_class=sc, labels={"app": "e"}, annotations={"evil": ""})
        message = claims.wait_event("empty", "ProvisioningFailed", contains="renders to ''")
        assert message == (
            "failed to provision volume: pathPattern segment '${pvc.annotations.evil}' renders to '' for this "
            "claim; a directory name must not be empty, '.' or '..'"
        )

        directories: dict[str, str] = {}
        volumes: list[str] = []
        for name, _evil, _app, first, second in HOSTILE:
            pv = claims.pv_of(name)
            directory = directory_of(pv)
            assert directory == f"{VOLUMES_DIR}/{first}/{second}{name}", name
            assert is_safe_relative(directory), directory
            assert posixpath.normpath(directory) == directory
            assert pv["spec"]["nfs"]["path"] == f"{EXPORT_PSEUDO}/{directory}"
            on_server = on_disk(lab, pv)
            assert on_server.is_dir()
            assert os.path.realpath(on_server).startswith(os.path.realpath(export / VOLUMES_DIR) + "/")
            record = record_of(on_server)
            assert (record["namespace"], record["claim"]) == (claims.namespace, name)
            directories[name] = directory
            volumes.append(pv["metadata"]["name"])
        assert len(set(directories.values())) == len(HOSTILE)

        time.sleep(1)
        pending = claims.get("empty")
        assert (pending or {}).get("status", {}).get("phase") == "Pending"
        with lab.api() as api:
            assert not pv_exists(api, f"pvc-{refused['metadata']['uid']}")

        during = tree(export)
        new = during - before
        assert outside_volumes(during) == outside_volumes(before), sorted(outside_volumes(new))
        for path in new:
            assert path.startswith(VOLUMES_DIR + "/"), path
            assert is_safe_relative(path), path
            real = os.path.realpath(export / path)
            assert real.startswith(os.path.realpath(export / VOLUMES_DIR) + "/"), (path, real)
            # Each new path is a volume directory, inside one, or a parent the pattern's "/" made: nothing else.
            assert any(
                path == d or path.startswith(d + "/") or d.startswith(path + "/") for d in directories.values()
            ), path

        for name, *_ in HOSTILE:
            claims.delete(name)
        claims.delete("empty")
        with lab.api() as api:
            for volume in volumes:
                wait_gone(api, volume)

    for name, directory in directories.items():
        assert not (export / directory).exists(), (name, directory)
    after = tree(export)
    assert outside_volumes(after) == outside_volumes(before)
    # onDelete delete also removes the parents the pattern's "/" made once they are empty: nothing is left.
    assert after == before, sorted(after ^ before)


def test_a_missing_label_keeps_the_claim_pending_until_it_is_added(lab: LabHandle, claims: Claims) -> None:
    team = unique("team")
    pattern = "${pvc.labels.team}/${pvc.name}"
    with storage_class(lab, {"backend": LAB_BACKEND, "pathPattern": pattern, "onDelete": "delete"}) as sc:
        made = claims.create("unlabelled", storage_class=sc, labels={"other": team})
        message = claims.wait_event("unlabelled", "ProvisioningFailed", contains="team")
        assert message == (
            "failed to provision volume: the claim has no label 'team', which the class's pathPattern "
            "${pvc.labels.team} needs"
        )
        time.sleep(1)
        pvc = claims.get("unlabelled")
        assert (pvc or {}).get("status", {}).get("phase") == "Pending"
        with lab.api() as api:
            assert not pv_exists(api, f"pvc-{made['metadata']['uid']}")
        assert not (Path(lab.config.paths.nfs_export) / VOLUMES_DIR / team).exists()

        claims.core.patch_namespaced_persistent_volume_claim(
            "unlabelled", claims.namespace, {"metadata": {"labels": {"team": team}}}
        )
        pv = claims.pv_of("unlabelled")
        assert directory_of(pv) == f"{VOLUMES_DIR}/{team}/unlabelled"
        assert record_of(on_disk(lab, pv))["claim"] == "unlabelled"
        assert claims.wait_event("unlabelled", "ProvisioningSucceeded", contains=f"{VOLUMES_DIR}/{team}/unlabelled")


def test_claims_rendering_to_the_same_directory_each_get_their_own(lab: LabHandle, claims: Claims) -> None:
    team = unique("team")
    with storage_class(
        lab, {"backend": LAB_BACKEND, "pathPattern": "shared-${pvc.labels.team}", "onDelete": "delete"}
    ) as sc:
        first = claims.create("first", storage_class=sc, labels={"team": team})
        first_pv = claims.pv_of("first")
        second = claims.create("second", storage_class=sc, labels={"team": team})
        second_pv = claims.pv_of("second")

        first_dir = directory_of(first_pv)
        assert first_dir == f"{VOLUMES_DIR}/shared-{team}"
        suffix = str(second["metadata"]["uid"]).replace("-", "")[:8]
        assert directory_of(second_pv) == f"{first_dir}-{suffix}"
        assert first_pv["spec"]["nfs"]["path"] != second_pv["spec"]["nfs"]["path"]
        for name, body, pv in (("first", first, first_pv), ("second", second, second_pv)):
            assert (claims.get(name) or {})["status"]["phase"] == "Bound"
            assert pv["spec"]["claimRef"]["uid"] == body["metadata"]["uid"]
            record = record_of(on_disk(lab, pv))
            assert (record["namespace"], record["claim"], record["claimUID"]) == (
                claims.namespace,
                name,
                body["metadata"]["uid"],
            )
            assert record["volume"] == pv["metadata"]["name"]
        assert claims.wait_event("second", "ProvisioningSucceeded", contains=f"{first_dir}-{suffix}")


def nfs_volumes(lab: LabHandle, backend: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "storage_operator", "nfs", "volumes", "--backend", backend]
    command += ["--kubeconfig", str(lab.config.paths.kubeconfig)]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)


COLUMNS = ("DIRECTORY", "STATE", "NAMESPACE", "CLAIM", "SIZE", "CLUSTER", "VOLUME")


def listed(lab: LabHandle) -> dict[str, dict[str, str]]:
    """The rows of `nfs volumes --backend lab-nfs`, by directory (the columns are cut at the header's)."""
    done = nfs_volumes(lab, LAB_BACKEND)
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    starts = [header.index(c) for c in COLUMNS]
    assert starts == sorted(starts), header
    ends: list[int | None] = [*starts[1:], None]
    rows: dict[str, dict[str, str]] = {}
    for line in lines:
        cells = {c: line[s:e].strip() for c, s, e in zip(COLUMNS, starts, ends, strict=True)}
        rows[cells["DIRECTORY"]] = cells
    return rows


def test_nfs_volumes_lists_directories_in_use_and_released(lab: LabHandle, claims: Claims) -> None:
    with storage_class(lab, {"backend": LAB_BACKEND, "onDelete": "retain"}, reclaim="Retain") as sc:
        claims.create("listed", storage_class=sc)
        pv = claims.pv_of("listed")
        volume = pv["metadata"]["name"]
        directory = directory_of(pv)

        rows = listed(lab)
        assert directory in rows, rows
        assert rows[directory] == {
            "DIRECTORY": directory,
            "STATE": "in use here",
            "NAMESPACE": claims.namespace,
            "CLAIM": "listed",
            "SIZE": "1.0 MiB",
            "CLUSTER": "this",
            "VOLUME": volume,
        }

        claims.delete("listed")
        with lab.api() as api:
            eventually(lambda: read_pv(api, volume)["status"]["phase"] == "Released", timeout=30)
            client.CoreV1Api(api).delete_persistent_volume(volume)
            wait_gone(api, volume, timeout=30)
    assert on_disk(lab, pv).is_dir()
    assert record_of(on_disk(lab, pv))["released"]
    rows = listed(lab)
    assert directory in rows, rows
    assert rows[directory] == {
        "DIRECTORY": directory,
        "STATE": "released",
        "NAMESPACE": claims.namespace,
        "CLAIM": "listed",
        "SIZE": "1.0 MiB",
        "CLUSTER": "this",
        "VOLUME": volume,
    }


def test_nfs_volumes_names_a_backend_that_does_not_exist(lab: LabHandle) -> None:
    done = nfs_volumes(lab, "no-such")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr.strip() == "error: NFSBackend no-such does not exist"
    assert done.stdout == ""
