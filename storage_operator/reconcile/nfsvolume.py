"""PersistentVolumes of the NFS provisioner: which claims are ours, what they may ask, the PV we make (pure).

Names are deterministic (``pvc-<claim uid>``, as external provisioners do): a retry after a crash finds
the PV it made instead of making a second one.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from storage_operator.errors import InvalidSpec
from storage_operator.reconcile.nfsclass import PROVISIONER, OnDelete, VolumeSettings
from storage_operator.reconcile.nfspath import ClaimFacts
from storage_operator.reconcile.units import format_quantity, parse_quantity

Body = dict[str, Any]
# Set by the PV controller on claims it wants an external provisioner to serve (and its beta twin).
PROVISIONER_ANNOTATIONS = ("volume.kubernetes.io/storage-provisioner", "volume.beta.kubernetes.io/storage-provisioner")
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
# On our PVs: where the directory is and what to do with it, so deletion needs neither class nor backend spec.
BACKEND_ANNOTATION = f"{PROVISIONER}/backend"
DIRECTORY_ANNOTATION = f"{PROVISIONER}/directory"
ON_DELETE_ANNOTATION = f"{PROVISIONER}/on-delete"
# Holds a PV until its directory was deleted, archived or released: no directory outlives its PV unnoticed.
VOLUME_FINALIZER = f"{PROVISIONER}/volume"
ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")


def volume_name(claim_uid: str) -> str:
    return f"pvc-{claim_uid}"


def claim_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def wants_us(pvc: Mapping[str, Any], storage_class: Mapping[str, Any] | None) -> bool:
    """A claim for this provisioner that nobody has bound yet.

    The PV controller marks such claims with its storage-provisioner annotation, but only after its
    (single) claim worker got to them, one write per claim through its rate limit. A claim of one of our
    classes that binds immediately is ours already: the PV made for it is pre-bound by claimRef, which the
    PV controller prefers over any other volume, so acting first binds it sooner and never to the wrong PV.
    Claims of WaitForFirstConsumer classes wait for the annotation (it comes after the scheduler's choice).
    """
    meta = pvc.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False
    spec = pvc.get("spec") or {}
    if spec.get("volumeName") or (pvc.get("status") or {}).get("phase", "Pending") != "Pending":
        return False
    annotations = meta.get("annotations") or {}
    if any(annotations.get(a) == PROVISIONER for a in PROVISIONER_ANNOTATIONS):
        return True
    return (
        storage_class is not None
        and storage_class.get("provisioner") == PROVISIONER
        and storage_class.get("volumeBindingMode", "Immediate") == "Immediate"
        and (storage_class.get("metadata") or {}).get("name") == spec.get("storageClassName")
    )


def refusal(pvc: Mapping[str, Any]) -> str | None:
    """Why a claim cannot get a directory (None: it can). The user fixes the claim, not us."""
    spec = pvc.get("spec") or {}
    if spec.get("selector"):
        return "claims with a selector cannot be provisioned (a selector picks existing PVs); remove spec.selector"
    if spec.get("volumeMode") == "Block":
        return "an NFS directory is a file system, not a block device: volumeMode Block cannot be provisioned"
    source = spec.get("dataSourceRef") or spec.get("dataSource")
    if source:
        return (
            f"cloning or restoring from {source.get('kind', 'a data source')} {source.get('name', '')!s} is not "
            "supported by the NFS provisioner; remove spec.dataSource"
        )
    modes = spec.get("accessModes") or []
    if not modes:
        return "the claim has no accessModes"
    unknown = [m for m in modes if m not in ACCESS_MODES]
    if unknown:
        return f"unsupported access mode(s) {', '.join(unknown)}"
    return None


def requested_bytes(pvc: Mapping[str, Any]) -> int:
    storage = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
    if storage is None:
        raise InvalidSpec("the claim requests no storage (spec.resources.requests.storage)")
    try:
        return parse_quantity(str(storage))
    except ValueError as exc:
        raise InvalidSpec(f"spec.resources.requests.storage: {exc}") from None


def claim_facts(pvc: Mapping[str, Any]) -> ClaimFacts:
    meta = pvc["metadata"]
    return ClaimFacts(
        namespace=str(meta["namespace"]),
        name=str(meta["name"]),
        uid=str(meta["uid"]),
        pv_name=volume_name(str(meta["uid"])),
        labels=dict(meta.get("labels") or {}),
        annotations=dict(meta.get("annotations") or {}),
    )


@dataclass(frozen=True)
class Placement:
    """Where a volume lives: the backend, its server and export, and the directory under the export."""

    backend: str
    server: str
    export_path: str
    directory: str  # relative to the export: <baseDirectory>/<rendered path>

    @property
    def nfs_path(self) -> str:
        return posixpath.join(self.export_path, self.directory)


def build_pv(pvc: Mapping[str, Any], settings: VolumeSettings, placement: Placement, size_bytes: int) -> Body:
    meta = pvc["metadata"]
    spec = pvc.get("spec") or {}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": volume_name(str(meta["uid"])),
            "annotations": {
                PROVISIONED_BY: PROVISIONER,
                BACKEND_ANNOTATION: placement.backend,
                DIRECTORY_ANNOTATION: placement.directory,
                ON_DELETE_ANNOTATION: settings.on_delete,
            },
            "finalizers": [VOLUME_FINALIZER],
        },
        "spec": {
            "capacity": {"storage": format_quantity(size_bytes)},
            "accessModes": list(spec.get("accessModes") or []),
            "persistentVolumeReclaimPolicy": settings.reclaim_policy,
            "storageClassName": spec.get("storageClassName"),
            "mountOptions": list(settings.mount_options),
            "volumeMode": "Filesystem",
            "nfs": {"server": placement.server, "path": placement.nfs_path},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
        },
    }


def is_ours(pv: Mapping[str, Any]) -> bool:
    return ((pv.get("metadata") or {}).get("annotations") or {}).get(PROVISIONED_BY) == PROVISIONER


def pv_directory(pv: Mapping[str, Any]) -> tuple[str, str, OnDelete]:
    """The backend, directory and onDelete a PV of ours was made with."""
    annotations = (pv.get("metadata") or {}).get("annotations") or {}
    backend = annotations.get(BACKEND_ANNOTATION)
    directory = annotations.get(DIRECTORY_ANNOTATION)
    on_delete = annotations.get(ON_DELETE_ANNOTATION, "retain")
    if not backend or not directory:
        raise InvalidSpec(
            f"PV {pv['metadata']['name']} lacks the {BACKEND_ANNOTATION}/{DIRECTORY_ANNOTATION} annotations"
        )
    if on_delete not in ("delete", "retain", "archive"):
        on_delete = "retain"  # an edited annotation never makes us delete more than asked
    return str(backend), str(directory), on_delete


def pick_backend(candidates: Sequence[tuple[str, bool, int | None]]) -> str | None:
    """The reachable backend with the most free space (name order breaks ties); None when none is reachable."""
    reachable = [(free or 0, name) for name, ok, free in candidates if ok]
    if not reachable:
        return None
    best = max(free for free, _ in reachable)
    return min(name for free, name in reachable if free == best)
