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
import subprocess
import time
from typing import Any

import yaml

from storage_operator.errors import LabError
from storage_operator.kube.apply import FIELD_MANAGER as APPLY_FIELD_MANAGER
from storage_operator.lab import probe
from storage_operator.lab.agents import node_disk_dir
from storage_operator.lab.binaries import REPO_ROOT
from storage_operator.lab.config import LabConfig
from storage_operator.lab.context import LabContext
from storage_operator.lab.operator import LAB_OPERATOR_ENV

LAB_OVERLAY = REPO_ROOT / "manifests" / "lab"
# The manager the lab's other applies use (the ServiceAccounts and RBAC went in before the workloads).
FIELD_MANAGER = APPLY_FIELD_MANAGER
OPERATOR = "storage-operator"
AGENT = "storage-agent"
AGENT_RESCAN_SECONDS = "10"
PART_OF = "app.kubernetes.io/part-of=storage-operator"


def _env(pairs: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in pairs.items()]


def render_instance_overlay(config: LabConfig, base: str) -> dict[str, Any]:
    """The generated kustomization on top of manifests/lab (``base``: its path relative to where the
    kustomization is written; kustomize takes no absolute path): this lab's ports and disks directory."""
    ns = config.operator_namespace
    api = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(config.ports.apiserver)}
    operator_port = config.ports.operator_http
    agent_port = config.ports.agent_http(config.nodes.index(config.real_nodes[0]))
    node_ip = {"valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}

    def container_patch(kind: str, name: str, container: str, env: list[dict[str, Any]], port: int) -> dict[str, Any]:
        body = {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": name, "namespace": ns},
            "spec": {"template": {"spec": {"containers": [{"name": container, "env": env}]}}},
        }
        port_op = [{"op": "replace", "path": "/spec/template/spec/containers/0/ports/0/containerPort", "value": port}]
        return {"strategic": body, "json": port_op}

    operator_env: list[dict[str, Any]] = [
        *_env(api),
        *_env(LAB_OPERATOR_ENV),
        {"name": "STORAGE_OPERATOR_HTTP_HOST", **node_ip},
        {"name": "STORAGE_OPERATOR_HTTP_PORT", "value": str(operator_port)},
    ]
    agent_env: list[dict[str, Any]] = [
        *_env(api),
        {"name": "STORAGE_AGENT_HTTP_PORT", "value": str(agent_port)},
        # The lab's disks are loop devices backed by files under .lab/disks/<node>/.
        {"name": "STORAGE_AGENT_LOOP_BACKING_DIR", "value": str(node_disk_dir(config, config.real_nodes[0]))},
        {"name": "STORAGE_AGENT_RESCAN_SECONDS", "value": AGENT_RESCAN_SECONDS},
    ]
    patches: list[dict[str, Any]] = []
    workloads: tuple[tuple[str, str, str, list[dict[str, Any]], int], ...] = (
        ("Deployment", OPERATOR, "operator", operator_env, operator_port),
        ("DaemonSet", AGENT, "agent", agent_env, agent_port),
    )
    for kind, name, container, env, port in workloads:
        p = container_patch(kind, name, container, env, port)
        patches.append({"patch": yaml.safe_dump(p["strategic"], sort_keys=False)})
        patches.append({"target": {"kind": kind, "name": name}, "patch": yaml.safe_dump(p["json"], sort_keys=False)})
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [base],
        "patches": patches,
    }


def kubectl(ctx: LabContext, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
    done = subprocess.run(
        [str(ctx.binaries.kubectl), "--kubeconfig", str(ctx.config.paths.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise LabError(f"kubectl {' '.join(args[:3])}: {done.stderr.strip()}")
    return done.stdout


def deploy_workloads(ctx: LabContext) -> str:
    overlay = ctx.config.paths.node / "overlay"
    overlay.mkdir(parents=True, exist_ok=True)
    doc = render_instance_overlay(ctx.config, os.path.relpath(LAB_OVERLAY, overlay))
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
    """Every project pod on the real node Running and Ready (one operator, one agent per real node);
    a pod whose container keeps failing ends the wait at once, with the end of its log."""
    expected = 1 + len(ctx.config.real_nodes)
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
    return f"{len(names)} pods Ready in {time.monotonic() - t0:.1f}s: {', '.join(sorted(names))}"
