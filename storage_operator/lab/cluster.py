"""Objects the lab puts into its API server: the simulated Nodes and the Ceph admin Secret."""

from __future__ import annotations

import yaml

from storage_operator.kube.client import connect
from storage_operator.kube.core import ensure_namespace, ensure_node, ensure_secret
from storage_operator.kube.crds import apply_crds
from storage_operator.lab.binaries import REPO_ROOT
from storage_operator.lab.ceph import admin_secret_data
from storage_operator.lab.context import LabContext

LAB_NODE_LABEL = "storage.baremetal.io/lab-node"
# What the scheduler sees of a simulated node: pods can be placed on it (they never run: no kubelet).
SIMULATED_NODE_CAPACITY = {"cpu": "4", "memory": "8Gi", "pods": "110"}
CEPH_ADMIN_SECRET = "ceph-admin"  # noqa: S105 (a Secret name)


def register_nodes(ctx: LabContext) -> str:
    """The simulated nodes (a real node's kubelet registers its own Node)."""
    with connect(ctx.config.paths.kubeconfig) as api:
        for node in ctx.config.simulated_nodes:
            ensure_node(
                api,
                name=node,
                labels={"kubernetes.io/hostname": node, "kubernetes.io/os": "linux", LAB_NODE_LABEL: "true"},
                ready_reason="LabSimulatedNode",
                ready_message="simulated by the storage-operator lab: registered in the API, no kubelet",
                capacity=SIMULATED_NODE_CAPACITY,
            )
    real = f"; {', '.join(ctx.config.real_nodes)} registered by its kubelet" if ctx.config.real_nodes else ""
    return ", ".join(ctx.config.simulated_nodes) + real


def store_ceph_secret(ctx: LabContext) -> str:
    ns = ctx.config.operator_namespace
    with connect(ctx.config.paths.kubeconfig) as api:
        ensure_namespace(api, ns)
        ensure_secret(
            api,
            namespace=ns,
            name=CEPH_ADMIN_SECRET,
            string_data=admin_secret_data(ctx.config),
            labels={"app.kubernetes.io/part-of": "storage-operator-lab"},
        )
    return f"Secret {ns}/{CEPH_ADMIN_SECRET} (userID, userKey, monHost, fsid, keyring)"


CRD_DIR = REPO_ROOT / "manifests" / "crds"


def install_crds(ctx: LabContext) -> str:
    """The project's CRDs (generated into manifests/crds/), established and served."""
    docs = [yaml.safe_load(path.read_text()) for path in sorted(CRD_DIR.glob("*.yaml"))]
    with connect(ctx.config.paths.kubeconfig) as api:
        names = apply_crds(api, docs)
    kinds = ", ".join(doc["spec"]["names"]["kind"] for doc in docs)
    return f"{len(names)} CRDs established: {kinds}"
