"""A managed CephCluster's CephOSDs: one per selected available device of the nodes' DiskInventories.

A device that disappears or becomes unavailable before it is prepared marks its CephOSD Unavailable;
once the cluster's mons answer, each CephOSD goes through its lifecycle (``osd_lifecycle``). Nothing
that Ceph knows of is ever deleted here.
"""

from __future__ import annotations

from collections.abc import Iterable

from storage_operator.api.v1alpha1.cephcluster import CephClusterSpec
from storage_operator.api.v1alpha1.cephosd import CephOSDSpec, CephOSDStatus
from storage_operator.api.v1alpha1.diskinventory import Device, DiskInventoryStatus
from storage_operator.controllers.osd_lifecycle import Managed, advance
from storage_operator.controllers.runtime import Body, Runtime
from storage_operator.errors import Conflict, NotFound
from storage_operator.kube import objects
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.osds import (
    CLUSTER_LABEL,
    Selection,
    build_cephosd,
    cluster_label,
    fold_osd_status,
    select_osds,
)

KIND = "CephOSD"
WARNING_PHASES = ("Unavailable", "Failed", "Down")


async def sync_osds(
    rt: Runtime, cluster: Body, spec: CephClusterSpec, managed: Managed | None = None
) -> tuple[Selection, list[Event], dict[str, str]]:
    """Plan the CephOSDs, advance each (managed and connected), and say where each is: name -> phase."""
    meta = cluster["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    inventories = {
        str(item["metadata"]["name"]): DiskInventoryStatus.model_validate(item.get("status") or {})
        for item in await rt.kube(objects.list_objects, rt.api, "DiskInventory")
    }
    existing = {
        str(item["metadata"]["name"]): item
        for item in await rt.kube(objects.list_objects, rt.api, KIND, namespace)
        if (item["metadata"].get("labels") or {}).get(CLUSTER_LABEL) == cluster_label(name)
    }
    selection = select_osds(name, spec.storage, inventories, owned=_owned(existing.values()))
    events: list[Event] = []
    wanted = {d.name: d for d in selection.desired}
    created = []
    for osd_name, desired in wanted.items():
        if osd_name in existing:
            continue
        body = build_cephosd(
            desired,
            cluster=name,
            namespace=namespace,
            cluster_uid=str(meta["uid"]),
            device_class=spec.storage.device_class,
        )
        try:
            existing[osd_name] = await rt.kube(objects.create_object, rt.api, body)
            created.append(f"{desired.node}/{desired.device.name}")
        except Conflict:
            existing[osd_name] = await rt.kube(objects.get_object, rt.api, KIND, osd_name, namespace)
    if created:
        events.append(Event.normal("OSDsPlanned", f"CephOSDs made for {', '.join(created)}"))
    dropped = []
    phases: dict[str, str] = {}
    for osd_name, item in existing.items():
        osd_spec = CephOSDSpec.model_validate(item.get("spec") or {})
        previous = rt.status_of(item, CephOSDStatus)
        if item["metadata"].get("deletionTimestamp"):
            phases[osd_name] = "Removing"  # its deletion handler owns it now (osd_removal)
            continue
        if osd_name not in wanted and (previous is None or (previous.osd_id is None and previous.osd_uuid is None)):
            # Never prepared, so nothing is on the device: a de-selected CephOSD simply goes.
            try:
                await rt.kube(objects.delete_object, rt.api, KIND, osd_name, namespace)
                dropped.append(f"{osd_spec.node}/{osd_spec.device.path}")
            except NotFound:
                pass
            continue
        device = _device(inventories.get(osd_spec.node), osd_spec.device.path)
        status = fold_osd_status(previous, device=device, node=osd_spec.node, path=osd_spec.device.path)
        if managed is not None:
            status = await advance(rt, managed, item, osd_spec, status)
        uid = str(item["metadata"]["uid"])
        if status.phase != rt.announced.get(uid):
            # Phases the agent sets (Prepared, Failed) are announced here too, when first seen.
            note = Event.warning if status.phase in WARNING_PHASES else Event.normal
            await rt.post(item, note(status.phase or "Pending", status.message or ""))
            rt.announced[uid] = status.phase or "Pending"
        await rt.write_status(KIND, item, previous, status, [])
        phases[osd_name] = status.phase or "Pending"
    if dropped:
        events.append(Event.normal("OSDsDropped", f"no longer selected, never prepared, removed: {', '.join(dropped)}"))
    return selection, events, phases


def _owned(items: Iterable[Body]) -> frozenset[tuple[str, str]]:
    """The devices that already carry (or are being made into) one of the cluster's OSDs."""
    owned = set()
    for item in items:
        status = item.get("status") or {}
        if status.get("osdId") is not None or status.get("osdUUID"):
            spec = item.get("spec") or {}
            owned.add((str(spec.get("node")), str((spec.get("device") or {}).get("path"))))
    return frozenset(owned)


def _device(inventory: DiskInventoryStatus | None, path: str) -> Device | None:
    if inventory is None:
        return None
    return next((d for d in inventory.devices if d.path == path), None)
