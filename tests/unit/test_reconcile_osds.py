"""Which devices a managed CephCluster's `storage` selects from the nodes' DiskInventories, CephOSD names,
their status and their objects (pure)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from storage_operator.api.meta import DNS_SUBDOMAIN
from storage_operator.api.v1alpha1.cephcluster import NodeSelection, StorageSpec
from storage_operator.api.v1alpha1.cephosd import CephOSDSpec, CephOSDStatus
from storage_operator.api.v1alpha1.diskinventory import Device, DiskInventoryStatus, UnavailableReason
from storage_operator.reconcile.osds import (
    CLUSTER_LABEL,
    NAME_MAX,
    PENDING_MESSAGE,
    DesiredOSD,
    Selection,
    build_cephosd,
    fold_osd_status,
    osd_name,
    select_osds,
)

GiB = 1024**3
MiB = 1024**2
CLUSTER = "ceph"

SDB_IDS = ["/dev/disk/by-id/ata-QEMU_HARDDISK_QM00002", "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"]
SDB_PATH = "/dev/disk/by-path/pci-0000:00:1f.2-ata-2"
ROOT_REASONS = [
    UnavailableReason(code="SystemDisk", message="holds the node's /: the system disk is never offered"),
    UnavailableReason(code="Mounted", message="mounted at /"),
]
EXT4_REASON = UnavailableReason(code="HasFilesystem", message="ext4 filesystem signature at offset 1080 (0x438)")


def dev(
    name: str,
    *,
    size: int = 4 * GiB,
    reasons: list[UnavailableReason] | None = None,
    available: bool | None = None,
    by_id: list[str] | None = None,
    by_path: list[str] | None = None,
    serial: str | None = None,
) -> Device:
    return Device(
        name=name,
        path=f"/dev/{name}",
        size_bytes=size,
        type="disk",
        by_id=by_id or [],
        by_path=by_path or [],
        serial=serial,
        available=(not reasons) if available is None else available,
        reasons=reasons or [],
    )


SDA = dev("sda", reasons=ROOT_REASONS)
SDB = dev("sdb", by_id=SDB_IDS, by_path=[SDB_PATH], serial="QM00002")
SDC = dev("sdc", size=8 * GiB)
SDD = dev("sdd", reasons=[EXT4_REASON])
NVME = dev("nvme0n1", size=512 * MiB)
B_SDB = dev("sdb")
B_VDB = dev("vdb", size=16 * GiB)


def inventory(*devices: Device) -> DiskInventoryStatus:
    return DiskInventoryStatus(phase="Ready", devices=list(devices), device_count=len(devices))


INVENTORIES = {
    "node-a": inventory(SDA, SDB, SDC, SDD, NVME),
    "node-b": inventory(B_SDB, B_VDB),
}


def storage(**fields: Any) -> StorageSpec:
    return StorageSpec.model_validate(fields)


def desired(node: str, device: Device) -> DesiredOSD:
    return DesiredOSD(name=f"{CLUSTER}-{node}-{device.name}", node=node, device=device)


def regex_error(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    raise AssertionError(f"{pattern!r} compiles")


UNUSABLE_SDA = "node-a/sda: SystemDisk (holds the node's /: the system disk is never offered); Mounted (mounted at /)"
UNUSABLE_SDD = "node-a/sdd: HasFilesystem (ext4 filesystem signature at offset 1080 (0x438))"
UNUSABLE_NVME = "node-a/nvme0n1: 512 MiB is below minDeviceSizeBytes 1.0 GiB"


# ---------------------------------------------------------------------------- osd_name


@pytest.mark.parametrize(
    ("cluster", "node", "device", "name"),
    [
        ("ceph", "node-a", "sdb", "ceph-node-a-sdb"),
        ("Ceph", "Node-A", "SDB", "ceph-node-a-sdb"),
        ("ceph", "node-a.example.com", "nvme0n1", "ceph-node-a.example.com-nvme0n1"),
        ("ceph", "node-a", "cciss!c0d0", "ceph-node-a-cciss-c0d0"),
        ("ceph", "node-a", "a b__c", "ceph-node-a-a-b-c"),  # a run of odd characters: one "-"
        ("ceph", "node_a", "sdb", "ceph-node-a-sdb"),
        ("-ceph", "node-a", "sdb!", "ceph-node-a-sdb"),  # no leading or trailing "-"
        ("ceph", "node-a", "dm-0.", "ceph-node-a-dm-0"),
    ],
    ids=["plain", "upper-case", "dotted-node", "bang", "odd-run", "underscore", "stripped", "trailing-dot"],
)
def test_osd_name(cluster: str, node: str, device: str, name: str) -> None:
    assert osd_name(cluster, node, device) == name
    assert re.match(DNS_SUBDOMAIN, name)


def test_osd_name_is_bounded() -> None:
    node = "n" * 300
    name = osd_name("ceph", node, "sdb")
    assert NAME_MAX == 253
    assert len(name) == 253
    assert name == f"ceph-{node}"[:253]
    assert re.match(DNS_SUBDOMAIN, name)


def test_osd_name_bound_does_not_end_in_a_dash() -> None:
    name = osd_name("c", "n" * 250, "sdb")  # the 253rd character is the "-" before the device
    assert name == "c-" + "n" * 250
    assert len(name) == 252


@pytest.mark.parametrize("device", ["weird..name", "a.-b"], ids=["double-dot", "dot-dash"])
def test_osd_name_is_always_a_dns_subdomain(device: str) -> None:
    assert re.match(DNS_SUBDOMAIN, osd_name("ceph", "node-a", device))


# ---------------------------------------------------------------------------- select_osds: explicit devices


@pytest.mark.parametrize(
    ("wanted", "device"),
    [
        ("sdb", SDB),
        ("/dev/sdc", SDC),
        ("/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", SDB),
        ("/dev/disk/by-id/ata-QEMU_HARDDISK_QM00002", SDB),
        (SDB_PATH, SDB),
    ],
    ids=["by-name", "by-dev-path", "by-id-wwn", "by-id-ata", "by-path"],
)
def test_explicit_device(wanted: str, device: Device) -> None:
    spec = storage(nodes=[{"name": "node-a", "devices": [{"name": wanted}]}])
    selection = select_osds(CLUSTER, spec, INVENTORIES)
    assert selection == Selection(desired=[desired("node-a", device)])


def test_explicit_devices_keep_their_order_and_name_what_is_missing() -> None:
    spec = storage(
        nodes=[
            {"name": "node-a", "devices": [{"name": "sdc"}, {"name": "sdz"}, {"name": "sdb"}]},
            {"name": "node-b", "devices": [{"name": "/dev/disk/by-id/nowhere"}]},
        ]
    )
    selection = select_osds(CLUSTER, spec, INVENTORIES)
    assert selection.desired == [desired("node-a", SDC), desired("node-a", SDB)]
    assert selection.unusable == []
    assert selection.problems == [
        "node node-a has no device sdz in its DiskInventory",
        "node node-b has no device /dev/disk/by-id/nowhere in its DiskInventory",
    ]


def test_explicit_devices_win_over_filters() -> None:
    spec = storage(
        deviceFilter="^vd",
        nodes=[{"name": "node-a", "deviceFilter": "^nvme", "devices": [{"name": "sdb"}]}],
    )
    assert select_osds(CLUSTER, spec, INVENTORIES) == Selection(desired=[desired("node-a", SDB)])


def test_explicit_unavailable_device_is_unusable_with_its_reasons() -> None:
    spec = storage(nodes=[{"name": "node-a", "devices": [{"name": "sda"}, {"name": "sdd"}, {"name": "sdb"}]}])
    selection = select_osds(CLUSTER, spec, INVENTORIES)
    assert selection.desired == [desired("node-a", SDB)]
    assert selection.unusable == [UNUSABLE_SDA, UNUSABLE_SDD]
    assert selection.problems == []


def test_unavailable_device_without_reasons() -> None:
    odd = dev("sde", available=False)
    spec = storage(nodes=[{"name": "node-a", "devices": [{"name": "sde"}]}])
    selection = select_osds(CLUSTER, spec, {"node-a": inventory(odd)})
    assert selection == Selection(unusable=["node-a/sde: not available"])


# ---------------------------------------------------------------------------- select_osds: filters


def test_node_device_filter() -> None:
    spec = storage(nodes=[{"name": "node-a", "deviceFilter": "^sd"}])
    selection = select_osds(CLUSTER, spec, INVENTORIES)
    assert selection.desired == [desired("node-a", SDB), desired("node-a", SDC)]
    assert selection.unusable == [UNUSABLE_SDA, UNUSABLE_SDD]
    assert selection.problems == []


def test_node_device_filter_searches_anywhere_in_the_name() -> None:
    spec = storage(nodes=[{"name": "node-a", "deviceFilter": "n1"}])
    assert select_osds(CLUSTER, spec, INVENTORIES) == Selection(unusable=[UNUSABLE_NVME])


def test_node_device_filter_wins_over_the_global_filters() -> None:
    spec = storage(
        deviceFilter="^vd",
        devicePathFilter="^/dev/disk/by-id/",
        nodes=[{"name": "node-a", "deviceFilter": "^sdc$"}, {"name": "node-b"}],
    )
    selection = select_osds(CLUSTER, spec, INVENTORIES)
    assert selection.desired == [desired("node-a", SDC)]  # node-b: ^vd and by-id: nothing
    assert selection.problems == []


def test_global_device_filter() -> None:
    spec = storage(deviceFilter="^(sdc|vdb)$", nodes=[{"name": "node-a"}, {"name": "node-b"}])
    assert select_osds(CLUSTER, spec, INVENTORIES) == Selection(
        desired=[desired("node-a", SDC), desired("node-b", B_VDB)]
    )


def test_global_device_filter_matching_nothing_is_no_problem() -> None:
    spec = storage(deviceFilter="^hd", nodes=[{"name": "node-a"}])
    selection = select_osds(CLUSTER, spec, INVENTORIES)
    assert selection == Selection()
    assert selection.describe() == "the storage selection matches no available device"


@pytest.mark.parametrize(
    ("pattern", "chosen"),
    [
        ("^/dev/disk/by-id/wwn-", [SDB]),
        ("^/dev/disk/by-path/", [SDB]),
        ("^/dev/sd[cd]$", [SDC]),  # sdd is selected too, but unusable
        ("^/dev/nomatch", []),
    ],
    ids=["by-id", "by-path", "dev-path", "nothing"],
)
def test_global_device_path_filter(pattern: str, chosen: list[Device]) -> None:
    spec = storage(devicePathFilter=pattern, nodes=[{"name": "node-a"}])
    selection = select_osds(CLUSTER, spec, INVENTORIES)
    assert selection.desired == [desired("node-a", d) for d in chosen]
    assert selection.unusable == ([UNUSABLE_SDD] if chosen == [SDC] else [])
    assert selection.problems == []


def test_global_filters_together_must_both_match() -> None:
    spec = storage(deviceFilter="^sd", devicePathFilter="^/dev/sd[bc]$", nodes=[{"name": "node-a"}])
    assert select_osds(CLUSTER, spec, INVENTORIES).desired == [desired("node-a", SDB), desired("node-a", SDC)]
    spec = storage(deviceFilter="^sdc$", devicePathFilter="by-id", nodes=[{"name": "node-a"}])
    assert select_osds(CLUSTER, spec, INVENTORIES) == Selection()


def test_use_all_devices() -> None:
    spec = storage(useAllDevices=True, nodes=[{"name": "node-a"}])
    assert select_osds(CLUSTER, spec, INVENTORIES) == Selection(
        desired=[desired("node-a", SDB), desired("node-a", SDC)],
        unusable=[UNUSABLE_SDA, UNUSABLE_SDD, UNUSABLE_NVME],
    )


def test_use_all_devices_narrowed_by_the_path_filter() -> None:
    spec = storage(useAllDevices=True, devicePathFilter="wwn", nodes=[{"name": "node-a"}])
    assert select_osds(CLUSTER, spec, INVENTORIES) == Selection(desired=[desired("node-a", SDB)])


def test_use_all_nodes_takes_every_inventory_in_name_order() -> None:
    spec = storage(useAllNodes=True, useAllDevices=True)
    inventories = {"node-b": INVENTORIES["node-b"], "node-a": INVENTORIES["node-a"]}
    selection = select_osds(CLUSTER, spec, inventories)
    assert selection.desired == [
        desired("node-a", SDB),
        desired("node-a", SDC),
        desired("node-b", B_SDB),
        desired("node-b", B_VDB),
    ]
    assert selection.unusable == [UNUSABLE_SDA, UNUSABLE_SDD, UNUSABLE_NVME]
    assert selection.problems == []
    assert [d.name for d in selection.desired] == [
        "ceph-node-a-sdb",
        "ceph-node-a-sdc",
        "ceph-node-b-sdb",
        "ceph-node-b-vdb",
    ]


def test_use_all_nodes_with_a_device_filter() -> None:
    spec = storage(useAllNodes=True, deviceFilter="^sdb$")
    assert select_osds(CLUSTER, spec, INVENTORIES) == Selection(
        desired=[desired("node-a", SDB), desired("node-b", B_SDB)]
    )


def test_use_all_nodes_without_any_inventory() -> None:
    spec = storage(useAllNodes=True, useAllDevices=True)
    assert select_osds(CLUSTER, spec, {}) == Selection(
        problems=["spec.storage selects no node: set useAllNodes or list nodes"]
    )


# ---------------------------------------------------------------------------- select_osds: problems


def test_no_node_selected() -> None:
    assert select_osds(CLUSTER, storage(), INVENTORIES) == Selection(
        problems=["spec.storage selects no node: set useAllNodes or list nodes"]
    )


def test_node_without_inventory() -> None:
    spec = storage(useAllDevices=True, nodes=[{"name": "node-c"}, {"name": "node-b"}])
    assert select_osds(CLUSTER, spec, INVENTORIES) == Selection(
        desired=[desired("node-b", B_SDB), desired("node-b", B_VDB)],
        problems=["node node-c has no DiskInventory (is the node agent running there?)"],
    )


def test_nothing_selected_for_a_node() -> None:
    spec = storage(nodes=[{"name": "node-a"}, {"name": "node-b", "deviceFilter": "^vdb$"}])
    assert select_osds(CLUSTER, spec, INVENTORIES) == Selection(
        desired=[desired("node-b", B_VDB)],
        problems=["node node-a: no devices selected (list devices, or set a deviceFilter or useAllDevices)"],
    )


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"deviceFilter": "sd[", "useAllNodes": True}, "spec.storage.deviceFilter"),
        ({"devicePathFilter": "sd[", "useAllNodes": True}, "spec.storage.devicePathFilter"),
        (
            {"deviceFilter": "^sd", "nodes": [{"name": "node-b"}, {"name": "node-a", "deviceFilter": "sd["}]},
            "spec.storage.nodes[1].deviceFilter",
        ),
    ],
    ids=["device-filter", "device-path-filter", "node-device-filter"],
)
def test_invalid_regex_is_a_problem_and_selects_nothing(fields: dict[str, Any], where: str) -> None:
    selection = select_osds(CLUSTER, storage(**fields), INVENTORIES)
    problem = f"{where} 'sd[' is not a valid regular expression ({regex_error('sd[')}): it selects nothing"
    assert problem == (
        f"{where} 'sd[' is not a valid regular expression (unterminated character set at position 2): "
        "it selects nothing"
    )
    assert selection.problems == [problem]
    assert selection.unusable == []
    # Only node-b of the last case may still select through the valid global filter.
    assert selection.desired == ([desired("node-b", B_SDB)] if "nodes" in fields else [])


def test_invalid_global_regex_is_reported_once() -> None:
    spec = storage(deviceFilter="(", nodes=[{"name": "node-a"}, {"name": "node-b"}])
    selection = select_osds(CLUSTER, spec, INVENTORIES)
    assert len(selection.problems) == 1
    assert selection.problems[0].startswith("spec.storage.deviceFilter '(' is not a valid regular expression (")
    assert selection.desired == []


# ---------------------------------------------------------------------------- select_osds: size


def test_min_device_size() -> None:
    spec = storage(useAllDevices=True, minDeviceSizeBytes=5 * GiB, nodes=[{"name": "node-a"}])
    selection = select_osds(CLUSTER, spec, INVENTORIES)
    assert selection.desired == [desired("node-a", SDC)]
    assert selection.unusable == [
        UNUSABLE_SDA,
        "node-a/sdb: 4.0 GiB is below minDeviceSizeBytes 5.0 GiB",
        UNUSABLE_SDD,
        "node-a/nvme0n1: 512 MiB is below minDeviceSizeBytes 5.0 GiB",
    ]


def test_min_device_size_is_inclusive() -> None:
    spec = storage(useAllDevices=True, minDeviceSizeBytes=4 * GiB, nodes=[{"name": "node-b"}])
    assert select_osds(CLUSTER, spec, INVENTORIES).desired == [desired("node-b", B_SDB), desired("node-b", B_VDB)]


def test_min_device_size_zero_takes_small_devices() -> None:
    spec = storage(minDeviceSizeBytes=0, nodes=[{"name": "node-a", "devices": [{"name": "nvme0n1"}]}])
    assert select_osds(CLUSTER, spec, INVENTORIES) == Selection(desired=[desired("node-a", NVME)])


def test_storage_spec_accepts_snake_case_too() -> None:
    spec = StorageSpec(use_all_devices=True, min_device_size_bytes=5 * GiB, nodes=[NodeSelection(name="node-b")])
    assert select_osds(CLUSTER, spec, INVENTORIES).desired == [desired("node-b", B_VDB)]


# ---------------------------------------------------------------------------- Selection.describe


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "the storage selection matches no available device"),
        (1, "1 devices selected for OSDs: node-a/d0"),
        (2, "2 devices selected for OSDs: node-a/d0, node-a/d1"),
        (10, "10 devices selected for OSDs: " + ", ".join(f"node-a/d{i}" for i in range(10))),
        (12, "12 devices selected for OSDs: " + ", ".join(f"node-a/d{i}" for i in range(10)) + " and 2 more"),
    ],
    ids=["none", "one", "two", "ten", "twelve"],
)
def test_describe(count: int, text: str) -> None:
    selection = Selection(desired=[desired("node-a", dev(f"d{i}")) for i in range(count)])
    assert selection.describe() == text


def test_describe_a_real_selection() -> None:
    spec = storage(useAllDevices=True, nodes=[{"name": "node-a"}])
    assert select_osds(CLUSTER, spec, INVENTORIES).describe() == "2 devices selected for OSDs: node-a/sdb, node-a/sdc"


# ---------------------------------------------------------------------------- fold_osd_status


def test_fold_pending_with_an_available_device() -> None:
    status = fold_osd_status(None, device=SDB, node="node-a", path="/dev/sdb")
    assert status == CephOSDStatus(phase="Pending", message=PENDING_MESSAGE)


def test_fold_unavailable_when_the_device_is_gone() -> None:
    status = fold_osd_status(None, device=None, node="node-a", path="/dev/sdb")
    assert status == CephOSDStatus(phase="Unavailable", message="/dev/sdb is no longer in the DiskInventory of node-a")


def test_fold_unavailable_when_the_device_is_in_use() -> None:
    status = fold_osd_status(None, device=SDA, node="node-a", path="/dev/sda")
    assert status == CephOSDStatus(
        phase="Unavailable",
        message="/dev/sda on node-a is not available: SystemDisk: holds the node's /: the system disk is never "
        "offered; Mounted: mounted at /",
    )


def test_fold_back_to_pending_keeps_the_rest_and_does_not_touch_the_previous_status() -> None:
    previous = CephOSDStatus(
        phase="Unavailable", message="/dev/sdb is no longer in the DiskInventory of node-a", observed_generation=2
    )
    before = previous.model_copy(deep=True)
    status = fold_osd_status(previous, device=SDB, node="node-a", path="/dev/sdb")
    assert status == CephOSDStatus(phase="Pending", message=PENDING_MESSAGE, observed_generation=2)
    assert previous == before


@pytest.mark.parametrize(
    "device",
    [None, SDA, SDB],
    ids=["gone", "unavailable", "available"],
)
def test_fold_leaves_an_osd_ceph_knows_alone(device: Device | None) -> None:
    previous = CephOSDStatus.model_validate(
        {"phase": "Running", "message": "up and in", "osdId": 0, "osdUUID": "66666666-7777-4888-9999-aaaaaaaaaaaa"}
    )
    status = fold_osd_status(previous, device=device, node="node-a", path="/dev/sdb")
    assert status == previous
    assert status is not previous


# ---------------------------------------------------------------------------- build_cephosd


def test_build_cephosd() -> None:
    body = build_cephosd(
        desired("node-a", SDB), cluster=CLUSTER, namespace="storage", cluster_uid="uid-1234", device_class="ssd"
    )
    assert body == {
        "apiVersion": "storage.baremetal.io/v1alpha1",
        "kind": "CephOSD",
        "metadata": {
            "name": "ceph-node-a-sdb",
            "namespace": "storage",
            "labels": {CLUSTER_LABEL: CLUSTER, "app.kubernetes.io/part-of": "storage-operator"},
            "ownerReferences": [
                {
                    "apiVersion": "storage.baremetal.io/v1alpha1",
                    "kind": "CephCluster",
                    "name": CLUSTER,
                    "uid": "uid-1234",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "clusterRef": {"name": CLUSTER},
            "node": "node-a",
            "device": {
                "path": "/dev/sdb",
                "sizeBytes": 4 * GiB,
                "stablePath": "/dev/disk/by-id/ata-QEMU_HARDDISK_QM00002",  # the first by-id link
                "serial": "QM00002",
            },
            "deviceClass": "ssd",
        },
    }
    assert CLUSTER_LABEL == "storage.baremetal.io/cluster"
    spec = CephOSDSpec.model_validate(body["spec"])
    assert (spec.device.stable_path, spec.device_class) == ("/dev/disk/by-id/ata-QEMU_HARDDISK_QM00002", "ssd")


@pytest.mark.parametrize("device_class", [None, ""], ids=["none", "empty"])
def test_build_cephosd_without_links_serial_or_class(device_class: str | None) -> None:
    body = build_cephosd(
        desired("node-b", B_VDB),
        cluster=CLUSTER,
        namespace="storage",
        cluster_uid="uid-1234",
        device_class=device_class,
    )
    assert body["spec"] == {
        "clusterRef": {"name": CLUSTER},
        "node": "node-b",
        "device": {"path": "/dev/vdb", "sizeBytes": 16 * GiB},
    }
    assert body["metadata"]["name"] == "ceph-node-b-vdb"
    CephOSDSpec.model_validate(body["spec"])
