"""``storage-operator ceph-daemon mon|mgr|osd|mds``: the entrypoint of a managed cluster's daemon pods.

It turns what the operator put into the pod (ceph.conf from a ConfigMap, a cephx key from a Secret,
a few environment variables) into what the daemon expects on disk, then replaces itself with the
daemon, in the foreground, logging to stderr:

- mon: the first start makes the store (``ceph-mon --mkfs``) from the initial monmap; later starts
  find the store on the host and only run the daemon;
- osd: the data directory is rebuilt from the device's BlueStore label (``ceph-bluestore-tool
  prime-osd-dir``) and refused when the label belongs to another OSD (a swapped disk);
- mgr, mds: a keyring file, then the daemon.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

CONF = "/etc/ceph/ceph.conf"
KEYS_DIR = Path("/var/run/storage-operator/keys")
TOOL_TIMEOUT = 120


class LaunchError(Exception):
    """The daemon cannot start; the message says why (it becomes the pod's termination message)."""


@dataclass(frozen=True)
class Launch:
    daemon: str
    daemon_id: str
    env: Mapping[str, str]

    @property
    def data_dir(self) -> Path:
        return Path(f"/var/lib/ceph/{self.daemon}/ceph-{self.daemon_id}")

    @property
    def entity(self) -> str:
        return f"{self.daemon}.{self.daemon_id}"

    def need(self, name: str) -> str:
        value = self.env.get(name, "").strip()
        if not value:
            raise LaunchError(f"{name} is not set: the operator sets it in the {self.daemon} Deployment")
        return value


def keyring_text(entity: str, key: str) -> str:
    return f"[{entity}]\n\tkey = {key}\n"


def monmap_argv(fsid: str, initial: str, path: str) -> list[str]:
    """``CEPH_INITIAL_MONS`` ("a=[v2:ip:port,v1:ip:port],b=[...]") -> monmaptool's arguments."""
    argv = ["monmaptool", "--create", "--fsid", fsid, "--set-min-mon-release", "pacific", "--enable-all-features"]
    for entry in split_mons(initial):
        name, _, addrvec = entry.partition("=")
        if not name or not addrvec:
            raise LaunchError(f"CEPH_INITIAL_MONS has a malformed entry {entry!r}")
        argv += ["--addv", name, addrvec]
    return [*argv, path]


def split_mons(initial: str) -> list[str]:
    """Split at the commas between entries, not those inside an address vector's brackets."""
    entries, depth, current = [], 0, ""
    for ch in initial:
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            entries.append(current)
            current = ""
        else:
            current += ch
    if current:
        entries.append(current)
    return [e.strip() for e in entries if e.strip()]


def daemon_argv(launch: Launch) -> list[str]:
    common = ["-f", "-c", CONF, "-i", launch.daemon_id]
    if launch.daemon == "mon":
        return [
            "ceph-mon",
            *common,
            "--mon-data",
            str(launch.data_dir),
            "--public-addrv",
            launch.need("CEPH_PUBLIC_ADDRV"),
        ]
    ip = launch.need("POD_IP")
    if launch.daemon == "osd":
        node = launch.need("NODE_NAME")
        return [
            "ceph-osd",
            *common,
            "--osd-data",
            str(launch.data_dir),
            "--osd-uuid",
            launch.need("CEPH_OSD_UUID"),
            "--public-addr",
            ip,
            "--cluster-addr",
            ip,
            "--crush-location",
            f"root=default host={node}",
        ]
    if launch.daemon == "mds":
        joins = ["--mds-join-fs", launch.env["CEPH_FILESYSTEM"]] if launch.env.get("CEPH_FILESYSTEM") else []
        return ["ceph-mds", *common, "--public-addr", ip, *joins]
    if launch.daemon == "mgr":
        return ["ceph-mgr", *common, "--public-addr", ip]
    raise LaunchError(f"unknown daemon {launch.daemon!r} (mon, mgr, osd or mds)")


def read_key(path: Path) -> str:
    try:
        key = path.read_text().strip()
    except OSError as exc:
        raise LaunchError(f"cannot read the daemon's key from {path}: {exc.strerror}") from None
    if not key:
        raise LaunchError(f"{path} is empty")
    return key


def _run(argv: Sequence[str], what: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LaunchError(f"{what} failed: {exc}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise LaunchError(f"{what} failed (exit {done.returncode}): {' / '.join(tail)}")
    return done.stdout


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def prepare_mon(launch: Launch) -> None:
    data = launch.data_dir
    if (data / "store.db").is_dir() and (data / "keyring").is_file():
        return  # made on an earlier start: the store is the mon's memory, never made twice
    if data.is_dir() and any(data.iterdir()):
        raise LaunchError(
            f"{data} holds files but no complete mon store: an earlier --mkfs was interrupted; "
            "move the directory away on the node to let the mon be made again"
        )
    data.mkdir(parents=True, exist_ok=True)
    monmap = "/tmp/monmap"
    _run(monmap_argv(launch.need("CEPH_FSID"), launch.need("CEPH_INITIAL_MONS"), monmap), "monmaptool")
    _run(
        [
            "ceph-mon",
            "--mkfs",
            "-c",
            CONF,
            "-i",
            launch.daemon_id,
            "--monmap",
            monmap,
            "--keyring",
            str(KEYS_DIR / "keyring"),
            "--mon-data",
            str(data),
        ],
        "ceph-mon --mkfs",
    )


def prepare_osd(launch: Launch) -> None:
    data, device = launch.data_dir, launch.need("CEPH_OSD_DEVICE")
    data.mkdir(parents=True, exist_ok=True)
    _run(
        ["ceph-bluestore-tool", "prime-osd-dir", "--dev", device, "--path", str(data), "--no-mon-config"],
        f"reading the BlueStore label of {device}",
    )
    found_uuid = (data / "fsid").read_text().strip() if (data / "fsid").exists() else ""
    found_id = (data / "whoami").read_text().strip() if (data / "whoami").exists() else ""
    if found_uuid != launch.need("CEPH_OSD_UUID") or found_id != launch.daemon_id:
        raise LaunchError(
            f"{device} carries osd.{found_id or '?'} {found_uuid or '(no uuid)'}, not osd.{launch.daemon_id} "
            f"{launch.env.get('CEPH_OSD_UUID')}: the disk was swapped or re-used; not starting"
        )
    block = data / "block"
    if block.is_symlink() or block.exists():
        block.unlink()
    block.symlink_to(device)
    _write_private(data / "keyring", keyring_text(launch.entity, read_key(KEYS_DIR / "key")))


def prepare_keyring(launch: Launch) -> None:
    launch.data_dir.mkdir(parents=True, exist_ok=True)
    _write_private(launch.data_dir / "keyring", keyring_text(launch.entity, read_key(KEYS_DIR / "key")))


def launch_daemon(daemon: str, env: Mapping[str, str] | None = None) -> NoReturn:
    environ = dict(os.environ if env is None else env)
    launch = Launch(daemon, environ.get("CEPH_DAEMON_ID", "").strip(), environ)
    try:
        launch.need("CEPH_DAEMON_ID")
        argv = daemon_argv(launch)
        {"mon": prepare_mon, "osd": prepare_osd}.get(daemon, prepare_keyring)(launch)
    except LaunchError as exc:
        message = f"{daemon}: {exc}"
        print(message, file=sys.stderr, flush=True)
        _termination_message(message)
        sys.exit(1)
    print(f"{launch.entity}: starting {' '.join(argv[:1])}", file=sys.stderr, flush=True)
    os.execvp(argv[0], argv)  # noqa: S606


def _termination_message(message: str) -> None:
    with contextlib.suppress(OSError):
        Path("/tmp/termination-log").write_text(message)
