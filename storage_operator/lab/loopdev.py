"""Loop devices backed by sparse files: the simulated nodes' disks.

Only devices whose backing file lies under the lab directory are ever detached, so a crash between
``losetup`` and the state file cannot leak one, and a device someone else attached is never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from storage_operator.errors import LabError
from storage_operator.lab.binaries import tool


@dataclass(frozen=True)
class LoopDevice:
    device: str
    backing_file: str


def create_sparse_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        os.truncate(f.fileno(), size)


def attach(backing_file: Path, *, read_only: bool = False) -> str:
    result = _losetup(*(["--read-only"] if read_only else []), "--find", "--show", str(backing_file))
    device = result.strip()
    if not device.startswith("/dev/loop"):
        raise LabError(f"losetup gave no device for {backing_file}: {result!r}")
    return device


def detach(device: str) -> None:
    _losetup("--detach", device)


def list_attached() -> list[LoopDevice]:
    out = _losetup("--list", "--json", "--output", "NAME,BACK-FILE")
    if not out.strip():
        return []
    devices = json.loads(out).get("loopdevices", [])
    return [LoopDevice(d["name"], (d.get("back-file") or "").removesuffix(" (deleted)")) for d in devices]


def attached_under(root: Path) -> list[LoopDevice]:
    prefix = str(root.resolve()) + os.sep
    return [d for d in list_attached() if d.backing_file.startswith(prefix)]


def device_size(device: str) -> int:
    """Size in bytes, from sysfs (512-byte sectors), as the kernel sees it."""
    name = Path(device).name
    return int(Path(f"/sys/block/{name}/size").read_text()) * 512


def _losetup(*args: str) -> str:
    try:
        done = subprocess.run([tool("losetup"), *args], check=True, capture_output=True, text=True, timeout=30)
    except subprocess.CalledProcessError as exc:
        hint = " (loop devices need root)" if os.geteuid() != 0 else ""
        raise LabError(f"losetup {' '.join(args)} failed{hint}: {exc.stderr.strip()}") from exc
    return done.stdout
