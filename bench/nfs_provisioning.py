"""NFS provisioning: PVC created -> Bound through the operator's NFS provisioner (StorageClass `nfs`), one at
a time and in a burst, and the same burst through nfs-subdir-external-provisioner (the program users would
otherwise run) on the same lab; then every claim deleted -> every PV gone.

    python -m bench nfs_provisioning [--runs N] [--param burst=500] [--param ours=false] [--param peer=false]

N claims one at a time (default 50), then `burst` claims (default 500) created at once from 16 threads;
Bound is seen through a watch started before the creates. Records the operator's peak RSS and CPU seconds
during the burst, and kube-controller-manager's client QPS/burst, which bounds every provisioner here
(its PV binder's writes go through it).

Runs its own lab in `.lab-bench-nfs/` on ports 23200+ and takes it down afterwards. The peer is built by
hack/build-peer.sh (run from here when it is missing) and runs as a process of that lab, in its own mount
namespace with the lab's export bind-mounted at /persistentvolumes (that directory is created for the run
when missing and removed after).
"""

from __future__ import annotations

import contextlib
import functools
import json
import operator
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

import urllib3
from kubernetes import client

from bench.operator import cpu_seconds, rss_mb
from bench.report import summarize, table, write_json
from storage_operator.kube.client import connect
from storage_operator.lab import processes
from storage_operator.lab.config import LabConfig
from storage_operator.lab.lab import Lab
from storage_operator.lab.nfs import EXPORT_PSEUDO
from storage_operator.lab.operator import PROCESS_NAME
from storage_operator.lab.state import LabState, ProcessRecord

REPO = Path(__file__).resolve().parents[1]
PORT_BASE = 23200
NAMESPACE = "bench"
THREADS = 16
OURS_CLASS = "nfs"
PEER_CLASS = "nfs-subdir"
PEER = "nfs-subdir-external-provisioner"
PEER_COMMIT = "59a3ca2c"  # hack/build-peer.sh pins the full commit and caches under this prefix
PEER_PROVISIONER = "bench.storage.baremetal.io/nfs-subdir"
PEER_MOUNT = Path("/persistentvolumes")  # fixed in the peer's code: where its pod would mount the export
KCM = "kube-controller-manager"
KCM_DEFAULTS = {"qps": 20.0, "burst": 30.0}  # client-go's limits when the flags are absent
TARGET_SINGLE_SECONDS = 0.1
TARGET_BURST_SECONDS = 15.0
TARGET_RATIO = 5.0
WATCH_SECONDS = 3600
SAMPLE_SECONDS = 0.1


def run(runs: int = 50, burst: int = 500, ours: bool = True, peer: bool = True) -> dict[str, object]:
    if runs < 0 or burst < 1 or not (ours or peer):
        raise ValueError("needs runs >= 0, burst >= 1 and at least one of ours/peer")
    config = LabConfig(root=REPO / ".lab-bench-nfs", port_base=PORT_BASE)
    lab = Lab(config, say=lambda _: None)
    state = lab.up()
    failed = True
    try:
        kcm = kcm_client_limits(state)
        with connect(config.paths.kubeconfig) as api:
            client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
            mine = _ours(config, state, runs, burst) if ours else None
            theirs = _peer(lab, config, runs, burst) if peer else None
        failed = False
    finally:
        lab.down(keep_logs=failed)
    ratio = mine["pvc_per_second"] / theirs["pvc_per_second"] if mine and theirs else None
    _print(runs, burst, kcm=kcm, mine=mine, theirs=theirs, ratio=ratio)
    result: dict[str, object] = {
        "single_runs": runs,
        "burst": burst,
        "threads": THREADS,
        "kube_controller_manager_client": kcm,
        "targets": {
            "single_p95_seconds": TARGET_SINGLE_SECONDS,
            "burst_all_bound_seconds": TARGET_BURST_SECONDS,
            "throughput_ratio_over_peer": TARGET_RATIO,
        },
        "ours": mine,
        "peer": theirs,
        "throughput_ratio_ours_over_peer": round(ratio, 2) if ratio else None,
    }
    path = write_json("nfs_provisioning", result)
    print(f"wrote {path.relative_to(REPO)}")
    return result


