"""The node profile (LAB_PROFILE=node): node-a is a real kubelet + containerd node, and the operator and
the node agent run as pods from manifests/ (through manifests/lab), with the image hack/build-image.sh
built. What users deploy is what runs here; these tests check it does what the processes do.

Its own lab in `.lab-node-test/` on ports 26000+, brought up once for this module and taken down by the
last test, which checks that the host is as it was (bridge, kernel settings, cgroups, mounts).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from storage_operator.lab import hostsettings, loopdev, ports
from storage_operator.lab.config import LabConfig
from storage_operator.lab.kubelet import cgroup_root
from storage_operator.lab.lab import Lab
from storage_operator.lab.state import LabState
from tests.csi_support import plugin
from tests.e2e.node_support import apply, get, kubectl, ready
from tests.support import LabHandle, eventually

REPO = Path(__file__).resolve().parents[2]
NODE = "node-a"
NS = "storage-system"
SA = f"system:serviceaccount:{NS}"


def firewall_rules() -> list[str]:
    """The host's iptables chains and rules (counters and comments dropped), or [] without iptables."""
    if shutil.which("iptables-save") is None:
        return []
    out = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False, timeout=30).stdout
    return sorted(line for line in out.splitlines() if line.startswith(("-A", ":")) and not line.startswith("#"))


@dataclass(frozen=True)
class HostState:
    sysctls: dict[str, str]
    firewall: list[str]
    run_containerd: bool

    @classmethod
    def now(cls) -> HostState:
        # Chain lines carry packet counters ("[0:0]"): compare without them.
        firewall = [line.split(" [")[0] for line in firewall_rules()]
        return cls(hostsettings.read_sysctls(), firewall, Path("/run/containerd").exists())


@pytest.fixture(scope="module")
def host_before() -> HostState:
    return HostState.now()


@pytest.fixture(scope="module")
def node_lab(host_before: HostState) -> Iterator[tuple[LabConfig, LabState]]:
    config = LabConfig(
        root=Path(os.environ.get("TEST_NODE_LAB_DIR", REPO / ".lab-node-test")).resolve(),
        port_base=int(os.environ.get("TEST_NODE_LAB_PORT_BASE", "26000")),
        profile="node",
    )
    lab = Lab(config, say=lambda line: print(f"[node lab] {line}", flush=True))
    state = lab.up()
    yield config, state
    lab.down(keep_logs=True)  # a no-op after the last test took it down


def project_pods(config: LabConfig) -> list[dict[str, Any]]:
    pods: list[dict[str, Any]] = get(config, "pods", "-n", NS, "-l", "app.kubernetes.io/part-of=storage-operator")[
        "items"
    ]
    return [p for p in pods if p["metadata"].get("deletionTimestamp") is None]


def operator_pod(config: LabConfig) -> dict[str, Any] | None:
    pods = [p for p in project_pods(config) if p["metadata"]["labels"]["app.kubernetes.io/name"] == "storage-operator"]
    return pods[0] if len(pods) == 1 and ready(pods[0]) else None


def lease_holder(config: LabConfig) -> str:
    holder: str = get(config, "lease", "-n", NS, "storage-operator")["spec"].get("holderIdentity") or ""
    return holder


def block_pool(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "storage.baremetal.io/v1alpha1",
        "kind": "CephBlockPool",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "clusterRef": {"name": "lab"},
            "replicated": {"size": 3},
            "failureDomain": "osd",
            "application": "rbd",
        },
    }


def pool_phase(config: LabConfig, name: str) -> str | None:
    body = get(config, "cephblockpool", "-n", NS, name)
    phase: str | None = (body.get("status") or {}).get("phase")
    return phase


def inventory_devices(config: LabConfig) -> dict[str, dict[str, Any]]:
    body = get(config, "diskinventory", NODE)
    return {d["name"]: d for d in (body.get("status") or {}).get("devices", [])}


# ---------------------------------------------------------------------------------------------- tests


