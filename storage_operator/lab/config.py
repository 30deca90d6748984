"""What a lab looks like: where it lives, which ports it takes, how many nodes and disks it has.

Pure: no I/O. ``LabConfig.from_env`` is the only place environment variables are read, so the README's
table of knobs and this module cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from storage_operator.errors import LabError

# process: the project's components run as processes beside simulated Nodes (fast; most tests).
# node: node-a is a real kubelet + containerd node and the components run as pods from manifests/.
Profile = Literal["process", "node"]
PROFILES: tuple[str, ...] = get_args(Profile)
# What `make lab` (the CLI, LabConfig.from_env) brings up when LAB_PROFILE is unset: what users deploy.
# Code that builds a LabConfig itself (the test fixtures, benchmarks) gets the fast process profile.
DEFAULT_CLI_PROFILE: Profile = "node"

GiB = 1024**3

# Below the kernel's ephemeral range (32768-60999), so outgoing connections never take a lab port.
DEFAULT_PORT_BASE = 26400
# Offsets inside the lab's block of ports. The block is PORT_BLOCK wide.
PORT_BLOCK = 400
AGENT_HTTP_OFFSET = 40
MAX_NODES = 50  # agents take ports +40..+89
CSI_METRICS_OFFSET = 90  # the CSI plugins' /metrics: +90 (cephfs), +91 (rbd)
CSI_DRIVERS = ("cephfs", "rbd")
CSI_NODE_METRICS_OFFSET = 92  # the node profile's CSI node plugin pods: +92 (cephfs), +93 (rbd) on the node IP
# The real node (node profile): kubelet API, kubelet healthz, containerd's streaming server (exec/logs).
KUBELET_OFFSET = 6
KUBELET_HEALTHZ_OFFSET = 7
CONTAINERD_STREAM_OFFSET = 8
CEPH_MSGR_MIN_OFFSET = 100
CEPH_MSGR_MAX_OFFSET = 299


@dataclass(frozen=True)
class LabPorts:
    """Every TCP port the lab listens on, all on 127.0.0.1."""

    base: int

    @property
    def etcd_client(self) -> int:
        return self.base

    @property
    def etcd_peer(self) -> int:
        return self.base + 1

    @property
    def apiserver(self) -> int:
        return self.base + 3

    @property
    def controller_manager(self) -> int:
        return self.base + 4

    @property
    def scheduler(self) -> int:
        return self.base + 5

    @property
    def mon_v2(self) -> int:
        return self.base + 10

    @property
    def mon_v1(self) -> int:
        return self.base + 11

    @property
    def mgr_prometheus(self) -> int:
        return self.base + 12

    @property
    def nfs(self) -> int:
        return self.base + 20

    @property
    def operator_http(self) -> int:
        """The lab operator's /metrics, /healthz and /readyz (tests run extra replicas on the next ports)."""
        return self.base + 30

    @property
    def kubelet(self) -> int:
        return self.base + KUBELET_OFFSET

    @property
    def kubelet_healthz(self) -> int:
        return self.base + KUBELET_HEALTHZ_OFFSET

    @property
    def containerd_stream(self) -> int:
        return self.base + CONTAINERD_STREAM_OFFSET

    def agent_http(self, index: int) -> int:
        """The node agent of the ``index``-th node: /metrics and /healthz."""
        return self.base + AGENT_HTTP_OFFSET + index

    def csi_metrics(self, driver: str) -> int:
        """The lab CSI plugin of ``driver`` (cephfs, rbd): /metrics."""
        return self.base + CSI_METRICS_OFFSET + CSI_DRIVERS.index(driver)

    def csi_node_metrics(self, driver: str) -> int:
        """The real node's CSI node plugin pod of ``driver``: /metrics and /healthz on the node IP."""
        return self.base + CSI_NODE_METRICS_OFFSET + CSI_DRIVERS.index(driver)

    @property
    def ceph_msgr_min(self) -> int:
        return self.base + CEPH_MSGR_MIN_OFFSET

    @property
    def ceph_msgr_max(self) -> int:
        return self.base + CEPH_MSGR_MAX_OFFSET

    def listeners(self) -> dict[str, int]:
        """The fixed ports a lab binds, by what binds them (the Ceph messenger range is checked apart)."""
        return {
            "etcd (client)": self.etcd_client,
            "etcd (peer)": self.etcd_peer,
            "kube-apiserver": self.apiserver,
            "kube-controller-manager": self.controller_manager,
            "kube-scheduler": self.scheduler,
            "ceph-mon (msgr2)": self.mon_v2,
            "ceph-mon (msgr1)": self.mon_v1,
            "ceph-mgr prometheus": self.mgr_prometheus,
            "nfs-ganesha": self.nfs,
            "storage-operator": self.operator_http,
            **{f"csi-{d} metrics": self.csi_metrics(d) for d in CSI_DRIVERS},
        }

    def ceph_msgr_range(self) -> range:
        return range(self.ceph_msgr_min, self.ceph_msgr_max + 1)


