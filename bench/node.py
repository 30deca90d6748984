"""The real node (LAB_PROFILE=node): image build times and sizes, time to every project pod Ready, the
kubelet's and containerd's memory, and how fast the agent's pod starts again.

    python -m bench node [--runs N] [--param restarts=10] [--param cold=false] [--param ceph=true]

- image: hack/build-image.sh with the cache as it is ("cached": nothing changed), then on a copy of the
  build context with one source file edited ("code edit": the dependency layers are reused), and with
  cold=true also into an empty cache (debootstrap base, every layer; minutes). ceph=true builds the
  managed-mode image (Ceph daemons) too and reports its size.
- lab: its own node-profile lab in `.lab-bench-node/` on ports 22800+, N times up and down: seconds to
  every project pod Ready (cached image), per step.
- memory: RSS of the kubelet, containerd and the container shims with the project's pods running.
- pod start: the agent DaemonSet's pod deleted `restarts` times; from the replacement pod's creation to
  Ready, as the API shows it (polled every 50 ms).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubernetes import client

from bench.report import summarize, table, write_json
from storage_operator.kube.client import connect
from storage_operator.lab import containerd as lab_containerd
from storage_operator.lab.config import LabConfig, default_cache_dir
from storage_operator.lab.lab import Lab
from storage_operator.lab.state import LabState

REPO = Path(__file__).resolve().parents[1]
PORT_BASE = 22800
BUILD_CONTEXT = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "storage_operator", "csi", "hack")
AGENT_SELECTOR = "app.kubernetes.io/name=storage-agent"


def _build(script: Path, *targets: str, env: dict[str, str] | None = None) -> tuple[float, dict[str, Path]]:
    t0 = time.monotonic()
    done = subprocess.run([str(script), *targets], capture_output=True, text=True, timeout=3600, check=False, env=env)
    took = time.monotonic() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(targets)} failed:\n{done.stderr[-2000:]}")
    archives = {}
    for line in done.stdout.splitlines():
        target, _, path = line.partition(" ")
        archives[target] = Path(path)
    return took, archives


def _image_size(cache: Path, target: str, archive: Path) -> str:
    """The image's size as buildah reports it (its layers unpacked, e.g. "501 MB")."""
    key = archive.name.removesuffix(".oci.tar").rpartition("-")[2]
    store = cache / "buildah"
    buildah = [
        "buildah",
        "--root",
        str(store / "root"),
        "--runroot",
        str(store / "runroot"),
        "--storage-driver",
        "overlay",
    ]
    out = subprocess.run(
        [*buildah, "images", "--format", "{{.Size}}", f"localhost/{target}:{key}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return out.stdout.strip() or "unknown"


def _edited_copy(directory: Path) -> Path:
    """The build context copied, with one source file changed (as a developer's edit would)."""
    for name in BUILD_CONTEXT:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, directory / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, directory / name)
    edited = directory / "storage_operator" / "__init__.py"
    edited.write_text(edited.read_text() + f"\n# bench edit {time.time()}\n")
    return directory / "hack" / "build-image.sh"


def image_measurements(*, cold: bool, ceph: bool) -> dict[str, Any]:
    cache = default_cache_dir(dict(os.environ))
    script = REPO / "hack" / "build-image.sh"
    result: dict[str, Any] = {}
    first, archives = _build(script, "storage-operator")
    cached, archives = _build(script, "storage-operator")
    result["build_seconds"] = {"first_call_here": round(first, 1), "cached": round(cached, 2)}
    with tempfile.TemporaryDirectory(prefix="bench-image-") as tmp:
        edited_script = _edited_copy(Path(tmp))
        edit, edited = _build(edited_script, "storage-operator")
        result["build_seconds"]["code_edit"] = round(edit, 1)
        edited["storage-operator"].unlink(missing_ok=True)  # a throwaway build: keep the cache's archives
    archive = archives["storage-operator"]
    result["storage-operator"] = {
        "image_size": _image_size(cache, "storage-operator", archive),
        "archive_bytes": archive.stat().st_size,
    }
    if ceph:
        took, ceph_archives = _build(script, "ceph")
        result["build_seconds"]["ceph_image"] = round(took, 1)
        result["ceph"] = {
            "image_size": _image_size(cache, "ceph", ceph_archives["ceph"]),
            "archive_bytes": ceph_archives["ceph"].stat().st_size,
        }
    if cold:
        with tempfile.TemporaryDirectory(prefix="bench-cold-cache-", dir=cache.parent) as tmp:
            env = dict(os.environ, STORAGE_OPERATOR_CACHE=tmp)
            took, _ = _build(script, "storage-operator", env=env)
            result["build_seconds"]["cold"] = round(took, 1)
            # buildah's overlay store in there is root-owned and may hold mounts: let buildah remove it.
            subprocess.run(
                ["buildah", "--root", f"{tmp}/buildah/root", "--runroot", f"{tmp}/buildah/runroot", "rmi", "--all"],
                capture_output=True,
                check=False,
                timeout=300,
            )
    return result


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _pids_named(name: str, marker: str) -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == name[:15] and marker.encode() in (
                entry / "cmdline"
            ).read_bytes():
                yield int(entry.name)
        except OSError:
            continue


def memory(config: LabConfig, state: LabState) -> dict[str, int]:
    kubelet = state.process("kubelet")
    runtime = state.process(lab_containerd.PROCESS_NAME)
    shims = list(_pids_named("containerd-shim-runc-v2", str(config.root)))
    return {
        "kubelet_rss_kib": _rss_kib(kubelet.pid) if kubelet else -1,
        "containerd_rss_kib": _rss_kib(runtime.pid) if runtime else -1,
        "shims": len(shims),
        "shims_rss_kib": sum(_rss_kib(p) for p in shims),
    }


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in (pod.get("status") or {}).get("conditions") or []
    )


