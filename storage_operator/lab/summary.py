"""What a user looks at once the lab is up: nodes, disks, Ceph health, the NFS export, how to connect.

Every line is observed from the live parts (API server, mons, NFS server), not from what the lab
meant to start; a part that does not answer says so instead.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from storage_operator.ceph.client import CephClient
from storage_operator.ceph.status import observe_status
from storage_operator.errors import LabError, StorageError
from storage_operator.kube.client import connect
from storage_operator.kube.core import observe_node_names
from storage_operator.lab import csi
from storage_operator.lab.config import LabConfig
from storage_operator.lab.loopdev import device_size
from storage_operator.lab.nfs import EXPORT_PSEUDO, nfs_target
from storage_operator.lab.state import LabState
from storage_operator.nfs.client import NFSClient


def gib(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB"


def _observed(fn: Callable[[], str]) -> str:
    try:
        return fn()
    except (StorageError, OSError) as exc:
        return f"not answering ({exc})"


def describe(config: LabConfig, state: LabState, *, repo_root: Path) -> list[str]:
    paths = config.paths

    def nodes() -> str:
        with connect(paths.kubeconfig) as api:
            names = observe_node_names(api)
        real = [n for n in names if n in config.real_nodes]
        simulated = [n for n in names if n not in config.real_nodes]
        parts = []
        if real:
            parts.append(f"{' '.join(real)} (kubelet + containerd)")
        if simulated:
            parts.append(f"{' '.join(simulated)} (simulated: registered Nodes, no kubelet)")
        return "; ".join(parts)

    def ceph() -> str:
        with CephClient(conffile=paths.ceph_conf, keyring=paths.ceph_admin_keyring, timeout=10) as c:
            s = observe_status(c)
        return (
            f"{s.health}, mons {s.mons} (quorum {','.join(s.quorum)}), OSDs {s.osds_up} up / {s.osds_in} in "
            f"/ {s.osds} total, {gib(s.bytes_used)} used of {gib(s.bytes_total)}, "
            f"MDS {s.mds_up} active + {s.mds_standby} standby, fsid {s.fsid}"
        )

    def nfs() -> str:
        with NFSClient(nfs_target(config), timeout=5) as c:
            cap = c.capacity()
        return f"{gib(cap.available_bytes)} available"

    def rel(p: Path) -> str:
        try:
            return str(p.relative_to(repo_root))
        except ValueError:
            return str(p)

    lines = [
        f"Kubernetes  https://127.0.0.1:{config.ports.apiserver}",
        f"  nodes     {_observed(nodes)}",
    ]
    for node in config.nodes:
        disks = [loop for loop in state.loops if loop.node == node]
        described = ", ".join(f"{d.device} ({gib(_size(d.device))})" for d in disks) or "none"
        lines.append(f"  {node:<9} disks: {described}")
    lines += [
        f"Ceph        {_observed(ceph)}",
        f"  metrics   http://127.0.0.1:{config.ports.mgr_prometheus}/metrics",
        f"NFS         nfs://127.0.0.1:{config.ports.nfs}{EXPORT_PSEUDO} (NFSv4.1) "
        f"-> {rel(paths.nfs_export)}: "
        f"{_observed(nfs)}",
        operator_line(config, rel),
        *managed_lines(config),
        *csi_lines(config, rel),
        *(
            [
                "",
                "$ kubectl get pods -A -o wide",
                *_observed_lines(lambda: kubectl(config, "get", "pods", "-A", "-o", "wide")),
            ]
            if config.real_nodes
            else []
        ),
        "",
        "$ kubectl get storage -A",
        *_observed_lines(lambda: kubectl(config, "get", "storage", "-A")),
        "",
        "$ kubectl get diskinventories -o wide",
        *_observed_lines(lambda: kubectl(config, "get", "diskinventories", "-o", "wide")),
        "",
        "$ kubectl get nfsbackends,storageclasses",
        *_observed_lines(lambda: kubectl(config, "get", "nfsbackends,storageclasses")),
        "  (a claim of the default class nfs binds at once: kubectl apply -f manifests/examples/pvc-nfs.yaml)",
        "",
        "Use it:",
        f"  source {rel(paths.root / 'env')}     # KUBECONFIG, CEPH_CONF and the lab's kubectl on PATH",
        "  kubectl get nodes",
        "  ceph -s",
        f"Logs: {rel(paths.logs)}/   State: {rel(paths.state_file)}   Stop: make lab-down",
    ]
    return lines


def operator_line(config: LabConfig, rel: Callable[[Path], str]) -> str:
    who = f"as ServiceAccount {config.operator_namespace}/storage-operator"
    if config.real_nodes:
        ip = config.node_network.node_ip
        return (
            f"Operator    http://{ip}:{config.ports.operator_http}/metrics  (Deployment "
            f"{config.operator_namespace}/storage-operator on {config.real_nodes[0]}, {who}; "
            f"kubectl logs -n {config.operator_namespace} deploy/storage-operator)"
        )
    return (
        f"Operator    http://127.0.0.1:{config.ports.operator_http}/metrics  ({who}; "
        f"log {rel(config.paths.log('storage-operator'))})"
    )


def managed_lines(config: LabConfig) -> list[str]:
    """The managed example (node profile): where it is now, and how to watch it come up."""
    if not config.managed_ceph or not config.real_nodes:
        return []
    ns = config.operator_namespace

    def phase() -> list[str]:
        jsonpath = "{.status.phase}: {.status.message}"
        return kubectl(config, "get", "cephcluster", "-n", ns, "managed", "-o", f"jsonpath={jsonpath}")

    (now,) = _observed_lines(phase) or ["(no status yet)"]
    return [
        f"Managed     CephCluster {ns}/managed on {config.real_nodes[0]}'s disks, its mon, mgr and OSDs as pods: "
        f"{now[:160]}",
        f"  watch     kubectl get cephclusters,cephosds -n {ns} -w   (Ready with 3 OSDs about 20 s after the lab)",
    ]


def csi_lines(config: LabConfig, rel: Callable[[Path], str]) -> list[str]:
    """Each CSI plugin: its socket, whether it answers Probe ready, and how to run csi-sanity on it."""
    lines = []
    for driver in csi.DRIVERS:
        name = csi.probe_plugin(csi.socket_path(config, driver))
        status = f"{name} ready" if name else "not answering"
        lines.append(
            f"CSI {driver:<7} {rel(csi.socket_path(config, driver))}: {status}; "
            f"metrics http://127.0.0.1:{config.ports.csi_metrics(driver)}/metrics"
        )
    lines.append('  conformance (after `source .lab/env`; cephfs likewise; README "CSI driver"):')
    lines.append(f"    {' '.join(csi.sanity_command(config, 'rbd', Path('csi-sanity')))}")
    return lines


def kubectl(config: LabConfig, *args: str) -> list[str]:
    """The lab's kubectl as a user runs it, its output as lines."""
    done = subprocess.run(
        [str(config.root / "bin" / "kubectl"), "--kubeconfig", str(config.paths.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise LabError(done.stderr.strip() or f"kubectl exited {done.returncode}")
    return done.stdout.rstrip("\n").splitlines()


def _observed_lines(fn: Callable[[], list[str]]) -> list[str]:
    try:
        return fn()
    except (StorageError, OSError, subprocess.SubprocessError) as exc:
        return [f"not answering ({exc})"]


def _size(device: str) -> int:
    try:
        return device_size(device)
    except OSError:
        return 0
