"""Find the node's block devices (pyudev over sysfs) and probe what is on them, read-only.

Nothing here writes to a device: sysfs is read, `wipefs --no-act` and `blkid -p` only probe, and the
BlueStore label is read through an O_RDONLY descriptor. Probes are cached per attached device and
redone for the devices a uevent names, and for all of them on the periodic rescan (content can change
without any event when udevd is not running).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyudev

from storage_operator.agent.facts import (
    LABEL_BYTES,
    DeviceFacts,
    Probe,
    parse_blkid_export,
    parse_bluestore_label,
    parse_mountinfo,
    parse_swaps,
    parse_wipefs,
)
from storage_operator.api.v1alpha1.diskinventory import DeviceType

PROBE_TIMEOUT = 10
# Memory-backed block devices are never disks.
SKIPPED_PREFIXES = ("ram", "zram")


@dataclass(frozen=True)
class Scope:
    """Which devices this agent reports. Unset: every block device of the node (a real node).

    ``loop_backing_dir``: only loop devices whose backing file lies under this directory, and their
    partitions (the lab: each simulated node's disks are files in a directory of its own, so a disk
    attached later is seen too).
    """

    loop_backing_dir: Path | None = None

    def includes(self, name: str, backing_file: str | None, parent: str | None, parents_in_scope: set[str]) -> bool:
        if self.loop_backing_dir is None:
            return True
        if parent is not None:
            return parent in parents_in_scope
        if backing_file is None:
            return False
        return backing_file.startswith(str(self.loop_backing_dir.resolve()) + os.sep)


@dataclass
class Scanner:
    scope: Scope = field(default_factory=Scope)
    mountinfo: Path = Path("/proc/1/mountinfo")
    swaps: Path = Path("/proc/swaps")
    _cache: dict[tuple[str, str | None, int, str | None], Probe] = field(default_factory=dict)
    probes_run: int = 0

    def scan(self, reprobe: Iterable[str] | None = None) -> tuple[list[DeviceFacts], frozenset[str]]:
        """Every device in scope with its facts, and the active swap devices.

        ``reprobe``: names whose content may have changed (from uevents); None: probe everything again.
        """
        context = pyudev.Context()
        mounts = parse_mountinfo(_read(self.mountinfo))
        swaps = frozenset(parse_swaps(_read(self.swaps)))
        raw = [d for d in context.list_devices(subsystem="block") if not d.sys_name.startswith(SKIPPED_PREFIXES)]
        by_name = {d.sys_name: d for d in raw}
        in_scope: set[str] = set()
        found: list[DeviceFacts] = []
        # Whole disks first, so that partitions can follow their disk's scope.
        for dev in sorted(raw, key=lambda d: (d.device_type == "partition", d.sys_name)):
            facts = _facts(dev, by_name, mounts)
            if facts is None:
                continue
            if not self.scope.includes(facts.name, facts.backing_file, facts.parent, in_scope):
                continue
            in_scope.add(facts.name)
            found.append(facts)
        wanted = None if reprobe is None else set(reprobe)
        live = set()
        probed = []
        for facts in found:
            key = (facts.name, facts.diskseq, facts.size_bytes, facts.backing_file)
            live.add(key)
            if facts.size_bytes == 0 or facts.mountpoints:
                # Nothing to probe, or in use anyway (and libblkid may not open a mounted system disk).
                probed.append(facts)
                continue
            if wanted is None or facts.name in wanted or key not in self._cache:
                self._cache[key] = probe(facts.path)
                self.probes_run += 1
            probed.append(replace(facts, probe=self._cache[key]))
        for stale in set(self._cache) - live:
            del self._cache[stale]
        return sorted(probed, key=lambda f: f.name), swaps


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _attr(dev: pyudev.Device, name: str) -> str | None:
    """A sysfs attribute of the device (``name`` may be a path below it, e.g. queue/rotational)."""
    value = _read(Path(dev.sys_path) / name).strip()
    return value or None


def _int_attr(dev: pyudev.Device, name: str) -> int | None:
    value = _attr(dev, name)
    return int(value) if value is not None and value.isdigit() else None


def _flag(dev: pyudev.Device, name: str) -> bool | None:
    value = _attr(dev, name)
    return None if value is None else value == "1"


def _list_dir(path: Path) -> tuple[str, ...]:
    try:
        return tuple(sorted(p.name for p in path.iterdir()))
    except OSError:
        return ()


# Kernel name prefixes, and device-mapper uuid prefixes, by what they are.
NAME_TYPES: tuple[tuple[str, DeviceType], ...] = (
    ("loop", "loop"),
    ("md", "raid"),
    ("sr", "rom"),
    ("scd", "rom"),
    ("nbd", "other"),
    ("rbd", "other"),
    ("zd", "other"),
)
DM_TYPES: tuple[tuple[str, DeviceType], ...] = (("LVM-", "lvm"), ("CRYPT-", "crypt"), ("mpath-", "mpath"))


def _device_type(name: str, dev: pyudev.Device) -> DeviceType:
    if dev.device_type == "partition":
        return "part"
    if name.startswith("dm-"):
        uuid = _attr(dev, "dm/uuid") or ""
        return next((kind for prefix, kind in DM_TYPES if uuid.startswith(prefix)), "other")
    return next((kind for prefix, kind in NAME_TYPES if name.startswith(prefix)), "disk")


def _facts(
    dev: pyudev.Device, by_name: dict[str, pyudev.Device], mounts: dict[tuple[int, int], list[str]]
) -> DeviceFacts | None:
    name = dev.sys_name
    sys_path = Path(dev.sys_path)
    sectors = _int_attr(dev, "size") or 0
    is_part = dev.device_type == "partition"
    parent = dev.find_parent("block").sys_name if is_part and dev.find_parent("block") is not None else None
    queue_of = by_name.get(parent) if parent else dev
    backing = _read(sys_path / "loop" / "backing_file").strip() or None
    if name.startswith("loop") and sectors == 0:
        return None  # a loop device with nothing attached: not a device anyone could use
    partitions = tuple(sorted(c.sys_name for c in dev.children if c.device_type == "partition")) if not is_part else ()
    holders = _list_dir(sys_path / "holders")
    major, minor = os.major(dev.device_number), os.minor(dev.device_number)
    mountpoints = list(mounts.get((major, minor), []))
    for related in (*partitions, *holders):
        other = by_name.get(related)
        if other is not None:
            mountpoints += mounts.get((os.major(other.device_number), os.minor(other.device_number)), [])
    props = dev.properties
    links = str(props.get("DEVLINKS", "")).split()
    return DeviceFacts(
        name=name,
        path=dev.device_node or f"/dev/{name}",
        type=_device_type(name, dev),
        size_bytes=sectors * 512,
        major_minor=(major, minor),
        parent=parent,
        logical_sector_size=_int_attr(queue_of, "queue/logical_block_size") if queue_of is not None else None,
        physical_sector_size=_int_attr(queue_of, "queue/physical_block_size") if queue_of is not None else None,
        rotational=_flag(queue_of, "queue/rotational") if queue_of is not None else None,
        read_only=_attr(dev, "ro") == "1",
        removable=_attr(dev, "removable") == "1",
        vendor=_attr(dev, "device/vendor") or props.get("ID_VENDOR"),
        model=_attr(dev, "device/model") or props.get("ID_MODEL"),
        serial=_attr(dev, "serial") or _attr(dev, "device/serial") or props.get("ID_SERIAL_SHORT"),
        wwn=_attr(dev, "wwid") or _attr(dev, "device/wwid") or props.get("ID_WWN"),
        backing_file=backing,
        by_id=tuple(sorted(link for link in links if link.startswith("/dev/disk/by-id/"))),
        by_path=tuple(sorted(link for link in links if link.startswith("/dev/disk/by-path/"))),
        partitions=partitions,
        holders=holders,
        mountpoints=tuple(dict.fromkeys(mountpoints)),
        diskseq=props.get("DISKSEQ"),
    )


def probe(path: str) -> Probe:
    """Signatures on ``path``, found without writing: wipefs --no-act, blkid -p, the BlueStore label."""
    try:
        wipefs = _run(["wipefs", "--no-act", "--json", path])
        blkid = _run(["blkid", "-p", "-o", "export", path], ok=(0, 2))  # 2: nothing found
        signatures = parse_wipefs(wipefs)
        ceph = None
        if any(s.type == "ceph_bluestore" for s in signatures):
            ceph = parse_bluestore_label(_read_head(path))
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return Probe(error=str(exc).strip()[:300] or exc.__class__.__name__)
    return Probe(signatures=signatures, usage=parse_blkid_export(blkid).get("USAGE"), ceph=ceph)


def _run(argv: list[str], *, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False)
    if done.returncode not in ok:
        raise subprocess.SubprocessError(f"{argv[0]} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def _read_head(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, LABEL_BYTES)
    finally:
        os.close(fd)
