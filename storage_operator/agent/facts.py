"""What the agent knows about one block device (pure values), and the parsers of what it reads:
/proc/*/mountinfo, `wipefs --json`, `blkid -p -o export`, a Ceph BlueStore label."""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from storage_operator.api.v1alpha1.diskinventory import DeviceType
from storage_operator.reconcile import mountinfo


@dataclass(frozen=True)
class FoundSignature:
    type: str
    offset: int
    uuid: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class CephLabel:
    """What a BlueStore label says of its OSD. Its ``osd_key`` is never read into this (it is a secret)."""

    osd_uuid: str
    ceph_fsid: str | None
    whoami: int | None
    ready: bool = False  # ceph-osd --mkfs finished (it writes "ready" last)


@dataclass(frozen=True)
class Probe:
    """Read-only probing of one device: its signatures, what blkid calls its usage, a Ceph label."""

    signatures: tuple[FoundSignature, ...] = ()
    usage: str | None = None
    ceph: CephLabel | None = None
    error: str | None = None


@dataclass(frozen=True)
class DeviceFacts:
    name: str
    path: str
    type: DeviceType
    size_bytes: int
    major_minor: tuple[int, int]
    parent: str | None = None  # a partition's disk
    logical_sector_size: int | None = None
    physical_sector_size: int | None = None
    rotational: bool | None = None
    read_only: bool = False
    removable: bool = False
    vendor: str | None = None
    model: str | None = None
    serial: str | None = None
    wwn: str | None = None
    backing_file: str | None = None
    by_id: tuple[str, ...] = ()
    by_path: tuple[str, ...] = ()
    partitions: tuple[str, ...] = ()
    holders: tuple[str, ...] = ()
    mountpoints: tuple[str, ...] = ()
    probe: Probe = field(default_factory=Probe)
    # Identity of what is attached: a loop device re-attached to another file is another device.
    diskseq: str | None = None


# ---------------------------------------------------------------------------- /proc/*/mountinfo


def parse_mountinfo(text: str) -> dict[tuple[int, int], list[str]]:
    """major:minor -> mount points, in the order the kernel lists them."""
    mounts: dict[tuple[int, int], list[str]] = {}
    for entry in mountinfo.parse_mountinfo(text):
        device = mountinfo.device_numbers(entry)
        if device is not None:
            mounts.setdefault(device, []).append(entry.mount_point)
    return mounts


def parse_swaps(text: str) -> list[str]:
    """The device paths /proc/swaps lists as active swap."""
    return [line.split()[0] for line in text.splitlines()[1:] if line.strip()]


# ---------------------------------------------------------------------------- wipefs / blkid


def parse_wipefs(text: str) -> tuple[FoundSignature, ...]:
    """`wipefs --no-act --json DEV`: every signature libblkid finds, with its byte offset."""
    if not text.strip():
        return ()
    found = []
    for entry in json.loads(text).get("signatures", []):
        found.append(
            FoundSignature(
                type=str(entry.get("type") or "unknown"),
                offset=int(str(entry.get("offset") or "0"), 0),
                uuid=entry.get("uuid") or None,
                label=entry.get("label") or None,
            )
        )
    return tuple(found)


def parse_blkid_export(text: str) -> Mapping[str, str]:
    """`blkid -p -o export DEV`: KEY=value lines (TYPE, USAGE, PTTYPE, ...)."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


# ---------------------------------------------------------------------------- BlueStore label

BLUESTORE_MAGIC = b"bluestore block device\n"
LABEL_BYTES = 4096  # the label lives in the first 4 KiB


def parse_bluestore_label(raw: bytes) -> CephLabel | None:
    """The OSD uuid, cluster fsid and OSD id of a BlueStore label; None when ``raw`` is not one.

    Layout (bluestore_bdev_label_t): magic line, uuid line, then an encoded struct: version, compat,
    length, osd uuid (16 bytes), size, btime, description, and a map of strings ("meta") holding
    ceph_fsid, whoami, and osd_key. The key is skipped without being decoded.
    """
    if not raw.startswith(BLUESTORE_MAGIC):
        return None
    try:
        off = len(BLUESTORE_MAGIC)
        text_uuid = raw[off : off + 36].decode()
        off += 37
        off += 6  # struct version, compat version, length
        off += 16 + 8 + 8  # osd uuid (raw), size, btime
        (desc_len,) = struct.unpack_from("<I", raw, off)
        off += 4 + desc_len
        (count,) = struct.unpack_from("<I", raw, off)
        off += 4
        meta: dict[str, str] = {}
        for _ in range(count):
            (key_len,) = struct.unpack_from("<I", raw, off)
            key = raw[off + 4 : off + 4 + key_len].decode()
            off += 4 + key_len
            (value_len,) = struct.unpack_from("<I", raw, off)
            if key in ("ceph_fsid", "whoami", "ready"):
                meta[key] = raw[off + 4 : off + 4 + value_len].decode()
            off += 4 + value_len
    except (struct.error, UnicodeDecodeError):
        return CephLabel(osd_uuid="unreadable", ceph_fsid=None, whoami=None)
    whoami = meta.get("whoami")
    return CephLabel(
        osd_uuid=text_uuid,
        ceph_fsid=meta.get("ceph_fsid"),
        whoami=int(whoami) if whoami and whoami.isdigit() else None,
        ready=meta.get("ready") == "ready",
    )
