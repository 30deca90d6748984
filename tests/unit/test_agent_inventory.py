"""The agent's DiskInventory status (pure): devices from facts, counts, the reasons cap, change detection;
and the agent's pure plumbing: the loop-device scope, its settings (environment) and its uevent source."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from storage_operator.agent import watcher
from storage_operator.agent.eligibility import GiB, Policy
from storage_operator.agent.facts import CephLabel, DeviceFacts, FoundSignature, Probe
from storage_operator.agent.inventory import MAX_REASONS, build_status, device_of, same_devices
from storage_operator.agent.scanner import Scope
from storage_operator.api.v1alpha1.diskinventory import Device, DiskInventoryStatus, Signature, UnavailableReason
from storage_operator.config import AgentConfig

NOW = datetime(2026, 11, 27, 8, 24, 3, tzinfo=UTC)
DEFAULT = Policy()
NO_SWAPS: frozenset[str] = frozenset()

CLEAN = DeviceFacts(name="sdb", path="/dev/sdb", type="disk", size_bytes=4 * GiB, major_minor=(8, 16))
RICH = DeviceFacts(
    name="sdc",
    path="/dev/sdc",
    type="disk",
    size_bytes=8 * GiB,
    major_minor=(8, 32),
    logical_sector_size=512,
    physical_sector_size=4096,
    rotational=True,
    vendor="ATA",
    model="QEMU HARDDISK",
    serial="QM00003",
    wwn="0x5000c500a1b2c3d4",
    by_id=("/dev/disk/by-id/ata-QEMU_HARDDISK_QM00003", "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"),
    by_path=("/dev/disk/by-path/pci-0000:00:1f.2-ata-3",),
    partitions=("sdc1",),
    holders=("dm-0",),
    mountpoints=("/srv",),
    probe=Probe(
        signatures=(
            FoundSignature("gpt", 512),
            FoundSignature("PMBR", 510),
            FoundSignature("ext4", 1080, uuid="c50dda3c-3e87-4243-a657-de6c9ab429b6", label="data"),
        ),
        usage="partition_table",
    ),
    diskseq="9",
)


# ---------------------------------------------------------------------------- device_of


def test_device_of_a_clean_disk() -> None:
    assert device_of(CLEAN, DEFAULT, NO_SWAPS) == Device(
        name="sdb", path="/dev/sdb", size_bytes=4 * GiB, type="disk", available=True
    )


def test_device_of_copies_every_fact() -> None:
    device = device_of(RICH, DEFAULT, NO_SWAPS)
    assert device == Device(
        name="sdc",
        path="/dev/sdc",
        by_id=["/dev/disk/by-id/ata-QEMU_HARDDISK_QM00003", "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"],
        by_path=["/dev/disk/by-path/pci-0000:00:1f.2-ata-3"],
        size_bytes=8 * GiB,
        logical_sector_size=512,
        physical_sector_size=4096,
        type="disk",
        rotational=True,
        read_only=False,
        removable=False,
        vendor="ATA",
        model="QEMU HARDDISK",
        serial="QM00003",
        wwn="0x5000c500a1b2c3d4",
        backing_file=None,
        filesystem="gpt",  # the first signature found
        signatures=[
            Signature(type="gpt", offset=512),
            Signature(type="PMBR", offset=510),
            Signature(type="ext4", offset=1080, uuid="c50dda3c-3e87-4243-a657-de6c9ab429b6", label="data"),
        ],
        partitions=["sdc1"],
        holders=["dm-0"],
        mountpoints=["/srv"],
        available=False,
        reasons=[
            UnavailableReason(code="Mounted", message="mounted at /srv"),
            UnavailableReason(code="HasPartitions", message="has partitions: sdc1"),
            UnavailableReason(code="HeldByDevice", message="held by dm-0 (a volume built on it: LVM, RAID, crypt)"),
            UnavailableReason(code="HasPartitionTable", message="gpt partition table signature at offset 512 (0x200)"),
            UnavailableReason(code="HasPartitionTable", message="PMBR partition table signature at offset 510 (0x1fe)"),
            UnavailableReason(code="HasFilesystem", message="ext4 filesystem signature at offset 1080 (0x438)"),
        ],
    )


def test_device_of_a_loop_device_keeps_its_backing_file_and_uses_the_policy() -> None:
    loop = replace(CLEAN, name="loop3", path="/dev/loop3", type="loop", backing_file="/var/lab/node-a/disk-0.img")
    considered = device_of(loop, Policy(consider_loop=True), NO_SWAPS)
    assert (considered.type, considered.backing_file, considered.available, considered.reasons) == (
        "loop",
        "/var/lab/node-a/disk-0.img",
        True,
        [],
    )
    ignored = device_of(loop, DEFAULT, NO_SWAPS)
    assert ignored.available is False
    assert [r.code for r in ignored.reasons] == ["NotConsidered"]


def test_device_of_active_swap() -> None:
    device = device_of(CLEAN, DEFAULT, frozenset({"/dev/sdb"}))
    assert device.available is False
    assert device.reasons == [UnavailableReason(code="ActiveSwap", message="in use as swap")]


def test_device_of_bluestore_has_no_key_and_names_the_osd() -> None:
    label = CephLabel("66666666-7777-4888-9999-aaaaaaaaaaaa", "11111111-2222-4333-8444-555555555555", 7)
    facts = replace(CLEAN, probe=Probe(signatures=(FoundSignature("ceph_bluestore", 0),), ceph=label))
    device = device_of(facts, DEFAULT, NO_SWAPS)
    assert device.filesystem == "ceph_bluestore"
    assert [r.code for r in device.reasons] == ["IsCephOSD"]
    assert "OSD 7" in device.reasons[0].message


def unknown_signatures(n: int) -> Probe:
    return Probe(signatures=tuple(FoundSignature(f"sig{i}", i) for i in range(n)))


@pytest.mark.parametrize(
    ("signatures", "shown", "more"),
    [
        (MAX_REASONS - 1, MAX_REASONS - 1, None),
        (MAX_REASONS, MAX_REASONS, None),
        (MAX_REASONS + 1, MAX_REASONS - 1, "and 2 more reasons"),
        (30, MAX_REASONS - 1, "and 15 more reasons"),
    ],
    ids=["below-cap", "at-cap", "one-over", "far-over"],
)
def test_device_of_caps_reasons(signatures: int, shown: int, more: str | None) -> None:
    reasons = device_of(replace(CLEAN, probe=unknown_signatures(signatures)), DEFAULT, NO_SWAPS).reasons
    assert MAX_REASONS == 16
    assert len(reasons) <= MAX_REASONS
    assert reasons[:shown] == [
        UnavailableReason(code="HasSignature", message=f"sig{i} signature at offset {i} (0x{i:x})")
        for i in range(shown)
    ]
    if more is None:
        assert len(reasons) == shown
    else:
        assert reasons[shown:] == [UnavailableReason(code="More", message=more)]


def test_device_of_cap_counts_every_reason_left_out() -> None:
    facts = replace(CLEAN, read_only=True, removable=True, probe=unknown_signatures(20))
    reasons = device_of(facts, DEFAULT, NO_SWAPS).reasons
    # 22 reasons: 15 shown, 7 summed up (5 signatures, ReadOnly, Removable).
    assert len(reasons) == 16
    assert reasons[-1] == UnavailableReason(code="More", message="and 7 more reasons")
    assert "ReadOnly" not in [r.code for r in reasons]


def test_device_of_truncates_long_messages_to_the_schema_bound() -> None:
    long_mount = "/" + "x" * 2000
    [reason] = device_of(replace(CLEAN, mountpoints=(long_mount,)), DEFAULT, NO_SWAPS).reasons
    assert reason == UnavailableReason(code="Mounted", message=f"mounted at {long_mount}"[:1024])
    assert len(reason.message) == 1024


def test_device_of_a_disk_mounted_in_many_places() -> None:
    facts = replace(CLEAN, mountpoints=("/", *(f"/var/lib/kubelet/pods/p{i}/volume-subpaths/v" for i in range(40))))
    device = device_of(facts, DEFAULT, NO_SWAPS)
    assert device.available is False
    assert [r.code for r in device.reasons] == ["SystemDisk", "Mounted"]
    assert len(device.mountpoints) <= 32


# ---------------------------------------------------------------------------- build_status


def test_build_status_counts() -> None:
    status = build_status(
        [CLEAN, RICH, replace(CLEAN, name="sdd", path="/dev/sdd")],
        DEFAULT,
        NO_SWAPS,
        now=NOW,
        agent_version="0.1.0",
        scan_seconds=0.123456,
    )
    assert status.phase == "Ready"
    assert status.message == "3 devices, 2 available"
    assert (status.device_count, status.available_count) == (3, 2)
    assert [(d.name, d.available) for d in status.devices] == [("sdb", True), ("sdc", False), ("sdd", True)]
    assert status.devices[1] == device_of(RICH, DEFAULT, NO_SWAPS)
    assert (status.last_scan, status.agent_version, status.scan_seconds) == (NOW, "0.1.0", 0.1235)
    assert status.conditions == []
    assert status.observed_generation is None


def test_build_status_of_no_device() -> None:
    status = build_status([], DEFAULT, NO_SWAPS, now=NOW, agent_version="0.1.0", scan_seconds=0.0)
    assert status == DiskInventoryStatus(
        phase="Ready",
        message="0 devices, 0 available",
        devices=[],
        device_count=0,
        available_count=0,
        last_scan=NOW,
        agent_version="0.1.0",
        scan_seconds=0.0,
    )


def test_build_status_passes_swaps_and_policy() -> None:
    loop = replace(CLEAN, name="loop0", path="/dev/loop0", type="loop")
    status = build_status(
        [CLEAN, loop],
        Policy(consider_loop=True, min_size_bytes=2 * GiB),
        frozenset({"/dev/sdb"}),
        now=NOW,
        agent_version="0.1.0",
        scan_seconds=1.0,
    )
    assert [(d.name, d.available, [r.code for r in d.reasons]) for d in status.devices] == [
        ("sdb", False, ["ActiveSwap"]),
        ("loop0", True, []),
    ]
    assert status.available_count == 1


def test_build_status_round_trips_through_the_wire() -> None:
    status = build_status([CLEAN, RICH], DEFAULT, NO_SWAPS, now=NOW, agent_version="0.1.0", scan_seconds=0.5)
    wire = status.to_wire()
    assert wire["deviceCount"] == 2
    assert wire["devices"][1]["byId"] == list(RICH.by_id)
    assert DiskInventoryStatus.model_validate(wire) == status


# ---------------------------------------------------------------------------- same_devices


def status_of(
    *devices: DeviceFacts, now: datetime = NOW, seconds: float = 0.5, version: str = "0.1.0"
) -> DiskInventoryStatus:
    return build_status(list(devices), DEFAULT, NO_SWAPS, now=now, agent_version=version, scan_seconds=seconds)


def test_same_devices_ignores_scan_time_and_duration() -> None:
    a = status_of(CLEAN, RICH)
    b = status_of(CLEAN, RICH, now=NOW + timedelta(minutes=1), seconds=3.25)
    assert a != b
    assert same_devices(a, b) is True


def test_same_devices_after_a_round_trip() -> None:
    a = status_of(CLEAN, RICH)
    assert same_devices(DiskInventoryStatus.model_validate(a.to_wire()), status_of(CLEAN, RICH)) is True


@pytest.mark.parametrize(
    "b",
    [
        status_of(CLEAN),
        status_of(CLEAN, replace(RICH, size_bytes=16 * GiB)),
        status_of(CLEAN, replace(RICH, mountpoints=())),
        status_of(RICH, CLEAN),
        status_of(CLEAN, RICH, replace(CLEAN, name="sdd", path="/dev/sdd")),
    ],
    ids=["device-gone", "device-resized", "device-unmounted", "order", "device-added"],
)
def test_same_devices_sees_a_changed_device(b: DiskInventoryStatus) -> None:
    assert same_devices(status_of(CLEAN, RICH), b) is False


def test_same_devices_sees_a_changed_phase() -> None:
    a = status_of(CLEAN).model_copy(update={"phase": "Error"})
    assert same_devices(a, status_of(CLEAN)) is False


def test_same_devices_without_a_published_status() -> None:
    assert same_devices(None, status_of(CLEAN)) is False
    assert same_devices(None, status_of()) is False


def test_same_devices_sees_a_new_agent_version() -> None:
    assert same_devices(status_of(CLEAN), status_of(CLEAN, version="0.2.0")) is False


# ---------------------------------------------------------------------------- Scope.includes


def test_no_scope_includes_everything() -> None:
    scope = Scope()
    assert scope.includes("sda", None, None, set()) is True
    assert scope.includes("sda1", None, "sda", set()) is True
    assert scope.includes("loop0", "/elsewhere/disk.img", None, set()) is True


@pytest.mark.parametrize(
    ("backing", "parent", "in_scope", "included"),
    [
        ("{lab}/disk-0.img", None, set(), True),
        ("{lab}/deeper/disk-1.img", None, set(), True),
        ("{lab}-other/disk-0.img", None, set(), False),  # a sibling directory sharing the prefix
        ("/somewhere/else/disk-0.img", None, set(), False),
        ("{lab}", None, set(), False),  # the directory itself is not under it
        (None, None, set(), False),  # not a loop device (nothing behind it)
        (None, "loop3", {"loop3"}, True),  # a partition follows its disk
        (None, "loop4", {"loop3"}, False),
        (None, "sda", set(), False),
    ],
    ids=[
        "loop-under-dir",
        "loop-deeper",
        "sibling-prefix",
        "loop-outside",
        "dir-itself",
        "not-a-loop",
        "partition-of-included-disk",
        "partition-of-excluded-disk",
        "partition-of-real-disk",
    ],
)
def test_scope_includes(
    tmp_path: Path, backing: str | None, parent: str | None, in_scope: set[str], included: bool
) -> None:
    lab = tmp_path.resolve() / "node-a"
    scope = Scope(loop_backing_dir=lab)
    backing_file = backing.format(lab=lab) if backing is not None else None
    assert scope.includes("loopX", backing_file, parent, in_scope) is included


def test_scope_resolves_its_directory(tmp_path: Path) -> None:
    real = tmp_path.resolve() / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    scope = Scope(loop_backing_dir=link)
    assert scope.includes("loop0", f"{real}{os.sep}disk-0.img", None, set()) is True


# ---------------------------------------------------------------------------- AgentConfig

AGENT_ALIASES = ("NODE_NAME", "KUBECONFIG")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No agent setting inherited from the environment the tests run in."""
    for name in list(os.environ):
        if name.startswith("STORAGE_AGENT_") or name in AGENT_ALIASES:
            monkeypatch.delenv(name)
    return monkeypatch