def test_every_project_pod_runs_ready_from_the_built_image(node_lab: tuple[LabConfig, LabState]) -> None:
    config, _ = node_lab
    node = get(config, "node", NODE)
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")
    pods = project_pods(config)
    names = sorted(p["metadata"]["labels"]["app.kubernetes.io/name"] for p in pods)
    assert names == ["csi-cephfs-node", "csi-rbd-node", "storage-agent", "storage-operator"]
    csinode = get(config, "csinode", NODE)
    assert sorted(d["name"] for d in csinode["spec"]["drivers"]) == [
        "cephfs.csi.storage.baremetal.io",
        "rbd.csi.storage.baremetal.io",
    ]
    for pod in pods:
        assert pod["spec"]["nodeName"] == NODE
        assert pod["status"]["phase"] == "Running"
        assert ready(pod), pod["status"]
        (spec,) = pod["spec"]["containers"]
        # The agent runs the image with the Ceph daemons (it makes OSDs' BlueStore); the others do not.
        image = (
            "storage-operator-ceph"
            if pod["metadata"]["labels"]["app.kubernetes.io/name"] == "storage-agent"
            else "storage-operator"
        )
        assert spec["image"] == f"localhost/{image}:lab"
        assert spec["imagePullPolicy"] == "Never"
        (container,) = pod["status"]["containerStatuses"]
        # The runtime names it by the tag it was imported with (hack/build-image.sh names the ceph target "ceph").
        imported = {"storage-operator": "storage-operator", "storage-operator-ceph": "ceph"}[image]
        assert container["image"].startswith(f"localhost/{imported}:")
        assert container["restartCount"] == 0
    # Each runs as its manifest says: the operator unprivileged, the agent as root (it reads devices).
    uid = kubectl(config, "exec", "-n", NS, "deploy/storage-operator", "--", "id", "-u").strip()
    assert uid == "65532"
    agent_uid = kubectl(config, "exec", "-n", NS, "ds/storage-agent", "--", "id", "-u").strip()
    assert agent_uid == "0"
    # The image carries no pip, build tools or compiler (the Dockerfile's final stage).
    leftovers = kubectl(
        config,
        "exec",
        "-n",
        NS,
        "deploy/storage-operator",
        "--",
        "python",
        "-c",
        "import importlib.util, shutil; "
        "print([m for m in ('pip', 'setuptools', 'wheel') if importlib.util.find_spec(m)]"
        " + [t for t in ('pip', 'pip3', 'gcc', 'cc', 'make') if shutil.which(t)])",
    )
    assert leftovers.strip() == "[]"
    logs = kubectl(config, "logs", "-n", NS, "deploy/storage-operator")
    assert "leads (lease storage-system/storage-operator)" in logs


def test_a_pod_on_the_pod_network_gets_an_address_and_runs(node_lab: tuple[LabConfig, LabState]) -> None:
    config, _ = node_lab
    name = f"net-{uuid.uuid4().hex[:6]}"
    pod = image_pod(name, "cat /proc/net/fib_trie | grep -c 10.244 ; sleep 3600")
    apply(config, pod)
    try:

        def running() -> dict[str, Any] | None:
            body: dict[str, Any] = get(config, "pod", "-n", "default", name)
            return body if ready(body) else None

        body = eventually(running, timeout=60)
        ip = body["status"]["podIP"]
        assert ip.startswith(config.node_network.subnet.rsplit(".", 1)[0] + ".")
        assert ip != config.node_network.node_ip  # its own address, not the host's
    finally:
        kubectl(config, "delete", "pod", "-n", "default", name, "--grace-period=0", "--force", check=False)


def test_the_agent_pod_reports_the_node_disks_and_sees_one_formatted_on_the_host(
    node_lab: tuple[LabConfig, LabState],
) -> None:
    config, state = node_lab
    mine = sorted(loop.device for loop in state.loops if loop.node == NODE)

    def inventory_where(check: Callable[[dict[str, dict[str, Any]]], bool]) -> dict[str, dict[str, Any]]:
        def probe() -> list[dict[str, dict[str, Any]]] | None:
            devices = inventory_devices(config)
            return [devices] if check(devices) else None

        return eventually(probe, timeout=30)[0]

    devices = inventory_where(lambda d: len(d) == len(mine))
    assert sorted(f"/dev/{name}" for name in devices) == mine
    assert all(d["available"] for d in devices.values()), devices
    target = mine[-1]
    name = Path(target).name
    subprocess.run(["mkfs.ext4", "-q", "-F", target], check=True, timeout=60)
    try:
        seen = inventory_where(lambda d: d[name]["available"] is False)
        assert "ext4" in json.dumps(seen[name]), seen[name]
    finally:
        subprocess.run(["wipefs", "--all", "--quiet", target], check=True, timeout=60)
    inventory_where(lambda d: d[name]["available"] is True)


