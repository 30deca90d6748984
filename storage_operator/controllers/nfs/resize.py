"""A bound claim asking for more: the PV's capacity and then the claim's status, as the external resizer
does (NFS has no node-side step). The directory's record follows, so its size stays what users asked."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from storage_operator.controllers.nfs.model import Waiting
from storage_operator.errors import InvalidSpec, NFSError, NotFound, NotReady
from storage_operator.reconcile.nfsrecord import RECORD_MAX_BYTES, RECORD_NAME, decode, encode
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
            params = storage_class.get("parameters") or {}
            if str(params.get("capacityCheck", "true")).lower() != "false":
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


async def _record_size(conn: Any, directory: str, volume: str, size: int) -> None:
    path = posixpath.join(directory, RECORD_NAME)
    try:
        record = decode(await conn.read(path, RECORD_MAX_BYTES))
    except (NotFound, InvalidSpec):
        return  # the record is informative here; a missing one is reported by the usage pass
    if record.volume == volume and record.size_bytes != size:
        await conn.write_replace(path, encode(record.model_copy(update={"size_bytes": size})))
