"""A bound claim asking for more: the PV's capacity and then the claim's status, as the external resizer
does (NFS has no node-side step). The directory's record follows, so its size stays what users asked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage_operator.controllers.nfs.model import Waiting
from storage_operator.controllers.nfs.records import read_record, write_record
from storage_operator.errors import InvalidSpec, NFSError, NotFound, NotReady
from storage_operator.nfs.aclient import AsyncNFS
from storage_operator.reconcile.nfsclass import parse_parameters
from storage_operator.reconcile.nfsvolume import pv_directory, requested_bytes
from storage_operator.reconcile.units import format_quantity, human_bytes, parse_quantity

if TYPE_CHECKING:
    from storage_operator.controllers.nfs.provisioner import NFSProvisioner

Body = dict[str, Any]
FULL_RECHECK = 30.0


async def handle(p: NFSProvisioner, pvc: Body) -> float | None:
    pv = p.volumes.cache[pvc["spec"]["volumeName"]]
    want = requested_bytes(pvc)
    have = parse_quantity(pv["spec"]["capacity"]["storage"])
    shown = ((pvc.get("status") or {}).get("capacity") or {}).get("storage")
    if shown is None:
        return None  # not bound yet: the PV controller writes the claim's capacity when it binds
    if want <= have and parse_quantity(shown) >= have:
        return None
    if want > have:
        storage_class = p.classes.cache.get(pvc["spec"].get("storageClassName") or "") or {}
        if not storage_class.get("allowVolumeExpansion"):
            return None  # the API server refuses such edits; an old claim of a changed class just stays
        backend_name, directory, _ = pv_directory(pv)
        try:
            backend = p.backend(backend_name)
            conn = await p.connect(backend)
            if parse_parameters(storage_class.get("parameters") or {}).capacity_check:
                available = (await p.capacity(backend, conn)).available_bytes
                if want - have > available:
                    raise Waiting(
                        f"growing to {human_bytes(want)} needs {human_bytes(want - have)} more, and NFSBackend "
                        f"{backend_name} has {human_bytes(available)} available",
                        delay=FULL_RECHECK,
                    )
        except (NotReady, NFSError) as exc:
            await p.say(pvc, "Warning", "VolumeResizeFailed", f"resize of {pv['metadata']['name']} failed: {exc}")
            raise
        await p.say(pvc, "Normal", "Resizing", f"External resizer is resizing volume {pv['metadata']['name']}")
        await p.kube.merge_patch(
            f"/api/v1/persistentvolumes/{pv['metadata']['name']}",
            {"spec": {"capacity": {"storage": format_quantity(want)}}},
        )
        await _record_size(conn, directory, pv["metadata"]["name"], want)
        have = want
    namespace, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]
    size = format_quantity(have)
    await p.kube.merge_patch(
        f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}/status",
        {
            "status": {
                "capacity": {"storage": size},
                "allocatedResources": {"storage": size},
                "allocatedResourceStatuses": None,
                "conditions": None,
            }
        },
    )
    p.metrics.nfs_operations.labels(pv_directory(pv)[0], "resize", "success").inc()
    p.forget_said(pvc, "VolumeResizeFailed")
    await p.say(pvc, "Normal", "VolumeResizeSuccessful", f"resize volume {pv['metadata']['name']} to {size} succeeded")
    return None


async def _record_size(conn: AsyncNFS, directory: str, volume: str, size: int) -> None:
    try:
        record = await read_record(conn, directory)
    except (NotFound, InvalidSpec):
        return  # the record is informative here; it decides nothing about a resize
    if record.volume == volume and record.size_bytes != size:
        await write_record(conn, directory, record.model_copy(update={"size_bytes": size}))
