"""The node agents in the lab: one process per simulated node, each scoped to its node's disks (loop
devices backed by files under .lab/disks/<node>/), each authenticated as the agent's ServiceAccount with
a token bound to its Node, so the admission policy that keeps an agent to its own node is exercised."""

from __future__ import annotations

import sys
from pathlib import Path

from storage_operator.errors import NotFound
from storage_operator.kube.apply import apply_manifests
from storage_operator.kube.client import connect
from storage_operator.kube.objects import get_object
from storage_operator.lab import probe
from storage_operator.lab.binaries import REPO_ROOT
from storage_operator.lab.config import LabConfig
from storage_operator.lab.context import LabContext
from storage_operator.lab.operator import WORKLOADS, kustomization_docs, write_token_kubeconfig
from storage_operator.lab.state import ProcessRecord

AGENT_MANIFESTS = REPO_ROOT / "manifests" / "agent"
SERVICE_ACCOUNT = "storage-agent"
# Lab disks are small and come and go in tests: rescan often; they are loop devices: consider them.
LAB_RESCAN_SECONDS = 10


def agent_process_name(node: str) -> str:
    return f"storage-agent.{node}"


def agent_kubeconfig(config: LabConfig, node: str) -> Path:
    return config.paths.kube / f"{SERVICE_ACCOUNT}.{node}.kubeconfig"


def node_disk_dir(config: LabConfig, node: str) -> Path:
    return config.paths.disks / node


def build_agent_argv(config: LabConfig, node: str, *, port: int, min_size: str = "1G") -> list[str]:
    return [
        sys.executable,
        "-m",
        "storage_operator",
        "agent",
        "--node",
        node,
        "--kubeconfig",
        str(agent_kubeconfig(config, node)),
        "--loop-backing-dir",
        str(node_disk_dir(config, node)),
        "--min-size",
        min_size,
        "--rescan",
        str(LAB_RESCAN_SECONDS),
        "--http",
        f"127.0.0.1:{port}",
    ]


def write_agent_kubeconfig(config: LabConfig, node: str, server: str, ca: Path) -> Path:
    with connect(config.paths.kubeconfig) as api:
        return write_token_kubeconfig(
            api,
            config,
            service_account=SERVICE_ACCOUNT,
            path=agent_kubeconfig(config, node),
            server=server,
            ca=ca,
            bound_node=node,
        )


def spawn_agents(ctx: LabContext) -> list[ProcessRecord]:
    """Install the agent's ServiceAccount, RBAC and admission policy; start one agent per node."""
    config = ctx.config
    with connect(config.paths.kubeconfig) as api:
        apply_manifests(api, kustomization_docs(AGENT_MANIFESTS, skip_kinds=WORKLOADS))
    records = []
    for index, node in enumerate(config.nodes):
        if node in config.real_nodes:
            continue  # its agent is the DaemonSet's pod
        node_disk_dir(config, node).mkdir(parents=True, exist_ok=True)
        write_agent_kubeconfig(config, node, ctx.apiserver_url, ctx.pki.ca)
        argv = build_agent_argv(config, node, port=config.ports.agent_http(index))
        records.append(ctx.spawn(agent_process_name(node), argv, cwd=REPO_ROOT))
    return records


def await_agents(ctx: LabContext) -> str:
    """Every node's DiskInventory published, with every disk of the node in it."""
    config = ctx.config
    records = tuple(r for r in ctx.state.processes if r.name.startswith("storage-agent."))

    def inventories() -> list[str] | None:
        seen = []
        with connect(config.paths.kubeconfig) as api:
            for node in config.nodes:
                try:
                    status = get_object(api, "DiskInventory", node).get("status") or {}
                except NotFound:
                    return None
                if status.get("deviceCount") != config.disks_per_node:
                    return None
                seen.append(f"{node} {status.get('availableCount')}/{status.get('deviceCount')}")
        return seen

    seen = probe.wait_for("every node's DiskInventory", inventories, timeout=60, interval=0.1, watch=records)
    who = f"{config.operator_namespace}/{SERVICE_ACCOUNT}"
    return f"{len(records)} agents as ServiceAccount {who}, tokens bound to their Nodes; available: {', '.join(seen)}"
