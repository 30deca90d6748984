"""Managed Ceph on the real node: how long a managed CephCluster takes from `kubectl apply` to HEALTH_OK
with 3 OSDs up and in (target < 30 s), how long each OSD spends being prepared (the agent's checks and
ceph-osd --mkfs) and started (its pod until the OSD map says up), and how long removing an OSD that
holds data takes (out, drained, purged, its device wiped).

    python -m bench managed [--runs N] [--param gib=1]

Its own node-profile lab in `.lab-bench-managed/` on ports 23200+, without the lab's own managed example
(the clock starts at this benchmark's apply). Each run applies a cluster like the lab's example on
node-a's three loop disks, writes `gib` GiB into a size-2 pool, deletes one CephOSD (the cluster's
cleanupPolicy confirms wiping), then deletes the pool and the cluster (disks wiped for the next run).
Phases are read from the objects every 100 ms.
"""

from __future__ import annotations

import base64
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client

from bench.report import summarize, table, write_json
from storage_operator.errors import NotFound
from storage_operator.kube import objects
from storage_operator.kube.client import connect
from storage_operator.lab.config import LabConfig
from storage_operator.lab.lab import Lab
from storage_operator.lab.operator import managed_on_real_node

REPO = Path(__file__).resolve().parents[1]
PORT_BASE = 23200
NS = "storage-system"
GROUP, VERSION = "storage.baremetal.io", "v1alpha1"
POLL = 0.1
T = TypeVar("T")


def _until(what: str, probe: Callable[[], T | None], timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(POLL)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


class Bench:
    def __init__(self, config: LabConfig, api: client.ApiClient) -> None:
        self.config = config
        self.api = api
        self.core = client.CoreV1Api(api)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        try:
            return objects.get_object(self.api, kind, name, NS)
        except NotFound:
            return None

    def phase(self, kind: str, name: str) -> str | None:
        status = (self.get(kind, name) or {}).get("status") or {}
        return status.get("phase")

    def osds(self, cluster: str) -> dict[str, dict[str, Any]]:
        items = objects.list_objects(self.api, "CephOSD", NS)
        mine = [i for i in items if (i["metadata"].get("labels") or {}).get("storage.baremetal.io/cluster") == cluster]
        return {i["metadata"]["name"]: i for i in mine}

    def create(self, body: dict[str, Any]) -> None:
        objects.create_object(self.api, body)

    def delete(self, kind: str, name: str) -> None:
        objects.delete_object(self.api, kind, name, NS)

    def ceph(self, cluster: str, *args: str) -> bytes:
        where = self.config.root / "bench" / cluster
        where.mkdir(parents=True, exist_ok=True)
        conf = (self.core.read_namespaced_config_map(f"{cluster}-ceph-config", NS).data or {})["ceph.conf"]
        secret = self.core.read_namespaced_secret(f"{cluster}-ceph-admin", NS).data or {}
        key = base64.b64decode(secret["userKey"]).decode()
        (where / "ceph.conf").write_text(conf)
        keyring = where / "keyring"
        keyring.write_text(f"[client.admin]\n\tkey = {key}\n")
        keyring.chmod(0o600)
        argv = [args[0], "-c", str(where / "ceph.conf"), "-k", str(keyring), *args[1:]]
        return subprocess.run(argv, capture_output=True, check=True, timeout=600).stdout


def cluster_body(config: LabConfig, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"cleanupPolicy": {"confirmation": "yes-really-destroy-data"}, "refreshIntervalSeconds": 10}
    managed_on_real_node(spec, config)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "CephCluster",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def one_run(bench: Bench, index: int, gib: int) -> dict[str, Any]:
    name = f"bench-{index}"
    t0 = time.monotonic()
    bench.create(cluster_body(bench.config, name))
    seen: dict[str, dict[str, float]] = {}

    def healthy() -> float | None:
        now = time.monotonic() - t0
        for osd, item in bench.osds(name).items():
            phase = (item.get("status") or {}).get("phase") or "Pending"
            seen.setdefault(osd, {}).setdefault(phase, now)
        body = bench.get("CephCluster", name) or {}
        status = body.get("status") or {}
        ok = status.get("phase") == "Ready" and (status.get("ceph") or {}).get("health") == "HEALTH_OK"
        return now if ok and (status.get("summary") or {}).get("osds") == "3/3" else None

    to_health = _until("HEALTH_OK with 3 OSDs", healthy, timeout=180)
    prepare = [p["Prepared"] - p["Preparing"] for p in seen.values() if "Prepared" in p and "Preparing" in p]
    start = [p["Running"] - p["Prepared"] for p in seen.values() if "Running" in p and "Prepared" in p]
    # 1 GiB (or gib) of objects into a size-2 pool spread over OSDs, then one OSD removed.
    bench.create(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "CephBlockPool",
            "metadata": {"name": f"{name}-data", "namespace": NS},
            "spec": {"clusterRef": {"name": name}, "failureDomain": "osd", "replicated": {"size": 2}},
        },
    )
    _until("pool Ready", lambda: True if bench.phase("CephBlockPool", f"{name}-data") == "Ready" else None, 60)
    blob = bench.config.root / "bench" / "blob"
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(os.urandom(64 * 1024**2))
    for i in range(gib * 16):
        bench.ceph(name, "rados", "-p", f"{name}-data", "put", f"object-{i}", str(blob))
    victim = sorted(bench.osds(name))[0]
    t1 = time.monotonic()
    bench.delete("CephOSD", victim)
    phases: dict[str, float] = {}

    def removed() -> float | None:
        item = bench.get("CephOSD", victim)
        now = time.monotonic() - t1
        if item is None or item["metadata"]["uid"] != uid:
            return now
        phases.setdefault((item.get("status") or {}).get("phase") or "?", now)
        return None

    uid = (bench.get("CephOSD", victim) or {}).get("metadata", {}).get("uid")
    removal = _until("the OSD removed", removed, timeout=600)
    # Leave nothing for the next run: the pool, then the cluster (its disks wiped).
    bench.delete("CephBlockPool", f"{name}-data")
    _until("pool gone", lambda: True if bench.get("CephBlockPool", f"{name}-data") is None else None, 120)
    bench.delete("CephCluster", name)
    _until("cluster gone", lambda: True if bench.get("CephCluster", name) is None else None, 300)
    return {
        "health_seconds": to_health,
        "prepare_seconds": prepare,
        "start_seconds": start,
        "removal_seconds": removal,
        "removal_phases": phases,
    }


