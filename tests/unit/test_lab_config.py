from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage_operator.errors import LabError
from storage_operator.lab.config import PORT_BLOCK, LabConfig, LabPorts, parse_size

ROOT = Path("/srv/lab")


def test_every_port_is_distinct_and_inside_the_block() -> None:
    ports = LabPorts(26400)
    fixed = list(ports.listeners().values())
    msgr = list(ports.ceph_msgr_range())
    everything = fixed + msgr
    assert len(everything) == len(set(everything))
    assert all(26400 <= p < 26400 + PORT_BLOCK for p in everything)
    assert len(msgr) == 200


def test_defaults_match_the_issue() -> None:
    cfg = LabConfig(root=ROOT)
    assert cfg.nodes == ("node-a", "node-b", "node-c")
    assert cfg.disks_per_node == 3
    assert cfg.osd_count == 3
    assert cfg.paths.kubeconfig == ROOT / "kubeconfig"
    assert cfg.paths.ceph_conf == ROOT / "ceph" / "ceph.conf"


def test_from_env_reads_the_documented_knobs() -> None:
    cfg = LabConfig.from_env(
        {
            "LAB_DIR": "/tmp/x-lab",
            "LAB_PORT_BASE": "25000",
            "LAB_NODES": "n1, n2",
            "LAB_DISKS_PER_NODE": "1",
            "LAB_DISK_SIZE": "512M",
        },
        default_root=ROOT,
    )
    assert cfg.root == Path("/tmp/x-lab")
    assert cfg.port_base == 25000
    assert cfg.nodes == ("n1", "n2")
    assert cfg.disks_per_node == 1
    assert cfg.disk_size_bytes == 512 * 1024**2


def test_from_env_defaults_to_the_given_root() -> None:
    assert LabConfig.from_env({}, default_root=ROOT).root == ROOT


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LAB_PORT_BASE": "80"}, "out of range"),
        ({"LAB_PORT_BASE": "abc"}, "not an integer"),
        ({"LAB_NODES": "Node_A"}, "not a DNS label"),
        ({"LAB_NODES": " , "}, "at least one node"),
        ({"LAB_DISK_SIZE": "1M"}, "at least 64 MiB"),
        ({"LAB_DISK_SIZE": "lots"}, "not a number"),
    ],
)
def test_bad_knobs_give_one_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(LabError, match=message):
        LabConfig.from_env(env, default_root=ROOT)


def test_relative_root_is_refused() -> None:
    with pytest.raises(LabError, match="absolute"):
        LabConfig(root=Path("relative/lab"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("4G", 4 * 1024**3), ("4GiB", 4 * 1024**3), ("512m", 512 * 1024**2), ("1024", 1024), ("1T", 1024**4)],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@given(st.integers(min_value=0, max_value=2**40), st.sampled_from(["", "K", "M", "G", "T"]))
def test_parse_size_scales_by_binary_units(number: int, unit: str) -> None:
    factor = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}[unit]
    assert parse_size(f"{number}{unit}") == number * factor
