"""The node agent: hot-plug latency (loop device attached/detached -> DiskInventory updated in the API),
a full scan of 30 devices, and the agent's RSS and idle CPU.

    python -m bench agent [--runs N]      (N attach/detach cycles; default 50)

Runs its own lab in `.lab-bench-agent/` on ports 22000+ and takes it down afterwards.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

from kubernetes import client

from bench.operator import cpu_seconds, rss_mb
from bench.report import summarize, table, write_json
from storage_operator.agent.scanner import Scanner, Scope
from storage_operator.kube.client import connect
from storage_operator.lab import loopdev
from storage_operator.lab.agents import agent_process_name, node_disk_dir
from storage_operator.lab.config import LabConfig
from storage_operator.lab.lab import Lab

REPO = Path(__file__).resolve().parents[1]
PORT_BASE = 22000
MiB = 1024**2
SCAN_DEVICES = 30
IDLE_SECONDS = 60


def run(runs: int = 50) -> dict[str, object]:
    config = LabConfig(root=REPO / ".lab-bench-agent", port_base=PORT_BASE)
    lab = Lab(config, say=lambda _: None)
    state = lab.up()
    node = config.nodes[0]
    failed = True
    try:
        record = state.process(agent_process_name(node))
        assert record is not None  # the lab starts one agent per node
        idle = _idle(record.pid)
        with connect(config.paths.kubeconfig) as api:
            custom = client.CustomObjectsApi(api)
            attach, detach = _hotplug(custom, config, node, runs)
        scans = _full_scans(config, node)
        failed = False
    finally:
        lab.down(keep_logs=failed)
    rows = [
        ("attach -> inventory", summarize(attach)),
        ("detach -> inventory", summarize(detach)),
        (f"full scan, {SCAN_DEVICES} devices", summarize(scans)),
    ]
    print(table(f"node agent hot-plug ({runs} cycles; target p95 < 0.3 s)", rows))
    print(
        f"agent idle: RSS {idle['rss_mb']:.0f} MB (target < 60 MB), CPU {idle['cpu_percent']:.2f} % over "
        f"{IDLE_SECONDS} s (target < 0.5 %)"
    )
    result: dict[str, object] = {
        "cycles": runs,
        "target_p95_seconds": 0.3,
        "attach": summarize(attach),
        "detach": summarize(detach),
        "full_scan_30_devices": summarize(scans),
        "idle": idle | {"target_rss_mb": 60, "target_cpu_percent": 0.5},
    }
    path = write_json("agent", result)
    print(f"wrote {path.relative_to(REPO)}")
    return result


def _names(custom: client.CustomObjectsApi, node: str) -> set[str]:
    body = custom.get_cluster_custom_object("storage.baremetal.io", "v1alpha1", "diskinventories", node)
    assert isinstance(body, dict)
    return {d["name"] for d in (body.get("status") or {}).get("devices", [])}


def _listed(custom: client.CustomObjectsApi, node: str, name: str, wanted: bool) -> bool:
    return (name in _names(custom, node)) == wanted


def _until(check: Callable[[], bool], timeout: float = 10) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.005)
    raise RuntimeError(f"not seen within {timeout} s")


def _hotplug(
    custom: client.CustomObjectsApi, config: LabConfig, node: str, runs: int
) -> tuple[list[float], list[float]]:
    """Seconds from `losetup` returning to the API showing the change, for attach and for detach."""
    backing = node_disk_dir(config, node) / "hotplug.img"
    loopdev.create_sparse_file(backing, 256 * MiB)
    attach, detach = [], []
    for _ in range(runs):
        t0 = time.monotonic()
        device = loopdev.attach(backing)
        name = Path(device).name
        attach.append(time.monotonic() - t0 + _until(functools.partial(_listed, custom, node, name, True)))
        t1 = time.monotonic()
        loopdev.detach(device)
        detach.append(time.monotonic() - t1 + _until(functools.partial(_listed, custom, node, name, False)))
    backing.unlink()
    return attach, detach


def _full_scans(config: LabConfig, node: str) -> list[float]:
    """The agent's own scan (enumerate, probe every device, read-only) over 30 devices, five times."""
    directory = node_disk_dir(config, node) / "scan"
    devices = []
    try:
        for i in range(SCAN_DEVICES):
            backing = directory / f"d{i}.img"
            loopdev.create_sparse_file(backing, 256 * MiB)
            devices.append(loopdev.attach(backing))
        scanner = Scanner(scope=Scope(loop_backing_dir=directory))
        samples = []
        for _ in range(5):
            started = time.monotonic()
            found, _swaps = scanner.scan()  # None: probe every device again, as the periodic rescan does
            samples.append(time.monotonic() - started)
            assert len(found) == SCAN_DEVICES
        return samples
    finally:
        for device in devices:
            loopdev.detach(device)


def _idle(pid: int) -> dict[str, float]:
    time.sleep(3)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(IDLE_SECONDS)
    cpu = cpu_seconds(pid) - cpu0
    return {"rss_mb": round(rss_mb(pid), 1), "cpu_percent": round(100 * cpu / (time.monotonic() - t0), 3)}
