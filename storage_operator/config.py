"""The operator's settings: every environment variable it reads, in one place (pydantic-settings).

Each field is read from ``STORAGE_OPERATOR_<NAME>`` (``KUBECONFIG`` and ``POD_NAME`` too, where noted);
command-line flags of ``storage-operator operator`` override them.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class OperatorConfig(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STORAGE_OPERATOR_", extra="ignore", frozen=True, populate_by_name=True
    )

    namespace: str = Field(
        "storage-system",
        description="The operator's own namespace: its leader-election Lease and the Secrets it may read.",
        validation_alias=AliasChoices("STORAGE_OPERATOR_NAMESPACE", "POD_NAMESPACE"),
    )
    identity: str = Field(
        default_factory=_default_identity,
        description="This replica's name in the Lease (the pod name in a cluster, so a restarted container "
        "takes its lease back at once).",
        validation_alias=AliasChoices("STORAGE_OPERATOR_IDENTITY", "POD_NAME"),
    )
    kubeconfig: Path | None = Field(
        None,
        description="Kubeconfig to use; unset: the pod's ServiceAccount (in-cluster).",
        validation_alias=AliasChoices("STORAGE_OPERATOR_KUBECONFIG", "KUBECONFIG"),
    )
    http_host: str = Field("0.0.0.0", description="Address of /metrics, /healthz and /readyz.")  # noqa: S104
    http_port: int = Field(8080, ge=1, le=65535, description="Port of /metrics, /healthz and /readyz.")
    lease_name: str = Field("storage-operator", description="Name of the leader-election Lease.")
    lease_duration: int = Field(15, ge=2, description="Seconds a leader's lease lasts without renewal.")
    renew_deadline: int = Field(10, ge=1, description="Seconds a leader keeps trying to renew before it steps down.")
    retry_period: float = Field(2.0, gt=0, description="Seconds between lease attempts and renewals.")
    ceph_workers: int = Field(8, ge=1, le=64, description="Concurrent librados calls per Ceph cluster.")
    ceph_connect_timeout: int = Field(10, ge=1, description="Seconds to reach a cluster's monitors.")
    ceph_op_timeout: int = Field(15, ge=1, description="Seconds one Ceph command may take.")
    kube_workers: int = Field(8, ge=1, le=64, description="Concurrent Kubernetes API calls.")
    kube_qps: float = Field(
        100.0,
        gt=0,
        description="Requests a second the NFS provisioner's API client makes on average (client-go's QPS).",
    )
    kube_burst: int = Field(200, ge=1, description="Requests the NFS provisioner's API client may make at once.")
    events_qps: float = Field(
        25.0,
        gt=0,
        description="Events a second the NFS provisioner posts on average (a limit of their own: during a burst "
        "of claims the PVs come first and the Events follow).",
    )
    events_burst: int = Field(50, ge=1, description="Events the NFS provisioner may post at once.")
    nfs_workers: int = Field(32, ge=1, le=256, description="Claims and volumes the NFS provisioner handles at once.")
    nfs_timeout: float = Field(10.0, gt=0, description="Seconds one NFS operation (or connecting) may take.")
    nfs_usage_interval: float = Field(
        300.0, gt=0, description="Seconds between measurements of each NFS volume's usage."
    )
    nfs_usage_budget: int = Field(
        100_000, ge=100, description="Directory entries one usage measurement of one volume may read at most."
    )
    nfs_sweep_interval: float = Field(
        600.0,
        gt=0,
        description="Seconds between looks for orphaned NFS volume directories (made for a claim that was "
        "deleted before its PV was, during an operator crash); only empty ones are removed.",
    )
    nfs_adopt_after: float = Field(
        1800.0,
        gt=0,
        description="Seconds after which a volume whose owning cluster stopped renewing its record may be adopted "
        "by another cluster's claim of the same namespace and name (adopt classes only).",
    )
    cluster_id: str | None = Field(
        None,
        description="This cluster's identity in the NFS ownership records; unset: the UID of the kube-system "
        "namespace.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["text", "json"] = Field("text", description="Log line format.")

    @model_validator(mode="after")
    def _renew_before_expiry(self) -> OperatorConfig:
        if not self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("leader election needs retry_period < renew_deadline < lease_duration")
        return self


class AgentConfig(BaseSettings):
    """The node agent's settings: ``STORAGE_AGENT_<NAME>`` (``NODE_NAME`` and ``KUBECONFIG`` too)."""

    model_config = SettingsConfigDict(env_prefix="STORAGE_AGENT_", extra="ignore", frozen=True, populate_by_name=True)

    node_name: str = Field(
        description="The node this agent runs on (the DaemonSet passes spec.nodeName).",
        validation_alias=AliasChoices("STORAGE_AGENT_NODE_NAME", "NODE_NAME"),
    )
    kubeconfig: Path | None = Field(
        None,
        description="Kubeconfig to use; unset: the pod's ServiceAccount (in-cluster).",
        validation_alias=AliasChoices("STORAGE_AGENT_KUBECONFIG", "KUBECONFIG"),
    )
    http_host: str = Field("0.0.0.0", description="Address of /metrics and /healthz.")  # noqa: S104
    http_port: int = Field(8081, ge=1, le=65535, description="Port of /metrics and /healthz.")
    min_size_bytes: int = Field(1024**3, ge=0, description="Smaller devices are never available (default 1 GiB).")
    consider_loop: bool = Field(False, description="Offer loop devices (off on real nodes).")
    consider_partitions: bool = Field(False, description="Offer partitions, not only whole disks.")
    loop_backing_dir: Path | None = Field(
        None,
        description="Report only loop devices whose backing file lies under this directory (and consider "
        "them): how the lab gives each simulated node its own disks. Unset: every device of the node.",
    )
    prepare_osds: bool = Field(
        True,
        description="Make the BlueStore of OSDs that a managed CephCluster's CephOSDs ask for on this node "
        "(needs ceph-osd: the image built with --target ceph). Off: this agent never writes to a device.",
    )
    rescan_seconds: float = Field(60.0, gt=0, description="Full rescan (every device probed again) interval.")
    debounce_seconds: float = Field(0.03, ge=0, description="Quiet time after a uevent before scanning.")
    event_source: Literal["auto", "udev", "kernel"] = Field(
        "auto", description="Where uevents come from: udevd when it runs (auto), or the kernel directly."
    )
    mountinfo: Path = Field(
        Path("/proc/1/mountinfo"), description="The host's mount table (the pod runs with hostPID)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["text", "json"] = Field("text", description="Log line format.")
