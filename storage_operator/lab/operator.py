"""The operator in the lab: installed from manifests/operator/ (minus its Deployment, which needs a real
node), run as a process that authenticates as its own ServiceAccount with a token from the API server,
so the RBAC in the manifests is exercised for real. Then the examples, localized to this lab's ports.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from storage_operator.api.meta import API_VERSION
from storage_operator.api.v1alpha1 import kind_named
from storage_operator.errors import LabError, StorageError
from storage_operator.kube.apply import apply_manifests
from storage_operator.kube.client import ApiClient, connect
from storage_operator.kube.core import request_token
from storage_operator.kube.objects import get_object
from storage_operator.lab import probe
from storage_operator.lab.binaries import REPO_ROOT
from storage_operator.lab.ceph import mon_host
from storage_operator.lab.config import LabConfig
from storage_operator.lab.containerd import CEPH_IMAGE
from storage_operator.lab.context import LabContext
from storage_operator.lab.controlplane import SA_ISSUER
from storage_operator.lab.kubeconfig import render_token_kubeconfig
from storage_operator.lab.state import ProcessRecord

OPERATOR_MANIFESTS = REPO_ROOT / "manifests" / "operator"
EXAMPLES = REPO_ROOT / "manifests" / "examples"
SERVICE_ACCOUNT = "storage-operator"
PROCESS_NAME = "storage-operator"
LAB_IDENTITY = "lab-operator"
TOKEN_SECONDS = 7 * 24 * 3600  # a lab lives for hours, not weeks
# The examples the lab applies: the Ceph kinds, the NFS backend on the lab's Ganesha and the default
# StorageClass on it. (CephOSDs and DiskInventories are written by the operator and the agents.)
LAB_EXAMPLES = (
    "cephcluster-external.yaml",
    "cephcluster-managed.yaml",
    "cephblockpool-replicated.yaml",
    "cephblockpool-erasure-coded.yaml",
    "cephfilesystem.yaml",
    "nfsbackend.yaml",
    "storageclass-nfs.yaml",
)
EXAMPLES_FIELD_MANAGER = "lab-examples"
# Settings that differ from a production operator's: volumes' usage is measured every 30 s (not 5 min),
# so what a user writes into a lab volume shows in the metric while they look; orphaned directories are
# looked for every 30 s (not 10 min).
LAB_OPERATOR_ENV = {"STORAGE_OPERATOR_NFS_USAGE_INTERVAL": "30", "STORAGE_OPERATOR_NFS_SWEEP_INTERVAL": "30"}


def kustomization_docs(directory: Path, *, skip_kinds: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The documents a kustomization lists, in its order, without those of ``skip_kinds``."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    docs = []
    for resource in kustomization["resources"]:
        for doc in yaml.safe_load_all((directory / resource).read_text()):
            if doc and doc["kind"] not in skip_kinds:
                docs.append(doc)
    return docs


# Workloads need a node that runs pods; in the process profile the lab runs their processes instead.
WORKLOADS = frozenset({"Deployment", "DaemonSet"})


def operator_manifests(*, include_deployment: bool = False) -> list[dict[str, Any]]:
    """The documents of manifests/operator/ in kustomization order (the Deployment only on request)."""
    return kustomization_docs(OPERATOR_MANIFESTS, skip_kinds=frozenset() if include_deployment else WORKLOADS)


def operator_kubeconfig(config: LabConfig) -> Path:
    return config.paths.kube / f"{SERVICE_ACCOUNT}.kubeconfig"


def build_operator_argv(config: LabConfig, *, identity: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "storage_operator",
        "operator",
        "--kubeconfig",
        str(operator_kubeconfig(config)),
        "--namespace",
        config.operator_namespace,
        "--identity",
        identity,
        "--http",
        f"127.0.0.1:{port}",
    ]


def write_token_kubeconfig(
    api: ApiClient,
    config: LabConfig,
    *,
    service_account: str,
    path: Path,
    server: str,
    ca: Path,
    bound_node: str | None = None,
) -> Path:
    """A kubeconfig (0600) with a TokenRequest token of the ServiceAccount, as a pod of it would have."""
    token = request_token(
        api,
        namespace=config.operator_namespace,
        service_account=service_account,
        audiences=[SA_ISSUER],
        seconds=TOKEN_SECONDS,
        bound_node=bound_node,
    )
    user = f"system:serviceaccount:{config.operator_namespace}:{service_account}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(render_token_kubeconfig(server=server, ca=ca, token=token, user=user))
    return path


def write_operator_kubeconfig(config: LabConfig, server: str, ca: Path) -> Path:
    """Install the operator's ServiceAccount and RBAC, and a kubeconfig with a token for it (0600)."""
    with connect(config.paths.kubeconfig) as api:
        apply_manifests(api, operator_manifests())
        return write_token_kubeconfig(
            api, config, service_account=SERVICE_ACCOUNT, path=operator_kubeconfig(config), server=server, ca=ca
        )


