"""One of our PVs: when its claim is gone (Released) and its policy is Delete, the directory is deleted,
archived or kept per onDelete, and then the PV is deleted; a PV being deleted under Retain marks its
directory released (so a later claim may adopt it). Our finalizer holds every PV until that step is done.

The directory a PV names is trusted only if it lies under its backend's base directory and its ownership
record names this PV: an edited annotation can never make the operator delete someone else's data.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from storage_operator.controllers.nfs.records import read_record, write_record
from storage_operator.errors import Conflict, InvalidSpec, NotFound, NotReady
from storage_operator.reconcile.nfsclass import OnDelete
from storage_operator.reconcile.nfspath import archived_name, under_base
from storage_operator.reconcile.nfsrecord import VolumeRecord
from storage_operator.reconcile.nfsvolume import VOLUME_FINALIZER, is_ours, pv_directory

if TYPE_CHECKING:
    from storage_operator.controllers.nfs.provisioner import NFSProvisioner

Body = dict[str, Any]


async def handle(p: NFSProvisioner, name: str) -> float | None:
    pv = p.volumes.cache.get(name)
    if pv is None or not is_ours(pv):
        return None
    meta, spec = pv["metadata"], pv.get("spec") or {}
    phase = (pv.get("status") or {}).get("phase")
    deleting = bool(meta.get("deletionTimestamp"))
    held = VOLUME_FINALIZER in (meta.get("finalizers") or [])
    if phase == "Bound":
        return None  # in use: nothing happens to a bound volume's directory, whatever else is asked
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy == "Delete" and (phase in ("Released", "Failed") or deleting):
        _, _, on_delete = pv_directory(pv)
        if held or not deleting:
            await _directory_step(p, pv, on_delete)
        if held:
            await _release(p, pv)
        if not deleting:
            with contextlib.suppress(NotFound):
                await p.kube.delete(f"/api/v1/persistentvolumes/{name}")
        return None
    if deleting and held:
        await _directory_step(p, pv, "retain")
        await _release(p, pv)
    return None


async def _directory_step(p: NFSProvisioner, pv: Body, on_delete: OnDelete) -> None:
    name = pv["metadata"]["name"]
    backend_name, directory, _ = pv_directory(pv)
    if backend_name not in p.backends.cache:
        await p.say(
            pv,
            "Warning",
            "BackendGone",
            f"NFSBackend {backend_name} no longer exists: directory {directory} is left as it is",
        )
        return
    backend = p.backend(backend_name)
    base = backend.spec.base_directory.strip("/")
    if not under_base(base, directory):
        await p.say(pv, "Warning", "DirectoryOutsideBase", f"{directory} is not under {base}: left alone")
        return
    started = time.monotonic()
    try:
        conn = await p.connect(backend)
        try:
            record: VolumeRecord | None = await read_record(conn, directory)
        except NotFound:
            if not await conn.exists(directory):
                return  # done by an earlier pass
            record = None
        except InvalidSpec:
            record = None
        if record is None or record.volume != name:
            owner = f"names {record.volume}" if record is not None else "is missing or unreadable"
            await p.say(
                pv,
                "Warning",
                "DirectoryNotOwned",
                f"the ownership record of {directory} {owner}, not {name}: the directory is left as it is",
            )
            return
        now = datetime.now(UTC)
        if on_delete == "delete":
            removed = await conn.remove_tree(directory)
            await conn.remove_empty_parents(directory, base)
            message = f"deleted directory {directory} ({removed} entries)"
        else:
            await write_record(conn, directory, record.model_copy(update={"released": now}))
            if on_delete == "archive":
                target = archived_name(directory, now)
                await conn.rename(directory, target)
                message = f"archived directory {directory} as {target}"
            else:
                message = f"kept directory {directory} (released: a claim of the same name may adopt it)"
    except NotReady as exc:
        p.metrics.nfs_operations.labels(backend_name, on_delete, "error").inc()
        await p.say(pv, "Warning", "VolumeFailedDelete", f"{on_delete} of {directory} failed: {exc}")
        raise
    p.metrics.nfs_operations.labels(backend_name, on_delete, "success").inc()
    p.metrics.nfs_operation_duration.labels(on_delete).observe(time.monotonic() - started)
    await p.say(pv, "Normal", "VolumeReclaimed", message)


async def _release(p: NFSProvisioner, pv: Body) -> None:
    """Drop our finalizer (with the version we read: a concurrent change makes us read again)."""
    meta = pv["metadata"]
    remaining = [f for f in meta.get("finalizers") or [] if f != VOLUME_FINALIZER]
    try:
        await p.kube.merge_patch(
            f"/api/v1/persistentvolumes/{meta['name']}",
            {"metadata": {"finalizers": remaining, "resourceVersion": meta["resourceVersion"]}},
        )
    except NotFound:
        return
    except Conflict as exc:
        raise NotReady(f"PV {meta['name']} changed meanwhile", delay=0.2) from exc
