"""The node agent on real loop devices, prepared every way a disk can be in use, publishing to the real
API server as its own ServiceAccount (a token bound to its Node), and the CephOSDs a managed cluster's
selection derives from what the agents report."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from storage_operator.agent.eligibility import Policy, assess
from storage_operator.agent.scanner import Scanner, probe
from storage_operator.lab.agents import agent_kubeconfig
from tests.agent_support import DiskNode, MiB, make_bluestore, make_lvm_pv, node_with_agent, sh
from tests.operator_support import condition, http_get, lab_control, own_namespace, status, unique
from tests.support import LabHandle, eventually


@pytest.fixture
def node(lab: LabHandle) -> Iterator[DiskNode]:
    with node_with_agent(lab, min_size="128M") as n:
        yield n


def codes(device: dict[str, Any]) -> list[str]:
    return [str(r["code"]) for r in device.get("reasons", [])]


def test_every_kind_of_device_is_reported_with_why_it_is_not_available(
    lab: LabHandle, node: DiskNode, tmp_path: Path
) -> None:
    clean = node.attach("clean")
    ext4 = node.attach("ext4")
    sh("mkfs.ext4", "-q", ext4)
    xfs = node.attach("xfs", 320 * MiB)  # XFS refuses anything below 300 MB
    sh("mkfs.xfs", "-q", xfs)
    swap = node.attach("swap")
    sh("mkswap", swap)
    gpt = node.attach("gpt")
    sh("sgdisk", "-n1:0:+32M", gpt)
    sh("partx", "-a", gpt)  # this kernel parses no tables by itself
    node.partitioned.append(gpt)
    lvm = node.attach("lvm")
    make_lvm_pv(lvm)
    bluestore = node.attach("bluestore", 1024 * MiB)
    fsid, osd_key = make_bluestore(bluestore, tmp_path)
    readonly = node.attach("readonly", read_only=True)
    small = node.attach("small", 64 * MiB)
    name = {dev: Path(dev).name for dev in (clean, ext4, xfs, swap, gpt, lvm, bluestore, readonly, small)}
    partition = f"{name[gpt]}p1"

    devices = node.wait_devices(lambda d: set(name.values()) | {partition} <= set(d), timeout=30)
    assert devices[name[clean]]["available"] is True
    assert devices[name[clean]]["reasons"] == []
    assert devices[name[clean]]["type"] == "loop"
    assert devices[name[clean]]["backingFile"] == str(node.disks / "clean.img")
    expected = {
        ext4: ["HasFilesystem"],
        xfs: ["HasFilesystem"],
        swap: ["IsSwap"],
        lvm: ["IsLVMMember"],
        bluestore: ["IsCephOSD"],
        readonly: ["ReadOnly"],
        small: ["TooSmall"],
    }
    for dev, want in expected.items():
        got = devices[name[dev]]
        assert got["available"] is False, got
        assert codes(got) == want, got
    ext4_reason = devices[name[ext4]]["reasons"][0]["message"]
    assert ext4_reason == "ext4 filesystem signature at offset 1080 (0x438)"
    assert codes(devices[name[gpt]]) == ["HasPartitions", "HasPartitionTable", "HasPartitionTable", "HasPartitionTable"]
    assert devices[name[gpt]]["partitions"] == [partition]
    assert devices[partition]["type"] == "part"
    assert codes(devices[partition]) == ["NotConsidered", "TooSmall"]  # partitions only when told to (32 MiB)
    # Without udevd nothing announces that mkfs finished writing: the periodic rescan reads the whole label.
    node.wait_devices(lambda d: f"OSD 7 of cluster {fsid}" in d[name[bluestore]]["reasons"][0]["message"], timeout=30)
    assert devices[name[small]]["reasons"][0]["message"] == "64.0 MiB is smaller than the minimum 128 MiB"
    # The BlueStore label holds the OSD's key in plain text: it must never reach the API.
    assert osd_key not in json.dumps(node.inventory())
    inv = node.inventory()
    assert inv is not None
    assert inv["status"]["availableCount"] == 1
    assert inv["metadata"]["ownerReferences"][0]["kind"] == "Node"


def test_attach_and_detach_are_followed_and_a_vanishing_device_does_not_hurt(node: DiskNode) -> None:
    device = node.attach("hotplug")
    loop = Path(device).name
    node.wait_devices(lambda d: loop in d, timeout=10)
    node.detach(device)
    node.wait_devices(lambda d: loop not in d, timeout=10)
    # Devices that come and go faster than a probe takes: the agent keeps going and ends up right.
    for i in range(10):
        node.detach(node.attach(f"flash-{i}"))
    survivor = node.attach("survivor")
    devices = node.wait_devices(lambda d: set(d) == {Path(survivor).name}, timeout=30)
    assert devices[Path(survivor).name]["available"] is True
    code, text = http_get(node.port, "/healthz")
    assert (code, text.strip()) == (200, "ok")


def test_with_the_udev_source_and_no_udevd_the_rescan_still_finds_devices(lab: LabHandle) -> None:
    """On a real node udevd delivers the events; without one (this machine) that source is silent and the
    periodic rescan is what finds a new disk: slower, never wrong."""
    with node_with_agent(lab, extra=("--event-source", "udev")) as node:
        device = node.attach("seen-by-rescan")
        devices = node.wait_devices(lambda d: Path(device).name in d, timeout=30)
        assert devices[Path(device).name]["available"] is True


def test_a_wiped_device_becomes_available_without_restarting_anything(node: DiskNode) -> None:
    device = node.attach("towipe")
    sh("mkfs.ext4", "-q", device)
    loop = Path(device).name
    node.wait_devices(lambda d: loop in d and d[loop]["available"] is False, timeout=15)
    sh("wipefs", "--all", "--quiet", device)
    node.wait_devices(lambda d: d[loop]["available"] is True, timeout=30)  # the periodic rescan sees it


def test_probing_never_writes_to_a_device(node: DiskNode) -> None:
    device = node.attach("untouched", 64 * MiB)
    sh("mkfs.ext4", "-q", "-L", "precious", device)

    def digest() -> str:
        return hashlib.sha256(Path(device).read_bytes()).hexdigest()

    before = digest()
    for _ in range(3):
        assert probe(device).signatures  # what the agent runs on every device
    node.wait_devices(lambda d: Path(device).name in d, timeout=15)
    assert digest() == before


def test_an_unscoped_scan_reports_the_system_disk_unavailable_with_its_mount() -> None:
    devices, swaps = Scanner().scan()
    roots = [d for d in devices if "/" in d.mountpoints]
    assert roots, [(d.name, d.mountpoints) for d in devices]
    reasons = assess(roots[0], Policy(), active_swaps=swaps)
    assert [r.code for r in reasons][:2] == ["SystemDisk", "Mounted"]
    assert "mounted at /" in reasons[1].message


def test_the_agent_survives_a_deleted_inventory_and_an_api_server_restart(lab: LabHandle, node: DiskNode) -> None:
    first = node.attach("first")
    node.wait_devices(lambda d: Path(first).name in d, timeout=10)
    with lab.api() as api:
        client.CustomObjectsApi(api).delete_cluster_custom_object(
            "storage.baremetal.io", "v1alpha1", "diskinventories", node.name
        )
    node.wait_devices(lambda d: Path(first).name in d, timeout=30)  # put back by the next full rescan

    control = lab_control(lab)
    control.stop_process("kube-apiserver", kill=True)
    try:
        second = node.attach("while-the-api-is-away")
    finally:
        control.start_process("kube-apiserver")

    def answering() -> bool:
        try:
            return node.inventory() is not None
        except Exception:  # the API server is still starting
            return False

    eventually(answering, timeout=90, interval=0.5)
    node.wait_devices(lambda d: Path(second).name in d, timeout=60)


def test_an_agent_may_write_only_its_own_nodes_inventory(lab: LabHandle) -> None:
    mine, other = lab.config.nodes[0], lab.config.nodes[1]
    kubectl = [str(lab.config.root / "bin" / "kubectl"), "--kubeconfig", str(agent_kubeconfig(lab.config, mine))]
    patch = json.dumps({"status": {"message": "forged"}})
    denied = subprocess.run(
        [*kubectl, "patch", "diskinventory", other, "--subresource=status", "--type=merge", "-p", patch],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert denied.returncode != 0
    assert "may write only the DiskInventory of the node its token is bound to" in denied.stderr
    deleting = subprocess.run(
        [*kubectl, "delete", "diskinventory", mine], capture_output=True, text=True, timeout=60, check=False
    )
    assert deleting.returncode != 0
    assert "forbidden" in deleting.stderr.lower()


def test_the_agent_manifests_pass_a_server_side_dry_run(lab: LabHandle) -> None:
    kubectl = [str(lab.config.root / "bin" / "kubectl"), "--kubeconfig", str(lab.config.paths.kubeconfig)]
    done = subprocess.run(
        [*kubectl, "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-k", "manifests/agent"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert "daemonset.apps/storage-agent serverside-applied (server dry run)" in done.stdout


def test_the_selection_of_a_managed_cluster_becomes_cephosds_for_available_devices_only(lab: LabHandle) -> None:
    node_a, node_b = lab.config.nodes[0], lab.config.nodes[1]
    state = lab_control(lab).state()
    assert state is not None
    disks_a = [loop.device for loop in state.loops if loop.node == node_a]
    disks_b = [loop.device for loop in state.loops if loop.node == node_b]
    busy = disks_b[0]
    sh("mkfs.ext4", "-q", busy)  # one of node-b's disks is in use now
    try:
        with own_namespace(lab, cluster=None) as ns:
            name = unique("managed")
            spec = {
                "storage": {
                    "nodes": [
                        {"name": node_a, "devices": [{"name": Path(disks_a[0]).name}]},
                        {"name": node_b, "deviceFilter": "^loop[0-9]+$"},
                    ],
                    "minDeviceSizeBytes": 1024**3,
                },
                "mon": {"count": 1},
            }
            ns.create("CephCluster", name, spec)
            expected = {f"{name}-{node_a}-{Path(disks_a[0]).name}"} | {
                f"{name}-{node_b}-{Path(d).name}" for d in disks_b[1:]
            }

            def osds() -> dict[str, dict[str, object]]:
                items = ns.custom.list_namespaced_custom_object(
                    "storage.baremetal.io", "v1alpha1", ns.namespace, "cephosds"
                )["items"]
                return {i["metadata"]["name"]: i for i in items}

            eventually(lambda: set(osds()) == expected, timeout=30)
            for item in osds().values():
                assert status(item).get("phase") == "Pending"
                assert item["metadata"]["ownerReferences"][0]["name"] == name
            body = ns.wait(
                "CephCluster", name, lambda b: condition(b, "DevicesSelected").get("status") == "True", timeout=30
            )
            selected = condition(body, "DevicesSelected")["message"]
            assert f"{node_b}/{Path(busy).name}: HasFilesystem" in selected  # named, with why, not used
            ns.wait_event(name, "OSDsPlanned")

            sh("wipefs", "--all", "--quiet", busy)  # freed: the agent sees it, the operator follows
            freed = f"{name}-{node_b}-{Path(busy).name}"
            eventually(lambda: freed in osds(), timeout=60)
    finally:
        # Give the lab its empty sparse disk back: discarding a loop device punches holes in its file.
        sh("blkdiscard", busy)
