"""Whether a device may become an OSD, and every reason it may not (pure).

A device is available only when nothing says it is in use: a whole disk (loop devices and partitions
only when the agent is told to consider them), writable, not removable, at least the minimum size, not
mounted (nor its partitions or holders), without partitions, without any signature, not held by another
device, not the node's system disk. Every rejection carries a reason a human can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage_operator.agent.facts import DeviceFacts, FoundSignature
from storage_operator.reconcile.units import human_bytes

GiB = 1024**3
# Mount points that make a device the node's own system disk, never to be offered.
SYSTEM_MOUNTS = ("/", "/boot", "/boot/efi", "/usr", "/var", "/home", "/opt")
EXCLUDED_TYPES = {
    "lvm": "an LVM volume",
    "raid": "a RAID array",
    "crypt": "an encrypted volume",
    "mpath": "a multipath map",
    "rom": "an optical drive",
    "other": "not a disk",
}

# Signature types by what they mean; anything else is reported as HasSignature.
FILESYSTEMS = frozenset(
    {
        *("ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "exfat", "ntfs", "f2fs", "jfs", "reiserfs"),
        *("zfs_member", "iso9660", "udf", "squashfs", "erofs"),
    }
)
PARTITION_TABLES = frozenset(["gpt", "dos", "PMBR", "atari", "bsd", "sun", "sgi", "mac"])
SIGNATURE_CODES = {
    "swap": ("IsSwap", "swap signature"),
    "LVM2_member": ("IsLVMMember", "LVM physical volume"),
    "LVM1_member": ("IsLVMMember", "LVM physical volume"),
    "linux_raid_member": ("IsRaidMember", "Linux RAID member"),
    "isw_raid_member": ("IsRaidMember", "Intel RAID member"),
    "ddf_raid_member": ("IsRaidMember", "DDF RAID member"),
    "crypto_LUKS": ("IsEncrypted", "LUKS encryption header"),
    "BitLocker": ("IsEncrypted", "BitLocker encryption header"),
    "ceph_bluestore": ("IsCephOSD", "Ceph BlueStore label"),
}


@dataclass(frozen=True)
class Policy:
    min_size_bytes: int = GiB
    consider_loop: bool = False
    consider_partitions: bool = False


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


def assess(device: DeviceFacts, policy: Policy, *, active_swaps: frozenset[str] = frozenset()) -> list[Reason]:
    """Every reason ``device`` is not available (empty: available)."""
    reasons = _kind_reasons(device, policy)
    system = sorted(m for m in device.mountpoints if m in SYSTEM_MOUNTS)
    if system:
        reasons.append(Reason("SystemDisk", f"holds the node's {', '.join(system)}: the system disk is never offered"))
    if device.mountpoints:
        reasons.append(Reason("Mounted", f"mounted at {', '.join(device.mountpoints)}"))
    if device.path in active_swaps:
        reasons.append(Reason("ActiveSwap", "in use as swap"))
    if device.partitions:
        reasons.append(Reason("HasPartitions", f"has partitions: {', '.join(device.partitions)}"))
    if device.holders:
        reasons.append(
            Reason("HeldByDevice", f"held by {', '.join(device.holders)} (a volume built on it: LVM, RAID, crypt)")
        )
    reasons += _signature_reasons(device)
    if device.read_only:
        reasons.append(Reason("ReadOnly", "read-only"))
    if device.removable:
        reasons.append(Reason("Removable", "removable media"))
    if device.size_bytes == 0:
        reasons.append(Reason("NoMedia", "size 0: no medium, or nothing attached"))
    elif device.size_bytes < policy.min_size_bytes:
        reasons.append(
            Reason(
                "TooSmall",
                f"{human_bytes(device.size_bytes)} is smaller than the minimum {human_bytes(policy.min_size_bytes)}",
            )
        )
    return reasons


def _kind_reasons(device: DeviceFacts, policy: Policy) -> list[Reason]:
    if device.type == "loop" and not policy.consider_loop:
        return [Reason("NotConsidered", "a loop device: the agent considers loop devices only when told to")]
    if device.type == "part" and not policy.consider_partitions:
        return [Reason("NotConsidered", "a partition: the agent considers partitions only when told to")]
    if device.type in EXCLUDED_TYPES:
        return [Reason("ExcludedType", f"{EXCLUDED_TYPES[device.type]}, not a whole disk")]
    return []


def _signature_reasons(device: DeviceFacts) -> list[Reason]:
    probe = device.probe
    if probe.error is not None:
        return [Reason("ProbeFailed", f"could not be probed, so it is not offered: {probe.error}")]
    return [_signature_reason(device, sig) for sig in probe.signatures]


def _signature_reason(device: DeviceFacts, sig: FoundSignature) -> Reason:
    where = f"at offset {sig.offset} (0x{sig.offset:x})"
    if sig.type == "ceph_bluestore" and device.probe.ceph is not None:
        label = device.probe.ceph
        osd = f"OSD {label.whoami}" if label.whoami is not None else "an OSD"
        cluster = f"of cluster {label.ceph_fsid}" if label.ceph_fsid else "of an unknown cluster"
        return Reason("IsCephOSD", f"Ceph BlueStore label {where}: {osd} {cluster} (OSD uuid {label.osd_uuid})")
    if sig.type in SIGNATURE_CODES:
        code, what = SIGNATURE_CODES[sig.type]
        return Reason(code, f"{what} {where}")
    if sig.type in FILESYSTEMS:
        return Reason("HasFilesystem", f"{sig.type} filesystem signature {where}")
    if sig.type in PARTITION_TABLES:
        return Reason("HasPartitionTable", f"{sig.type} partition table signature {where}")
    return Reason("HasSignature", f"{sig.type} signature {where}")