def kcm_client_limits(state: LabState) -> dict[str, object]:
    """kube-controller-manager's client QPS and burst, from the lab's record of its command line."""
    record = state.process(KCM)
    assert record is not None
    limits: dict[str, object] = dict(KCM_DEFAULTS)
    args = record.argv
    flagged = False
    for i, arg in enumerate(args):
        for key in ("qps", "burst"):
            flag = f"--kube-api-{key}"
            if arg.startswith(f"{flag}="):
                limits[key], flagged = float(arg.split("=", 1)[1]), True
            elif arg == flag and i + 1 < len(args):
                limits[key], flagged = float(args[i + 1]), True
    return limits | {"from_flags": flagged}


# ---------------------------------------------------------------------------------------------- one side
def _ours(config: LabConfig, state: LabState, runs: int, burst: int) -> dict[str, Any]:
    record = state.process(PROCESS_NAME)
    assert record is not None
    with connect(config.paths.kubeconfig) as api:
        try:
            sc = client.StorageV1Api(api).read_storage_class(OURS_CLASS)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
            raise RuntimeError(
                f"the lab has no StorageClass {OURS_CLASS!r} (the operator's NFS provisioner): "
                "run with ours=False (--param ours=false) to measure the peer alone"
            ) from None
    result = _measure(config, "ours", OURS_CLASS, record, runs=runs, burst=burst)
    return {"storage_class": {"name": OURS_CLASS, "provisioner": sc.provisioner}} | result


def _peer(lab: Lab, config: LabConfig, runs: int, burst: int) -> dict[str, Any]:
    binary = peer_binary(config)
    with connect(config.paths.kubeconfig) as api:
        client.StorageV1Api(api).create_storage_class(
            client.V1StorageClass(
                metadata=client.V1ObjectMeta(name=PEER_CLASS),
                provisioner=PEER_PROVISIONER,
                reclaim_policy="Delete",
                parameters={"archiveOnDelete": "false"},
            )
        )
    with _mount_point(PEER_MOUNT), _peer_process(lab, config, binary) as record:
        result = _measure(config, "peer", PEER_CLASS, record, runs=runs, burst=burst)
    export = config.paths.nfs_export
    left = sorted(p.name for p in export.iterdir() if p.name.startswith(f"{NAMESPACE}-") or "archived-" in p.name)
    return {
        "storage_class": {"name": PEER_CLASS, "provisioner": PEER_PROVISIONER},
        "program": f"{PEER} {PEER_COMMIT} (client QPS 5 / burst 10, 4 workers: its defaults)",
        "directories_left_after_delete": len(left),
    } | result


def _measure(
    config: LabConfig, side: str, storage_class: str, record: ProcessRecord, *, runs: int, burst: int
) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        api = stack.enter_context(connect(config.paths.kubeconfig))
        clients = [stack.enter_context(connect(config.paths.kubeconfig)) for _ in range(THREADS)]
        core = client.CoreV1Api(api)
        pvcs = stack.enter_context(Tracker(config, namespaced=True))
        pvs = stack.enter_context(Tracker(config, namespaced=False))
        single = []
        for i in range(runs):
            name = f"{side}-one-{i:03d}"
            started = time.monotonic()
            create_pvc(core, name, storage_class)
            pvcs.wait(functools.partial(operator.contains, pvcs.bound, name), timeout=60, what=f"PVC {name} Bound")
            single.append(pvcs.bound[name] - started)
        _delete_all(clients, pvcs, pvs, [f"{side}-one-{i:03d}" for i in range(runs)], storage_class)
        names = [f"{side}-{i:04d}" for i in range(burst)]
        timeout = 120 + 2 * burst
        created: dict[str, float] = {}

        def create(core: client.CoreV1Api, name: str) -> None:
            created[name] = time.monotonic()
            create_pvc(core, name, storage_class)

        with Usage(record.pid) as usage:
            started = time.monotonic()
            in_threads(clients, names, create)
            creates = time.monotonic() - started
            pvcs.wait(lambda: all(n in pvcs.bound for n in names), timeout=timeout, what=f"{burst} PVCs Bound")
        all_bound = max(pvcs.bound[n] for n in names) - started
        latencies = [pvcs.bound[n] - created[n] for n in names]
        deleted = _delete_all(clients, pvcs, pvs, names, storage_class, timeout=timeout)
    return {
        "single": summarize(single) if single else None,
        "burst_creates_seconds": round(creates, 3),
        "burst_all_bound_seconds": round(all_bound, 3),
        "pvc_per_second": round(burst / all_bound, 2),
        "burst_latency": summarize(latencies) | {"p99": percentile(latencies, 0.99)},
        "delete_all_gone_seconds": deleted["all_gone_seconds"],
        "delete_pv_gone": deleted["pv_gone"],
        "provisioner_process": {"pid": record.pid, **usage.result()},
    }