def test_the_operator_pod_reconciles_a_block_pool(node_lab: tuple[LabConfig, LabState]) -> None:
    config, _ = node_lab
    name = f"podpool-{uuid.uuid4().hex[:6]}"
    apply(config, block_pool(name))
    try:
        assert eventually(lambda: pool_phase(config, name) == "Ready", timeout=30)
    finally:
        kubectl(config, "delete", "cephblockpool", "-n", NS, name, "--wait=true", "--timeout=60s", check=False)


def test_killing_the_operator_pod_hands_the_lease_to_its_replacement(node_lab: tuple[LabConfig, LabState]) -> None:
    config, _ = node_lab
    first = operator_pod(config)
    assert first is not None
    old = first["metadata"]["name"]
    assert eventually(lambda: lease_holder(config) == old, timeout=30)
    # Killed, not stopped: no chance to release the lease; the replacement waits for it to expire.
    kubectl(config, "delete", "pod", "-n", NS, old, "--grace-period=0", "--force")
    replacement = eventually(
        lambda: p if (p := operator_pod(config)) and p["metadata"]["name"] != old else None, timeout=90
    )
    new = replacement["metadata"]["name"]
    assert eventually(lambda: lease_holder(config) == new, timeout=60)
    name = f"afterkill-{uuid.uuid4().hex[:6]}"
    apply(config, block_pool(name))
    try:
        assert eventually(lambda: pool_phase(config, name) == "Ready", timeout=60)
    finally:
        kubectl(config, "delete", "cephblockpool", "-n", NS, name, "--wait=true", "--timeout=60s", check=False)


def test_an_nfs_claim_is_bound_by_the_operator_pod(node_lab: tuple[LabConfig, LabState]) -> None:
    config, _ = node_lab
    name = f"claim-{uuid.uuid4().hex[:6]}"
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    apply(config, claim)
    try:
        bound = eventually(
            lambda: (c := get(config, "pvc", "-n", "default", name))["status"].get("phase") == "Bound" and c,
            timeout=30,
        )
        pv = get(config, "pv", bound["spec"]["volumeName"])
        assert pv["spec"]["nfs"]["server"] == "127.0.0.1"
    finally:
        kubectl(config, "delete", "pvc", "-n", "default", name, "--wait=true", "--timeout=60s", check=False)


def kernel_nfs_client() -> str | None:
    """Why the kubelet cannot mount NFS here, or None when it can (the kernel's client, built in or as a
    module the mount loads, and mount.nfs from nfs-common)."""
    release = os.uname().release
    if "nfs" not in Path("/proc/filesystems").read_text().split() and not any(
        (Path("/lib/modules") / release / "kernel" / "fs" / "nfs").glob("nfs.ko*")
    ):
        return "this machine's kernel has no NFS client (no 'nfs' in /proc/filesystems, no module to load)"
    if shutil.which("mount.nfs") is None:
        return "mount.nfs is missing (Debian package nfs-common)"
    return None


NO_NFS_CLIENT = kernel_nfs_client()


