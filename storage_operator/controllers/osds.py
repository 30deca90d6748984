"""A managed CephCluster's CephOSDs: one per selected available device of the nodes' DiskInventories.

A device that disappears or becomes unavailable before it is prepared marks its CephOSD Unavailable;
once the cluster's mons answer, each CephOSD goes through its lifecycle (``osd_lifecycle``). Nothing
that Ceph knows of is ever deleted here.
"""

from __future__ import annotations

import contextlib
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
    events = await _create_missing(rt, cluster, spec, selection, existing)
    wanted = {d.name for d in selection.desired}
    dropped = []
    phases: dict[str, str] = {}
    for osd_name, item in existing.items():
        osd_spec = CephOSDSpec.model_validate(item.get("spec") or {})
        previous = rt.status_of(item, CephOSDStatus)
        where = f"{osd_spec.node}/{osd_spec.device.path}"
        if item["metadata"].get("deletionTimestamp"):
            phases[osd_name] = "Removing"  # its deletion handler owns it now (osd_removal)
            continue
        prepared = previous is not None and (previous.osd_id is not None or previous.osd_uuid is not None)
        if osd_name not in wanted and not prepared:
            # Never prepared, so nothing is on the device: a de-selected CephOSD simply goes.
            with contextlib.suppress(NotFound):
                await rt.kube(objects.delete_object, rt.api, KIND, osd_name, namespace)
                dropped.append(where)
            continue
        if osd_name not in wanted and spec.storage.remove_osds_out_of_selection:
            await rt.kube(objects.delete_object, rt.api, KIND, osd_name, namespace)
            events.append(Event.normal("LeavesSelection", f"{where} is no longer selected: its OSD is removed"))
            phases[osd_name] = "Removing"
            continue
        if osd_name not in wanted:
            selection.problems.append(
                f"{where} is no longer selected but holds an OSD, which stays (storage.removeOSDsOutOfSelection "
                "is false; or delete its CephOSD)"
            )
        phases[osd_name] = await _follow(rt, item, osd_spec, previous, inventories=inventories, managed=managed)
    if dropped:
        events.append(Event.normal("OSDsDropped", f"no longer selected, never prepared, removed: {', '.join(dropped)}"))
    return selection, events, phases


async def _create_missing(
    rt: Runtime, cluster: Body, spec: CephClusterSpec, selection: Selection, existing: dict[str, Body]
) -> list[Event]:
    """A CephOSD for each selected device that has none (added to ``existing``)."""
    meta = cluster["metadata"]
    created = []
    for desired in selection.desired:
        if desired.name in existing:
            continue
        body = build_cephosd(
            desired,
            cluster=meta["name"],
            namespace=meta["namespace"],
            cluster_uid=str(meta["uid"]),
            device_class=spec.storage.device_class,
        )
        try:
            existing[desired.name] = await rt.kube(objects.create_object, rt.api, body)
            created.append(f"{desired.node}/{desired.device.name}")
        except Conflict:
            existing[desired.name] = await rt.kube(objects.get_object, rt.api, KIND, desired.name, meta["namespace"])
    return [Event.normal("OSDsPlanned", f"CephOSDs made for {', '.join(created)}")] if created else []


async def _follow(
    rt: Runtime,
    item: Body,
    osd_spec: CephOSDSpec,
    previous: CephOSDStatus | None,
    *,
    inventories: dict[str, DiskInventoryStatus],
    managed: Managed | None,
) -> str:
    """One CephOSD's next status (its lifecycle, when the cluster is managed and answers), written and
    announced; its phase."""
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
    return status.phase or "Pending"


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