def _delete_all(
    clients: Sequence[client.ApiClient],
    pvcs: Tracker,
    pvs: Tracker,
    names: Sequence[str],
    storage_class: str,
    *,
    timeout: float = 120,
) -> dict[str, Any]:
    """Delete the claims at once; seconds until each of their PVs is gone (the class reclaims: Delete)."""
    volumes = pvs.names_of_class(storage_class)
    started = time.monotonic()
    in_threads(clients, names, delete_pvc)
    pvs.wait(lambda: not pvs.names_of_class(storage_class), timeout=timeout, what=f"every {storage_class} PV gone")
    pvcs.wait(lambda: all(n in pvcs.gone for n in names), timeout=timeout, what="every PVC gone")
    gone = [pvs.gone[v] - started for v in volumes]
    return {"all_gone_seconds": round(max(gone), 3), "pv_gone": summarize(gone)} if gone else {}


# ---------------------------------------------------------------------------------------------- the peer
def peer_binary(config: LabConfig) -> Path:
    """The peer from the binary cache; built by hack/build-peer.sh first when missing (about a minute)."""
    binary = config.cache_dir / f"{PEER}-{PEER_COMMIT}" / PEER
    if not binary.is_file():
        print(f"{PEER} is not built; running hack/build-peer.sh", flush=True)
        env = os.environ | {"STORAGE_OPERATOR_CACHE": str(config.cache_dir)}
        out = subprocess.run([REPO / "hack" / "build-peer.sh"], env=env, check=True, stdout=subprocess.PIPE, text=True)
        built = Path(out.stdout.strip().splitlines()[-1])
        if built != binary:
            raise RuntimeError(f"hack/build-peer.sh built {built}, expected {binary}")
    return binary


@contextlib.contextmanager
def _mount_point(path: Path) -> Iterator[None]:
    """The directory the peer's mount namespace binds the export onto; removed after if made here."""
    made = not path.exists()
    if made:
        path.mkdir(mode=0o755)
    try:
        yield
    finally:
        if made:
            path.rmdir()  # only ever empty: the bind mount lived in the peer's own namespace


@contextlib.contextmanager
def _peer_process(lab: Lab, config: LabConfig, binary: Path) -> Iterator[ProcessRecord]:
    """The peer as a process of the lab (so teardown stops it even after a crash here), stopped by PID."""
    argv = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        f'mount --bind "$0" {PEER_MOUNT} && exec "$1"',
        str(config.paths.nfs_export),
        str(binary),
    ]
    env = {
        "NFS_SERVER": "127.0.0.1",
        "NFS_PATH": EXPORT_PSEUDO,
        "PROVISIONER_NAME": PEER_PROVISIONER,
        "KUBECONFIG": str(config.paths.kubeconfig),
        "ENABLE_LEADER_ELECTION": "false",
    }
    record = lab.spawn(PEER, argv, env=env)
    try:
        _await_peer(record)
        yield record
    finally:
        lab.forget_process(PEER)  # SIGTERM by PID, wait (SIGKILL after 30 s), drop it from the record


