"""NFSBackend: an off-cluster NFS export that PVCs of our StorageClass get directories on."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from storage_operator.api.meta import APIModel, CommonStatus, cel, validations

# Placeholders a pathPattern may use; values are made path-safe before they are substituted.
PATH_PLACEHOLDERS = ("namespace", "pvcName", "pvName")
_PLACEHOLDER = r"\$\{(" + "|".join(PATH_PLACEHOLDERS) + r")\}"
PATH_PATTERN_REGEX = r"^([A-Za-z0-9._/-]|" + _PLACEHOLDER + r")+$"


class NFSBackendSpec(APIModel):
    model_config = APIModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "!self.pathPattern.startsWith('/')",
                "pathPattern must be relative to the export (no leading '/')",
                field_path=".pathPattern",
                reason="FieldValueInvalid",
            ),
            cel(
                "!self.pathPattern.matches('(^|/)[.][.]?(/|$)')",
                "pathPattern must not contain '.' or '..' segments",
                field_path=".pathPattern",
                reason="FieldValueInvalid",
            ),
            cel(
                "!self.baseDirectory.startsWith('/') && !self.baseDirectory.matches('(^|/)[.][.]?(/|$)')",
                "baseDirectory must be relative to the export, without '.' or '..' segments",
                field_path=".baseDirectory",
                reason="FieldValueInvalid",
            ),
        )
    }

    server: str = Field(
        max_length=253,
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$",
        description="NFS server host name or IP address.",
    )
    port: int = Field(2049, ge=1, le=65535, description="NFS port.")
    export_path: str = Field(max_length=1024, pattern=r"^/[^\s]*$", description="Export path (NFSv4 pseudo path).")
    version: Literal["3", "4.1"] = Field("4.1", description="NFS protocol version.")
    mount_options: list[str] = Field(
        default_factory=list,
        max_length=32,
        description="Mount options written into each PV (the StorageClass may override them).",
        json_schema_extra={"items": {"type": "string", "minLength": 1, "maxLength": 128}},
    )
    base_directory: str = Field(
        "volumes",
        min_length=1,
        max_length=255,
        description="Directory under the export that holds the volumes.",
    )
    path_pattern: str = Field(
        "${namespace}-${pvcName}-${pvName}",
        min_length=1,
        max_length=255,
        pattern=PATH_PATTERN_REGEX,
        description="Directory of each volume under baseDirectory; placeholders ${namespace}, ${pvcName}, ${pvName}.",
    )
    on_delete: Literal["delete", "retain", "archive"] = Field(
        "archive",
        description="When a released PV is deleted: delete its directory, keep it, or rename it to archived-<name>.",
    )
    directory_mode: str = Field("0770", pattern=r"^0?[0-7]{3,4}$", description="Octal mode of new volume directories.")
    directory_uid: int | None = Field(
        None, alias="directoryUID", ge=0, le=2**31 - 1, description="Owner of new volume directories."
    )
    directory_gid: int | None = Field(
        None, alias="directoryGID", ge=0, le=2**31 - 1, description="Group of new volume directories."
    )


class NFSBackendStatus(CommonStatus):
    phase: Literal["Pending", "Ready", "Unreachable", "Error"] | None = None
    reachable: bool | None = None
    total_bytes: int | None = Field(None, ge=0)
    free_bytes: int | None = Field(None, ge=0)
    free: str | None = Field(None, description="freeBytes, human-readable.")
    volumes: int | None = Field(None, ge=0, description="Volume directories provisioned on this backend.")
    last_checked: datetime | None = None
