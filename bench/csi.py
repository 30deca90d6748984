"""The CSI driver: CreateVolume latency (one at a time, and 100 at once) and NodeStage+NodePublish latency,
for CephFS subvolumes and RBD images, against the lab's real Ceph through the plugins' gRPC sockets.

    python -m bench csi [--runs N]      (N serial creates per driver, default 50)

Targets (DESIGN.md): CreateVolume p50 < 50 ms; 100 concurrent all done < 3 s. For scale: a subvolume
create through the mgr takes about 14 ms here, an RBD image create 6 ms, an omap journal write 1.2 ms;
ceph-csi users report about 2.4 s per volume in bursts. Runs its own lab in `.lab-bench-csi/` on ports
22400+ and takes it down afterwards.
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from pathlib import Path
from typing import Any

import grpc

from bench.report import summarize, table, write_json
from csi.params import DEFAULT_RBD_FEATURES
from csi.proto import csi_pb2
from storage_operator.ceph import images, subvolumes
from storage_operator.lab.config import LabConfig
from storage_operator.lab.lab import Lab
from tests.csi_support import Driver, Plugin, plugin
from tests.support import LabHandle

REPO = Path(__file__).resolve().parents[1]
PORT_BASE = 22400
GiB = 1024**3
BURST = 100
STAGE_RUNS = 10
TARGET_P50 = 0.050
TARGET_BURST = 3.0


def _create(p: Plugin, name: str) -> tuple[str, float]:
    started = time.perf_counter()
    volume = p.create(name, size=GiB)
    return volume.volume_id, time.perf_counter() - started


def _serial(p: Plugin, runs: int) -> tuple[list[float], list[str]]:
    samples, ids = [], []
    for i in range(runs):
        volume_id, took = _create(p, f"bench-serial-{i}-{uuid.uuid4().hex[:6]}")
        samples.append(took)
        ids.append(volume_id)
    return samples, ids


def _burst(p: Plugin, n: int) -> tuple[float, list[float], list[str]]:
    names = [f"bench-burst-{i}-{uuid.uuid4().hex[:6]}" for i in range(n)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        started = time.perf_counter()
        results = list(pool.map(lambda name: _create(p, name), names))
        wall = time.perf_counter() - started
    return wall, [took for _, took in results], [vid for vid, _ in results]


def _stage_publish(p: Plugin, runs: int) -> tuple[list[float], list[float]]:
    stage_publish, teardown = [], []
    for i in range(runs):
        volume = p.create(f"bench-stage-{i}-{uuid.uuid4().hex[:6]}", size=GiB)
        staging, target = p.scratch("staging"), p.scratch("target")
        started = time.perf_counter()
        p.stage(volume, staging)
        p.publish(volume, staging, target)
        stage_publish.append(time.perf_counter() - started)
        started = time.perf_counter()
        p.unpublish(volume.volume_id, target)
        p.unstage(volume.volume_id, staging)
        teardown.append(time.perf_counter() - started)
        p.delete(volume.volume_id)
    return stage_publish, teardown


def _delete_all(p: Plugin, ids: list[str]) -> list[float]:
    samples = []
    for volume_id in ids:
        started = time.perf_counter()
        p.delete(volume_id)
        samples.append(time.perf_counter() - started)
    return samples


def _floor(handle: LabHandle, driver: Driver, runs: int) -> tuple[list[float], float]:
    """What Ceph alone takes for the same creates (admin client, no driver): the serial latencies and the
    wall time of BURST at once. The difference to the driver's numbers is the driver's own cost."""
    location = "shared" if driver == "cephfs" else "replicapool"

    ceph = handle.ceph()  # one librados connection, shared by the threads (as the plugin's session does)
    ceph.connect()

    def make(name: str) -> float:
        started = time.perf_counter()
        if driver == "cephfs":
            ceph.run(subvolumes.build_subvolume_create(location, name, size=GiB, group="csi"))
        else:
            images.create_image(ceph, location, name, GiB, features=DEFAULT_RBD_FEATURES)
        return time.perf_counter() - started

    def remove(name: str) -> None:
        if driver == "cephfs":
            ceph.run(subvolumes.build_subvolume_rm(location, name, group="csi"))
        else:
            images.remove_image(ceph, location, name)

    names = [f"floor-{uuid.uuid4().hex[:8]}" for _ in range(runs)]
    serial = [make(n) for n in names]
    burst_names = [f"floor-{uuid.uuid4().hex[:8]}" for _ in range(BURST)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        started = time.perf_counter()
        list(pool.map(make, burst_names))
        wall = time.perf_counter() - started
        list(pool.map(remove, names + burst_names))
    ceph.shutdown()
    return serial, wall


def _one_driver(handle: LabHandle, driver: Driver, runs: int) -> dict[str, Any]:
    with plugin(handle, driver) as p:
        p.create(f"bench-warmup-{uuid.uuid4().hex[:6]}", size=GiB)  # connections, the subvolume group
        serial, ids = _serial(p, runs)
        wall, burst, burst_ids = _burst(p, BURST)
        deletes = _delete_all(p, ids + burst_ids)
        stage, unstage = _stage_publish(p, STAGE_RUNS)
        for entry in p.controller.ListVolumes(csi_pb2.ListVolumesRequest()).entries:
            p.delete(entry.volume.volume_id)  # the warm-up volume
    floor, floor_wall = _floor(handle, driver, min(runs, 30))
    return {
        "ceph_alone_create_serial": summarize(floor),
        "ceph_alone_burst_wall_seconds": floor_wall,
        "create_serial": summarize(serial),
        "create_burst_wall_seconds": wall,
        "create_burst_per_request": summarize(burst),
        "delete_serial": summarize(deletes),
        "stage_publish": summarize(stage),
        "unpublish_unstage": summarize(unstage),
    }


def run(runs: int = 50) -> dict[str, object]:
    config = LabConfig(root=REPO / ".lab-bench-csi", port_base=PORT_BASE)
    lab = Lab(config, say=lambda _: None)
    state = lab.up()
    handle = LabHandle(config=config, state=state)
    failed = True
    results: dict[str, Any] = {}
    try:
        for driver in ("cephfs", "rbd"):
            results[driver] = _one_driver(handle, driver, runs)
        failed = False
    except grpc.RpcError as exc:
        print(f"benchmark failed: {exc.code()} {exc.details()}")
        raise
    finally:
        lab.down(keep_logs=failed)
    for driver, r in results.items():
        rows = [
            ("Ceph alone, serial", r["ceph_alone_create_serial"]),
            ("CreateVolume, serial", r["create_serial"]),
            (f"CreateVolume, {BURST} at once", r["create_burst_per_request"]),
            ("DeleteVolume, serial", r["delete_serial"]),
            ("NodeStage+Publish", r["stage_publish"]),
            ("NodeUnpublish+Unstage", r["unpublish_unstage"]),
        ]
        print(table(f"{driver}: {runs} serial creates, {BURST} concurrent, {STAGE_RUNS} stage+publish (1 GiB)", rows))
        p50_ok = "met" if r["create_serial"]["p50"] < TARGET_P50 else "MISSED"
        burst_ok = "met" if r["create_burst_wall_seconds"] < TARGET_BURST else "MISSED"
        print(
            f"  {driver}: CreateVolume p50 {r['create_serial']['p50'] * 1000:.1f} ms (target < 50 ms: {p50_ok}); "
            f"{BURST} concurrent all done in {r['create_burst_wall_seconds']:.2f} s (target < 3 s: {burst_ok}); "
            f"Ceph alone: p50 {r['ceph_alone_create_serial']['p50'] * 1000:.1f} ms, {BURST} at once "
            f"{r['ceph_alone_burst_wall_seconds']:.2f} s"
        )
    result: dict[str, object] = {
        "runs": runs,
        "burst": BURST,
        "stage_runs": STAGE_RUNS,
        "targets": {"create_p50_seconds": TARGET_P50, "burst_all_done_seconds": TARGET_BURST},
        "reference": {"ceph_csi_burst_seconds_per_volume": 2.4},
        **results,
    }
    path = write_json("csi", result)
    print(f"wrote {path.relative_to(REPO)}")
    return result