def _await_peer(record: ProcessRecord, timeout: float = 30) -> None:
    """Until its informers have synced ("Started provisioner controller"), so the burst does not wait on it."""
    log = Path(record.log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reason = processes.exited_early(record)
        if reason:
            raise RuntimeError(reason)
        if "Started provisioner controller" in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{PEER} not started after {timeout} s: {processes.last_lines(log, 3)}")


# ---------------------------------------------------------------------------------------------- API
def create_pvc(core: client.CoreV1Api, name: str, storage_class: str) -> None:
    body = client.V1PersistentVolumeClaim(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PersistentVolumeClaimSpec(
            access_modes=["ReadWriteMany"],
            storage_class_name=storage_class,
            resources=client.V1VolumeResourceRequirements(requests={"storage": "1Mi"}),
        ),
    )
    # Raw response: the bench's own deserialization would take CPU from the processes it measures.
    _drain(core.create_namespaced_persistent_volume_claim(NAMESPACE, body, _preload_content=False))


def delete_pvc(core: client.CoreV1Api, name: str) -> None:
    _drain(core.delete_namespaced_persistent_volume_claim(name, NAMESPACE, _preload_content=False))


def _drain(response: object) -> bytes:
    raw = cast(urllib3.HTTPResponse, response)  # what _preload_content=False returns (errors raise before)
    data = raw.read()
    raw.release_conn()
    return data


def in_threads(
    clients: Sequence[client.ApiClient], names: Sequence[str], call: Callable[[client.CoreV1Api, str], None]
) -> None:
    """``call`` for every name, from one thread per client (each thread its own connection pool)."""

    def work(api: client.ApiClient, chunk: Sequence[str]) -> None:
        core = client.CoreV1Api(api)
        for name in chunk:
            call(core, name)

    with ThreadPoolExecutor(len(clients)) as pool:
        futures = [pool.submit(work, api, names[i :: len(clients)]) for i, api in enumerate(clients)]
        for future in futures:
            future.result()


class Tracker:
    """One list + watch of the PVCs in the bench namespace, or of all PVs: when each object was first
    seen Bound and when it was deleted, by name. The watch is open before ``__enter__`` returns, so an
    object created after it cannot be missed; times are taken when an event arrives."""

    def __init__(self, config: LabConfig, *, namespaced: bool) -> None:
        self._stack = contextlib.ExitStack()
        self._api = self._stack.enter_context(connect(config.paths.kubeconfig))
        core = client.CoreV1Api(self._api)
        self._list: Callable[..., object] = (
            (lambda **kw: core.list_namespaced_persistent_volume_claim(NAMESPACE, **kw))
            if namespaced
            else core.list_persistent_volume
        )
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-watch", daemon=True)
        self._response: urllib3.HTTPResponse | None = None
        self._version = ""
        self.error: BaseException | None = None
        self.present: dict[str, str] = {}  # name -> storage class
        self.bound: dict[str, float] = {}
        self.gone: dict[str, float] = {}

    def __enter__(self) -> Self:
        try:
            listing = json.loads(_drain(self._list(_preload_content=False)))
            now = time.monotonic()
            for item in listing["items"]:
                self._apply("ADDED", item, now)
            self._version = listing["metadata"]["resourceVersion"]
            self._response = self._open()
        except BaseException:
            self._stack.close()
            raise
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stopping.set()
        with self._cond:
            response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.shutdown()  # unblocks the watch thread's read
        self._thread.join(timeout=10)
        self._stack.close()

    def _open(self) -> urllib3.HTTPResponse:
        response = self._list(
            watch=True,
            resource_version=self._version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
            _preload_content=False,
        )
        return cast(urllib3.HTTPResponse, response)

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                assert self._response is not None
                for line in self._response:
                    now = time.monotonic()
                    if line.strip():
                        event = json.loads(line)
                        with self._cond:
                            self._apply(event["type"], event["object"], now)
                            self._cond.notify_all()
                if not self._stopping.is_set():  # the server ended the watch: resume where it stopped
                    response = self._open()
                    with self._cond:
                        self._response = response
        except BaseException as exc:
            if not self._stopping.is_set():
                with self._cond:
                    self.error = exc
                    self._cond.notify_all()

    def _apply(self, kind: str, obj: dict[str, Any], now: float) -> None:
        if kind == "ERROR":
            raise RuntimeError(f"watch failed: {obj.get('message')}")
        meta = obj["metadata"]
        self._version = meta["resourceVersion"]
        if kind == "BOOKMARK":
            return
        name = meta["name"]
        if kind == "DELETED":
            self.present.pop(name, None)
            self.gone.setdefault(name, now)
            return
        self.present[name] = (obj.get("spec") or {}).get("storageClassName") or ""
        if (obj.get("status") or {}).get("phase") == "Bound":
            self.bound.setdefault(name, now)

    def names_of_class(self, storage_class: str) -> set[str]:
        with self._cond:
            return {name for name, sc in self.present.items() if sc == storage_class}

    def wait(self, done: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Until ``done()`` (called with the tracker's lock held) is true; RuntimeError after ``timeout``."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self.error is not None or done(), timeout)
        if self.error is not None:
            raise RuntimeError(f"the watch failed while waiting for {what}") from self.error
        if not ok:
            raise RuntimeError(f"{what}: not seen within {timeout:.0f} s")


# ---------------------------------------------------------------------------------------------- process usage
class Usage:
    """Peak RSS (VmRSS sampled every 100 ms) and CPU seconds of one process over a block."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="bench-rss", daemon=True)
        self._cpu0 = 0.0
        self.cpu = 0.0

    def __enter__(self) -> Self:
        self._cpu0 = cpu_seconds(self.pid)
        self.peak_rss_mb = rss_mb(self.pid)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self.cpu = cpu_seconds(self.pid) - self._cpu0

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            with contextlib.suppress(OSError):
                self.peak_rss_mb = max(self.peak_rss_mb, rss_mb(self.pid))

    def result(self) -> dict[str, float]:
        return {
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "lifetime_peak_rss_mb": round(_vm_hwm_mb(self.pid), 1),
            "cpu_seconds": round(self.cpu, 2),
        }


def _vm_hwm_mb(pid: int) -> float:
    try:
        match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return 0.0
    return int(match.group(1)) / 1024 if match else 0.0


def _in_ms(summary: dict[str, float]) -> dict[str, float]:
    return {k: v if k == "n" else 1000 * v for k, v in summary.items()}


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest rank, as report.summarize takes its p95."""
    ordered = sorted(samples)
    return ordered[max(0, round(q * len(ordered)) - 1)]


# ---------------------------------------------------------------------------------------------- output
def _print(
    runs: int,
    burst: int,
    *,
    kcm: dict[str, object],
    mine: dict[str, Any] | None,
    theirs: dict[str, Any] | None,
    ratio: float | None,
) -> None:
    sides = [(side, res) for side, res in (("ours", mine), ("peer", theirs)) if res is not None]
    singles = [(f"{side}: 1 PVC Bound", _in_ms(res["single"])) for side, res in sides if res["single"]]
    if singles:
        title = f"NFS PVC created -> Bound, one at a time ({runs} runs; target: ours p50/p95 < "
        print(table(f"{title}{TARGET_SINGLE_SECONDS * 1000:.0f} ms)", singles, unit="ms"), end="\n\n")
    rows = []
    for side, res in sides:
        rows.append((f"{side}: each Bound", res["burst_latency"]))
        rows.append((f"{side}: each PV gone", res["delete_pv_gone"]))
    print(table(f"NFS burst: {burst} PVCs created at once from {THREADS} threads, then all deleted", rows))

    def cell(res: dict[str, Any] | None, fmt: Callable[[dict[str, Any]], str]) -> str:
        return fmt(res) if res else "-"

    lines = [
        ("burst: all Bound", lambda r: f"{r['burst_all_bound_seconds']:.1f} s", f"ours < {TARGET_BURST_SECONDS:.0f} s"),
        ("burst: PVC/s", lambda r: f"{r['pvc_per_second']:.1f}", ""),
        (
            "burst: p50/p95/p99",
            lambda r: "/".join(f"{r['burst_latency'][k]:.1f}" for k in ("p50", "p95", "p99")) + " s",
            "",
        ),
        ("delete: all PVs gone", lambda r: f"{r['delete_all_gone_seconds']:.1f} s", ""),
        ("provisioner peak RSS", lambda r: f"{r['provisioner_process']['peak_rss_mb']:.0f} MB", ""),
        ("provisioner CPU (burst)", lambda r: f"{r['provisioner_process']['cpu_seconds']:.1f} s", ""),
    ]
    print(f"\n{'':<24} {'ours':>16} {'peer':>16}   target")
    for label, fmt, target in lines:
        print(f"{label:<24} {cell(mine, fmt):>16} {cell(theirs, fmt):>16}   {target}")
    if ratio is not None:
        print(f"throughput ours/peer: {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x)")
    origin = "from its flags" if kcm["from_flags"] else "defaults: no --kube-api-qps/--kube-api-burst"
    print(f"kube-controller-manager client limit: {kcm['qps']:g} QPS / {kcm['burst']:g} burst ({origin})")
