"""The API models: defaults, camelCase on the wire, round trips of every example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from storage_operator.api.meta import API_VERSION
from storage_operator.api.v1alpha1 import KINDS, kind_named
from storage_operator.api.v1alpha1.cephcluster import CephClusterSpec
from storage_operator.api.v1alpha1.cephosd import CephOSDStatus
from storage_operator.api.v1alpha1.nfsbackend import PATH_PATTERN_REGEX, NFSBackendSpec
from storage_operator.api.v1alpha1.pool import PoolSpec, ReplicatedSpec
from tests.support import is_subset

# The examples of our kinds (the directory also has a StorageClass and a claim for the NFS bridge).
EXAMPLES = sorted(
    p
    for p in (Path(__file__).resolve().parents[2] / "manifests" / "examples").glob("*.yaml")
    if yaml.safe_load(p.read_text())["apiVersion"] == API_VERSION
)


def test_cluster_defaults_are_safe() -> None:
    spec = CephClusterSpec()
    assert spec.external.enable is False
    assert spec.mon.count == 3
    assert spec.storage.use_all_nodes is False
    assert spec.storage.use_all_devices is False
    assert spec.storage.min_device_size_bytes == 1024**3
    assert spec.cleanup_policy.confirmation == ""  # never wipe unless told to


def test_nfs_backend_defaults() -> None:
    spec = NFSBackendSpec(server="nfs.example", export_path="/srv/export")
    assert (spec.port, spec.version, spec.on_delete) == (2049, "4.1", "archive")
    assert spec.path_pattern == "${namespace}-${pvc.name}-${pv.name}"
    assert spec.base_directory == "volumes"


def test_pool_defaults_to_host_failure_domain_and_safe_replicas() -> None:
    pool = PoolSpec(replicated=ReplicatedSpec())
    assert pool.failure_domain == "host"
    assert pool.replicated is not None
    assert (pool.replicated.size, pool.replicated.require_safe_replica_size) == (3, True)


def test_camel_case_on_the_wire_snake_case_in_python() -> None:
    status = CephOSDStatus(osd_id=3, osd_uuid="u", in_=True, up=False, phase="Running")
    wire = status.to_wire()
    assert wire == {"osdId": 3, "osdUUID": "u", "in": True, "up": False, "phase": "Running", "conditions": []}
    assert CephOSDStatus.model_validate(wire) == status
    nfs = NFSBackendSpec.model_validate({"server": "s", "exportPath": "/e", "directoryGID": 7})
    assert nfs.directory_gid == 7
    assert nfs.to_wire()["directoryGID"] == 7


def test_every_kind_has_an_example() -> None:
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in EXAMPLES}
    assert kinds == {k.kind for k in KINDS}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_round_trips_through_its_model(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    assert doc["apiVersion"] == API_VERSION
    model = kind_named(doc["kind"]).spec.model_validate(doc["spec"])
    wire = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert is_subset(doc["spec"], wire), "every field of the example survives, with the same value"
    assert type(model).model_validate(wire) == model


@given(st.from_regex(PATH_PATTERN_REGEX, fullmatch=True))
def test_path_pattern_regex_admits_only_known_placeholders(pattern: str) -> None:
    remainder = pattern
    for name in ("namespace", "pvc.namespace", "pvc.name", "pv.name"):
        remainder = remainder.replace("${" + name + "}", "")
    key = r"([A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*"
    remainder = re.sub(r"\$\{pvc\.(labels|annotations)\." + key + r"\}", "", remainder)
    assert "$" not in remainder
    assert set(remainder) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/-")
