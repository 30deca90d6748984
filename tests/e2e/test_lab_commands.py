"""The lab commands a user types, run as a user runs them (`make lab`, `make lab-down`, the CLI).

These bring up their own small lab in `.lab-e2e/` on ports 25200+ (one node, one disk), beside the
session lab, in the profile `make lab` brings up by default (node: node-x is a real kubelet node, the
operator, agent and CSI node plugins run as pods), and check that nothing is left behind afterwards: no
process, loop device, listener, bridge, cgroup or changed kernel setting.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage_operator.lab import hostsettings, loopdev, ports
from storage_operator.lab.config import LabConfig
from storage_operator.lab.kubelet import cgroup_root
from storage_operator.lab.lab import Lab

REPO = Path(__file__).resolve().parents[2]
E2E_DIR = REPO / ".lab-e2e"
E2E_PORT_BASE = int(os.environ.get("TEST_E2E_PORT_BASE", "25200"))


@pytest.fixture
def lab_env() -> Iterator[dict[str, str]]:
    env = dict(os.environ)
    env.update(
        {
            "LAB_DIR": str(E2E_DIR),
            "LAB_PORT_BASE": str(E2E_PORT_BASE),
            "LAB_NODES": "node-x",
            "LAB_DISKS_PER_NODE": "1",
            "LAB_DISK_SIZE": "256M",
        }
    )
    yield env
    # Whatever a test did, leave no lab behind (and fail loudly if that is impossible).
    Lab(LabConfig.from_env(env, default_root=E2E_DIR), say=lambda _: None).down(keep_logs=False)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storage_operator", "lab", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def make(env: dict[str, str], target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", target], env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )


def leftovers(config: LabConfig) -> dict[str, object]:
    """Everything of this lab still on the machine (all empty when it is really gone)."""
    root = str(config.root)
    procs = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if root + "/" in cmdline:
                procs.append(entry.name)
    p = config.ports
    return {
        "processes": procs,
        "loops": [d.device for d in loopdev.attached_under(config.root)],
        "listeners": ports.listening_in([*config.listeners().values(), *p.ceph_msgr_range()]),
        "bridge": hostsettings.link_exists(config.node_network.bridge),
        "cgroups": [str(h) for h in hostsettings.cgroup_hierarchies() if (h / cgroup_root(config)).exists()],
        "kernel settings changed": {k: v for k, v in hostsettings.read_sysctls().items() if HOST_BEFORE.get(k, v) != v},
        # containerd makes /run/containerd for its shims whatever its own root says; the lab removes it
        # when it made it
        "/run/containerd left": Path("/run/containerd").exists() and not RUN_CONTAINERD_BEFORE,
    }


# The host's kernel settings when these tests were collected: a real node changes some; teardown restores.
HOST_BEFORE = hostsettings.read_sysctls()
RUN_CONTAINERD_BEFORE = Path("/run/containerd").exists()
NOTHING: dict[str, object] = {
    "processes": [],
    "loops": [],
    "listeners": [],
    "bridge": False,
    "cgroups": [],
    "kernel settings changed": {},
    "/run/containerd left": False,
}


def test_make_lab_twice_then_make_lab_down_leaves_nothing(lab_env: dict[str, str]) -> None:
    config = LabConfig.from_env(lab_env, default_root=E2E_DIR)
    up = make(lab_env, "lab")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "lab ready in" in up.stdout
    assert "HEALTH_OK" in up.stdout  # the summary is observed from the live cluster
    assert "node-x (kubelet + containerd)" in up.stdout
    assert f"https://127.0.0.1:{config.ports.apiserver}" in up.stdout
    assert "$ kubectl get pods -A -o wide" in up.stdout
    for pod in ("storage-operator-", "storage-agent-", "csi-cephfs-node-", "csi-rbd-node-"):
        assert pod in up.stdout

    again = make(lab_env, "lab")
    assert again.returncode == 0, again.stderr
    assert "already up" in again.stdout
    assert "lab ready in" not in again.stdout

    down = make(lab_env, "lab-down")
    assert down.returncode == 0, down.stderr
    # control plane 4, Ceph 9, Ganesha, CSI (controller side) 2, containerd, kubelet; the operator, the
    # agent and the CSI node plugins were pods of that kubelet
    assert "stopped 18 processes" in down.stdout
    assert "detached 1 loop devices" in down.stdout
    assert leftovers(config) == NOTHING
    assert (config.root / "logs").is_dir()  # logs are kept for a post-mortem

    idle = make(lab_env, "lab-down")
    assert idle.returncode == 0
    assert "nothing to do" in idle.stdout


def test_a_lab_whose_state_file_was_lost_is_still_cleaned_up(lab_env: dict[str, str]) -> None:
    config = LabConfig.from_env(lab_env, default_root=E2E_DIR)
    assert cli(lab_env, "up").returncode == 0
    # A crash between starting daemons and recording them: the state file is gone.
    config.paths.state_file.unlink()
    restarted = cli(lab_env, "up")
    assert restarted.returncode == 0, restarted.stderr
    assert "found leftovers of an earlier lab run; removing them first" in restarted.stdout
    assert "lab ready in" in restarted.stdout
    config.paths.state_file.unlink()
    down = cli(lab_env, "down")
    assert down.returncode == 0, down.stderr
    # Found by their command lines without a record: the 18 processes and the runtime's container shims.
    assert "stopped " in down.stdout
    assert leftovers(config) == NOTHING


def test_port_clash_is_one_clear_line_and_starts_nothing(lab_env: dict[str, str]) -> None:
    config = LabConfig.from_env(lab_env, default_root=E2E_DIR)
    with socket.socket() as squatter:
        # The previous lab's connections may linger in TIME_WAIT on this port; a listener may still bind.
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", config.ports.apiserver))
        squatter.listen()
        result = cli(lab_env, "up")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: port {config.ports.apiserver} for kube-apiserver is already in use")
    assert "LAB_PORT_BASE" in lines[0]
    assert leftovers(config) == NOTHING
    assert not config.paths.state_file.exists()


def test_missing_tool_is_one_clear_line(lab_env: dict[str, str], tmp_path: Path) -> None:
    env = dict(lab_env, PATH=str(tmp_path))  # nothing on PATH: no losetup, no ceph, no ganesha
    result = cli(env, "up")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "not found on PATH; run `make packages`" in lines[0]
    assert "losetup" in lines[0]


def test_a_lab_dir_holding_foreign_files_is_refused_and_left_alone(lab_env: dict[str, str], tmp_path: Path) -> None:
    precious = tmp_path / "thesis.tex"
    precious.write_text("years of work")
    result = cli(dict(lab_env, LAB_DIR=str(tmp_path)), "up")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "holds files that are not a lab's (thesis.tex)" in lines[0]
    assert "LAB_DIR" in lines[0]
    assert precious.read_text() == "years of work"
    assert leftovers(LabConfig.from_env(dict(lab_env, LAB_DIR=str(tmp_path)), default_root=E2E_DIR)) == NOTHING
