"""Pool settings shared by CephBlockPool and the pools of a CephFilesystem."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from storage_operator.api.meta import DEVICE_CLASS, DEVICE_CLASS_MAX, APIModel, cel, validations

FailureDomain = Literal["osd", "host"]


class ReplicatedSpec(APIModel):
    model_config = APIModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "self.size > 1 || !self.requireSafeReplicaSize",
                "replicated.size 1 keeps a single copy of the data: set requireSafeReplicaSize: false to confirm",
                field_path=".size",
                reason="FieldValueForbidden",
            )
        )
    }

    size: int = Field(3, ge=1, le=10, description="Copies of each object (1..10).")
    require_safe_replica_size: bool = Field(
        True, description="Refuse sizes that cannot survive the loss of a failure domain (size 1)."
    )
    target_size_ratio: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Expected share of the cluster's capacity, a hint for the PG autoscaler.",
    )


class ErasureCodedSpec(APIModel):
    data_chunks: int = Field(ge=2, le=32, description="Chunks each object is split into (k, at least 2).")
    coding_chunks: int = Field(ge=1, le=16, description="Parity chunks (m, at least 1): failures the pool survives.")
    algorithm: Literal["jerasure", "isa"] = Field("jerasure", description="Erasure-code plugin.")


class QuotaSpec(APIModel):
    max_bytes: int | None = Field(None, ge=0, description="Refuse writes past this many bytes (0: no limit).")
    max_objects: int | None = Field(None, ge=0, description="Refuse writes past this many objects (0: no limit).")


POOL_KIND_RULE = cel(
    "has(self.replicated) != has(self.erasureCoded)",
    "set exactly one of replicated or erasureCoded",
    reason="FieldValueInvalid",
)


class PoolSpec(APIModel):
    """How a pool stores its data. Exactly one of ``replicated`` and ``erasureCoded``."""

    model_config = APIModel.model_config | {"json_schema_extra": validations(POOL_KIND_RULE)}

    failure_domain: FailureDomain = Field("host", description="What copies (or chunks) must not share: osd or host.")
    device_class: str | None = Field(
        None,
        max_length=DEVICE_CLASS_MAX,
        pattern=DEVICE_CLASS,
        description="Only OSDs of this class (hdd, ssd, nvme...).",
    )
    replicated: ReplicatedSpec | None = Field(None, description="Keep full copies.")
    erasure_coded: ErasureCodedSpec | None = Field(None, description="Split into data and coding chunks.")
    quotas: QuotaSpec | None = Field(None, description="Limits the pool enforces.")
    parameters: dict[str, str] = Field(
        default_factory=dict,
        max_length=32,
        description="Extra `ceph osd pool set` variables, e.g. compression_mode: aggressive.",
    )
