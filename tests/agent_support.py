"""A node of the tests' own with its node agent, and loop devices prepared every way a disk can be in use."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client

from storage_operator.ceph.auth import generate_key
from storage_operator.kube.core import ensure_node
from storage_operator.lab import loopdev
from storage_operator.lab.agents import agent_process_name, build_agent_argv, node_disk_dir, write_agent_kubeconfig
from storage_operator.lab.binaries import REPO_ROOT
from storage_operator.lab.pki import ControlPlanePki
from tests.operator_support import lab_control, unique
from tests.support import LabHandle, eventually

MiB = 1024**2


def sh(*argv: str, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in ok, f"{' '.join(argv)}: {done.stdout} {done.stderr}"
    return done.stdout


@dataclass
class DiskNode:
    """A registered Node whose agent reports only loop devices backed by files in ``disks``."""

    lab: LabHandle
    name: str
    disks: Path
    port: int
    attached: list[str] = field(default_factory=list)
    partitioned: list[str] = field(default_factory=list)

    def attach(self, label: str, size: int = 256 * MiB, *, read_only: bool = False) -> str:
        backing = self.disks / f"{label}.img"
        loopdev.create_sparse_file(backing, size)
        device = loopdev.attach(backing, read_only=read_only)
        self.attached.append(device)
        return device

    def detach(self, device: str) -> None:
        if device in self.partitioned:
            sh("partx", "-d", device, ok=(0, 1))
            self.partitioned.remove(device)
        loopdev.detach(device)
        self.attached.remove(device)

    def inventory(self) -> dict[str, Any] | None:
        with self.lab.api() as api:
            try:
                found = client.CustomObjectsApi(api).get_cluster_custom_object(
                    "storage.baremetal.io", "v1alpha1", "diskinventories", self.name
                )
            except client.exceptions.ApiException as exc:
                if exc.status == 404:
                    return None
                raise
        assert isinstance(found, dict)
        return found

    def devices(self) -> dict[str, dict[str, Any]]:
        inv = self.inventory() or {}
        return {d["name"]: d for d in (inv.get("status") or {}).get("devices", [])}

    def wait_devices(self, check: Callable[[dict[str, dict[str, Any]]], bool], timeout: float = 30) -> dict[str, Any]:
        def probe() -> list[dict[str, dict[str, Any]]] | None:
            devices = self.devices()
            return [devices] if check(devices) else None  # in a list: no devices at all is an answer too

        try:
            return eventually(probe, timeout=timeout, interval=0.1)[0]
        except AssertionError:
            raise AssertionError(f"inventory of {self.name} never got there: {self.devices()}") from None


@contextlib.contextmanager
def node_with_agent(lab: LabHandle, *, min_size: str = "128M", extra: tuple[str, ...] = ()) -> Iterator[DiskNode]:
    config = lab.config
    name = unique("disks")
    with lab.api() as api:
        ensure_node(
            api,
            name=name,
            labels={"kubernetes.io/hostname": name},
            ready_reason="TestNode",
            ready_message="registered by a test",
            capacity={"cpu": "1", "memory": "1Gi", "pods": "10"},
        )
    disks = node_disk_dir(config, name)
    disks.mkdir(parents=True, exist_ok=True)
    node = DiskNode(lab, name, disks, config.ports.agent_http(len(config.nodes)))
    control = lab_control(lab)
    try:
        pki = ControlPlanePki(config.paths.pki)
        write_agent_kubeconfig(config, name, f"https://127.0.0.1:{config.ports.apiserver}", pki.ca)
        argv = [*build_agent_argv(config, name, port=node.port, min_size=min_size), *extra]
        control.spawn(agent_process_name(name), argv, cwd=REPO_ROOT)
        eventually(node.inventory, timeout=30)
        yield node
    finally:
        with contextlib.suppress(Exception):
            control.forget_process(agent_process_name(name))
        for device in list(node.attached):
            node.detach(device)
        with lab.api() as api:
            client.CoreV1Api(api).delete_node(name)


# ---------------------------------------------------------------------------- preparing devices


def make_bluestore(device: str, workdir: Path) -> tuple[str, str]:
    """A real BlueStore label (`ceph-osd --mkfs`, offline, a cluster of its own): (fsid, the OSD's key)."""
    fsid, osd_uuid, key = str(uuid.uuid4()), str(uuid.uuid4()), generate_key()
    data = workdir / "osd-data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "block").symlink_to(device)
    conf = workdir / "ceph.conf"
    conf.write_text(
        f"[global]\nfsid = {fsid}\nlog to stderr = false\nlog file = {workdir}/osd.log\nrun dir = {workdir}\n"
    )
    sh(
        "ceph-osd", "-c", str(conf), "-i", "7", "--mkfs", "--osd-data", str(data), "--osd-uuid", osd_uuid,
        "--key", key, "--no-mon-config", "--osd-objectstore", "bluestore",
    )  # fmt: skip
    return fsid, key


def make_lvm_pv(device: str) -> None:
    # The filter keeps LVM away from every other device of the machine.
    sh("pvcreate", "-q", "--config", f'devices {{ filter = [ "a|^{device}$|", "r|.*|" ] }}', device)
