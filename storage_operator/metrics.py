"""The operator's Prometheus metrics (names and labels per Prometheus conventions: base units, _total
counters, _seconds and _bytes suffixes, one metric per quantity rather than a "type" label)."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

PREFIX = "storage_operator"
CLUSTER = ("namespace", "cluster")
POOL = ("namespace", "cluster", "pool")
# Reconciles are mostly a few mon round trips (tens of ms); a hung monitor takes up to the op timeout.
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# A claim is a few NFS round trips and one API write (milliseconds); a burst queues them.
NFS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.reconciles = Counter(
            f"{PREFIX}_reconciles_total",
            "Reconciles by kind and result (success, error).",
            ["kind", "result"],
            registry=r,
        )
        self.reconcile_errors = Counter(
            f"{PREFIX}_reconcile_errors_total", "Failed reconciles by kind and reason.", ["kind", "reason"], registry=r
        )
        self.reconcile_duration = Histogram(
            f"{PREFIX}_reconcile_duration_seconds",
            "Time one reconcile took, by kind.",
            ["kind"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.leader = Gauge(f"{PREFIX}_leader", "1 while this replica holds the leader lease and acts.", registry=r)
        self.ceph_connected = Gauge(
            f"{PREFIX}_ceph_connected", "1 when the cluster answered its last status read.", CLUSTER, registry=r
        )
        self.ceph_health = Gauge(
            f"{PREFIX}_ceph_health_status",
            "Ceph health: 0 HEALTH_OK, 1 HEALTH_WARN, 2 HEALTH_ERR (absent while unknown).",
            CLUSTER,
            registry=r,
        )
        self.ceph_capacity = Gauge(f"{PREFIX}_ceph_capacity_bytes", "Raw capacity.", CLUSTER, registry=r)
        self.ceph_used = Gauge(f"{PREFIX}_ceph_used_bytes", "Raw space used.", CLUSTER, registry=r)
        self.ceph_available = Gauge(f"{PREFIX}_ceph_available_bytes", "Raw space available.", CLUSTER, registry=r)
        self.ceph_osds = Gauge(f"{PREFIX}_ceph_osds", "OSDs in the OSD map.", CLUSTER, registry=r)
        self.ceph_osds_up = Gauge(f"{PREFIX}_ceph_osds_up", "OSDs up.", CLUSTER, registry=r)
        self.ceph_osds_in = Gauge(f"{PREFIX}_ceph_osds_in", "OSDs in.", CLUSTER, registry=r)
        self.pool_stored = Gauge(f"{PREFIX}_pool_stored_bytes", "User data stored in the pool.", POOL, registry=r)
        self.pool_objects = Gauge(f"{PREFIX}_pool_objects", "Objects in the pool.", POOL, registry=r)
        self.pool_quota_bytes = Gauge(
            f"{PREFIX}_pool_quota_bytes", "The pool's byte quota (0: none).", POOL, registry=r
        )
        self.pool_quota_objects = Gauge(
            f"{PREFIX}_pool_quota_objects", "The pool's object quota (0: none).", POOL, registry=r
        )

        # The NFS provisioner.
        self.nfs_operations = Counter(
            f"{PREFIX}_nfs_operations_total",
            "NFS volume operations (provision, delete, archive, retain, adopt, resize) by backend and result.",
            ["backend", "operation", "result"],
            registry=r,
        )
        self.nfs_operation_duration = Histogram(
            f"{PREFIX}_nfs_operation_duration_seconds",
            "Time from picking up a claim or volume to its PV written or directory handled, by operation.",
            ["operation"],
            buckets=NFS_BUCKETS,
            registry=r,
        )
        self.nfs_backend_up = Gauge(f"{PREFIX}_nfs_backend_up", "1 when the backend answered.", ["backend"], registry=r)
        self.nfs_backend_free = Gauge(
            f"{PREFIX}_nfs_backend_free_bytes", "Bytes available on the backend's export.", ["backend"], registry=r
        )
        self.nfs_backend_total = Gauge(
            f"{PREFIX}_nfs_backend_capacity_bytes", "Size of the backend's export.", ["backend"], registry=r
        )
        self.nfs_backend_volumes = Gauge(
            f"{PREFIX}_nfs_backend_volumes", "PersistentVolumes on the backend.", ["backend"], registry=r
        )
        self.nfs_volume_used = Gauge(
            f"{PREFIX}_nfs_volume_used_bytes",
            "Bytes of files in a volume's directory (measured in the background; a lower bound when the walk "
            "was cut at its budget).",
            ["backend", "namespace", "claim", "volume"],
            registry=r,
        )
        self.nfs_volume_requested = Gauge(
            f"{PREFIX}_nfs_volume_requested_bytes",
            "The volume's capacity (its claim's request).",
            ["backend", "namespace", "claim", "volume"],
            registry=r,
        )
        self.nfs_queue_depth = Gauge(
            f"{PREFIX}_nfs_queue_depth", "Claims and volumes waiting for a worker.", registry=r
        )

    def forget_nfs_volume(self, backend: str, namespace: str, claim: str, volume: str) -> None:
        for gauge in (self.nfs_volume_used, self.nfs_volume_requested):
            _remove(gauge, backend, namespace, claim, volume)

    def forget_nfs_backend(self, backend: str) -> None:
        for gauge in (self.nfs_backend_up, self.nfs_backend_free, self.nfs_backend_total, self.nfs_backend_volumes):
            _remove(gauge, backend)

    def forget_cluster(self, namespace: str, cluster: str) -> None:
        for gauge in (
            self.ceph_connected,
            self.ceph_health,
            self.ceph_capacity,
            self.ceph_used,
            self.ceph_available,
            self.ceph_osds,
            self.ceph_osds_up,
            self.ceph_osds_in,
        ):
            _remove(gauge, namespace, cluster)

    def forget_pool(self, namespace: str, cluster: str, pool: str) -> None:
        for gauge in (self.pool_stored, self.pool_objects, self.pool_quota_bytes, self.pool_quota_objects):
            _remove(gauge, namespace, cluster, pool)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _remove(gauge: Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        gauge.remove(*labels)


class AgentMetrics:
    """The node agent's metrics (one node each, so no node label: Prometheus adds the target's)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.devices = Gauge(f"{PREFIX}_agent_devices", "Block devices reported for this node.", registry=r)
        self.available = Gauge(f"{PREFIX}_agent_devices_available", "Devices free to become OSDs.", registry=r)
        self.scan_duration = Histogram(
            f"{PREFIX}_agent_scan_duration_seconds",
            "Time one scan took (enumerate, probe, assess).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.uevents = Counter(f"{PREFIX}_agent_uevents_total", "Block-device uevents handled.", registry=r)
        self.publishes = Counter(
            f"{PREFIX}_agent_publishes_total", "DiskInventory writes by result.", ["result"], registry=r
        )
        self.probes = Counter(f"{PREFIX}_agent_probes_total", "Devices probed (wipefs, blkid).", registry=r)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
