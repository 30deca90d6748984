"""CephFilesystem: a CephFS file system with its metadata and data pools and its MDS daemons."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from storage_operator.api.meta import APIModel, LocalObjectReference, cel, nested, validations
from storage_operator.api.v1alpha1.pool import ADOPTION_CONFIRMATION_HELP, AdoptableStatus, PoolSpec, PoolUsage


class NamedPoolSpec(PoolSpec):
    name: str = Field(
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="Suffix of the Ceph pool name (<fs>-<name>).",
    )


class MetadataServerSpec(APIModel):
    active_count: int = Field(1, ge=1, le=16, description="Active MDS daemons (max_mds).")
    active_standby: bool = Field(True, description="Keep a standby-replay MDS per active one for fast failover.")
    standby_count: int = Field(
        1,
        ge=0,
        le=16,
        description="Spare standby MDS daemons Ceph warns about when missing (standby_count_wanted); "
        "standby-replay daemons do not count.",
    )


class CephFilesystemSpec(APIModel):
    model_config = APIModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "!has(self.metadataPool.erasureCoded)",
                "metadataPool must be replicated: CephFS cannot keep metadata in an erasure-coded pool",
                field_path=".metadataPool.erasureCoded",
                reason="FieldValueForbidden",
            ),
            cel(
                "!has(self.dataPools[0].erasureCoded)",
                "the first data pool must be replicated (it holds every file's backtrace); "
                "add erasure-coded pools after it",
                field_path=".dataPools",
                reason="FieldValueForbidden",
            ),
        )
    }

    cluster_ref: LocalObjectReference | None = Field(
        None, description="The CephCluster; may be left out when the namespace has exactly one."
    )
    metadata_pool: PoolSpec = Field(description="Pool for the file system's metadata (replicated).")
    data_pools: list[NamedPoolSpec] = Field(
        min_length=1,
        max_length=8,
        description="Data pools; the first is the default.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    metadata_server: MetadataServerSpec = nested(MetadataServerSpec, "MDS daemons.")
    preserve_filesystem_on_delete: bool = Field(
        True, description="Keep the Ceph file system and its pools when this object is deleted."
    )
    confirm_adoption_changes: bool = Field(False, description=ADOPTION_CONFIRMATION_HELP)


class MDSCounts(APIModel):
    active: int = Field(0, ge=0)
    standby: int = Field(0, ge=0)
    standby_replay: int = Field(0, ge=0)


class FilesystemPoolStatus(APIModel):
    name: str = Field(description="The pool's name in Ceph.")
    role: Literal["metadata", "data"]
    pool_id: int | None = Field(None, ge=0)
    usage: PoolUsage | None = None


class CephFilesystemStatus(AdoptableStatus):
    phase: Literal["Pending", "Progressing", "Ready", "Failure", "Deleting"] | None = None
    fs_name: str | None = Field(None, description="The file system's name in Ceph.")
    fscid: int | None = Field(None, ge=0, description="Ceph's file system id.")
    mds: MDSCounts | None = None
    pools: list[FilesystemPoolStatus] = Field(default_factory=list, max_length=16)
