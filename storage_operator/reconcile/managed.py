"""A managed CephCluster's daemons as Kubernetes objects: where the mons go, the ceph.conf they all
read, and the Deployments of mons, mgrs, OSDs and MDSs (pure).

Every daemon runs from the cluster's image on the host network of the node it is pinned to (Ceph
daemons advertise their addresses in the cluster maps: they cannot sit behind a Service). Mons keep
their store under ``dataDirHostPath``; OSDs keep everything on their device (the data directory is
rebuilt from the BlueStore label at every start); mgrs and MDSs keep nothing.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from storage_operator.api.v1alpha1.cephcluster import CephClusterSpec
from storage_operator.reconcile.osds import CLUSTER_LABEL, cluster_label

MON_PORT = 3300  # msgr2, Ceph's default
MON_PORT_V1 = 6789
MON_IDS = string.ascii_lowercase
PART_OF = {"app.kubernetes.io/part-of": "storage-operator", "app.kubernetes.io/managed-by": "storage-operator"}
DAEMON_LABEL = "storage.baremetal.io/daemon"
DAEMON_ID_LABEL = "storage.baremetal.io/daemon-id"
HOSTNAME_LABEL = "kubernetes.io/hostname"
CONF_DIR = "/etc/ceph"
KEYS_DIR = "/var/run/storage-operator/keys"
NAME_ROOM = 200  # a cluster name is cut to this, so that "<cluster>-osd-<uuid>" stays a valid name

# Options every managed cluster gets (the user's spec.cephConfig wins over each).
BASE_CONFIG: dict[str, dict[str, str]] = {
    "global": {
        "auth_cluster_required": "cephx",
        "auth_service_required": "cephx",
        "auth_client_required": "cephx",
        # A fresh cluster would otherwise warn until every client is new enough; ours all are.
        "auth_allow_insecure_global_id_reclaim": "false",
        # Logs go to the container's stderr (kubectl logs), never to files inside it.
        "log_to_file": "false",
        "log_to_stderr": "true",
        "err_to_stderr": "true",
        "mon_cluster_log_to_file": "false",
        "mon_cluster_log_to_stderr": "false",
        "ms_bind_ipv4": "true",
        "ms_bind_ipv6": "false",
    },
    "mon": {"mon_allow_pool_delete": "true"},
}


# ---------------------------------------------------------------------------- names


def _short(cluster: str) -> str:
    return cluster[:NAME_ROOM].rstrip("-.")


def config_map_name(cluster: str) -> str:
    return f"{_short(cluster)}-ceph-config"


def mon_keyring_secret(cluster: str) -> str:
    return f"{_short(cluster)}-ceph-mon-keyring"


def admin_secret(cluster: str) -> str:
    return f"{_short(cluster)}-ceph-admin"


def daemon_name(cluster: str, daemon: str, daemon_id: str) -> str:
    return f"{_short(cluster)}-{daemon}-{daemon_id}"


def daemon_secret(cluster: str, daemon: str, daemon_id: str) -> str:
    return f"{daemon_name(cluster, daemon, daemon_id)}-keyring"


def osd_key_secret(cluster: str, osd_uuid: str) -> str:
    return f"{_short(cluster)}-osd-key-{osd_uuid}"


# ---------------------------------------------------------------------------- mons


@dataclass(frozen=True)
class MonPlace:
    """Where one mon lives: its node, that node's address, and its ports there."""

    mon_id: str
    node: str
    ip: str
    port: int = MON_PORT
    port_v1: int = MON_PORT_V1

    @property
    def addrvec(self) -> str:
        return f"[v2:{self.ip}:{self.port},v1:{self.ip}:{self.port_v1}]"

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "ip": self.ip, "port": self.port, "portV1": self.port_v1}

    @classmethod
    def from_json(cls, mon_id: str, doc: Mapping[str, Any]) -> MonPlace:
        return cls(mon_id, str(doc["node"]), str(doc["ip"]), int(doc["port"]), int(doc["portV1"]))


@dataclass(frozen=True)
class Placement:
    mons: tuple[MonPlace, ...]
    problem: str | None = None