@pytest.mark.skipif(
    NO_NFS_CLIENT is not None,
    reason=f"{NO_NFS_CLIENT}: the kubelet cannot mount an NFS volume into a pod here; the binding is tested above",
)
def test_a_pod_writes_through_an_nfs_claim_onto_the_export(node_lab: tuple[LabConfig, LabState]) -> None:
    config, _ = node_lab
    suffix = uuid.uuid4().hex[:6]
    name = f"nfsclaim-{suffix}"
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    apply(config, claim)
    pod = volume_pod(f"nfswriter-{suffix}", name, f"echo through-nfs-{suffix} > /data/hello")
    try:
        bound = eventually(
            lambda: (c := get(config, "pvc", "-n", "default", name))["status"].get("phase") == "Bound" and c,
            timeout=30,
        )
        pv = get(config, "pv", bound["spec"]["volumeName"])
        apply(config, pod)
        eventually(
            lambda: (
                get(config, "pod", "-n", "default", pod["metadata"]["name"])["status"].get("phase")
                in {"Succeeded", "Failed"}
            ),
            timeout=90,
        )
        assert get(config, "pod", "-n", "default", pod["metadata"]["name"])["status"]["phase"] == "Succeeded"
        relative = pv["spec"]["nfs"]["path"].removeprefix("/export").lstrip("/")
        assert (config.paths.nfs_export / relative / "hello").read_text().strip() == f"through-nfs-{suffix}"
    finally:
        kubectl(config, "delete", "pod", "-n", "default", pod["metadata"]["name"], "--ignore-not-found", check=False)
        kubectl(config, "delete", "pvc", "-n", "default", name, "--wait=true", "--timeout=60s", check=False)


def test_a_cephfs_volume_staged_by_the_node_plugin_pod_carries_a_file_between_pods(
    node_lab: tuple[LabConfig, LabState],
) -> None:
    """The kubelet calls the CSI node plugin pod it registered: stage (ceph-fuse inside the plugin's
    container, propagated to the host), publish into a writer pod, then into a reader pod. The volume is
    made by the lab's controller-side plugin process (no provisioner sidecar here), and statically bound."""
    config, state = node_lab
    suffix = uuid.uuid4().hex[:6]
    pv, pvc, secret = f"cephfs-{suffix}", f"cephfs-{suffix}", f"cephfs-stage-{suffix}"
    kubelet_root = str(config.paths.node / "kubelet")
    with plugin(LabHandle(config=config, state=state), "cephfs") as cephfs:
        volume = cephfs.create(f"e2e-{suffix}")
        try:
            apply(
                config,
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": secret, "namespace": "default"},
                    "stringData": cephfs.secrets,
                },
            )
            apply(
                config,
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {"name": pv},
                    "spec": {
                        "capacity": {"storage": "1Gi"},
                        "accessModes": ["ReadWriteMany"],
                        "persistentVolumeReclaimPolicy": "Retain",
                        "storageClassName": "",
                        "claimRef": {"namespace": "default", "name": pvc},
                        "csi": {
                            "driver": "cephfs.csi.storage.baremetal.io",
                            "volumeHandle": volume.volume_id,
                            "volumeAttributes": dict(volume.volume_context),
                            "nodeStageSecretRef": {"name": secret, "namespace": "default"},
                        },
                    },
                },
            )
            apply(
                config,
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": pvc, "namespace": "default"},
                    "spec": {
                        "accessModes": ["ReadWriteMany"],
                        "storageClassName": "",
                        "volumeName": pv,
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                },
            )
            writer = volume_pod(f"writer-{suffix}", pvc, f"echo written-by-{suffix} > /data/hello && sleep 3600")
            apply(config, writer)
            eventually(lambda: ready(get(config, "pod", "-n", "default", writer["metadata"]["name"])), timeout=90)
            mounts = Path("/proc/self/mountinfo").read_text()
            staged = [line for line in mounts.splitlines() if kubelet_root in line and "ceph-fuse" in line]
            assert staged, "no ceph-fuse mount under the kubelet's root dir while the writer runs"
            reader = volume_pod(f"reader-{suffix}", pvc, "cat /data/hello")
            apply(config, reader)
            name = reader["metadata"]["name"]
            eventually(
                lambda: get(config, "pod", "-n", "default", name)["status"].get("phase") in {"Succeeded", "Failed"},
                timeout=90,
            )
            assert get(config, "pod", "-n", "default", name)["status"]["phase"] == "Succeeded"
            assert kubectl(config, "logs", "-n", "default", name).strip() == f"written-by-{suffix}"
        finally:
            for kind, obj, ns in (
                ("pod", f"writer-{suffix}", "default"),
                ("pod", f"reader-{suffix}", "default"),
                ("pvc", pvc, "default"),
                ("pv", pv, ""),
                ("secret", secret, "default"),
            ):
                where = ["-n", ns] if ns else []
                kubectl(config, "delete", kind, obj, *where, "--ignore-not-found", "--wait=true", "--timeout=90s")
            # The pods are gone: the kubelet unpublished and unstaged; nothing of the volume is mounted.
            eventually(
                lambda: (
                    not any(
                        kubelet_root in line and "ceph-fuse" in line
                        for line in Path("/proc/self/mountinfo").read_text().splitlines()
                    )
                ),
                timeout=60,
            )
            cephfs.delete(volume.volume_id)


