"""The operator against the lab's real Ceph: CephBlockPool created -> Ready, the cost of a CephCluster
status refresh, and the operator's RSS and idle CPU with the examples applied.

    python -m bench operator [--runs N]      (N pools one at a time; default 20)

Runs its own lab in `.lab-bench-operator/` on ports 22800+ (beside a `make lab`), whose operator is
the process `make lab` starts (as its ServiceAccount), and takes it down afterwards.
"""

from __future__ import annotations

import os
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

from kubernetes import client

from bench.report import summarize, table, write_json
from storage_operator.api.meta import GROUP, VERSION
from storage_operator.kube.client import connect
from storage_operator.lab.ceph import mon_host
from storage_operator.lab.cluster import CEPH_ADMIN_SECRET
from storage_operator.lab.config import LabConfig
from storage_operator.lab.lab import Lab
from storage_operator.lab.operator import PROCESS_NAME

REPO = Path(__file__).resolve().parents[1]
PORT_BASE = 22800
NAMESPACE = "bench"
TICKS = os.sysconf("SC_CLK_TCK")
IDLE_SECONDS = 60
REFRESH_SECONDS = 2
REFRESH_WINDOW = 30


def run(runs: int = 20) -> dict[str, object]:
    config = LabConfig(root=REPO / ".lab-bench-operator", port_base=PORT_BASE)
    lab = Lab(config, say=lambda _: None)
    state = lab.up()
    failed = True
    try:
        record = state.process(PROCESS_NAME)
        assert record is not None
        with connect(config.paths.kubeconfig) as api:
            idle = _idle(record.pid, IDLE_SECONDS)
            custom = client.CustomObjectsApi(api)
            client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
            _create(custom, "cephclusters", "ceph", _cluster_spec(config))
            _wait_phase(custom, "cephclusters", "ceph", ("Ready", "Warning"), timeout=60)
            one_at_a_time = [_pool_ready(custom, f"seq-{i}") for i in range(runs)]
            deleted = _delete_all(custom, [f"seq-{i}" for i in range(runs)])
            burst = _burst(custom, runs)
            refresh = _refresh_cost(config, record.pid)
        failed = False
    finally:
        lab.down(keep_logs=failed)
    rows = [
        ("pool Ready (1 by 1)", summarize(one_at_a_time)),
        (f"pool Ready ({runs} at once)", summarize(burst)),
        (f"pool gone ({runs} at once)", summarize(deleted)),
    ]
    print(table(f"CephBlockPool created -> Ready ({runs} pools each way; target p50 < 1 s)", rows))
    print(
        f"\nCephCluster status refresh: {refresh['reconcile_ms']:.1f} ms per refresh (3 mon reads), "
        f"{refresh['cpu_ms']:.1f} ms of operator CPU each ({refresh['refreshes']} refreshes at "
        f"{REFRESH_SECONDS} s over {REFRESH_WINDOW} s)"
    )
    print(
        f"operator idle with the examples applied: RSS {idle['rss_mb']:.0f} MB (target < 150 MB), "
        f"CPU {idle['cpu_percent']:.2f} % over {IDLE_SECONDS} s (target < 1 %)"
    )
    result: dict[str, object] = {
        "pools": runs,
        "target_p50_seconds": 1.0,
        "pool_ready_one_at_a_time": summarize(one_at_a_time),
        "pool_ready_burst": summarize(burst),
        "pool_deleted_burst": summarize(deleted),
        "cluster_refresh": refresh,
        "idle": idle | {"target_rss_mb": 150, "target_cpu_percent": 1.0},
    }
    path = write_json("operator", result)
    print(f"wrote {path.relative_to(REPO)}")
    return result


def _cluster_spec(config: LabConfig) -> dict[str, Any]:
    return {
        "external": {
            "enable": True,
            "monHosts": [mon_host(config)],
            "secretRef": {"name": CEPH_ADMIN_SECRET, "namespace": config.operator_namespace},
        },
        "refreshIntervalSeconds": 30,
    }


def _create(custom: client.CustomObjectsApi, plural: str, name: str, spec: dict[str, Any]) -> None:
    kind = {"cephclusters": "CephCluster", "cephblockpools": "CephBlockPool"}[plural]
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}, "spec": spec}
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, plural, body)


