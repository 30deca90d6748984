"""Pool settings shared by CephBlockPool and the pools of a CephFilesystem."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from storage_operator.api.meta import DEVICE_CLASS, DEVICE_CLASS_MAX, APIModel, CommonStatus, cel, validations

FailureDomain = Literal["osd", "host"]

ADOPTION_CONFIRMATION_HELP = (
    "Apply this spec to a pool (or file system) that existed before this object even where that moves or "
    "drops data: a smaller size, another failure domain, device class or CRUSH rule. Until true, such "
    "differences are listed in status.pendingChanges and nothing of them is applied."
)


class ReplicatedSpec(APIModel):
    model_config = APIModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "self.size > 1 || !self.requireSafeReplicaSize",
                "replicated.size 1 keeps a single copy of the data: set requireSafeReplicaSize: false to confirm",
                field_path=".size",
                reason="FieldValueForbidden",
            ),
            cel(
                "!has(self.minSize) || self.minSize <= self.size",
                "replicated.minSize cannot be larger than replicated.size",
                field_path=".minSize",
                reason="FieldValueInvalid",
            ),
        )
    }

    size: int = Field(3, ge=1, le=10, description="Copies of each object (1..10).")
    min_size: int | None = Field(
        None,
        ge=1,
        le=10,
        description="Copies that must be up for I/O to continue; default size - size/2 (2 of 3), as Ceph's own.",
    )
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

# `ceph osd pool set` variables a spec may set through `parameters`. Everything else is either a field of
# its own (size, min_size, crush_rule, quotas, target_size_ratio), irreversible, or not ours to touch.
POOL_PARAMETERS = (
    "compression_mode",
    "compression_algorithm",
    "compression_required_ratio",
    "compression_min_blob_size",
    "compression_max_blob_size",
    "csum_type",
    "csum_min_block",
    "csum_max_block",
    "pg_autoscale_mode",
    "pg_num_min",
    "pg_num_max",
    "bulk",
    "target_size_bytes",
    "fast_read",
    "deep_scrub_interval",
    "scrub_min_interval",
    "scrub_max_interval",
    "recovery_priority",
    "recovery_op_priority",
    "noscrub",
    "nodeep-scrub",
)
_ALLOWED = ", ".join(f"'{p}'" for p in POOL_PARAMETERS)
PARAMETERS_RULE = cel(
    f"self.all(k, k in [{_ALLOWED}])",
    "parameters may only set: " + ", ".join(POOL_PARAMETERS),
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
        description="Extra `ceph osd pool set` variables, e.g. compression_mode: aggressive (allowed: "
        + ", ".join(POOL_PARAMETERS)
        + ").",
        json_schema_extra={
            "additionalProperties": {"type": "string", "maxLength": 128},
            **validations(PARAMETERS_RULE),
        },
    )


class PoolUsage(APIModel):
    """What a pool holds, from `ceph df detail`."""

    stored_bytes: int = Field(0, ge=0, description="User data stored (before replication).")
    bytes_used: int = Field(0, ge=0, description="Raw space used (after replication or erasure coding).")
    objects: int = Field(0, ge=0)
    percent_used: float = Field(0, ge=0, le=100)
    max_available_bytes: int = Field(0, ge=0, description="What can still be written (after replication).")
    used: str | None = Field(None, description="storedBytes, human-readable.")


class AdoptableStatus(CommonStatus):
    """What the status of a pool or a file system says about adoption."""

    adopted: bool | None = Field(None, description="It existed in Ceph before this object: adopted, not created.")
    pending_changes: list[str] = Field(
        default_factory=list,
        max_length=32,
        description="Differences from the spec that wait for spec.confirmAdoptionChanges (they move or drop data).",
    )


class PoolQuotaStatus(APIModel):
    max_bytes: int = Field(0, ge=0, description="0: no limit.")
    max_objects: int = Field(0, ge=0, description="0: no limit.")
