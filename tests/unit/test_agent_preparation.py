"""Whether the agent may write an OSD's BlueStore (or wipe it) on a device as it is now (pure), and the pure
helpers of the preparer: the ``ceph-osd --mkfs`` argv and the reason a failed Ceph tool gives."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from storage_operator.agent.eligibility import GiB, Policy
from storage_operator.agent.facts import CephLabel, DeviceFacts, FoundSignature, Probe
from storage_operator.agent.preparation import Decision, decide, decide_wipe, find_device
from storage_operator.agent.preparer import mkfs_argv, why_failed
from storage_operator.api.v1alpha1.cephosd import CephOSDSpec, CephOSDStatus

OSD_UUID = "66666666-7777-4888-9999-aaaaaaaaaaaa"
OTHER_UUID = "0f6c1b4e-2d3a-4b5c-8d9e-0a1b2c3d4e5f"
FSID = "c4d2894c-7da7-4e23-9b34-1fa473841b4f"
OTHER_FSID = "11111111-2222-4333-8444-555555555555"
WHERE = "/dev/loop3 on node-a"
POLICY = Policy(consider_loop=True)

LOOP = DeviceFacts(
    name="loop3",
    path="/dev/loop3",
    type="loop",
    size_bytes=4 * GiB,
    major_minor=(7, 3),
    backing_file="/var/lib/lab/disks/node-a/osd-0.img",
    diskseq="17",
)
SDB = DeviceFacts(
    name="sdb",
    path="/dev/sdb",
    type="disk",
    size_bytes=4 * GiB,
    major_minor=(8, 16),
    serial="QM00002",
    by_id=("/dev/disk/by-id/ata-QEMU_HARDDISK_QM00002",),
    by_path=("/dev/disk/by-path/pci-0000:00:1f.2-ata-2",),
)

SPEC = CephOSDSpec.model_validate(
    {"clusterRef": {"name": "ceph"}, "node": "node-a", "device": {"path": "/dev/loop3", "sizeBytes": 4 * GiB}}
)
SDB_SPEC = CephOSDSpec.model_validate(
    {
        "clusterRef": {"name": "ceph"},
        "node": "node-a",
        "device": {
            "path": "/dev/sdb",
            "stablePath": "/dev/disk/by-id/ata-QEMU_HARDDISK_QM00002",
            "serial": "QM00002",
            "sizeBytes": 4 * GiB,
        },
    }
)
STATUS = CephOSDStatus(phase="Preparing", osd_id=3, osd_uuid=OSD_UUID, fsid=FSID)

BLUESTORE = FoundSignature("ceph_bluestore", 0, uuid=OSD_UUID)
FINISHED = CephLabel(osd_uuid=OSD_UUID, ceph_fsid=FSID, whoami=3, ready=True)
EXT4 = FoundSignature("ext4", 1080, uuid="c50dda3c-3e87-4243-a657-de6c9ab429b6", label="data")


def labelled(label: CephLabel, device: DeviceFacts = LOOP) -> DeviceFacts:
    signature = replace(BLUESTORE, uuid=label.osd_uuid)
    return replace(device, probe=Probe(signatures=(signature,), usage="other", ceph=label))


def signed(*signatures: FoundSignature) -> DeviceFacts:
    return replace(LOOP, probe=Probe(signatures=signatures))


# ---------------------------------------------------------------------------- find_device


def test_find_device_by_path() -> None:
    assert find_device([SDB, LOOP], SPEC) is LOOP


def test_find_device_by_stable_link_after_the_name_moved() -> None:
    moved = replace(SDB, name="sdc", path="/dev/sdc")
    stranger = replace(LOOP, name="sdb", path="/dev/sdb")  # now at the old path
    assert find_device([stranger, moved], SDB_SPEC) is moved


def test_find_device_by_path_link() -> None:
    spec = SDB_SPEC.model_copy(update={"device": SDB_SPEC.device.model_copy(update={"stable_path": SDB.by_path[0]})})
    moved = replace(SDB, name="sdc", path="/dev/sdc")
    assert find_device([moved], spec) is moved


def test_find_device_falls_back_to_the_path_when_the_link_is_gone() -> None:
    no_links = replace(SDB, by_id=(), by_path=())
    assert find_device([LOOP, no_links], SDB_SPEC) is no_links


def test_find_device_not_there() -> None:
    assert find_device([SDB], SPEC) is None
    assert find_device([], SDB_SPEC) is None


# ---------------------------------------------------------------------------- decide


@pytest.mark.parametrize(
    "status",
    [
        CephOSDStatus(phase="Preparing"),
        CephOSDStatus(phase="Preparing", osd_uuid=OSD_UUID, fsid=FSID),
        CephOSDStatus(phase="Preparing", osd_id=3, fsid=FSID),
        CephOSDStatus(phase="Preparing", osd_id=3, osd_uuid=OSD_UUID),
        CephOSDStatus(phase="Preparing", osd_id=3, osd_uuid="", fsid=FSID),
    ],
    ids=["nothing", "no-id", "no-uuid", "no-fsid", "empty-uuid"],
)
def test_decide_waits_for_the_ids(status: CephOSDStatus) -> None:
    expected = Decision("wait", "the operator has not allocated the OSD's id yet")
    assert decide(SPEC, status, LOOP, POLICY) == expected
    assert decide(SPEC, status, None, POLICY) == expected  # before anything else is looked at


def test_decide_osd_id_zero_is_an_id() -> None:
    status = STATUS.model_copy(update={"osd_id": 0})
    assert decide(SPEC, status, LOOP, POLICY).action == "mkfs"


def test_decide_device_gone() -> None:
    assert decide(SPEC, STATUS, None, POLICY) == Decision(
        "refuse", f"{WHERE} is not on the node any more: nothing was written"
    )


def test_decide_clean_device_is_made() -> None:
    assert decide(SPEC, STATUS, LOOP, POLICY) == Decision(
        "mkfs", f"{WHERE} checked again just now: still available; making osd.3"
    )


def test_decide_this_osds_finished_label_is_done() -> None:
    # Though the assessment would call the device unavailable (IsCephOSD): it is this OSD's.
    assert decide(SPEC, STATUS, labelled(FINISHED), POLICY) == Decision(
        "done", f"{WHERE} already carries osd.3's finished BlueStore: not made twice"
    )


@pytest.mark.parametrize(
    "label",
    [
        replace(FINISHED, ready=False),
        replace(FINISHED, whoami=None),
        replace(FINISHED, whoami=4),
        replace(FINISHED, ceph_fsid=None),
        replace(FINISHED, ceph_fsid=OTHER_FSID),
    ],
    ids=["not-ready", "no-whoami", "other-whoami", "no-fsid", "other-fsid"],
)
def test_decide_this_osds_unfinished_label_is_refused(label: CephLabel) -> None:
    decision = decide(SPEC, STATUS, labelled(label), POLICY)
    assert decision.action == "refuse"
    assert decision.message.startswith(f"{WHERE} carries osd.3's BlueStore label but its mkfs did not finish")
    assert decision.message.endswith("the device is left as it is")


def test_decide_another_osds_label_is_refused_as_unavailable() -> None:
    other = CephLabel(osd_uuid=OTHER_UUID, ceph_fsid=OTHER_FSID, whoami=0, ready=True)
    decision = decide(SPEC, STATUS, labelled(other), POLICY)
    assert decision.action == "refuse"
    assert decision.message.startswith(f"{WHERE} is no longer available (IsCephOSD: Ceph BlueStore label")
    assert OTHER_UUID in decision.message
    assert decision.message.endswith("): nothing was written")


def test_decide_probe_error() -> None:
    device = replace(LOOP, probe=Probe(error="wipefs timed out after 30 s"))
    assert decide(SPEC, STATUS, device, POLICY) == Decision(
        "refuse", f"{WHERE} could not be probed (wipefs timed out after 30 s): nothing was written"
    )


def test_decide_size_changed() -> None:
    device = replace(LOOP, size_bytes=8 * GiB)
    decision = decide(SPEC, STATUS, device, POLICY)
    assert decision.action == "refuse"
    assert decision.message == (
        f"{WHERE} is {8 * GiB} bytes now, {4 * GiB} when it was chosen: another device? nothing was written"
    )


def test_decide_size_not_recorded_is_not_compared() -> None:
    spec = SPEC.model_copy(update={"device": SPEC.device.model_copy(update={"size_bytes": None})})
    assert decide(spec, STATUS, replace(LOOP, size_bytes=8 * GiB), POLICY).action == "mkfs"


@pytest.mark.parametrize(("serial", "shown"), [("QM00003", "QM00003"), (None, "(none)")], ids=["other", "none"])
def test_decide_serial_changed(serial: str | None, shown: str) -> None:
    decision = decide(SDB_SPEC, STATUS, replace(SDB, serial=serial), POLICY)
    assert decision == Decision(
        "refuse",
        f"/dev/sdb on node-a has serial {shown}, not QM00002: another disk; nothing was written",
    )


def test_decide_same_serial_is_made() -> None:
    assert decide(SDB_SPEC, STATUS, SDB, POLICY).action == "mkfs"


@pytest.mark.parametrize(
    ("device", "swaps", "why"),
    [
        (signed(EXT4), frozenset(), "HasFilesystem: ext4 filesystem signature at offset 1080 (0x438)"),
        (signed(FoundSignature("gpt", 512)), frozenset(), "HasPartitionTable: gpt partition table signature"),
        (replace(LOOP, mountpoints=("/mnt/data",)), frozenset(), "Mounted: mounted at /mnt/data"),
        (replace(LOOP, holders=("dm-0",)), frozenset(), "HeldByDevice: held by dm-0"),
        (replace(LOOP, partitions=("loop3p1",)), frozenset(), "HasPartitions: has partitions: loop3p1"),
        (LOOP, frozenset({"/dev/loop3"}), "ActiveSwap: in use as swap"),
        (replace(LOOP, read_only=True), frozenset(), "ReadOnly: read-only"),
    ],
    ids=["ext4", "gpt", "mounted", "held", "partitions", "swap", "read-only"],
)
def test_decide_no_longer_available(device: DeviceFacts, swaps: frozenset[str], why: str) -> None:
    decision = decide(SPEC, STATUS, device, POLICY, active_swaps=swaps)
    assert decision.action == "refuse"
    assert decision.message.startswith(f"{WHERE} is no longer available (")
    assert why in decision.message
    assert decision.message.endswith(": nothing was written")


def test_decide_every_reason_is_named() -> None:
    device = replace(LOOP, mountpoints=("/mnt/data",), probe=Probe(signatures=(EXT4,)))
    message = decide(SPEC, STATUS, device, POLICY).message
    assert "Mounted: mounted at /mnt/data; HasFilesystem: ext4" in message


def test_decide_loop_device_needs_the_loop_policy() -> None:
    decision = decide(SPEC, STATUS, LOOP, Policy())
    assert decision.action == "refuse"
    assert "NotConsidered: a loop device" in decision.message


# ---------------------------------------------------------------------------- decide_wipe


def test_wipe_device_gone() -> None:
    assert decide_wipe(SPEC, STATUS, None) == Decision(
        "refuse", f"{WHERE} is not on the node any more: nothing to wipe"
    )


@pytest.mark.parametrize("label", [FINISHED, replace(FINISHED, ready=False)], ids=["finished", "unfinished"])
def test_wipe_own_label(label: CephLabel) -> None:
    assert decide_wipe(SPEC, STATUS, labelled(label)) == Decision(
        "wipe", f"{WHERE} carries osd.3's BlueStore: wiping it"
    )


def test_wipe_nothing_there_is_done() -> None:
    assert decide_wipe(SPEC, STATUS, LOOP) == Decision("done", f"{WHERE} shows no signature: nothing to wipe")


def test_wipe_refuses_another_signature() -> None:
    assert decide_wipe(SPEC, STATUS, signed(EXT4)) == Decision(
        "refuse", f"{WHERE} carries ext4, not osd.3's BlueStore: left as it is"
    )


def test_wipe_refuses_another_osds_bluestore() -> None:
    other = CephLabel(osd_uuid=OTHER_UUID, ceph_fsid=FSID, whoami=5, ready=True)
    assert decide_wipe(SPEC, STATUS, labelled(other)) == Decision(
        "refuse", f"{WHERE} carries ceph_bluestore, not osd.3's BlueStore: left as it is"
    )


def test_wipe_refuses_partitions() -> None:
    decision = decide_wipe(SPEC, STATUS, replace(LOOP, partitions=("loop3p1",)))
    assert decision == Decision("refuse", f"{WHERE} carries partitions, not osd.3's BlueStore: left as it is")


@pytest.mark.parametrize(
    "device",
    [replace(labelled(FINISHED), mountpoints=("/mnt",)), replace(labelled(FINISHED), holders=("dm-1",))],
    ids=["mounted", "held"],
)
def test_wipe_refuses_a_mounted_or_held_device_even_with_its_own_label(device: DeviceFacts) -> None:
    assert decide_wipe(SPEC, STATUS, device) == Decision("refuse", f"{WHERE} is mounted or held now: left as it is")


# ---------------------------------------------------------------------------- mkfs_argv

WORK = Path("/tmp/osd-3-abcd")


def argv() -> list[str]:
    return mkfs_argv(3, OSD_UUID, WORK / "ceph.conf", WORK / "data")


def value_of(flag: str) -> str:
    found = argv()
    return found[found.index(flag) + 1]


def test_mkfs_argv_is_offline_ceph_osd_mkfs() -> None:
    found = argv()
    assert found[0] == "ceph-osd"
    assert "--no-mon-config" in found
    assert "--mkfs" in found
    assert not [arg for arg in found if arg.startswith(("--keyring", "--mon-host", "--mon_host"))]


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("-i", "3"),
        ("--osd-uuid", OSD_UUID),
        ("-c", "/tmp/osd-3-abcd/ceph.conf"),
        ("--osd-data", "/tmp/osd-3-abcd/data"),
        ("--osd-objectstore", "bluestore"),
        ("--run-dir", "/tmp/osd-3-abcd"),  # not /run/ceph: the agent's root file system is read-only
    ],
)
def test_mkfs_argv_values(flag: str, value: str) -> None:
    assert value_of(flag) == value


def test_mkfs_argv_keeps_the_fsck_tracker_small() -> None:
    assert float(value_of("--bluestore_fsck_shared_blob_tracker_size")) < 0.01


def test_mkfs_argv_logs_errors_to_stderr_only() -> None:
    found = argv()
    assert "--log-to-file=false" in found
    assert "--err-to-stderr=true" in found


# ---------------------------------------------------------------------------- why_failed

CRASH = """\
terminate called after throwing an instance of 'ceph::buffer::v15_2_0::end_of_buffer'
  what():  End of buffer [buffer:2]
