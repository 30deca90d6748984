"""CephCluster: one Ceph cluster, either managed (we run its daemons) or external (we connect to it)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from storage_operator.api.meta import (
    DEVICE_CLASS,
    DEVICE_CLASS_MAX,
    DNS_SUBDOMAIN,
    APIModel,
    CommonStatus,
    SecretReference,
    cel,
    nested,
    validations,
)

CLEANUP_CONFIRMATION = "yes-really-destroy-data"


class ExternalSpec(APIModel):
    """Connect to monitors that already run elsewhere instead of running our own."""

    model_config = APIModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "!self.enable || (has(self.monHosts) && size(self.monHosts) > 0)",
                "external mode needs monHosts: the addresses of the existing monitors",
                field_path=".monHosts",
                reason="FieldValueRequired",
            ),
            cel(
                "!self.enable || has(self.secretRef)",
                "external mode needs secretRef: a Secret with userID and userKey",
                field_path=".secretRef",
                reason="FieldValueRequired",
            ),
        )
    }

    enable: bool = Field(False, description="Connect to an existing cluster; the operator starts no Ceph daemons.")
    mon_hosts: list[str] = Field(
        default_factory=list,
        max_length=9,
        description="Monitor addresses, e.g. 10.0.0.1:6789 or [v2:10.0.0.1:3300,v1:10.0.0.1:6789].",
        json_schema_extra={"items": {"type": "string", "minLength": 1, "maxLength": 256}},
    )
    secret_ref: SecretReference | None = Field(
        None, description="Secret with keys userID (without 'client.') and userKey (the cephx key)."
    )
    fsid: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="Expected cluster fsid; connecting to a cluster with another fsid is refused.",
    )


class CephVersionSpec(APIModel):
    image: str = Field(
        "localhost/storage-operator-ceph:latest",
        max_length=512,
        description="Image the managed Ceph daemons (and the agents' OSD preparation) run: the project's image "
        "built with --target ceph. Changing it rolls the daemons one at a time.",
    )


class MonSpec(APIModel):
    model_config = APIModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "self.count % 2 == 1",
                "mon.count must be odd (1, 3, 5, 7 or 9) so that a majority can always form a quorum",
                field_path=".count",
                reason="FieldValueInvalid",
            )
        )
    }

    count: int = Field(3, ge=1, le=9, description="Number of monitors: odd, 1..9.")
    allow_multiple_per_node: bool = Field(False, description="Allow two monitors on one node (labs only).")
    failover_seconds: int = Field(
        600,
        ge=30,
        le=86400,
        description="A monitor out of the quorum this long is replaced by a new one (on another node when "
        "there is one), with 3 or more monitors and the quorum standing without it.",
    )


class MgrModule(APIModel):
    name: str = Field(max_length=64, pattern=r"^[a-z_]+$", description="Ceph mgr module name.")
    enabled: bool = Field(True)


class MgrSpec(APIModel):
    count: int = Field(1, ge=1, le=2, description="Managers: one active, optionally one standby.")
    modules: list[MgrModule] = Field(
        default_factory=list,
        max_length=32,
        description="Modules to enable or disable.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )


class DeviceSelection(APIModel):
    name: str = Field(
        max_length=256,
        pattern=r"^[^\s]+$",
        description="Device name (sdb), or a path such as /dev/disk/by-id/... (stable across reboots).",
    )


class NodeSelection(APIModel):
    name: str = Field(max_length=253, pattern=DNS_SUBDOMAIN, description="Kubernetes node name.")
    devices: list[DeviceSelection] = Field(
        default_factory=list,
        max_length=64,
        description="Devices of this node to use (explicit; overrides the filters).",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    device_filter: str | None = Field(None, max_length=256, description="Regex over device names on this node.")


class StorageSpec(APIModel):
    """Which devices become OSDs. Only devices a DiskInventory reports as available are ever used."""

    model_config = APIModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "!(self.useAllDevices && has(self.deviceFilter))",
                "useAllDevices and deviceFilter exclude each other: pick one",
                field_path=".deviceFilter",
                reason="FieldValueForbidden",
            ),
            cel(
                "!(self.useAllNodes && has(self.nodes) && size(self.nodes) > 0)",
                "useAllNodes and nodes exclude each other: list nodes only with useAllNodes: false",
                field_path=".nodes",
                reason="FieldValueForbidden",
            ),
        )
    }

    use_all_nodes: bool = Field(False, description="Consider every node that runs the agent.")
    use_all_devices: bool = Field(False, description="Use every available device of the chosen nodes.")
    device_filter: str | None = Field(None, max_length=256, description="Regex over device names, e.g. ^sd[b-z]$.")
    device_path_filter: str | None = Field(
        None, max_length=256, description="Regex over device paths and links, e.g. ^/dev/disk/by-id/nvme-.*"
    )
    nodes: list[NodeSelection] = Field(
        default_factory=list,
        max_length=1000,
        description="Per-node selection.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    min_device_size_bytes: int = Field(1024**3, ge=0, description="Smaller devices are never used (default 1 GiB).")
    device_class: str | None = Field(
        None, max_length=DEVICE_CLASS_MAX, pattern=DEVICE_CLASS, description="CRUSH device class for new OSDs."
    )
    remove_osds_out_of_selection: bool = Field(
        False,
        alias="removeOSDsOutOfSelection",
        description="An OSD whose device the selection no longer picks is removed (safely: out, drained, "
        "purged; refused while a pool would lose copies). False: it stays, and condition DevicesSelected "
        "names it.",
    )


class CleanupPolicy(APIModel):
    confirmation: Literal["", "yes-really-destroy-data"] = Field(
        "",
        description=(
            f"Set to {CLEANUP_CONFIRMATION!r} to let deleting this cluster wipe its OSD devices. "
            "Empty: devices are left as they are."
        ),
    )


class MonitoringSpec(APIModel):
    enabled: bool = Field(True, description="Expose the mgr's prometheus metrics.")
    port: int = Field(9283, ge=1, le=65535, description="Port of the mgr prometheus module.")


class CephClusterSpec(APIModel):
    model_config = APIModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "!(has(self.external) && self.external.enable && has(self.storage) && "
                "(self.storage.useAllNodes || (has(self.storage.nodes) && size(self.storage.nodes) > 0)))",
                "an external cluster's disks are not ours: remove storage (nodes, useAllNodes) in external mode",
                field_path=".storage",
                reason="FieldValueForbidden",
            ),
        )
    }

    # Always present (enable: false by default) so that `kubectl get` shows EXTERNAL false, not blank.
    external: ExternalSpec = nested(ExternalSpec, "Connect to an existing cluster instead of running one.")
    ceph_version: CephVersionSpec = nested(CephVersionSpec, "Ceph image (managed mode).")
    data_dir_host_path: str = Field(
        "/var/lib/storage-operator",
        max_length=256,
        pattern=r"^/[^\s]*$",
        description="Host directory for daemon state (managed mode).",
    )
    mon: MonSpec = nested(MonSpec, "Monitors (managed mode).")
    mgr: MgrSpec = nested(MgrSpec, "Managers (managed mode).")
    storage: StorageSpec = nested(StorageSpec, "Which devices become OSDs.")
    cleanup_policy: CleanupPolicy = nested(CleanupPolicy, "What deleting the cluster may destroy.")
    monitoring: MonitoringSpec = nested(MonitoringSpec, "Metrics.")
    ceph_config: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Ceph options by section (global, mon, mgr, osd, mds, osd.3, ...), written into the "
        "managed cluster's ceph.conf, e.g. {global: {osd_crush_chooseleaf_type: '0'}}. Managed mode only.",
        json_schema_extra={
            "maxProperties": 32,
            "additionalProperties": {
                "type": "object",
                "maxProperties": 128,
                "additionalProperties": {"type": "string", "maxLength": 1024},
            },
        },
    )
    refresh_interval_seconds: int = Field(
        30,
        ge=2,
        le=3600,
        description="How often the operator reads health and capacity from Ceph into status (and re-checks "
        "the cluster's pools and file systems).",
    )


class HealthCheck(APIModel):
    severity: str = Field(description="HEALTH_WARN or HEALTH_ERR.")
    message: str = Field(description="Ceph's summary of the check.")


class Capacity(APIModel):
    bytes_total: int = Field(0, ge=0)
    bytes_used: int = Field(0, ge=0)
    bytes_available: int = Field(0, ge=0)


class OSDCounts(APIModel):
    total: int = Field(0, ge=0)
    up: int = Field(0, ge=0)
    in_: int = Field(0, ge=0, alias="in")


class MonStatus(APIModel):
    total: int = Field(0, ge=0)
    quorum: list[str] = Field(default_factory=list, max_length=9)


class CephStatus(APIModel):
    health: Literal["HEALTH_OK", "HEALTH_WARN", "HEALTH_ERR", "HEALTH_UNKNOWN"] = "HEALTH_UNKNOWN"
    details: dict[str, HealthCheck] = Field(default_factory=dict, description="Failing health checks by name.")
    fsid: str | None = None
    version: str | None = None
    last_checked: datetime | None = None
    capacity: Capacity | None = None
    osds: OSDCounts | None = None
    mons: MonStatus | None = None


class ClusterSummary(APIModel):
    """Pre-formatted values for `kubectl get` columns (JSONPath cannot compute or format)."""

    mons: str | None = Field(None, description="Monitors in quorum / total, e.g. 3/3.")
    osds: str | None = Field(None, description="OSDs up / total, e.g. 12/12.")
    used: str | None = Field(None, description="Raw space used, human-readable (1.5 TiB).")
    capacity: str | None = Field(None, description="Raw capacity, human-readable.")


class CephClusterStatus(CommonStatus):
    phase: (
        Literal["Pending", "Connecting", "Progressing", "Ready", "Warning", "Error", "Failure", "Deleting"] | None
    ) = Field(
        None,
        description="Pending, Connecting, Progressing, Ready (HEALTH_OK), Warning (HEALTH_WARN), Error (HEALTH_ERR), "
        "Failure (the operator cannot reach or use the cluster: the message says why), Deleting.",
    )
    ceph: CephStatus | None = None
    summary: ClusterSummary | None = None