def test_agent_config_defaults(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("NODE_NAME", "node-a")
    config = AgentConfig()
    assert config.node_name == "node-a"
    assert config.kubeconfig is None
    assert (config.http_host, config.http_port) == ("0.0.0.0", 8081)  # noqa: S104
    assert config.min_size_bytes == 1024**3
    assert (config.consider_loop, config.consider_partitions, config.loop_backing_dir) == (False, False, None)
    assert (config.rescan_seconds, config.debounce_seconds) == (60.0, 0.03)
    assert config.event_source == "auto"
    assert config.mountinfo == Path("/proc/1/mountinfo")
    assert (config.log_level, config.log_format) == ("INFO", "text")


def test_agent_config_from_prefixed_environment(clean_env: pytest.MonkeyPatch) -> None:
    for name, value in {
        "STORAGE_AGENT_NODE_NAME": "node-b",
        "STORAGE_AGENT_KUBECONFIG": "/etc/kube/agent",
        "STORAGE_AGENT_HTTP_HOST": "127.0.0.1",
        "STORAGE_AGENT_HTTP_PORT": "9091",
        "STORAGE_AGENT_MIN_SIZE_BYTES": "536870912",
        "STORAGE_AGENT_CONSIDER_LOOP": "true",
        "STORAGE_AGENT_CONSIDER_PARTITIONS": "1",
        "STORAGE_AGENT_LOOP_BACKING_DIR": "/var/lab/nodes/node-b",
        "STORAGE_AGENT_RESCAN_SECONDS": "5",
        "STORAGE_AGENT_DEBOUNCE_SECONDS": "0",
        "STORAGE_AGENT_EVENT_SOURCE": "kernel",
        "STORAGE_AGENT_MOUNTINFO": "/host/proc/1/mountinfo",
        "STORAGE_AGENT_LOG_LEVEL": "DEBUG",
        "STORAGE_AGENT_LOG_FORMAT": "json",
    }.items():
        clean_env.setenv(name, value)
    config = AgentConfig()
    assert (config.node_name, config.kubeconfig) == ("node-b", Path("/etc/kube/agent"))
    assert (config.http_host, config.http_port) == ("127.0.0.1", 9091)
    assert (config.min_size_bytes, config.consider_loop, config.consider_partitions) == (536870912, True, True)
    assert config.loop_backing_dir == Path("/var/lab/nodes/node-b")
    assert (config.rescan_seconds, config.debounce_seconds, config.event_source) == (5.0, 0.0, "kernel")
    assert config.mountinfo == Path("/host/proc/1/mountinfo")
    assert (config.log_level, config.log_format) == ("DEBUG", "json")


def test_agent_config_from_the_pod_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("NODE_NAME", "worker-3")
    clean_env.setenv("KUBECONFIG", "/home/me/.kube/config")
    config = AgentConfig()
    assert (config.node_name, config.kubeconfig) == ("worker-3", Path("/home/me/.kube/config"))


def test_agent_config_prefixed_variable_wins_over_its_alias(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("STORAGE_AGENT_NODE_NAME", "node-a")
    clean_env.setenv("NODE_NAME", "node-z")
    clean_env.setenv("STORAGE_AGENT_KUBECONFIG", "/a")
    clean_env.setenv("KUBECONFIG", "/b")
    config = AgentConfig()
    assert (config.node_name, config.kubeconfig) == ("node-a", Path("/a"))


def test_agent_config_needs_a_node_name(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as caught:
        AgentConfig()
    assert [e["type"] for e in caught.value.errors()] == ["missing"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STORAGE_AGENT_HTTP_PORT", "0"),
        ("STORAGE_AGENT_HTTP_PORT", "65536"),
        ("STORAGE_AGENT_MIN_SIZE_BYTES", "-1"),
        ("STORAGE_AGENT_RESCAN_SECONDS", "0"),
        ("STORAGE_AGENT_DEBOUNCE_SECONDS", "-0.1"),
        ("STORAGE_AGENT_EVENT_SOURCE", "netlink"),
        ("STORAGE_AGENT_LOG_LEVEL", "TRACE"),
    ],
    ids=["port-zero", "port-too-big", "negative-size", "zero-rescan", "negative-debounce", "bad-source", "bad-level"],
)
def test_agent_config_rejects_bad_values(clean_env: pytest.MonkeyPatch, name: str, value: str) -> None:
    clean_env.setenv("NODE_NAME", "node-a")
    clean_env.setenv(name, value)
    with pytest.raises(ValidationError):
        AgentConfig()


def test_agent_config_is_frozen(clean_env: pytest.MonkeyPatch) -> None:
    config = AgentConfig(node_name="node-a")
    with pytest.raises(ValidationError):
        config.node_name = "node-b"  # type: ignore[misc]


# ---------------------------------------------------------------------------- uevent source


def test_event_source_is_udev_when_udevd_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    control = tmp_path / "control"
    control.touch()
    monkeypatch.setattr(watcher, "UDEV_CONTROL", control)
    assert watcher.event_source() == "udev"


def test_event_source_is_the_kernel_without_udevd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watcher, "UDEV_CONTROL", tmp_path / "absent" / "control")
    assert watcher.event_source() == "kernel"
