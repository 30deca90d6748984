"""CephBlockPool: a RADOS pool (usually for RBD images)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from storage_operator.api.meta import APIModel, CommonStatus, LocalObjectReference
from storage_operator.api.v1alpha1.pool import PoolSpec


class CephBlockPoolSpec(PoolSpec):
    cluster_ref: LocalObjectReference | None = Field(
        None, description="The CephCluster; may be left out when the namespace has exactly one."
    )
    pool_name: str | None = Field(
        None,
        max_length=128,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
        description="Name of the pool in Ceph; defaults to the object's name.",
    )
    application: str = Field(
        "rbd",
        max_length=64,
        pattern=r"^[a-z0-9_-]+$",
        description="Pool application tag: rbd, rgw, cephfs, ...",
    )


class PoolUsage(APIModel):
    bytes_used: int = Field(0, ge=0)
    objects: int = Field(0, ge=0)
    percent_used: float = Field(0, ge=0, le=100)
    max_available_bytes: int = Field(0, ge=0, description="What can still be written (after replication).")
    used: str | None = Field(None, description="bytesUsed, human-readable.")


class CephBlockPoolStatus(CommonStatus):
    phase: Literal["Pending", "Progressing", "Ready", "Failure", "Deleting"] | None = None
    pool_id: int | None = Field(None, ge=0, description="Ceph's pool id.")
    usage: PoolUsage | None = None
