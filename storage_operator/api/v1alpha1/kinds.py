"""Every kind of the API group with what its CRD needs besides the schema: names, scope, columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from storage_operator.api.v1alpha1.cephblockpool import CephBlockPoolSpec, CephBlockPoolStatus
from storage_operator.api.v1alpha1.cephcluster import CephClusterSpec, CephClusterStatus
from storage_operator.api.v1alpha1.cephfilesystem import CephFilesystemSpec, CephFilesystemStatus
from storage_operator.api.v1alpha1.cephosd import CephOSDSpec, CephOSDStatus
from storage_operator.api.v1alpha1.diskinventory import DiskInventorySpec, DiskInventoryStatus
from storage_operator.api.v1alpha1.nfsbackend import NFSBackendSpec, NFSBackendStatus

ColumnType = Literal["string", "integer", "number", "boolean", "date"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    json_path: str
    description: str = ""
    priority: int = 0  # 1: only with `kubectl get -o wide`


AGE = Column("Age", "date", ".metadata.creationTimestamp")
MESSAGE = Column("Message", "string", ".status.message", "What the operator says", priority=1)


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    short_names: tuple[str, ...]
    scope: Literal["Namespaced", "Cluster"]
    spec: type[BaseModel]
    status: type[BaseModel]
    columns: tuple[Column, ...]
    description: str
    categories: tuple[str, ...] = ("storage",)
    # Fields a list or watch may select on (?fieldSelector=spec.node=...), beyond name and namespace.
    selectable_fields: tuple[str, ...] = ()

    @property
    def singular(self) -> str:
        return self.kind.lower()


KINDS: tuple[Kind, ...] = (
    Kind(
        kind="CephCluster",
        plural="cephclusters",
        short_names=("ceph",),
        scope="Namespaced",
        spec=CephClusterSpec,
        status=CephClusterStatus,
        description="A Ceph cluster: managed on the nodes' disks, or an existing one connected to (external).",
        columns=(
            Column("Phase", "string", ".status.phase"),
            Column("Health", "string", ".status.ceph.health", "Ceph's own health"),
            Column("Mons", "string", ".status.summary.mons", "Monitors in quorum / total"),
            Column("OSDs", "string", ".status.summary.osds", "OSDs up / total"),
            Column("Used", "string", ".status.summary.used", "Raw space used"),
            Column("Capacity", "string", ".status.summary.capacity", "Raw capacity"),
            Column("External", "boolean", ".spec.external.enable", "Connected to, not run by, the operator"),
            AGE,
            MESSAGE,
            Column("FSID", "string", ".status.ceph.fsid", priority=1),
        ),
    ),
    Kind(
        kind="CephOSD",
        plural="cephosds",
        short_names=("cephosd",),
        scope="Namespaced",
        spec=CephOSDSpec,
        status=CephOSDStatus,
        description="One OSD on one device of one node (created by the operator from a CephCluster).",
        selectable_fields=(".spec.node",),  # each node's agent watches only its own
        columns=(
            Column("Node", "string", ".spec.node"),
            Column("Device", "string", ".spec.device.path"),
            Column("OSD", "integer", ".status.osdId", "Ceph OSD id"),
            Column("Phase", "string", ".status.phase"),
            Column("Up", "boolean", ".status.up"),
            Column("In", "boolean", ".status.in"),
            AGE,
            Column("Cluster", "string", ".spec.clusterRef.name", priority=1),
            MESSAGE,
        ),
    ),
    Kind(
        kind="CephBlockPool",
        plural="cephblockpools",
        short_names=("cephbp", "cbp"),
        scope="Namespaced",
        spec=CephBlockPoolSpec,
        status=CephBlockPoolStatus,
        description="A RADOS pool, replicated or erasure-coded (RBD images live here).",
        columns=(
            Column("Phase", "string", ".status.phase"),
            Column("Pool ID", "integer", ".status.poolId"),
            Column("Replicas", "integer", ".spec.replicated.size"),
            Column("EC Data", "integer", ".spec.erasureCoded.dataChunks"),
            Column("EC Coding", "integer", ".spec.erasureCoded.codingChunks"),
            Column("Failure Domain", "string", ".spec.failureDomain"),
            Column("Used", "string", ".status.usage.used"),
            AGE,
            MESSAGE,
        ),
    ),
    Kind(
        kind="CephFilesystem",
        plural="cephfilesystems",
        short_names=("cephfs",),
        scope="Namespaced",
        spec=CephFilesystemSpec,
        status=CephFilesystemStatus,
        description="A CephFS file system with its pools and MDS daemons.",
        columns=(
            Column("Phase", "string", ".status.phase"),
            Column("FSCID", "integer", ".status.fscid"),
            Column("Active MDS", "integer", ".spec.metadataServer.activeCount", "Wanted active MDS"),
            Column("MDS Up", "integer", ".status.mds.active"),
            Column("Standby", "integer", ".status.mds.standby"),
            AGE,
            MESSAGE,
        ),
    ),
    Kind(
        kind="DiskInventory",
        plural="diskinventories",
        short_names=("diskinv", "disks"),
        scope="Cluster",
        spec=DiskInventorySpec,
        status=DiskInventoryStatus,
        description="Every block device of one node and whether it is free to use (written by the node agent).",
        columns=(
            Column("Node", "string", ".spec.nodeName"),
            Column("Devices", "integer", ".status.deviceCount"),
            Column("Available", "integer", ".status.availableCount"),
            Column("Last Scan", "date", ".status.lastScan"),
            AGE,
            MESSAGE,
        ),
    ),
    Kind(
        kind="NFSBackend",
        plural="nfsbackends",
        short_names=("nfsb",),
        scope="Cluster",
        spec=NFSBackendSpec,
        status=NFSBackendStatus,
        description="An off-cluster NFS export that PVCs of the NFS StorageClass get directories on.",
        columns=(
            Column("Server", "string", ".spec.server"),
            Column("Export", "string", ".spec.exportPath"),
            Column("Phase", "string", ".status.phase"),
            Column("Free", "string", ".status.free"),
            Column("Volumes", "integer", ".status.volumes"),
            AGE,
            Column("Version", "string", ".spec.version", priority=1),
            Column("On Delete", "string", ".spec.onDelete", priority=1),
            MESSAGE,
        ),
    ),
)


def kind_named(name: str) -> Kind:
    for k in KINDS:
        if k.kind == name:
            return k
    raise KeyError(name)
