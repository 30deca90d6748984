"""CephBlockPool: a RADOS pool (usually for RBD images)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from storage_operator.api.meta import LocalObjectReference
from storage_operator.api.v1alpha1.pool import (
    ADOPTION_CONFIRMATION_HELP,
    AdoptableStatus,
    PoolQuotaStatus,
    PoolSpec,
    PoolUsage,
)


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
    confirm_adoption_changes: bool = Field(
        False,
        description=ADOPTION_CONFIRMATION_HELP,
    )


class CephBlockPoolStatus(AdoptableStatus):
    phase: Literal["Pending", "Progressing", "Ready", "Failure", "Deleting"] | None = None
    pool_name: str | None = Field(None, description="The pool's name in Ceph.")
    pool_id: int | None = Field(None, ge=0, description="Ceph's pool id.")
    usage: PoolUsage | None = None
    quotas: PoolQuotaStatus | None = Field(None, description="The quotas Ceph enforces on the pool now.")
