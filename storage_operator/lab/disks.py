"""Each simulated node's disks: sparse files attached as loop devices."""

from __future__ import annotations

from pathlib import Path

from storage_operator.lab import loopdev
from storage_operator.lab.config import LabConfig
from storage_operator.lab.context import LabContext


def disk_file(config: LabConfig, node: str, index: int) -> Path:
    return config.paths.disks / node / f"disk{index}.img"


def attach_node_disks(ctx: LabContext) -> str:
    config = ctx.config
    for node in config.nodes:
        for i in range(config.disks_per_node):
            backing = disk_file(config, node, i)
            loopdev.create_sparse_file(backing, config.disk_size_bytes)
            ctx.record_loop(loopdev.attach(backing), backing, node)
    total = len(config.nodes) * config.disks_per_node
    return (
        f"{total} loop devices ({config.disks_per_node} per node, {config.disk_size_bytes / 1024**3:g} GiB sparse each)"
    )