def image_pod(name: str, script: str) -> dict[str, Any]:
    """A pod of the project's image on the real node running ``script`` once (it is never pulled)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": NODE},
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "c",
                    "image": "localhost/storage-operator:lab",
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", script],
                }
            ],
        },
    }


def volume_pod(name: str, claim: str, script: str) -> dict[str, Any]:
    """``image_pod`` with ``claim`` mounted at /data, as root (a new volume's root directory is root's)."""
    pod = image_pod(name, script)
    (container,) = pod["spec"]["containers"]
    container["securityContext"] = {"runAsUser": 0}
    container["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    return pod


CAN_I = [
    # (service account, verb, resource[/subresource], namespace or "" for cluster scope, expected)
    ("storage-operator", "patch", "cephblockpools/status", NS, "yes"),
    ("storage-operator", "create", "cephblockpools", NS, "no"),
    ("storage-operator", "create", "persistentvolumes", "", "yes"),
    ("storage-operator", "get", "secrets", "kube-system", "no"),
    ("storage-operator", "delete", "nodes", "", "no"),
    # Pods only in its own namespace: a deleted managed cluster's mon stores are removed by a pod of it.
    ("storage-operator", "create", "pods", NS, "yes"),
    ("storage-operator", "create", "pods", "default", "no"),
    ("storage-operator", "create", "deployments", "default", "no"),
    ("storage-operator", "list", "secrets", NS, "no"),
    ("storage-agent", "patch", "diskinventories/status", "", "yes"),
    ("storage-agent", "delete", "diskinventories", "", "no"),
    ("storage-agent", "delete", "cephclusters", NS, "no"),
    ("storage-agent", "list", "secrets", NS, "no"),
    ("storage-agent", "create", "persistentvolumes", "", "no"),
    ("storage-agent", "patch", "cephosds/status", NS, "yes"),
    ("storage-agent", "patch", "cephosds", NS, "no"),
    ("storage-agent", "get", "secrets", NS, "no"),
    # The CSI node plugin has no API access at all (no token mounted, and no rights if it had one).
    ("csi-node", "get", "secrets", NS, "no"),
    ("csi-node", "get", "nodes", "", "no"),
]


@pytest.mark.parametrize("case", CAN_I, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[4]}")
def test_each_component_has_only_what_it_needs(
    node_lab: tuple[LabConfig, LabState], case: tuple[str, str, str, str, str]
) -> None:
    config, _ = node_lab
    account, verb, resource, namespace, expected = case
    where = ["-n", namespace] if namespace else []
    kind, _, sub = resource.partition("/")
    subresource = [f"--subresource={sub}"] if sub else []
    answer = kubectl(config, "auth", "can-i", verb, kind, *subresource, *where, "--as", f"{SA}:{account}", check=False)
    assert answer.strip() == expected, f"{account} {verb} {resource} in {namespace or 'cluster'}"


def test_taking_the_lab_down_restores_the_host(node_lab: tuple[LabConfig, LabState], host_before: HostState) -> None:
    config, _ = node_lab
    started = time.monotonic()
    Lab(config, say=print).down(keep_logs=True)
    print(f"node lab down in {time.monotonic() - started:.1f}s")
    assert HostState.now() == host_before  # kernel settings and firewall rules as they were
    assert not hostsettings.link_exists(config.node_network.bridge)
    assert not any((h / cgroup_root(config)).exists() for h in hostsettings.cgroup_hierarchies())
    mounted = Path("/proc/self/mountinfo").read_text()
    assert str(config.root) not in mounted
    assert loopdev.attached_under(config.root) == []
    assert ports.listening_in(list(config.listeners().values())) == []
    leftover = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(config.root).encode() in (entry / "cmdline").read_bytes():
                    leftover.append(entry.name)
            except OSError:
                continue
    assert leftover == []
