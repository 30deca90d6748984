"""NFSBackend: an off-cluster NFS export that PVCs of our StorageClass get directories on."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import Field

from storage_operator.api.meta import APIModel, CommonStatus, cel, validations

# The pathPattern language. It lives here, below the reconcile layer, because the CRD schema needs the regex;
# storage_operator.reconcile.nfspath renders patterns and re-exports these names.
# Placeholders written as is: ${namespace} (the same as ${pvc.namespace}), ${pvc.name}, ${pv.name}.
PATH_PLACEHOLDERS = ("namespace", "pvc.namespace", "pvc.name", "pv.name")
# Placeholders followed by ".<key>", a Kubernetes label or annotation key: ${pvc.labels.team}.
PATH_KEYED_PLACEHOLDERS = ("pvc.labels", "pvc.annotations")
# Every placeholder as people write it, for descriptions and error messages.
PATH_PLACEHOLDERS_HELP = ", ".join(
    ["${" + p + "}" for p in PATH_PLACEHOLDERS] + ["${" + p + ".<key>}" for p in PATH_KEYED_PLACEHOLDERS]
)
# A label/annotation key: an optional DNS-subdomain-like prefix (<= 253) and '/', then a name (<= 63).
LABEL_KEY_REGEX = r"([A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?"
_PLACEHOLDER = (
    r"\$\{("
    + "|".join(re.escape(p) for p in PATH_PLACEHOLDERS)
    + r"|("
    + "|".join(re.escape(p) for p in PATH_KEYED_PLACEHOLDERS)
    + r")\."
    + LABEL_KEY_REGEX
    + r")\}"
)
# Go (RE2) and Python read it the same way; Python code must use re.fullmatch (its '$' also matches before a
# final newline).
PATH_PATTERN_REGEX = r"^([A-Za-z0-9._/-]|" + _PLACEHOLDER + r")+$"
DEFAULT_PATH_PATTERN = "${namespace}-${pvc.name}-${pv.name}"


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
        DEFAULT_PATH_PATTERN,
        min_length=1,
        max_length=255,
        pattern=PATH_PATTERN_REGEX,
        description=(
            "Directory of each volume under baseDirectory ('/' makes subdirectories); placeholders "
            + PATH_PLACEHOLDERS_HELP
            + ". Substituted values are made path-safe: characters other than letters, digits, '.', '_' and '-'"
            " become '_', and values longer than 63 characters are shortened with a hash suffix."
        ),
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
    phase: Literal["Pending", "Ready", "Unreachable", "Error", "Deleting"] | None = None
    reachable: bool | None = None
    total_bytes: int | None = Field(None, ge=0)
    free_bytes: int | None = Field(None, ge=0)
    free: str | None = Field(None, description="freeBytes, human-readable.")
    volumes: int | None = Field(None, ge=0, description="PersistentVolumes provisioned on this backend.")
    version: str | None = Field(None, description="The NFS version the server answered with.")
    root_squash: bool | None = Field(
        None, description="The export maps uid 0 to an anonymous user, so owners cannot be chosen freely."
    )
    last_checked: datetime | None = None
