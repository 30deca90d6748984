"""The project's workloads on the real node (LAB_PROFILE=node): manifests/lab (manifests/operator and
manifests/agent with the lab's image) plus a generated overlay with what differs per lab instance,
rendered by kustomize (kubectl's), applied, and awaited until every pod is Ready.

In-cluster clients find the API server through KUBERNETES_SERVICE_HOST/PORT, which the kubelet sets to
the `kubernetes` Service's cluster IP; the lab runs no kube-proxy and its API server listens on
127.0.0.1, so the overlay points them there (the pods are on the host network).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import yaml

from storage_operator.errors import LabError
from storage_operator.kube.apply import FIELD_MANAGER as APPLY_FIELD_MANAGER
from storage_operator.lab import probe
from storage_operator.lab.agents import node_disk_dir
from storage_operator.lab.binaries import REPO_ROOT
from storage_operator.lab.ceph import mon_host
from storage_operator.lab.config import CSI_DRIVERS, LabConfig
from storage_operator.lab.context import LabContext
from storage_operator.lab.kubectl import kubectl
from storage_operator.lab.kubelet import kubelet_dir
from storage_operator.lab.operator import LAB_OPERATOR_ENV

LAB_OVERLAY = REPO_ROOT / "manifests" / "lab"
# The manager the lab's other applies use (the ServiceAccounts and RBAC went in before the workloads).
FIELD_MANAGER = APPLY_FIELD_MANAGER
OPERATOR = "storage-operator"
AGENT = "storage-agent"
AGENT_RESCAN_SECONDS = "10"
PART_OF = "app.kubernetes.io/part-of=storage-operator"
CSI_CONFIG = "storage-csi-config"
CSI_DRIVER_SUFFIX = ".csi.storage.baremetal.io"


def _env(pairs: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in pairs.items()]


def _find(items: list[dict[str, Any]], key: str, value: str, where: str) -> int:
    for index, item in enumerate(items):
        if item.get(key) == value:
            return index
    raise LabError(f"manifests/lab: {where} has no entry with {key} {value!r} (the lab overlay needs it)")


class _Patcher:
    """JSON patches (RFC 6902) against the documents of manifests/lab as kustomize renders them: entries
    are found by name here, so the manifests may reorder their lists freely."""

    def __init__(self, base: list[dict[str, Any]]) -> None:
        self.base = base
        self.ops: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def doc(self, kind: str, name: str) -> dict[str, Any]:
        for doc in self.base:
            if doc["kind"] == kind and doc["metadata"]["name"] == name:
                return doc
        raise LabError(f"manifests/lab renders no {kind} {name} (the lab overlay needs it)")

    def op(self, kind: str, name: str, op: str, path: str, value: Any) -> None:
        self.ops.setdefault((kind, name), []).append({"op": op, "path": path, "value": value})

    def container(self, kind: str, name: str, container: str) -> tuple[str, dict[str, Any]]:
        containers = self.doc(kind, name)["spec"]["template"]["spec"]["containers"]
        index = _find(containers, "name", container, f"{kind} {name}")
        return f"/spec/template/spec/containers/{index}", containers[index]

    def env(self, kind: str, name: str, container: str, env: list[dict[str, Any]]) -> None:
        """Set these variables (replacing any of the same name the manifest has)."""
        path, body = self.container(kind, name, container)
        existing = body.get("env") or []
        if not existing:
            self.op(kind, name, "add", f"{path}/env", [])
        for var in env:
            try:
                index = _find(existing, "name", var["name"], f"{kind} {name}")
                self.op(kind, name, "replace", f"{path}/env/{index}", var)
            except LabError:
                self.op(kind, name, "add", f"{path}/env/-", var)

    def port(self, kind: str, name: str, container: str, port_name: str, port: int) -> None:
        path, body = self.container(kind, name, container)
        index = _find(body.get("ports") or [], "name", port_name, f"{kind} {name}")
        self.op(kind, name, "replace", f"{path}/ports/{index}/containerPort", port)

    def host_path(self, kind: str, name: str, volume: str, path: str, mounted_at_same_path: bool = False) -> None:
        """Point a hostPath volume at ``path``; with ``mounted_at_same_path`` the container sees it at that
        path too (the kubelet hands CSI plugins host paths under its root dir)."""
        pod = self.doc(kind, name)["spec"]["template"]["spec"]
        index = _find(pod["volumes"], "name", volume, f"{kind} {name}")
        self.op(kind, name, "replace", f"/spec/template/spec/volumes/{index}/hostPath/path", path)
        if mounted_at_same_path:
            for c_index, container in enumerate(pod["containers"]):
                for m_index, mount in enumerate(container.get("volumeMounts") or []):
                    if mount["name"] == volume:
                        where = f"/spec/template/spec/containers/{c_index}/volumeMounts/{m_index}/mountPath"
                        self.op(kind, name, "replace", where, path)

    def arg(self, kind: str, name: str, container: str, flag: str, value: str) -> None:
        path, body = self.container(kind, name, container)
        args = body.get("args") or []
        for index, arg in enumerate(args):
            if arg.startswith(f"{flag}="):
                self.op(kind, name, "replace", f"{path}/args/{index}", f"{flag}={value}")
                return
        raise LabError(f"manifests/lab: {kind} {name} container {container} has no {flag}= argument")

    def patches(self) -> list[dict[str, Any]]:
        return [
            {"target": {"kind": kind, "name": name}, "patch": yaml.safe_dump(ops, sort_keys=False)}
            for (kind, name), ops in self.ops.items()
        ]


def render_instance_overlay(config: LabConfig, base_docs: list[dict[str, Any]], base: str) -> dict[str, Any]:
    """The generated kustomization on top of manifests/lab (``base``: its path relative to where the
    kustomization is written; kustomize takes no absolute path; ``base_docs``: what manifests/lab
    renders): this lab's API server, ports, Ceph monitors, kubelet root dir and disks directory."""
    (node,) = config.real_nodes
    ports = config.ports
    api = _env({"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(ports.apiserver)})
    pod_ip: dict[str, Any] = {"valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
    p = _Patcher(base_docs)

    p.env(
        "Deployment",
        OPERATOR,
        "operator",
        [
            *api,
            *_env(LAB_OPERATOR_ENV),
            {"name": "STORAGE_OPERATOR_HTTP_HOST", **pod_ip},
            {"name": "STORAGE_OPERATOR_HTTP_PORT", "value": str(ports.operator_http)},
        ],
    )
    p.port("Deployment", OPERATOR, "operator", "http", ports.operator_http)

    agent_port = ports.agent_http(config.nodes.index(node))
    p.env(
        "DaemonSet",
        AGENT,
        "agent",
        [
            *api,
            {"name": "STORAGE_AGENT_HTTP_PORT", "value": str(agent_port)},
            # The lab's disks are loop devices backed by files under .lab/disks/<node>/.
            {"name": "STORAGE_AGENT_LOOP_BACKING_DIR", "value": str(node_disk_dir(config, node))},
            {"name": "STORAGE_AGENT_RESCAN_SECONDS", "value": AGENT_RESCAN_SECONDS},
        ],
    )
    p.port("DaemonSet", AGENT, "agent", "http", agent_port)

    kubelet_root = kubelet_dir(config)
    for driver in CSI_DRIVERS:
        ds = f"csi-{driver}-node"
        plugin_dir = kubelet_root / "plugins" / f"{driver}{CSI_DRIVER_SUFFIX}"
        metrics = f"{config.node_network.node_ip}:{ports.csi_node_metrics(driver)}"
        p.env("DaemonSet", ds, "plugin", [{"name": "CSI_METRICS_ADDRESS", "value": metrics}])
        p.port("DaemonSet", ds, "plugin", "metrics", ports.csi_node_metrics(driver))
        p.arg("DaemonSet", ds, "plugin", "--kubelet-registration-path", str(plugin_dir / "csi.sock"))
        p.host_path("DaemonSet", ds, "socket-dir", str(plugin_dir))
        p.host_path("DaemonSet", ds, "registration-dir", str(kubelet_root / "plugins_registry"))
        p.host_path("DaemonSet", ds, "kubelet-dir", str(kubelet_root), mounted_at_same_path=True)
        p.host_path("DaemonSet", ds, "state-dir", str(config.paths.node / "csi-state" / driver))
    # Looked up first: kustomize silently skips a patch whose target is missing, and the monitors shipped
    # in manifests/csi/config.yaml are only the default lab's.
    if "monitors" not in (p.doc("ConfigMap", CSI_CONFIG).get("data") or {}):
        raise LabError(f"manifests/lab: ConfigMap {CSI_CONFIG} has no data.monitors (the lab overlay sets it)")
    p.op("ConfigMap", CSI_CONFIG, "replace", "/data/monitors", mon_host(config))
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [base],
        "patches": p.patches(),
    }


def deploy_workloads(ctx: LabContext) -> str:
    overlay = ctx.config.paths.node / "overlay"
    overlay.mkdir(parents=True, exist_ok=True)
    base_docs = [d for d in yaml.safe_load_all(kubectl(ctx, "kustomize", str(LAB_OVERLAY))) if d]
    doc = render_instance_overlay(ctx.config, base_docs, os.path.relpath(LAB_OVERLAY, overlay))
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    rendered = kubectl(ctx, "kustomize", str(overlay))
    (overlay / "rendered.yaml").write_text(rendered)
    kubectl(ctx, "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-", stdin=rendered)
    kinds = [d["kind"] for d in yaml.safe_load_all(rendered) if d]
    workloads = f"{kinds.count('Deployment')} Deployment, {kinds.count('DaemonSet')} DaemonSet"
    return f"{len(kinds)} objects from manifests/lab (kustomize), {workloads}"


def project_pods(ctx: LabContext) -> list[dict[str, Any]]:
    out = kubectl(ctx, "get", "pods", "-n", ctx.config.operator_namespace, "-l", PART_OF, "-o", "json")
    pods: list[dict[str, Any]] = json.loads(out)["items"]
    return pods


def registered_drivers(ctx: LabContext, node: str) -> set[str]:
    """The CSI drivers a node's kubelet has registered (its CSINode object)."""
    try:
        body = json.loads(kubectl(ctx, "get", "csinode", node, "-o", "json"))
    except LabError:
        return set()
    return {d["name"] for d in body.get("spec", {}).get("drivers") or []}


def pod_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return pod.get("metadata", {}).get("deletionTimestamp") is None and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
    )


def _failing(pod: dict[str, Any]) -> tuple[str, str] | None:
    """A container that keeps failing (crash loop, image missing): (container, reason). No reason to wait
    the full timeout for it."""
    for status in pod.get("status", {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in {"CrashLoopBackOff", "ErrImageNeverPull", "CreateContainerConfigError"}:
            return status["name"], waiting["reason"]
    return None


def await_workloads(ctx: LabContext, *, timeout: float = 90) -> str:
    """Every project pod on the real node Running and Ready (one operator; an agent and a CSI node plugin
    per driver on each real node), and the CSI plugins registered with the kubelet (its CSINode lists
    them);
    a pod whose container keeps failing ends the wait at once, with the end of its log."""
    expected = 1 + (1 + len(CSI_DRIVERS)) * len(ctx.config.real_nodes)
    ns = ctx.config.operator_namespace
    t0 = time.monotonic()
    failing: list[tuple[str, str, str]] = []

    def ready() -> list[str] | None:
        pods = project_pods(ctx)
        for pod in pods:
            found = _failing(pod)
            if found:
                failing.append((pod["metadata"]["name"], *found))
                return ["failing"]
        names = [p["metadata"]["name"] for p in pods if pod_ready(p)]
        return names if len(names) >= expected else None

    names = probe.wait_for("the project's pods Ready", ready, timeout=timeout, interval=0.25)
    if failing:
        pod, container, reason = failing[0]
        try:
            log = kubectl(ctx, "logs", "-n", ns, pod, "-c", container, "--previous", "--tail=15")
        except LabError as exc:
            log = str(exc)
        raise LabError(f"pod {ns}/{pod} container {container}: {reason}; its last log lines:\n{log}")
    wanted = {f"{d}{CSI_DRIVER_SUFFIX}" for d in CSI_DRIVERS}
    for node in ctx.config.real_nodes:

        def registered(node: str = node) -> bool:
            return wanted <= registered_drivers(ctx, node)

        probe.wait_for(f"the CSI plugins registered with the kubelet of {node}", registered, timeout=30, interval=0.25)
    return f"{len(names)} pods Ready in {time.monotonic() - t0:.1f}s: {', '.join(sorted(names))}"