@dataclass(frozen=True)
class LabPaths:
    """Where each part of a lab keeps its files; everything is under ``root``."""

    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.root / "lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def kube(self) -> Path:
        return self.root / "kube"

    @property
    def ceph(self) -> Path:
        return self.root / "ceph"

    @property
    def ceph_conf(self) -> Path:
        return self.ceph / "ceph.conf"

    @property
    def ceph_admin_keyring(self) -> Path:
        return self.ceph / "ceph.client.admin.keyring"

    @property
    def nfs(self) -> Path:
        return self.root / "nfs"

    @property
    def nfs_export(self) -> Path:
        return self.nfs / "export"

    @property
    def disks(self) -> Path:
        return self.root / "disks"

    @property
    def host_record(self) -> Path:
        """What the host was like before a real node changed it (kernel settings, /run/containerd): a file
        of its own, written before the change, so teardown can restore it even without the state file."""
        return self.root / "host.json"

    @property
    def node(self) -> Path:
        """The real node's runtime: containerd's root and state, the kubelet's root dir, CNI, pod logs."""
        return self.root / "node"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"


@dataclass(frozen=True)
class LabConfig:
    """A lab's shape. Two labs with different ``root`` and ``port_base`` can run side by side."""

    root: Path
    port_base: int = DEFAULT_PORT_BASE
    nodes: tuple[str, ...] = ("node-a", "node-b", "node-c")
    disks_per_node: int = 3
    disk_size_bytes: int = 4 * GiB
    osd_count: int = 3
    osd_size_bytes: int = 3 * GiB
    # The example file system wants one active MDS, a standby-replay and a spare standby; one more is
    # left for tests (or a second file system) to take.
    mds_count: int = 4
    # Namespace the operator runs in; the lab stores the Ceph admin Secret there.
    operator_namespace: str = "storage-system"
    profile: Profile = "process"
    # The node profile runs the managed example cluster on the real node's disks (make lab does; tests
    # that need those disks free, or time a cluster of their own, leave it off).
    managed_ceph: bool = False
    cache_dir: Path = field(default_factory=lambda: default_cache_dir(os.environ))

    def __post_init__(self) -> None:
        if not self.root.is_absolute():
            raise LabError(f"the lab directory must be an absolute path, got {self.root}")
        if not 1024 <= self.port_base <= 65535 - PORT_BLOCK:
            raise LabError(f"LAB_PORT_BASE={self.port_base} is out of range: pick 1024..{65535 - PORT_BLOCK}")
        if not self.nodes:
            raise LabError("the lab needs at least one node (LAB_NODES)")
        if len(self.nodes) > MAX_NODES:
            raise LabError(f"the lab runs at most {MAX_NODES} nodes (LAB_NODES has {len(self.nodes)})")
        for node in self.nodes:
            if not node or not all(c.isalnum() or c == "-" for c in node) or node != node.lower():
                raise LabError(f"node name {node!r} is not a DNS label (lowercase letters, digits, '-')")
        if self.disks_per_node < 0 or self.osd_count < 1:
            raise LabError("LAB_DISKS_PER_NODE must be >= 0 and the lab needs at least one OSD")
        if self.disk_size_bytes < 64 * 1024**2:
            raise LabError("LAB_DISK_SIZE must be at least 64 MiB")
        if self.profile not in PROFILES:
            raise LabError(f"LAB_PROFILE={self.profile!r} is not one of {', '.join(PROFILES)}")

    @property
    def real_nodes(self) -> tuple[str, ...]:
        """Nodes with a kubelet (the first node, in the node profile); the others are simulated."""
        return self.nodes[:1] if self.profile == "node" else ()

    @property
    def simulated_nodes(self) -> tuple[str, ...]:
        return tuple(n for n in self.nodes if n not in self.real_nodes)

    @property
    def node_network(self) -> NodeNetwork:
        return NodeNetwork.for_port_base(self.port_base)

    @property
    def ports(self) -> LabPorts:
        return LabPorts(self.port_base)

    def listeners(self) -> dict[str, int]:
        """Every fixed port of this lab, the node agents' and the real node's included."""
        agents = {f"storage-agent ({node})": self.ports.agent_http(i) for i, node in enumerate(self.nodes)}
        node: dict[str, int] = {}
        if self.real_nodes:
            p = self.ports
            node = {
                "kubelet": p.kubelet,
                "kubelet healthz": p.kubelet_healthz,
                "containerd streaming": p.containerd_stream,
                **{f"csi-{d} node plugin": p.csi_node_metrics(d) for d in CSI_DRIVERS},
            }
        return self.ports.listeners() | agents | node

    @property
    def paths(self) -> LabPaths:
        return LabPaths(self.root)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, default_root: Path) -> LabConfig:
        """Read the documented LAB_* knobs; anything unset keeps its default."""
        kwargs: dict[str, object] = {"root": Path(env.get("LAB_DIR", str(default_root))).resolve()}
        if "LAB_PORT_BASE" in env:
            kwargs["port_base"] = _int(env, "LAB_PORT_BASE")
        if "LAB_NODES" in env:
            kwargs["nodes"] = tuple(n.strip() for n in env["LAB_NODES"].split(",") if n.strip())
        if "LAB_DISKS_PER_NODE" in env:
            kwargs["disks_per_node"] = _int(env, "LAB_DISKS_PER_NODE")
        if "LAB_DISK_SIZE" in env:
            kwargs["disk_size_bytes"] = parse_size(env["LAB_DISK_SIZE"])
        kwargs["profile"] = (env.get("LAB_PROFILE") or DEFAULT_CLI_PROFILE).strip()
        kwargs["managed_ceph"] = kwargs["profile"] == "node" and env.get("LAB_MANAGED_CEPH", "1").strip() != "0"
        return cls(**kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class NodeNetwork:
    """The real node's host-internal network: a bridge the lab creates (the kubelet refuses a loopback
    node IP), whose first address is the node's IP and whose /24 holds the pods' addresses (CNI bridge).
    Derived from the port base, so two labs never share a bridge or a subnet."""

    bridge: str
    subnet: str
    node_ip: str
    prefix: int = 24

    @classmethod
    def for_port_base(cls, port_base: int) -> NodeNetwork:
        # 10.244.0.0/16 is the usual pod range; one /24 of it per possible lab (port bases 400 apart).
        third = (port_base // PORT_BLOCK) % 256
        return cls(bridge=f"solab{port_base}", subnet=f"10.244.{third}.0/24", node_ip=f"10.244.{third}.1")


def default_cache_dir(env: Mapping[str, str]) -> Path:
    """The binary cache hack/build-binaries.sh fills (same rule as in that script)."""
    if "STORAGE_OPERATOR_CACHE" in env:
        return Path(env["STORAGE_OPERATOR_CACHE"])
    xdg = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "/root")) / ".cache")
    return Path(xdg) / "storage-operator"


_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(text: str) -> int:
    """'4G', '512M', '4GiB', '1073741824' -> bytes (binary units)."""
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = value[-1] if value and value[-1] in _SIZE_UNITS else ""
    number = value[: len(value) - len(unit)]
    if not number.isdigit():
        raise LabError(f"size {text!r} is not a number with an optional K/M/G/T suffix")
    return int(number) * _SIZE_UNITS[unit]


def _int(env: Mapping[str, str], key: str) -> int:
    try:
        return int(env[key])
    except ValueError:
        raise LabError(f"{key}={env[key]!r} is not an integer") from None