def _agent_pods(core: client.CoreV1Api, ns: str) -> list[dict[str, Any]]:
    pods: list[dict[str, Any]] = core.list_namespaced_pod(ns, label_selector=AGENT_SELECTOR).to_dict()["items"]
    return pods


def agent_pod_starts(config: LabConfig, restarts: int) -> list[float]:
    ns = config.operator_namespace
    samples = []
    with connect(config.paths.kubeconfig) as api:
        core = client.CoreV1Api(api)
        for _ in range(restarts):
            (old,) = _agent_pods(core, ns)
            core.delete_namespaced_pod(old["metadata"]["name"], ns, grace_period_seconds=0)
            seen_at: float | None = None
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                pods = [
                    p
                    for p in _agent_pods(core, ns)
                    if p["metadata"]["uid"] != old["metadata"]["uid"] and p["metadata"]["deletion_timestamp"] is None
                ]
                if pods and seen_at is None:
                    seen_at = time.monotonic()
                if pods and _ready(pods[0]):
                    samples.append(time.monotonic() - (seen_at or time.monotonic()))
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError("the agent's replacement pod did not get Ready within 120 s")
    return samples


def run(runs: int = 3, restarts: int = 10, cold: bool = False, ceph: bool = True) -> dict[str, object]:
    images = image_measurements(cold=cold, ceph=ceph)
    config = LabConfig(root=REPO / ".lab-bench-node", port_base=PORT_BASE, profile="node")
    lab = Lab(config, say=lambda _: None)
    to_pods: list[float] = []
    totals: list[float] = []
    steps: dict[str, list[float]] = {}
    mem: dict[str, int] = {}
    starts: list[float] = []
    for i in range(runs):
        t0 = time.monotonic()
        state = lab.up()
        totals.append(time.monotonic() - t0)
        for name, seconds in state.step_seconds.items():
            steps.setdefault(name, []).append(seconds)
        # Every project pod Ready is what the "operator" step awaits on this profile.
        names = list(state.step_seconds)
        to_pods.append(sum(state.step_seconds[n] for n in names[: names.index("operator") + 1]))
        if i == runs - 1:
            time.sleep(10)  # idle, pods settled
            mem = memory(config, state)
            starts = agent_pod_starts(config, restarts)
        lab.down(keep_logs=i == runs - 1)
        print(f"run {i + 1}/{runs}: pods Ready after {to_pods[-1]:.1f} s, lab ready in {totals[-1]:.1f} s", flush=True)
    rows = [(name, summarize(samples)) for name, samples in steps.items()]
    rows += [("project pods Ready", summarize(to_pods)), ("TOTAL up (ready)", summarize(totals))]
    print(table(f"node-profile lab with a cached image ({runs} runs; target: pods Ready < 60 s)", rows))
    print(table(f"agent pod: created -> Ready ({restarts} restarts)", [("agent pod start", summarize(starts))]))
    print(f"memory with the project's pods running: {mem}")
    print(f"images: {images}")
    result: dict[str, object] = {
        "runs": runs,
        "target_pods_ready_seconds": 60,
        "steps": dict(rows),
        "agent_pod_start_seconds": summarize(starts),
        "memory": mem,
        "images": images,
    }
    path = write_json("node", result)
    print(f"wrote {path.relative_to(REPO)}")
    return result