*** Caught signal (Aborted) **
 in thread 7f3c2a9e8f00 thread_name:ceph-osd
 ceph version 16.2.15 (618f440892089921c3e944a991122ddc44e60516) pacific (stable)
 1: /lib/x86_64-linux-gnu/libpthread.so.0(+0x13140) [0x7f3c2b0a1140]
 2: gsignal()
 3: abort()
 4: /lib/x86_64-linux-gnu/libstdc++.so.6(+0x9a7ec) [0x7f3c2ae0e7ec]
NOTE: a copy of the executable, or `objdump -rdS <executable>` is needed to interpret this.
"""


def test_why_failed_keeps_the_reason_and_drops_the_stack_trace() -> None:
    assert why_failed(CRASH) == (
        "terminate called after throwing an instance of 'ceph::buffer::v15_2_0::end_of_buffer' / "
        "what():  End of buffer [buffer:2]"
    )


def test_why_failed_drops_the_recent_events_dump() -> None:
    text = "why it failed\n   -2> 2024-05-01T10:00:00.000+0000 7f3c2a9e8f00  5 asok(0x5633) init\n  -1> detail\n"
    assert why_failed(text) == "why it failed"


def test_why_failed_at_most_three_lines() -> None:
    assert why_failed("one\ntwo\nthree\nfour\n") == "one / two / three"


def test_why_failed_is_bounded() -> None:
    assert len(why_failed("x" * 5000)) == 600


@pytest.mark.parametrize(
    "stderr",
    ["", "  \n\n", "*** Caught signal (Segmentation fault) **\n 1: /lib/libc.so.6(+0x1) [0x1]\n"],
    ids=["empty", "blank", "trace-only"],
)
def test_why_failed_without_a_message(stderr: str) -> None:
    assert why_failed(stderr) == "no message"


# What `ceph-osd --mkfs --err-to-stderr=true` prints when it fails without crashing: Ceph log entries,
# each led by its time stamp (as ceph-volume shows them, without its " stderr: " prefix).
MKFS_ERROR = """\
2024-05-01T10:00:00.775+0000 7f2e5dbdbf00 -1 bluestore(/tmp/osd-3-abcd/data) _read_fsid unparsable uuid
2024-05-01T10:00:00.823+0000 7f2e5dbdbf00 -1 bdev(0x55d1f1e1c000 /tmp/osd-3-abcd/data/block) open open got: (16) \
Device or resource busy
2024-05-01T10:00:00.827+0000 7f2e5dbdbf00 -1 bluestore(/tmp/osd-3-abcd/data) mkfs failed, (16) Device or resource busy
2024-05-01T10:00:00.827+0000 7f2e5dbdbf00 -1 OSD::mkfs: ObjectStore::mkfs failed with error (16) Device or resource busy
2024-05-01T10:00:00.827+0000 7f2e5dbdbf00 -1  ** ERROR: error creating empty object store in /tmp/osd-3-abcd/data: \
(16) Device or resource busy
"""


def test_why_failed_keeps_the_errors_ceph_osd_logs() -> None:
    assert "Device or resource busy" in why_failed(MKFS_ERROR)
