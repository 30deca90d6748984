"""Merge patches that really remove what a status no longer has; the lab's operator manifests and
examples as the lab applies them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from storage_operator.kube.patch import merge_patch
from storage_operator.lab.ceph import mon_host
from storage_operator.lab.config import LabConfig
from storage_operator.lab.kubeconfig import render_token_kubeconfig
from storage_operator.lab.operator import LAB_EXAMPLES, build_operator_argv, lab_examples, operator_manifests


@pytest.mark.parametrize(
    ("before", "after", "patch"),
    [
        ({"a": 1}, {"a": 1}, {}),
        ({"a": 1}, {"a": 2}, {"a": 2}),
        ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
        ({"details": {"OSD_DOWN": {"m": "x"}}, "phase": "Warning"}, {"details": {}, "phase": "Ready"},
         {"details": {"OSD_DOWN": None}, "phase": "Ready"}),
        ({"summary": {"mons": "1/1", "osds": "3/3"}}, {"summary": {}}, {"summary": {"mons": None, "osds": None}}),
        ({"conditions": [{"type": "A"}, {"type": "B"}]}, {"conditions": [{"type": "A"}]},
         {"conditions": [{"type": "A"}]}),  # lists are replaced whole
        ({}, {"poolId": 3}, {"poolId": 3}),
        ({"x": {"y": 1}}, {"x": 5}, {"x": 5}),
    ],
)  # fmt: skip
def test_merge_patch_turns_before_into_after(before: dict[str, Any], after: dict[str, Any], patch: Any) -> None:
    assert merge_patch(before, after) == patch
    assert apply_merge_patch(before, patch) == after


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, as the API server applies it."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = apply_merge_patch(out.get(key), value)
    return out


CONFIG = LabConfig(root=Path("/tmp/lab-unit"), port_base=30000)


def test_the_lab_applies_the_operator_manifests_but_not_its_deployment() -> None:
    kinds = [doc["kind"] for doc in operator_manifests()]
    assert kinds == ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
    with_deployment = operator_manifests(include_deployment=True)
    (deployment,) = [d for d in with_deployment if d["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["operator"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "storage-operator"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_operator_role_touches_secrets_only_in_its_namespace_and_never_lists_them() -> None:
    docs = operator_manifests()
    cluster_role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert all("secrets" not in rule["resources"] for rule in cluster_role["rules"])
    assert all("deployments" not in rule["resources"] for rule in cluster_role["rules"])
    role = next(d for d in docs if d["kind"] == "Role")
    assert role["metadata"]["namespace"] == "storage-system"
    (secrets,) = [r for r in role["rules"] if "secrets" in r["resources"]]
    # Managed clusters' keys are made there; nothing may list or watch every Secret.
    assert sorted(secrets["verbs"]) == ["create", "delete", "get", "patch"]


def test_examples_get_this_labs_monitors_and_metrics_port() -> None:
    docs = lab_examples(CONFIG)
    assert len(docs) == len(LAB_EXAMPLES)
    (external,) = [d for d in docs if d["kind"] == "CephCluster" and d["spec"].get("external", {}).get("enable")]
    assert external["spec"]["external"]["monHosts"] == [mon_host(CONFIG)] == ["[v2:127.0.0.1:30010,v1:127.0.0.1:30011]"]
    assert external["spec"]["monitoring"]["port"] == CONFIG.ports.mgr_prometheus
    kinds = sorted({d["kind"] for d in docs})
    # Only what the operator reconciles, and the NFS bridge's default class.
    assert kinds == ["CephBlockPool", "CephCluster", "CephFilesystem", "NFSBackend", "StorageClass"]
    (backend,) = [d for d in docs if d["kind"] == "NFSBackend"]
    assert backend["spec"]["port"] == CONFIG.ports.nfs
    (storage_class,) = [d for d in docs if d["kind"] == "StorageClass"]
    assert storage_class["parameters"]["backend"] == backend["metadata"]["name"]
    assert storage_class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"


def test_operator_argv_names_the_lab_so_teardown_finds_it() -> None:
    argv = build_operator_argv(CONFIG, identity="lab-operator", port=30030)
    assert argv[1:4] == ["-m", "storage_operator", "operator"]
    assert str(CONFIG.root) in " ".join(argv)  # the leftover scan looks for the lab directory
    assert argv[argv.index("--http") + 1] == "127.0.0.1:30030"


def test_token_kubeconfig_carries_the_token_and_the_ca() -> None:
    doc = yaml.safe_load(
        render_token_kubeconfig(server="https://127.0.0.1:1", ca=Path("/ca.crt"), token="abc", user="sa")
    )
    assert doc["users"][0]["user"] == {"token": "abc"}
    assert doc["clusters"][0]["cluster"]["certificate-authority"] == "/ca.crt"
