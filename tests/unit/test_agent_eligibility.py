"""Whether a device may become an OSD, and every reason it may not (the agent's pure assessment)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from storage_operator.agent.eligibility import EXCLUDED_TYPES, GiB, Policy, Reason, assess
from storage_operator.agent.facts import CephLabel, DeviceFacts, FoundSignature, Probe, parse_wipefs
from storage_operator.api.v1alpha1.diskinventory import DeviceType

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "agent"

MiB = 1024**2
OSD_UUID = "66666666-7777-4888-9999-aaaaaaaaaaaa"
CEPH_FSID = "11111111-2222-4333-8444-555555555555"

CLEAN = DeviceFacts(name="sdb", path="/dev/sdb", type="disk", size_bytes=4 * GiB, major_minor=(8, 16))
DEFAULT = Policy()

NOT_CONSIDERED_LOOP = Reason("NotConsidered", "a loop device: the agent considers loop devices only when told to")
NOT_CONSIDERED_PART = Reason("NotConsidered", "a partition: the agent considers partitions only when told to")
SYSTEM_ROOT = Reason("SystemDisk", "holds the node's /: the system disk is never offered")


def signed(*signatures: FoundSignature, ceph: CephLabel | None = None) -> DeviceFacts:
    return replace(CLEAN, probe=Probe(signatures=signatures, ceph=ceph))


def test_policy_defaults() -> None:
    assert (DEFAULT.min_size_bytes, DEFAULT.consider_loop, DEFAULT.consider_partitions) == (1024**3, False, False)


# ---------------------------------------------------------------------------- one reason at a time

CASES: list[tuple[str, DeviceFacts, Policy, frozenset[str], list[Reason]]] = [
    ("clean", CLEAN, DEFAULT, frozenset(), []),
    ("loop-not-considered", replace(CLEAN, type="loop"), DEFAULT, frozenset(), [NOT_CONSIDERED_LOOP]),
    ("loop-considered", replace(CLEAN, type="loop"), Policy(consider_loop=True), frozenset(), []),
    (
        "loop-partitions-policy-is-not-loop-policy",
        replace(CLEAN, type="loop"),
        Policy(consider_partitions=True),
        frozenset(),
        [NOT_CONSIDERED_LOOP],
    ),
    ("part-not-considered", replace(CLEAN, type="part"), DEFAULT, frozenset(), [NOT_CONSIDERED_PART]),
    ("part-considered", replace(CLEAN, type="part"), Policy(consider_partitions=True), frozenset(), []),
    (
        "part-loop-policy-is-not-partition-policy",
        replace(CLEAN, type="part"),
        Policy(consider_loop=True),
        frozenset(),
        [NOT_CONSIDERED_PART],
    ),
    (
        "root-mounted",
        replace(CLEAN, mountpoints=("/",)),
        DEFAULT,
        frozenset(),
        [SYSTEM_ROOT, Reason("Mounted", "mounted at /")],
    ),
    (
        "system-mounts-sorted",
        replace(CLEAN, mountpoints=("/var", "/data", "/", "/boot/efi")),
        DEFAULT,
        frozenset(),
        [
            Reason("SystemDisk", "holds the node's /, /boot/efi, /var: the system disk is never offered"),
            Reason("Mounted", "mounted at /var, /data, /, /boot/efi"),
        ],
    ),
    (
        "mounted-elsewhere",
        replace(CLEAN, mountpoints=("/srv",)),
        DEFAULT,
        frozenset(),
        [Reason("Mounted", "mounted at /srv")],
    ),
    (
        "not-system-below-a-system-mount",
        replace(CLEAN, mountpoints=("/var/lib/data",)),
        DEFAULT,
        frozenset(),
        [Reason("Mounted", "mounted at /var/lib/data")],
    ),
    ("active-swap", CLEAN, DEFAULT, frozenset({"/dev/sdb"}), [Reason("ActiveSwap", "in use as swap")]),
    ("other-swap", CLEAN, DEFAULT, frozenset({"/dev/sdc", "/swapfile"}), []),
    (
        "partitions",
        replace(CLEAN, partitions=("sdb1", "sdb2")),
        DEFAULT,
        frozenset(),
        [Reason("HasPartitions", "has partitions: sdb1, sdb2")],
    ),
    (
        "holders",
        replace(CLEAN, holders=("dm-0", "md127")),
        DEFAULT,
        frozenset(),
        [Reason("HeldByDevice", "held by dm-0, md127 (a volume built on it: LVM, RAID, crypt)")],
    ),
    ("read-only", replace(CLEAN, read_only=True), DEFAULT, frozenset(), [Reason("ReadOnly", "read-only")]),
    ("removable", replace(CLEAN, removable=True), DEFAULT, frozenset(), [Reason("Removable", "removable media")]),
    (
        "no-media",
        replace(CLEAN, size_bytes=0),
        DEFAULT,
        frozenset(),
        [Reason("NoMedia", "size 0: no medium, or nothing attached")],
    ),
    (
        "too-small",
        replace(CLEAN, size_bytes=512 * MiB),
        DEFAULT,
        frozenset(),
        [Reason("TooSmall", "512 MiB is smaller than the minimum 1.0 GiB")],
    ),
    (
        "too-small-for-the-policy",
        CLEAN,
        Policy(min_size_bytes=8 * GiB),
        frozenset(),
        [Reason("TooSmall", "4.0 GiB is smaller than the minimum 8.0 GiB")],
    ),
    ("exactly-the-minimum", CLEAN, Policy(min_size_bytes=4 * GiB), frozenset(), []),
    (
        "one-byte-short",
        replace(CLEAN, size_bytes=GiB - 1),
        DEFAULT,
        frozenset(),
        [Reason("TooSmall", "1024 MiB is smaller than the minimum 1.0 GiB")],
    ),
    (
        "probe-failed",
        replace(CLEAN, probe=Probe(error="wipefs exited 1: permission denied")),
        DEFAULT,
        frozenset(),
        [Reason("ProbeFailed", "could not be probed, so it is not offered: wipefs exited 1: permission denied")],
    ),
    (
        "probe-failed-hides-signatures",
        replace(CLEAN, probe=Probe(signatures=(FoundSignature("ext4", 1080),), error="timed out")),
        DEFAULT,
        frozenset(),
        [Reason("ProbeFailed", "could not be probed, so it is not offered: timed out")],
    ),
]


@pytest.mark.parametrize(
    ("device", "policy", "swaps", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_assess(device: DeviceFacts, policy: Policy, swaps: frozenset[str], expected: list[Reason]) -> None:
    assert assess(device, policy, active_swaps=swaps) == expected


def test_assess_without_active_swaps_argument() -> None:
    assert assess(CLEAN, DEFAULT) == []


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        ("lvm", "an LVM volume"),
        ("raid", "a RAID array"),
        ("crypt", "an encrypted volume"),
        ("mpath", "a multipath map"),
        ("rom", "an optical drive"),
        ("other", "not a disk"),
    ],
    ids=["lvm", "raid", "crypt", "mpath", "rom", "other"],
)
def test_excluded_types(kind: DeviceType, what: str) -> None:
    expected = [Reason("ExcludedType", f"{what}, not a whole disk")]
    assert assess(replace(CLEAN, type=kind), DEFAULT) == expected
    # No policy lets them in.
    assert assess(replace(CLEAN, type=kind), Policy(consider_loop=True, consider_partitions=True)) == expected


def test_excluded_types_table_is_complete() -> None:
    assert set(EXCLUDED_TYPES) == {"lvm", "raid", "crypt", "mpath", "rom", "other"}


# ---------------------------------------------------------------------------- signatures

SIGNATURES: list[tuple[str, FoundSignature, Reason]] = [
    (
        "ext4",
        FoundSignature("ext4", 1080, uuid="c50dda3c-3e87-4243-a657-de6c9ab429b6", label="data"),
        Reason("HasFilesystem", "ext4 filesystem signature at offset 1080 (0x438)"),
    ),
    ("xfs", FoundSignature("xfs", 0), Reason("HasFilesystem", "xfs filesystem signature at offset 0 (0x0)")),
    ("vfat", FoundSignature("vfat", 82), Reason("HasFilesystem", "vfat filesystem signature at offset 82 (0x52)")),
    (
        "zfs",
        FoundSignature("zfs_member", 262144),
        Reason("HasFilesystem", "zfs_member filesystem signature at offset 262144 (0x40000)"),
    ),
    (
        "gpt",
        FoundSignature("gpt", 512),
        Reason("HasPartitionTable", "gpt partition table signature at offset 512 (0x200)"),
    ),
    (
        "pmbr",
        FoundSignature("PMBR", 510),
        Reason("HasPartitionTable", "PMBR partition table signature at offset 510 (0x1fe)"),
    ),
    (
        "dos",
        FoundSignature("dos", 510),
        Reason("HasPartitionTable", "dos partition table signature at offset 510 (0x1fe)"),
    ),
    ("swap", FoundSignature("swap", 4086), Reason("IsSwap", "swap signature at offset 4086 (0xff6)")),
    ("lvm2", FoundSignature("LVM2_member", 536), Reason("IsLVMMember", "LVM physical volume at offset 536 (0x218)")),
    (
        "md",
        FoundSignature("linux_raid_member", 4096),
        Reason("IsRaidMember", "Linux RAID member at offset 4096 (0x1000)"),
    ),
    ("luks", FoundSignature("crypto_LUKS", 0), Reason("IsEncrypted", "LUKS encryption header at offset 0 (0x0)")),
    (
        "bitlocker",
        FoundSignature("BitLocker", 3),
        Reason("IsEncrypted", "BitLocker encryption header at offset 3 (0x3)"),
    ),
    (
        "bluestore-without-label",
        FoundSignature("ceph_bluestore", 0),
        Reason("IsCephOSD", "Ceph BlueStore label at offset 0 (0x0)"),
    ),
    (
        "unknown",
        FoundSignature("vmfs_volume_member", 1048576),
        Reason("HasSignature", "vmfs_volume_member signature at offset 1048576 (0x100000)"),
    ),
    ("unknown-type", FoundSignature("unknown", 0), Reason("HasSignature", "unknown signature at offset 0 (0x0)")),
]


@pytest.mark.parametrize(("signature", "expected"), [c[1:] for c in SIGNATURES], ids=[c[0] for c in SIGNATURES])
def test_signature_reasons(signature: FoundSignature, expected: Reason) -> None:
    assert assess(signed(signature), DEFAULT) == [expected]


@pytest.mark.parametrize(
    ("label", "message"),
    [
        (
            CephLabel(osd_uuid=OSD_UUID, ceph_fsid=CEPH_FSID, whoami=7),
            f"Ceph BlueStore label at offset 0 (0x0): OSD 7 of cluster {CEPH_FSID} (OSD uuid {OSD_UUID})",
        ),
        (
            CephLabel(osd_uuid=OSD_UUID, ceph_fsid=CEPH_FSID, whoami=0),
            f"Ceph BlueStore label at offset 0 (0x0): OSD 0 of cluster {CEPH_FSID} (OSD uuid {OSD_UUID})",
        ),
        (
            CephLabel(osd_uuid="unreadable", ceph_fsid=None, whoami=None),
            "Ceph BlueStore label at offset 0 (0x0): an OSD of an unknown cluster (OSD uuid unreadable)",
        ),
    ],
    ids=["osd-7", "osd-0", "unreadable"],
)
def test_ceph_osd_reason_names_the_osd(label: CephLabel, message: str) -> None:
    reasons = assess(signed(FoundSignature("ceph_bluestore", 0), ceph=label), DEFAULT)
    assert reasons == [Reason("IsCephOSD", message)]


def test_ceph_osd_reason_from_the_fixture_label() -> None:
    [reason] = assess(signed(FoundSignature("ceph_bluestore", 0), ceph=CephLabel(OSD_UUID, CEPH_FSID, 7)), DEFAULT)
    assert reason.code == "IsCephOSD"
    assert "OSD 7" in reason.message
    assert CEPH_FSID in reason.message
    assert OSD_UUID in reason.message


def test_every_signature_is_a_reason_in_probe_order() -> None:
    signatures = parse_wipefs((FIXTURES / "wipefs-gpt.json").read_text())
    assert assess(signed(*signatures), DEFAULT) == [
        Reason("HasPartitionTable", "gpt partition table signature at offset 512 (0x200)"),
        Reason("HasPartitionTable", "gpt partition table signature at offset 314572288 (0x12bffe00)"),
        Reason("HasPartitionTable", "PMBR partition table signature at offset 510 (0x1fe)"),
    ]


def test_clean_wipefs_fixture_is_available() -> None:
    assert assess(signed(*parse_wipefs((FIXTURES / "wipefs-clean.json").read_text())), DEFAULT) == []


# ---------------------------------------------------------------------------- several at once


def test_every_reason_is_listed_in_order() -> None:
    device = replace(
        CLEAN,
        type="loop",
        path="/dev/loop3",
        size_bytes=100 * MiB,
        mountpoints=("/srv/data", "/"),
        partitions=("loop3p1",),
        holders=("dm-2",),
        read_only=True,
        removable=True,
        probe=Probe(signatures=(FoundSignature("ext4", 1080), FoundSignature("swap", 4086))),
    )
    assert assess(device, DEFAULT, active_swaps=frozenset({"/dev/loop3"})) == [
        NOT_CONSIDERED_LOOP,
        SYSTEM_ROOT,
        Reason("Mounted", "mounted at /srv/data, /"),
        Reason("ActiveSwap", "in use as swap"),
        Reason("HasPartitions", "has partitions: loop3p1"),
        Reason("HeldByDevice", "held by dm-2 (a volume built on it: LVM, RAID, crypt)"),
        Reason("HasFilesystem", "ext4 filesystem signature at offset 1080 (0x438)"),
        Reason("IsSwap", "swap signature at offset 4086 (0xff6)"),
        Reason("ReadOnly", "read-only"),
        Reason("Removable", "removable media"),
        Reason("TooSmall", "100 MiB is smaller than the minimum 1.0 GiB"),
    ]


def test_considered_loop_still_has_its_other_reasons() -> None:
    device = replace(CLEAN, type="loop", size_bytes=0, probe=Probe(error="boom"))
    assert assess(device, Policy(consider_loop=True)) == [
        Reason("ProbeFailed", "could not be probed, so it is not offered: boom"),
        Reason("NoMedia", "size 0: no medium, or nothing attached"),
    ]


def test_no_media_is_not_also_too_small() -> None:
    codes = [r.code for r in assess(replace(CLEAN, size_bytes=0), Policy(min_size_bytes=GiB))]
    assert codes == ["NoMedia"]
