"""Simulated nodes: registered Node objects, each with its loop-device disks of the configured size."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client

from storage_operator.lab.cluster import LAB_NODE_LABEL
from storage_operator.lab.loopdev import device_size, list_attached
from tests.support import LabHandle


def test_nodes_are_registered_and_ready(lab: LabHandle) -> None:
    with lab.api() as api:
        nodes = client.CoreV1Api(api).list_node(label_selector=f"{LAB_NODE_LABEL}=true").items
    assert sorted(str(n.metadata.name) for n in nodes) == sorted(lab.config.nodes)
    for node in nodes:
        ready = next(c for c in node.status.conditions if c.type == "Ready")
        assert ready.status == "True"
        assert ready.reason == "LabSimulatedNode"


def test_each_node_has_its_loop_disks_with_the_right_size(lab: LabHandle) -> None:
    attached = {d.device: d.backing_file for d in list_attached()}
    for node in lab.config.nodes:
        disks = [loop for loop in lab.state.loops if loop.node == node]
        assert len(disks) == lab.config.disks_per_node
        for disk in disks:
            assert Path(disk.device).is_block_device()
            assert attached[disk.device] == disk.backing_file
            assert Path(disk.backing_file).is_relative_to(lab.config.root)
            assert device_size(disk.device) == lab.config.disk_size_bytes
            # sparse: the file takes (almost) no space on the host
            assert Path(disk.backing_file).stat().st_blocks * 512 < 1024**2