def readiness(port: int) -> str | None:
    """The operator's /readyz answer when it leads with its controllers running, else None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            text = resp.read().decode().strip()
    except OSError:
        return None
    return text if text.startswith("leader") else None


def spawn_operator(ctx: LabContext) -> ProcessRecord:
    write_operator_kubeconfig(ctx.config, ctx.apiserver_url, ctx.pki.ca)
    port = ctx.config.ports.operator_http
    return ctx.spawn(
        PROCESS_NAME,
        build_operator_argv(ctx.config, identity=LAB_IDENTITY, port=port),
        env=LAB_OPERATOR_ENV,
        cwd=REPO_ROOT,
    )


def await_operator(ctx: LabContext) -> str:
    record = ctx.state.process(PROCESS_NAME)
    if record is None:
        raise LabError("the operator was not started")
    port = ctx.config.ports.operator_http
    probe.wait_for("storage-operator leading", lambda: readiness(port), timeout=60, watch=(record,))
    return (
        f"pid {record.pid} as ServiceAccount {ctx.config.operator_namespace}/{SERVICE_ACCOUNT}, leading; "
        f"/metrics on 127.0.0.1:{port}"
    )


# A managed cluster on one lab node: its OSDs share a host (CRUSH spreads copies over OSDs, not hosts),
# this machine's disk is fuller than a mon likes by default, and OSDs get little memory.
LAB_MANAGED_CEPH_CONFIG = {
    "global": {
        "osd_crush_chooseleaf_type": "0",
        "osd_pool_default_size": "2",
        "mon_data_avail_warn": "5",
        "mon_warn_on_pool_no_redundancy": "false",
    },
    "osd": {"osd_memory_target": str(512 * 1024**2), "bluestore_cache_autotune": "false"},
}


def managed_on_real_node(spec: dict[str, Any], config: LabConfig) -> None:
    """The managed example on the lab's real node: its three disks, one mon, the lab's Ceph image, and
    the mons' store under the lab's directory (removed with it)."""
    spec["cephVersion"] = {"image": CEPH_IMAGE}
    spec["dataDirHostPath"] = str(config.paths.node / "ceph")
    spec["mon"] = {"count": 1, "allowMultiplePerNode": False}
    spec["storage"] = {
        "useAllNodes": False,
        "nodes": [{"name": config.real_nodes[0], "deviceFilter": "^loop[0-9]+$"}],
        "minDeviceSizeBytes": spec.get("storage", {}).get("minDeviceSizeBytes", 1024**3),
    }
    spec["cephConfig"] = LAB_MANAGED_CEPH_CONFIG


def localize(doc: dict[str, Any], config: LabConfig) -> dict[str, Any]:
    """An example as it must be for this lab: its monitors and metrics port, wherever LAB_PORT_BASE put them."""
    spec = doc.get("spec", {})
    if doc["kind"] == "CephCluster" and spec.get("external", {}).get("enable"):
        spec["external"]["monHosts"] = [mon_host(config)]
        spec.setdefault("monitoring", {})["port"] = config.ports.mgr_prometheus
    elif doc["kind"] == "CephCluster" and config.real_nodes and config.managed_ceph:
        managed_on_real_node(spec, config)
    if doc["kind"] == "NFSBackend":
        spec["port"] = config.ports.nfs
    return doc


def lab_examples(config: LabConfig) -> list[dict[str, Any]]:
    docs = [localize(yaml.safe_load((EXAMPLES / name).read_text()), config) for name in LAB_EXAMPLES]
    return [d for d in docs if not _idle_managed(d, config)]


def _idle_managed(doc: dict[str, Any], config: LabConfig) -> bool:
    """A real node's disks are used only when the lab says so (LAB_MANAGED_CEPH); in the process profile
    the managed example stays as it is, waiting for mons that no kubelet runs."""
    managed = doc["kind"] == "CephCluster" and not doc.get("spec", {}).get("external", {}).get("enable")
    return managed and bool(config.real_nodes) and not config.managed_ceph


def apply_examples(ctx: LabContext) -> str:
    docs = lab_examples(ctx.config)
    with connect(ctx.config.paths.kubeconfig) as api:
        apply_manifests(api, docs, manager=EXAMPLES_FIELD_MANAGER)

        def phases() -> list[str] | None:
            seen = []
            for doc in docs:
                if not doc["apiVersion"].startswith(API_VERSION):
                    continue  # a core object (the StorageClass) has no status to wait for
                meta = doc["metadata"]
                body = get_object(api, doc["kind"], meta["name"], meta.get("namespace"))
                phase = (body.get("status") or {}).get("phase")
                if not phase:
                    return None
                seen.append(f"{kind_named(doc['kind']).singular}/{meta['name']} {phase}")
            return seen

        try:
            seen = probe.wait_for("the examples reconciled", phases, timeout=30, interval=0.2)
        except StorageError as exc:
            return f"{len(docs)} applied; not all reconciled yet ({exc})"
    return f"{len(docs)} applied and reconciled: {', '.join(seen)}"