def _all(results: list[dict[str, Any]], key: str) -> list[float]:
    return [float(s) for r in results for s in r[key]]


def run(runs: int = 3, gib: int = 1) -> dict[str, object]:
    config = LabConfig(root=REPO / ".lab-bench-managed", port_base=PORT_BASE, profile="node")
    lab = Lab(config, say=lambda _: None)
    lab.up()
    results = []
    try:
        with connect(config.paths.kubeconfig) as api:
            bench = Bench(config, api)
            for i in range(runs):
                results.append(one_run(bench, i, gib))
                r = results[-1]
                print(
                    f"run {i + 1}/{runs}: HEALTH_OK with 3 OSDs after {r['health_seconds']:.1f} s; "
                    f"removal of an OSD holding {gib} GiB (x2 copies) {r['removal_seconds']:.1f} s "
                    f"{r['removal_phases']}",
                    flush=True,
                )
    finally:
        lab.down(keep_logs=True)
    rows = [
        ("apply -> HEALTH_OK, 3 OSDs up+in", summarize([r["health_seconds"] for r in results])),
        (
            "per OSD: Preparing -> Prepared (agent checks + mkfs)",
            summarize([s for r in results for s in r["prepare_seconds"]]),
        ),
        (
            "per OSD: Prepared -> Running (pod, up in OSD map)",
            summarize([s for r in results for s in r["start_seconds"]]),
        ),
        (f"removal of an OSD holding {gib} GiB", summarize([r["removal_seconds"] for r in results])),
    ]
    print(table(f"managed Ceph on the real node ({runs} runs; target: HEALTH_OK with 3 OSDs < 30 s)", rows))
    result: dict[str, object] = {
        "runs": runs,
        "gib": gib,
        "target_health_seconds": 30,
        "rows": dict(rows),
        "raw": results,
    }
    path = write_json("managed", result)
    print(f"wrote {path.relative_to(REPO)}")
    return result
