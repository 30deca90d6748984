"""The real node's kubelet (LAB_PROFILE=node): built from the pinned Kubernetes module like the control
plane, on the lab's containerd, with its own root dir, ports, cgroup root and bridge address, so it
touches nothing of the host's own (no /var/lib/kubelet, no host cgroups, no loopback node IP, which the
kubelet refuses).

``render_*`` are pure; ``start_node`` prepares the host (recording what it changes), starts the
kubelet and waits for its Node to be Ready.
"""

from __future__ import annotations

import json
from pathlib import Path

from storage_operator.lab import containerd, hostsettings, probe
from storage_operator.lab.binaries import Binaries
from storage_operator.lab.cluster import LAB_NODE_LABEL
from storage_operator.lab.config import LabConfig
from storage_operator.lab.containerd import RuntimePaths
from storage_operator.lab.context import LabContext
from storage_operator.lab.kubeconfig import render_kubeconfig
from storage_operator.lab.kubectl import kubectl
from storage_operator.lab.pki import APISERVER_KUBELET_CLIENT, ControlPlanePki

PROCESS_NAME = "kubelet"
# Says "this node runs pods": the lab's overlay keeps DaemonSets to such nodes (a pod placed on a
# simulated node would stay Pending, then stick in Terminating).
REAL_NODE_LABEL = "storage.baremetal.io/lab-kubelet"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"


def kubelet_dir(config: LabConfig) -> Path:
    return config.paths.node / "kubelet"


def cgroup_root(config: LabConfig) -> str:
    return f"storage-lab-{config.port_base}"


def render_kubelet_config(config: LabConfig, pki: ControlPlanePki, node: str) -> str:
    """The settings LAB-NOTES verified on these machines (cgroup v1, cgroupfs: containerd 1.6 cannot tell
    the kubelet its driver), every path under the lab, and no host changes the lab could not undo
    (no iptables chains; kernel defaults it does set are restored by the lab)."""
    runtime = RuntimePaths.of(config)
    node_dir = config.paths.node
    doc = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": "/" + cgroup_root(config),
        "cgroupsPerQOS": True,
        "enforceNodeAllocatable": ["pods"],
        "containerRuntimeEndpoint": f"unix://{runtime.socket}",
        "address": config.node_network.node_ip,
        "port": config.ports.kubelet,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": config.ports.kubelet_healthz,
        "tlsCertFile": str(pki.cert(f"kubelet-serving.{node}")),
        "tlsPrivateKeyFile": str(pki.key(f"kubelet-serving.{node}")),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki.ca)},
        },
        "authorization": {"mode": "Webhook"},
        "failSwapOn": False,
        "resolvConf": str(node_dir / "resolv.conf"),
        # Under logs/, which teardown keeps: a crashed pod's output outlives the lab.
        "podLogsDir": str(config.paths.logs / "pods"),
        "volumePluginDir": str(node_dir / "volume-plugins"),
        "registerNode": True,
        "serializeImagePulls": False,
        # Lab disks are small and full of sparse files: never garbage-collect the imported images (they
        # cannot be pulled again) and never evict for disk pressure.
        "imageGCHighThresholdPercent": 100,
        "evictionHard": {"memory.available": "100Mi"},
        "clusterDomain": "cluster.local",
        "makeIPTablesUtilChains": False,
        "shutdownGracePeriod": "0s",
    }
    return json.dumps(doc, indent=2) + "\n"


def build_kubelet_argv(config: LabConfig, binaries: Binaries, node: str) -> list[str]:
    d = kubelet_dir(config)
    return [
        str(binaries.kubelet),
        f"--config={config.paths.node / 'kubelet-config.json'}",
        f"--kubeconfig={config.paths.kube / f'kubelet.{node}.kubeconfig'}",
        f"--root-dir={d}",
        f"--cert-dir={d / 'pki'}",
        f"--hostname-override={node}",
        f"--node-ip={config.node_network.node_ip}",
        f"--node-labels={LAB_NODE_LABEL}=true,{REAL_NODE_LABEL}=true",
        "--v=1",
    ]


def prepare_host(ctx: LabContext) -> str:
    """Record the kernel settings the kubelet and CNI change (in .lab/host.json, before anything changes
    them), then create the bridge and the cgroup root. Their names follow from the port base, so teardown
    finds them with or without a record."""
    config = ctx.config
    net = config.node_network
    record = hostsettings.HostRecord(
        hostsettings.read_sysctls(), created_shim_run_dir=not containerd.SHIM_RUN_DIR.exists()
    )
    hostsettings.save_host_record(config.paths.host_record, record)
    hostsettings.create_bridge(net.bridge, net.node_ip, net.prefix)
    hostsettings.create_cgroup_root(cgroup_root(config))
    return f"bridge {net.bridge} {net.node_ip}/{net.prefix}, cgroup root /{cgroup_root(config)}, kernel settings saved"


def start_kubelet(ctx: LabContext) -> str:
    config = ctx.config
    (node,) = config.real_nodes
    d = kubelet_dir(config)
    for path in (d, config.paths.logs / "pods", config.paths.node / "volume-plugins"):
        path.mkdir(parents=True, exist_ok=True)
    (config.paths.node / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    (config.paths.node / "kubelet-config.json").write_text(render_kubelet_config(config, ctx.pki, node))
    kubeconfig = config.paths.kube / f"kubelet.{node}.kubeconfig"
    kubeconfig.write_text(
        render_kubeconfig(
            server=ctx.apiserver_url,
            ca=ctx.pki.ca,
            cert=ctx.pki.cert(f"kubelet-client.{node}"),
            key=ctx.pki.key(f"kubelet-client.{node}"),
            user=f"system:node:{node}",
        )
    )
    kubeconfig.chmod(0o600)
    bind_apiserver_to_kubelets(ctx)
    record = ctx.spawn(PROCESS_NAME, build_kubelet_argv(config, ctx.binaries, node), cwd=d)
    probe.wait_for(f"Node {node} Ready", lambda: _ready(ctx, node), timeout=60, interval=0.2, watch=(record,))
    # The lab runs without the node-lifecycle controller (its simulated nodes have no kubelet to renew
    # their leases), so nobody else lifts the taint a new kubelet registers with.
    kubectl(ctx, "taint", "node", node, f"{NOT_READY_TAINT}:NoSchedule-", check=False)
    version = ctx.versions["KUBERNETES_VERSION"]
    return f"{node}: kubelet {version} pid {record.pid}, Ready on {config.node_network.node_ip}"


def bind_apiserver_to_kubelets(ctx: LabContext) -> None:
    """The API server's kubelet client identity gets the built-in kubelet API role (as kubeadm does)."""
    rbac = "rbac.authorization.k8s.io"
    binding = {
        "apiVersion": f"{rbac}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "lab:kube-apiserver-kubelet-client"},
        "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "system:kubelet-api-admin"},
        "subjects": [{"apiGroup": rbac, "kind": "User", "name": APISERVER_KUBELET_CLIENT}],
    }
    kubectl(ctx, "apply", "-f", "-", stdin=json.dumps(binding))


def _ready(ctx: LabContext, node: str) -> bool | None:
    out = kubectl(ctx, "get", "node", node, "-o", "json", check=False)
    if not out:
        return None
    conditions = json.loads(out).get("status", {}).get("conditions", [])
    return True if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) else None