def place_mons(
    count: int,
    nodes: Mapping[str, str],
    existing: Sequence[MonPlace],
    *,
    allow_multiple_per_node: bool,
    retired: Sequence[str] = (),
    avoid: Sequence[str] = (),
) -> Placement:
    """Keep the mons that exist (a mon never moves: its store is on its node); add mons on the nodes
    with the fewest, in name order, until there are ``count``. ``nodes``: node name -> address, for the
    nodes that may hold a mon. Scaling down drops the mons with the highest ids. ``retired``: ids of
    replaced mons, never given again (their stores may still be on their nodes); ``avoid``: nodes that
    lost a mon, chosen last."""
    kept = sorted(existing, key=lambda m: m.mon_id)[:count]
    placed = list(kept)
    free_ids = [i for i in MON_IDS if i not in {m.mon_id for m in existing} and i not in retired]
    while len(placed) < count:
        load = {n: sum(1 for m in placed if m.node == n) for n in nodes}
        allowed = (n for n in nodes if allow_multiple_per_node or load[n] == 0)
        candidates = sorted(allowed, key=lambda n: (n in avoid, load[n], n))
        if not candidates or not free_ids:
            have = len(nodes)
            return Placement(
                tuple(placed),
                f"{count} mons wanted but only {have} node(s) can hold one "
                "(nodes with a DiskInventory, in the storage selection); add nodes or set mon.allowMultiplePerNode",
            )
        node = candidates[0]
        # Ports are per address, and two nodes may share one (simulated nodes do): never give one twice.
        taken = {m.port - MON_PORT for m in placed if m.ip == nodes[node]}
        slot = next(i for i in range(len(placed) + 1) if i not in taken)  # the lowest port free on the node
        placed.append(MonPlace(free_ids.pop(0), node, nodes[node], MON_PORT + slot, MON_PORT_V1 + slot))
    return Placement(tuple(placed))


def mons_to_replace(
    mons: Sequence[MonPlace], quorum: Sequence[str], out_since: Mapping[str, float], now: float, failover: float
) -> list[str]:
    """The mon to replace now, if any: out of the quorum for ``failover`` seconds, in a cluster of at
    least three whose quorum stands without it (one at a time: the next waits for the quorum to be whole)."""
    if len(mons) < 3 or len(quorum) <= len(mons) // 2:
        return []
    out = [m.mon_id for m in sorted(mons, key=lambda m: m.mon_id) if m.mon_id not in quorum]
    due = [i for i in out if i in out_since and now - out_since[i] >= failover]
    return due[:1]


def mon_host(mons: Sequence[MonPlace]) -> str:
    return ",".join(m.addrvec for m in sorted(mons, key=lambda m: m.mon_id))


# ---------------------------------------------------------------------------- ceph.conf


def merged_config(spec: CephClusterSpec) -> dict[str, dict[str, str]]:
    merged = {section: dict(options) for section, options in BASE_CONFIG.items()}
    for section, options in spec.ceph_config.items():
        merged.setdefault(section, {}).update(options)
    return merged


def render_ceph_conf(fsid: str, mons: Sequence[MonPlace], config: Mapping[str, Mapping[str, str]]) -> str:
    sections = {section: dict(options) for section, options in config.items()}
    sections.setdefault("global", {})
    # The cluster's identity and mons are the operator's: an option of the same name in cephConfig is ignored.
    user = {k: v for k, v in sections["global"].items() if k not in ("fsid", "mon_host")}
    sections["global"] = {"fsid": fsid, "mon_host": mon_host(mons), **user}
    lines: list[str] = []
    for section in sorted(sections, key=lambda s: (s != "global", s)):
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in sections[section].items())
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- objects


@dataclass(frozen=True)
class Owner:
    """The CephCluster every object of the cluster belongs to (garbage-collected with it)."""

    name: str
    namespace: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": "storage.baremetal.io/v1alpha1",
            "kind": "CephCluster",
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def meta(self, name: str, extra_labels: Mapping[str, str] | None = None) -> dict[str, Any]:
        return {
            "name": name,
            "namespace": self.namespace,
            "labels": {**PART_OF, CLUSTER_LABEL: cluster_label(self.name), **(extra_labels or {})},
            "ownerReferences": [self.reference()],
        }


def parse_retired(text: str | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in json.loads(text or "{}").items()}


def parse_mons(text: str | None) -> tuple[MonPlace, ...]:
    return tuple(MonPlace.from_json(i, d) for i, d in sorted(json.loads(text or "{}").items()))


