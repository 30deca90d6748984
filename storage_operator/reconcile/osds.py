"""Which devices of which nodes a managed CephCluster's `storage` selects, from the nodes' DiskInventories,
and what each CephOSD's status says (pure).

Only devices an inventory reports as available are ever selected; a selected device that is not
available is listed with its reasons, never used. Explicit devices (nodes[].devices) win over filters.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from storage_operator.api.v1alpha1.cephcluster import NodeSelection, StorageSpec
from storage_operator.api.v1alpha1.cephosd import CephOSDStatus
from storage_operator.api.v1alpha1.diskinventory import Device, DiskInventoryStatus
from storage_operator.reconcile.units import human_bytes

NAME_MAX = 253


@dataclass(frozen=True)
class DesiredOSD:
    name: str  # the CephOSD object's name
    node: str
    device: Device


@dataclass
class Selection:
    desired: list[DesiredOSD] = field(default_factory=list)
    # Selected, but not usable: "node-a/loop0: HasFilesystem (ext4 filesystem signature ...)".
    unusable: list[str] = field(default_factory=list)
    # The selection itself is wrong or incomplete: a bad regex, a node without inventory, a missing device.
    problems: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if not self.desired:
            return "the storage selection matches no available device"
        names = ", ".join(f"{d.node}/{d.device.name}" for d in self.desired[:10])
        more = f" and {len(self.desired) - 10} more" if len(self.desired) > 10 else ""
        return f"{len(self.desired)} devices selected for OSDs: {names}{more}"


def osd_name(cluster: str, node: str, device: str) -> str:
    """<cluster>-<node>-<device>, made a DNS subdomain (lower case, [a-z0-9.-], bounded)."""
    raw = f"{cluster}-{node}-{device}".lower()
    labels = [re.sub(r"[^a-z0-9-]+", "-", label).strip("-") for label in raw.split(".")]
    safe = ".".join(label for label in labels if label)
    return safe[:NAME_MAX].rstrip("-.")


def _compile(pattern: str | None, where: str, problems: list[str]) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        problems.append(f"{where} {pattern!r} is not a valid regular expression ({exc}): it selects nothing")
        return re.compile(r"(?!)")  # matches nothing


def _matches_explicit(device: Device, wanted: str) -> bool:
    return wanted in (device.name, device.path, *device.by_id, *device.by_path) or f"/dev/{wanted}" == device.path


def select_osds(
    cluster: str,
    storage: StorageSpec,
    inventories: Mapping[str, DiskInventoryStatus],
    owned: frozenset[tuple[str, str]] = frozenset(),
) -> Selection:
    """``owned``: (node, device path) of the cluster's own OSDs: selected, though no longer "available"
    (their BlueStore is what makes them unavailable to anyone else)."""
    selection = Selection()
    name_filter = _compile(storage.device_filter, "spec.storage.deviceFilter", selection.problems)
    path_filter = _compile(storage.device_path_filter, "spec.storage.devicePathFilter", selection.problems)
    all_nodes = [NodeSelection(name=n) for n in sorted(inventories)]
    nodes = all_nodes if storage.use_all_nodes else list(storage.nodes)
    if not nodes:
        selection.problems.append("spec.storage selects no node: set useAllNodes or list nodes")
    for i, node in enumerate(nodes):
        inventory = inventories.get(node.name)
        if inventory is None:
            selection.problems.append(f"node {node.name} has no DiskInventory (is the node agent running there?)")
            continue
        node_filter = _compile(node.device_filter, f"spec.storage.nodes[{i}].deviceFilter", selection.problems)
        filters = _Filters(node=node_filter, name=name_filter, path=path_filter)
        chosen = _choose(node, inventory.devices, storage, filters, selection)
        for device in chosen:
            if (node.name, device.path) in owned:
                selection.desired.append(DesiredOSD(osd_name(cluster, node.name, device.name), node.name, device))
            else:
                _admit(cluster, node.name, device, storage, selection)
    return selection


@dataclass(frozen=True)
class _Filters:
    node: re.Pattern[str] | None
    name: re.Pattern[str] | None
    path: re.Pattern[str] | None


def _choose(
    node: NodeSelection, devices: Sequence[Device], storage: StorageSpec, filters: _Filters, selection: Selection
) -> list[Device]:
    node_filter, name_filter, path_filter = filters.node, filters.name, filters.path
    if node.devices:
        chosen = []
        for wanted in node.devices:
            found = next((d for d in devices if _matches_explicit(d, wanted.name)), None)
            if found is None:
                selection.problems.append(f"node {node.name} has no device {wanted.name} in its DiskInventory")
            else:
                chosen.append(found)
        return chosen
    if node_filter is not None:
        return [d for d in devices if node_filter.search(d.name)]
    if name_filter is not None or path_filter is not None:
        return [
            d
            for d in devices
            if (name_filter is None or name_filter.search(d.name))
            and (path_filter is None or any(path_filter.search(p) for p in (d.path, *d.by_id, *d.by_path)))
        ]
    if storage.use_all_devices:
        return list(devices)
    selection.problems.append(
        f"node {node.name}: no devices selected (list devices, or set a deviceFilter or useAllDevices)"
    )
    return []


def _admit(cluster: str, node: str, device: Device, storage: StorageSpec, selection: Selection) -> None:
    where = f"{node}/{device.name}"
    if not device.available:
        why = "; ".join(f"{r.code} ({r.message})" for r in device.reasons) or "not available"
        selection.unusable.append(f"{where}: {why}")
    elif device.size_bytes < storage.min_device_size_bytes:
        selection.unusable.append(
            f"{where}: {human_bytes(device.size_bytes)} is below minDeviceSizeBytes "
            f"{human_bytes(storage.min_device_size_bytes)}"
        )
    else:
        selection.desired.append(DesiredOSD(osd_name(cluster, node, device.name), node, device))


# ---------------------------------------------------------------------------- CephOSD status

PENDING_MESSAGE = "selected for an OSD; waiting for the cluster's mons to allocate its id"


def fold_osd_status(previous: CephOSDStatus | None, *, device: Device | None, node: str, path: str) -> CephOSDStatus:
    """Pending while its device is there and available; Unavailable (with why) when it is not.

    An OSD Ceph already knows of (an id, or a uuid being allocated) keeps its phase: only its lifecycle
    changes it.
    """
    status = previous.model_copy(deep=True) if previous is not None else CephOSDStatus()
    if status.osd_id is not None or status.osd_uuid is not None:
        return status
    if device is None:
        status.phase, status.message = "Unavailable", f"{path} is no longer in the DiskInventory of {node}"
    elif not device.available:
        why = "; ".join(f"{r.code}: {r.message}" for r in device.reasons)
        status.phase, status.message = "Unavailable", f"{path} on {node} is not available: {why}"
    else:
        status.phase, status.message = "Pending", PENDING_MESSAGE
    return status


CLUSTER_LABEL = "storage.baremetal.io/cluster"
LABEL_VALUE_MAX = 63


def cluster_label(cluster: str) -> str:
    """The CLUSTER_LABEL value of a cluster's objects: its name, or (a label value is at most 63
    characters; a name may have 253) a prefix of it with a hash of the whole name."""
    if len(cluster) <= LABEL_VALUE_MAX:
        return cluster
    digest = hashlib.sha256(cluster.encode()).hexdigest()[:12]
    return f"{cluster[: LABEL_VALUE_MAX - 13].rstrip('-.')}-{digest}"


def build_cephosd(
    desired: DesiredOSD, *, cluster: str, namespace: str, cluster_uid: str, device_class: str | None
) -> dict[str, object]:
    """The CephOSD object for a selected device, owned by its CephCluster (deleted with it)."""
    device = desired.device
    spec_device: dict[str, object] = {"path": device.path, "sizeBytes": device.size_bytes}
    if device.by_id:
        spec_device["stablePath"] = device.by_id[0]
    if device.serial:
        spec_device["serial"] = device.serial
    spec: dict[str, object] = {"clusterRef": {"name": cluster}, "node": desired.node, "device": spec_device}
    if device_class:
        spec["deviceClass"] = device_class
    return {
        "apiVersion": "storage.baremetal.io/v1alpha1",
        "kind": "CephOSD",
        "metadata": {
            "name": desired.name,
            "namespace": namespace,
            "labels": {CLUSTER_LABEL: cluster_label(cluster), "app.kubernetes.io/part-of": "storage-operator"},
            "ownerReferences": [
                {
                    "apiVersion": "storage.baremetal.io/v1alpha1",
                    "kind": "CephCluster",
                    "name": cluster,
                    "uid": cluster_uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
    }
