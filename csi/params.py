"""StorageClass parameters of both drivers, parsed and checked (pure).

Keys under ``csi.storage.k8s.io/`` are the sidecars' (secret references, PVC/PV names with
--extra-create-metadata) and are ignored here; any other unknown key is refused, so a typo in a class
fails the claim with a message instead of silently giving a volume without what was asked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Literal

from csi.errors import InvalidArgument
from csi.ids import LOCATION

SIDECAR_PREFIX = "csi.storage.k8s.io/"
Mounter = Literal["fuse", "kernel"]
# Features librbd and the userspace mapper both support; krbd supports layering and exclusive-lock.
FEATURE_ORDER = ("layering", "exclusive-lock", "object-map", "fast-diff", "deep-flatten", "journaling")
RBD_FEATURES = frozenset(FEATURE_ORDER)
# librbd's own default: object-map and fast-diff make removing, copying and measuring a thin image
# proportional to the data it holds, not to its size (without them a 10 GiB delete visits 2,560 objects).
DEFAULT_RBD_FEATURES = "layering,exclusive-lock,object-map,fast-diff,deep-flatten"


@dataclass(frozen=True)
class CephFSParams:
    fs_name: str
    pool: str | None = None  # data pool for the subvolume's files (one of the file system's data pools)
    mounter: Mounter = "fuse"

    def context(self) -> dict[str, str]:
        return {"fsName": self.fs_name, "mounter": self.mounter, **({"pool": self.pool} if self.pool else {})}


@dataclass(frozen=True)
class RBDParams:
    pool: str
    data_pool: str | None = None  # erasure-coded pool for the data; metadata stays in ``pool``
    features: str = DEFAULT_RBD_FEATURES

    def context(self) -> dict[str, str]:
        ctx = {"pool": self.pool, "imageFeatures": self.features}
        if self.data_pool:
            ctx["dataPool"] = self.data_pool
        return ctx


def _own(parameters: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in parameters.items() if not k.startswith(SIDECAR_PREFIX)}


def _unknown(own: Mapping[str, str], known: set[str]) -> None:
    extra = sorted(set(own) - known)
    if extra:
        raise InvalidArgument(
            f"unknown StorageClass parameter(s) {', '.join(extra)}; this driver takes {', '.join(sorted(known))}"
        )


def _location(value: str, what: str) -> str:
    if not LOCATION.fullmatch(value):
        raise InvalidArgument(f"parameter {what}={value!r} is not a valid name (letters, digits, '.', '_', '-')")
    return value


def parse_cephfs(parameters: Mapping[str, str]) -> CephFSParams:
    own = _own(parameters)
    _unknown(own, {"fsName", "pool", "mounter"})
    fs_name = own.get("fsName", "").strip()
    if not fs_name:
        raise InvalidArgument("parameter fsName is required: the CephFS file system to create subvolumes in")
    mounter = own.get("mounter", "fuse").strip() or "fuse"
    if mounter not in ("fuse", "kernel"):
        raise InvalidArgument(f"parameter mounter={mounter!r} must be 'fuse' (ceph-fuse) or 'kernel'")
    pool = own.get("pool", "").strip() or None
    return CephFSParams(
        fs_name=_location(fs_name, "fsName"),
        pool=_location(pool, "pool") if pool else None,
        mounter=mounter,  # type: ignore[arg-type]
    )


def parse_rbd(parameters: Mapping[str, str]) -> RBDParams:
    own = _own(parameters)
    _unknown(own, {"pool", "dataPool", "imageFeatures"})
    pool = own.get("pool", "").strip()
    if not pool:
        raise InvalidArgument("parameter pool is required: the replicated pool to create RBD images in")
    data_pool = own.get("dataPool", "").strip() or None
    features = normalize_features(own.get("imageFeatures", DEFAULT_RBD_FEATURES))
    return RBDParams(
        pool=_location(pool, "pool"),
        data_pool=_location(data_pool, "dataPool") if data_pool else None,
        features=features,
    )


def normalize_features(value: str) -> str:
    wanted = [f.strip() for f in value.split(",") if f.strip()]
    bad = sorted(set(wanted) - RBD_FEATURES)
    if bad:
        raise InvalidArgument(
            f"imageFeatures: unknown feature(s) {', '.join(bad)}; known: {', '.join(sorted(RBD_FEATURES))}"
        )
    if "layering" not in wanted:
        wanted.insert(0, "layering")
    # object-map needs exclusive-lock, fast-diff needs object-map: say so rather than let librbd EINVAL.
    if "object-map" in wanted and "exclusive-lock" not in wanted:
        raise InvalidArgument("imageFeatures: object-map needs exclusive-lock")
    if "fast-diff" in wanted and "object-map" not in wanted:
        raise InvalidArgument("imageFeatures: fast-diff needs object-map")
    if "journaling" in wanted and "exclusive-lock" not in wanted:
        raise InvalidArgument("imageFeatures: journaling needs exclusive-lock")
    # One spelling per set of features (librbd's order), so a class that lists them in another order
    # asks for the same volume: the digest of a retried request must not change.
    return ",".join(f for f in FEATURE_ORDER if f in wanted)


def digest(params: CephFSParams | RBDParams) -> str:
    """A short fingerprint of what the class asked for: a retried request must ask for the same."""
    body = json.dumps(asdict(params), sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]
