"""Helpers the tests share (not fixtures): the lab handle, API clients, polling."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client

from storage_operator.ceph.client import CephClient
from storage_operator.kube.client import connect
from storage_operator.lab.config import LabConfig
from storage_operator.lab.nfs import nfs_target
from storage_operator.lab.state import LabState
from storage_operator.nfs.client import NFSClient

T = TypeVar("T")


@dataclass(frozen=True)
class LabHandle:
    config: LabConfig
    state: LabState

    def api(self) -> contextlib.AbstractContextManager[client.ApiClient]:
        """An admin API client, closed when the ``with`` block ends."""
        return connect(self.config.paths.kubeconfig)

    def ceph(self) -> CephClient:
        paths = self.config.paths
        return CephClient(conffile=paths.ceph_conf, keyring=paths.ceph_admin_keyring)

    def nfs(self) -> NFSClient:
        return NFSClient(nfs_target(self.config))


def eventually(check: Callable[[], T | None], *, timeout: float = 30, interval: float = 0.2) -> T:
    """Poll until ``check`` returns a truthy value; fail the test with the last value otherwise."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


def remove_pools_by_hand(ceph: CephClient, *pools: str) -> None:
    """As an admin would: the lab's Ceph refuses pool deletion unless allowed, as a production one does."""
    ceph.mon_command("config set", who="mon", name="mon_allow_pool_delete", value="true")
    try:
        for pool in pools:
            ceph.mon_command("osd pool rm", pool=pool, pool2=pool, yes_i_really_really_mean_it=True)
    finally:
        ceph.mon_command("config rm", who="mon", name="mon_allow_pool_delete")


EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "manifests" / "examples"


def load_example(file_name: str) -> dict[str, Any]:
    """A fresh copy of one of manifests/examples/ (tests mutate it)."""
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES_DIR / file_name).read_text())
    return doc


def is_subset(small: Any, big: Any) -> bool:
    """Every field of ``small`` is in ``big`` with the same value (``big`` may add defaults)."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and is_subset(v, big[k]) for k, v in small.items())
    if isinstance(small, list):
        return isinstance(big, list) and len(small) == len(big) and all(map(is_subset, small, big))
    return bool(small == big)
