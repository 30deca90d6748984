"""A node's DiskInventory: created owned by its Node (garbage-collected with it), status written by the
node's agent only (the agent's RBAC and an admission policy see to that)."""

from __future__ import annotations

import contextlib

from kubernetes import client

from storage_operator.api.meta import API_VERSION
from storage_operator.api.v1alpha1.diskinventory import DiskInventoryStatus
from storage_operator.errors import Conflict, NotFound
from storage_operator.kube.core import observe_node_uid
from storage_operator.kube.objects import create_object, get_object, patch_status
from storage_operator.kube.patch import merge_patch

KIND = "DiskInventory"


def read_inventory_status(api: client.ApiClient, node: str) -> DiskInventoryStatus | None:
    """The status the API server holds for ``node``'s inventory (None: no inventory, or no status yet)."""
    try:
        body = get_object(api, KIND, node)
    except NotFound:
        return None
    raw = dict(body.get("status") or {})
    return DiskInventoryStatus.model_validate(raw) if raw else None


def ensure_inventory(api: client.ApiClient, node: str) -> None:
    try:
        get_object(api, KIND, node)
        return
    except NotFound:
        pass
    uid = observe_node_uid(api, node)
    body = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": node,
            "labels": {"app.kubernetes.io/part-of": "storage-operator"},
            # Owned by its Node: deleting the Node deletes its inventory.
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid}],
        },
        "spec": {"nodeName": node},
    }
    with contextlib.suppress(Conflict):  # created meanwhile (a restarted agent): fine
        create_object(api, body)


def publish_inventory(
    api: client.ApiClient, node: str, status: DiskInventoryStatus, previous: DiskInventoryStatus | None
) -> None:
    """Write ``status`` (a merge patch against what was there, so vanished devices are removed)."""
    wire = status.model_dump(by_alias=True, exclude_none=True, mode="json")
    before = previous.model_dump(by_alias=True, exclude_none=True, mode="json") if previous else {}
    patch = merge_patch(before, wire)
    try:
        patch_status(api, KIND, node, None, patch)
    except NotFound:
        ensure_inventory(api, node)
        patch_status(api, KIND, node, None, wire)