def _phase(custom: client.CustomObjectsApi, plural: str, name: str) -> str | None:
    body = custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, plural, name)
    assert isinstance(body, dict)  # the custom-objects API returns JSON objects
    phase = (body.get("status") or {}).get("phase")
    return str(phase) if phase else None


def _wait_phase(
    custom: client.CustomObjectsApi, plural: str, name: str, phases: tuple[str, ...], *, timeout: float
) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if _phase(custom, plural, name) in phases:
            return time.monotonic()
        time.sleep(0.01)
    raise RuntimeError(f"{plural}/{name} not {phases} after {timeout} s: {_phase(custom, plural, name)}")


POOL_SPEC = {"clusterRef": {"name": "ceph"}, "failureDomain": "osd", "replicated": {"size": 3}}


def _pool_ready(custom: client.CustomObjectsApi, name: str) -> float:
    started = time.monotonic()
    _create(custom, "cephblockpools", name, POOL_SPEC)
    return _wait_phase(custom, "cephblockpools", name, ("Ready",), timeout=60) - started


def _burst(custom: client.CustomObjectsApi, count: int) -> list[float]:
    names = [f"burst-{i}" for i in range(count)]
    started = time.monotonic()
    for name in names:
        _create(custom, "cephblockpools", name, POOL_SPEC)
    done: dict[str, float] = {}
    while len(done) < count and time.monotonic() - started < 120:
        for name in names:
            if name not in done and _phase(custom, "cephblockpools", name) == "Ready":
                done[name] = time.monotonic() - started
        time.sleep(0.01)
    if len(done) < count:
        raise RuntimeError(f"only {len(done)} of {count} pools Ready after 120 s")
    return sorted(done.values())


def _delete_all(custom: client.CustomObjectsApi, names: list[str]) -> list[float]:
    """Delete the objects at once; seconds until each is gone (its pool removed from Ceph first)."""
    started = time.monotonic()
    for name in names:
        custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "cephblockpools", name)
    gone: dict[str, float] = {}
    while len(gone) < len(names) and time.monotonic() - started < 120:
        listed = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "cephblockpools")
        assert isinstance(listed, dict)
        present = {item["metadata"]["name"] for item in listed["items"]}
        for name in names:
            if name not in gone and name not in present:
                gone[name] = time.monotonic() - started
        time.sleep(0.02)
    if len(gone) < len(names):
        raise RuntimeError(f"only {len(gone)} of {len(names)} pools gone after 120 s")
    return sorted(gone.values())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


def _idle(pid: int, seconds: float) -> dict[str, float]:
    """CPU share and memory of the operator doing nothing but its timers, with the examples applied."""
    time.sleep(5)  # let the examples' first passes settle
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    cpu = cpu_seconds(pid) - cpu0
    return {"rss_mb": round(rss_mb(pid), 1), "cpu_percent": round(100 * cpu / (time.monotonic() - t0), 3)}


def _metric(config: LabConfig, name: str, labels: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{config.ports.operator_http}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    match = re.search(rf"^{re.escape(name)}{{{re.escape(labels)}}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _refresh_cost(config: LabConfig, pid: int) -> dict[str, float]:
    """Time and operator CPU one CephCluster status refresh costs (the cluster refreshed every 2 s)."""
    with connect(config.paths.kubeconfig) as api:
        client.CustomObjectsApi(api).patch_namespaced_custom_object(
            GROUP,
            VERSION,
            NAMESPACE,
            "cephclusters",
            "ceph",
            {"spec": {"refreshIntervalSeconds": REFRESH_SECONDS}},
            _content_type="application/merge-patch+json",
        )
    time.sleep(3)
    labels = 'kind="CephCluster"'
    count0 = _metric(config, "storage_operator_reconcile_duration_seconds_count", labels)
    sum0 = _metric(config, "storage_operator_reconcile_duration_seconds_sum", labels)
    cpu0 = cpu_seconds(pid)
    time.sleep(REFRESH_WINDOW)
    cpu = cpu_seconds(pid) - cpu0
    count = _metric(config, "storage_operator_reconcile_duration_seconds_count", labels) - count0
    total = _metric(config, "storage_operator_reconcile_duration_seconds_sum", labels) - sum0
    # The other clusters (the examples' lab and managed) refresh every 30 s and are in the counts too.
    refreshes = max(count, 1)
    return {
        "refreshes": int(count),
        "reconcile_ms": round(1000 * total / refreshes, 2),
        "cpu_ms": round(1000 * cpu / refreshes, 2),
    }