def build_config_map(
    owner: Owner,
    fsid: str,
    mons: Sequence[MonPlace],
    conf: str,
    *,
    initial: Sequence[MonPlace] = (),
    retired: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``initial``: the mons of the first monmap (kept as they were: a mon made later starts from it and
    joins; the Deployments' environment must not change when the count does)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": owner.meta(config_map_name(owner.name)),
        "data": {
            "ceph.conf": conf,
            "fsid": fsid,
            "mons.json": json.dumps({m.mon_id: m.to_json() for m in mons}, sort_keys=True),
            "initial-mons.json": json.dumps({m.mon_id: m.to_json() for m in initial or mons}, sort_keys=True),
            # Mons removed (replaced, or the count lowered): their ids are never given again (a store of
            # theirs may be left on the node), and their nodes are chosen last. id -> node.
            "retired-mons.json": json.dumps(dict(retired or {}), sort_keys=True),
        },
    }


def build_secret(owner: Owner, name: str, data: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": owner.meta(name),
        "type": "Opaque",
        "stringData": dict(data),
    }


@dataclass(frozen=True)
class DaemonPod:
    """What differs between the daemons' Deployments."""

    daemon: str  # mon, mgr, osd, mds
    daemon_id: str
    # Pinned: mons and OSDs to their store's node; mgrs and MDSs to a mon's node (a node known to run
    # storage daemons: the scheduler would also consider nodes that run no agent).
    node: str
    keyring_secret: str
    env: Mapping[str, str]
    privileged: bool = False
    host_data: str | None = None  # hostPath of the daemon's data directory (mons)
    devices: bool = False  # the host's /dev (OSDs)
    annotations: Mapping[str, str] | None = None
    # What Ceph must say through the daemon's admin socket before its pod counts as Ready (a rolling
    # upgrade moves on only then): (command, field of its reply, accepted values separated by commas).
    ready_when: tuple[str, str, str] | None = None


def build_daemon_deployment(owner: Owner, image: str, pod: DaemonPod) -> dict[str, Any]:
    labels = {DAEMON_LABEL: pod.daemon, DAEMON_ID_LABEL: pod.daemon_id, CLUSTER_LABEL: cluster_label(owner.name)}
    names = {"app.kubernetes.io/name": f"ceph-{pod.daemon}", "app.kubernetes.io/instance": cluster_label(owner.name)}
    name = daemon_name(owner.name, pod.daemon, pod.daemon_id)
    env: list[dict[str, Any]] = [
        {"name": "CEPH_DAEMON_ID", "value": pod.daemon_id},
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]
    env += [{"name": k, "value": v} for k, v in sorted(pod.env.items())]
    data_dir = f"/var/lib/ceph/{pod.daemon}/ceph-{pod.daemon_id}"
    mounts: list[dict[str, Any]] = [
        {"name": "config", "mountPath": CONF_DIR, "readOnly": True},
        {"name": "keys", "mountPath": KEYS_DIR, "readOnly": True},
        {"name": "data", "mountPath": data_dir},
        {"name": "run", "mountPath": "/run/ceph"},
        {"name": "crash", "mountPath": "/var/lib/ceph/crash"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    data: dict[str, Any]
    if pod.host_data is not None:
        data = {"hostPath": {"path": pod.host_data, "type": "DirectoryOrCreate"}}
    else:
        data = {"emptyDir": {"medium": "Memory"}}
    volumes: list[dict[str, Any]] = [
        {
            "name": "config",
            "configMap": {"name": config_map_name(owner.name), "items": [{"key": "ceph.conf", "path": "ceph.conf"}]},
        },
        {"name": "keys", "secret": {"secretName": pod.keyring_secret, "defaultMode": 0o400}},
        {"name": "data", **data},
        {"name": "run", "emptyDir": {}},
        {"name": "crash", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
    ]
    if pod.devices:
        mounts.append({"name": "dev", "mountPath": "/dev"})
        volumes.append({"name": "dev", "hostPath": {"path": "/dev"}})
    spec: dict[str, Any] = {
        "hostNetwork": True,
        "dnsPolicy": "ClusterFirstWithHostNet",
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 30,
        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
        "containers": [
            {
                "name": pod.daemon,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "args": ["ceph-daemon", pod.daemon],
                "env": env,
                "terminationMessagePath": "/tmp/termination-log",
                "securityContext": {
                    "privileged": pod.privileged,
                    "runAsUser": 0,
                    "readOnlyRootFilesystem": True,
                },
                "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}},
                "volumeMounts": mounts,
                **_readiness(pod),
            }
        ],
        "volumes": volumes,
    }
    spec["nodeSelector"] = {HOSTNAME_LABEL: pod.node}
    template_meta: dict[str, Any] = {"labels": {**PART_OF, **names, **labels}}
    if pod.annotations:
        template_meta["annotations"] = dict(pod.annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": owner.meta(name, labels),
        "spec": {
            "replicas": 1,
            # Never two of one daemon: the old pod is gone before the new one starts (they would share
            # the host's ports, and for a mon its store).
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": labels},
            "template": {"metadata": template_meta, "spec": spec},
        },
    }


def _readiness(pod: DaemonPod) -> dict[str, Any]:
    if pod.ready_when is None:
        return {}
    command, field, values = pod.ready_when
    socket = f"/run/ceph/ceph-{pod.daemon}.{pod.daemon_id}.asok"
    probe = ["python3", "-m", "storage_operator.daemons.ready", socket, command, field, values]
    return {
        "readinessProbe": {
            "exec": {"command": probe},
            "periodSeconds": 2,
            "timeoutSeconds": 5,
            "failureThreshold": 2,
        }
    }


def mon_pod(owner: Owner, mon: MonPlace, initial: Sequence[MonPlace], fsid: str, data_dir_host_path: str) -> DaemonPod:
    host_data = f"{cluster_data_dir(owner, data_dir_host_path)}/mon-{mon.mon_id}"
    return DaemonPod(
        daemon="mon",
        daemon_id=mon.mon_id,
        node=mon.node,
        keyring_secret=mon_keyring_secret(owner.name),
        env={
            "CEPH_FSID": fsid,
            # The first monmap: these mons at these addresses (used only by a mon that has no store yet).
            "CEPH_INITIAL_MONS": ",".join(f"{m.mon_id}={m.addrvec}" for m in sorted(initial, key=lambda m: m.mon_id)),
            "CEPH_PUBLIC_ADDRV": mon.addrvec,
        },
        host_data=host_data,
        ready_when=("mon_status", "state", "leader,peon"),
    )


def mgr_pod(owner: Owner, mgr_id: str, node: str) -> DaemonPod:
    return DaemonPod(
        daemon="mgr",
        daemon_id=mgr_id,
        node=node,
        keyring_secret=daemon_secret(owner.name, "mgr", mgr_id),
        env={},
    )


def osd_pod(owner: Owner, osd_id: int, osd_uuid: str, node: str, device: str) -> DaemonPod:
    return DaemonPod(
        daemon="osd",
        daemon_id=str(osd_id),
        node=node,
        keyring_secret=osd_key_secret(owner.name, osd_uuid),
        env={"CEPH_OSD_UUID": osd_uuid, "CEPH_OSD_DEVICE": device},
        privileged=True,
        devices=True,
        ready_when=("status", "state", "active"),
    )


def mds_pod(owner: Owner, mds_id: str, filesystem: str, node: str) -> DaemonPod:
    return DaemonPod(
        daemon="mds",
        daemon_id=mds_id,
        node=node,
        keyring_secret=daemon_secret(owner.name, "mds", mds_id),
        env={"CEPH_FILESYSTEM": filesystem},
    )


def cluster_data_dir(owner: Owner, data_dir_host_path: str) -> str:
    """Where the cluster's mons keep their stores on their nodes (one directory per cluster)."""
    return f"{data_dir_host_path.rstrip('/')}/{owner.namespace}-{owner.name}"


def cleanup_pod_name(owner: Owner, node: str) -> str:
    return f"{_short(owner.name)}-cleanup-{node}"[:253].rstrip("-.")


def build_cleanup_pod(owner: Owner, node: str, data_dir_host_path: str, image: str) -> dict[str, Any]:
    """A pod on ``node`` that removes the cluster's directory under dataDirHostPath (a deleted cluster's
    mon stores, only with its cleanup confirmation). It sees that one directory's parent, nothing else."""
    parent = data_dir_host_path.rstrip("/") or "/"
    target = f"/host-data/{owner.namespace}-{owner.name}"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": owner.meta(cleanup_pod_name(owner, node), {DAEMON_LABEL: "cleanup"}),
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {HOSTNAME_LABEL: node},
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "tolerations": [
                {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
            ],
            "containers": [
                {
                    "name": "cleanup",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["rm", "-rf", "--one-file-system", "--", target],
                    "terminationMessagePath": "/tmp/termination-log",
                    "securityContext": {"runAsUser": 0, "readOnlyRootFilesystem": True},
                    "volumeMounts": [
                        {"name": "host-data", "mountPath": "/host-data"},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                }
            ],
            "volumes": [
                {"name": "host-data", "hostPath": {"path": parent, "type": "DirectoryOrCreate"}},
                {"name": "tmp", "emptyDir": {}},
            ],
        },
    }
