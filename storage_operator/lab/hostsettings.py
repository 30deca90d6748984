"""What a real node changes on the host, recorded before and restored after: kernel settings the kubelet
and the CNI bridge plugin set, the bridge the lab creates for the node's address, and the cgroups its
pods run in.

The kubelet sets vm.overcommit_memory=1, kernel.panic=10 and kernel.panic_on_oops=1 on start (it cannot
be told not to); the CNI bridge plugin sets net.ipv4.ip_forward=1 for a gateway bridge. The lab reads
each value before anything starts and writes it back on teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from storage_operator.errors import LabError

# The settings a kubelet or the CNI bridge plugin changes; each is restored on teardown.
NODE_SYSCTLS = ("vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops", "net.ipv4.ip_forward")
CGROUP_FS = Path("/sys/fs/cgroup")


def sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def read_sysctls(names: tuple[str, ...] = NODE_SYSCTLS) -> dict[str, str]:
    return {name: sysctl_path(name).read_text().strip() for name in names}


@dataclass(frozen=True)
class HostRecord:
    """What the host was like before a real node changed it (kept in .lab/host.json, apart from the state
    file, so a lost state file loses none of it): kernel settings, and whether the lab made /run/containerd."""

    sysctls: dict[str, str]
    created_shim_run_dir: bool = False


def save_host_record(path: Path, record: HostRecord) -> None:
    path.write_text(json.dumps({"sysctls": record.sysctls, "created_shim_run_dir": record.created_shim_run_dir}))


def load_host_record(path: Path) -> HostRecord | None:
    """What ``save_host_record`` wrote, or None (no file, or not ours); unknown settings are dropped."""
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("sysctls"), dict):
        return None
    sysctls = {k: str(v) for k, v in loaded["sysctls"].items() if k in NODE_SYSCTLS}
    return HostRecord(sysctls=sysctls, created_shim_run_dir=loaded.get("created_shim_run_dir") is True)


def restore_sysctls(saved: dict[str, str]) -> list[str]:
    """Write back what was saved; the names whose value had changed."""
    changed = []
    for name, value in saved.items():
        path = sysctl_path(name)
        if path.read_text().strip() != value:
            path.write_text(value)
            changed.append(name)
    return changed


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False, timeout=30)


def link_exists(name: str) -> bool:
    return (Path("/sys/class/net") / name).exists()


def create_bridge(name: str, address: str, prefix: int) -> None:
    """A bridge holding the node's address; the CNI bridge plugin attaches the pods' veths to it."""
    if link_exists(name):
        raise LabError(f"a network interface named {name} exists already: another lab with this port base?")
    for args in (
        ("link", "add", name, "type", "bridge"),
        ("addr", "add", f"{address}/{prefix}", "dev", name),
        ("link", "set", name, "up"),
    ):
        done = _ip(*args)
        if done.returncode != 0:
            _ip("link", "del", name)
            raise LabError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def delete_bridge(name: str) -> bool:
    if not link_exists(name):
        return False
    done = _ip("link", "del", name)
    if done.returncode != 0:
        raise LabError(f"cannot delete the lab bridge {name}: {done.stderr.strip()}")
    return True


def cgroup_hierarchies() -> list[Path]:
    """The mounted cgroup v1 hierarchies (the node runs on cgroup v1 with the cgroupfs driver)."""
    out = []
    for entry in sorted(CGROUP_FS.iterdir()) if CGROUP_FS.is_dir() else []:
        if entry.is_dir() and not entry.is_symlink() and (entry / "cgroup.procs").exists():
            out.append(entry)
    return out


def create_cgroup_root(name: str) -> None:
    """The kubelet's cgroupRoot in every hierarchy (it must exist before the kubelet starts). A cpuset
    cgroup starts with no CPUs or memory nodes; it gets its parent's."""
    for hierarchy in cgroup_hierarchies():
        path = hierarchy / name
        path.mkdir(exist_ok=True)
        for knob in ("cpuset.cpus", "cpuset.mems"):
            if (path / knob).exists() and not (path / knob).read_text().strip():
                (path / knob).write_text((hierarchy / knob).read_text())


def remove_cgroup_root(name: str, *, timeout: float = 10.0) -> list[int]:
    """Kill whatever still runs in the lab's cgroups (a container left by a crashed runtime), then remove
    them deepest first. Returns the PIDs it had to kill."""
    killed: list[int] = []
    roots = [h / name for h in cgroup_hierarchies() if (h / name).is_dir()]
    for root in roots:
        for procs in root.rglob("cgroup.procs"):
            for pid in _pids(procs):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
    deadline = time.monotonic() + timeout
    for root in roots:
        dirs = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        for path in [*dirs, root]:
            while True:
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if time.monotonic() > deadline:
                        raise LabError(f"cannot remove the lab's cgroup {path}: {exc}") from exc
                    time.sleep(0.1)
    return sorted(set(killed))


def _pids(procs: Path) -> list[int]:
    try:
        return [int(line) for line in procs.read_text().split()]
    except OSError:
        return []
