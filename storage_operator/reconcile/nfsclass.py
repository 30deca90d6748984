"""What a StorageClass of the NFS provisioner asks for, checked, merged over its NFSBackend (pure).

StorageClass parameters are free-form strings the API server never validates, so every one is checked
here and a bad one becomes a ProvisioningFailed Event that names it, not a half-made volume.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from storage_operator.api.v1alpha1.nfsbackend import NFSBackendSpec
from storage_operator.errors import InvalidSpec
from storage_operator.reconcile.nfspath import validate_pattern

PROVISIONER = "nfs.storage.baremetal.io"
OnDelete = Literal["delete", "retain", "archive"]
ON_DELETE: tuple[OnDelete, ...] = ("delete", "retain", "archive")
KNOWN_PARAMETERS = (
    "backend",
    "backends",
    "pathPattern",
    "onDelete",
    "mode",
    "uid",
    "gid",
    "adopt",
    "capacityCheck",
)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_MODE = re.compile(r"^0?[0-7]{3,4}$")
_MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class ClassParameters:
    """A StorageClass's parameters, parsed; None means "the backend's setting"."""

    backends: tuple[str, ...]
    path_pattern: str | None = None
    on_delete: OnDelete | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    adopt: bool = False
    capacity_check: bool = True


@dataclass(frozen=True)
class VolumeSettings:
    """Everything about a new volume that comes from its class and backend."""

    backend: str
    path_pattern: str
    on_delete: OnDelete
    mode: int
    uid: int | None
    gid: int | None
    adopt: bool
    capacity_check: bool
    mount_options: tuple[str, ...]
    reclaim_policy: str


def parse_parameters(parameters: Mapping[str, str] | None) -> ClassParameters:
    """Check a class's parameters; raise InvalidSpec naming the first bad one."""
    params = dict(parameters or {})
    unknown = sorted(k for k in params if k not in KNOWN_PARAMETERS)
    if unknown:
        raise InvalidSpec(
            f"unknown StorageClass parameter(s) {', '.join(unknown)}; known: {', '.join(KNOWN_PARAMETERS)}"
        )
    if "backend" in params and "backends" in params:
        raise InvalidSpec("set parameter backend or backends, not both")
    raw = params.get("backend") or params.get("backends") or ""
    backends = tuple(dict.fromkeys(b.strip() for b in raw.split(",") if b.strip()))
    if not backends:
        raise InvalidSpec("the StorageClass names no NFSBackend: set parameter backend (or backends: a,b)")
    for name in backends:
        if len(name) > 253 or not _NAME.fullmatch(name):
            raise InvalidSpec(f"parameter backend(s): {name!r} is not an NFSBackend name")
    pattern = params.get("pathPattern")
    if pattern is not None:
        try:
            validate_pattern(pattern)
        except InvalidSpec as exc:
            raise InvalidSpec(f"parameter pathPattern: {exc}") from None
    on_delete = next((o for o in ON_DELETE if o == params.get("onDelete")), None)
    if on_delete is None and "onDelete" in params:
        raise InvalidSpec(f"parameter onDelete must be one of {', '.join(ON_DELETE)}, got {params['onDelete']!r}")
    return ClassParameters(
        backends=backends,
        path_pattern=pattern,
        on_delete=on_delete,
        mode=_mode(params.get("mode")),
        uid=_id("uid", params.get("uid")),
        gid=_id("gid", params.get("gid")),
        adopt=_flag("adopt", params.get("adopt"), default=False),
        capacity_check=_flag("capacityCheck", params.get("capacityCheck"), default=True),
    )


def settings_for(
    params: ClassParameters, backend: str, spec: NFSBackendSpec, storage_class: Mapping[str, Any]
) -> VolumeSettings:
    """The class's overrides over the backend's defaults; mount options always carry the NFS version."""
    options = list(storage_class.get("mountOptions") or spec.mount_options)
    if not any(o.split("=", 1)[0] in ("vers", "nfsvers") for o in options):
        options.append(f"nfsvers={spec.version}")
    if spec.port != 2049 and not any(o.split("=", 1)[0] == "port" for o in options):
        options.append(f"port={spec.port}")
    return VolumeSettings(
        backend=backend,
        path_pattern=params.path_pattern or spec.path_pattern,
        on_delete=params.on_delete or spec.on_delete,
        mode=params.mode if params.mode is not None else int(spec.directory_mode, 8),
        uid=params.uid if params.uid is not None else spec.directory_uid,
        gid=params.gid if params.gid is not None else spec.directory_gid,
        adopt=params.adopt,
        capacity_check=params.capacity_check,
        mount_options=tuple(options),
        reclaim_policy=str(storage_class.get("reclaimPolicy") or "Delete"),
    )


def _mode(value: str | None) -> int | None:
    if value is None:
        return None
    if not _MODE.fullmatch(value):
        raise InvalidSpec(f"parameter mode must be octal like 0770 or 2770, got {value!r}")
    return int(value, 8)


def _id(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > _MAX_ID:
        raise InvalidSpec(f"parameter {name} must be a number from 0 to {_MAX_ID}, got {value!r}")
    return int(value)


def _flag(name: str, value: str | None, *, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise InvalidSpec(f'parameter {name} must be "true" or "false", got {value!r}')
    return value.lower() == "true"
