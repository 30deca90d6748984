"""A node's DiskInventory: created owned by its Node (garbage-collected with it), status written by the
node's agent only (the agent's RBAC and an admission policy see to that).

Async over the light client (kube/light.py): the agent runs on every node and stays small.
"""

from __future__ import annotations

import contextlib

from storage_operator.api.meta import API_VERSION, GROUP, VERSION
from storage_operator.api.v1alpha1.diskinventory import DiskInventoryStatus
from storage_operator.errors import Conflict, NotFound
from storage_operator.kube.light import LightClient
from storage_operator.kube.patch import merge_patch

KIND = "DiskInventory"


def _path(node: str, *, status: bool = False) -> str:
    return f"/apis/{GROUP}/{VERSION}/diskinventories/{node}" + ("/status" if status else "")


async def read_inventory_status(api: LightClient, node: str) -> DiskInventoryStatus | None:
    """The status the API server holds for ``node``'s inventory (None: no inventory, or no status yet)."""
    try:
        body = await api.get(_path(node))
    except NotFound:
        return None
    raw = dict(body.get("status") or {})
    return DiskInventoryStatus.model_validate(raw) if raw else None


async def ensure_inventory(api: LightClient, node: str) -> None:
    try:
        await api.get(_path(node))
        return
    except NotFound:
        pass
    uid = (await api.get(f"/api/v1/nodes/{node}"))["metadata"]["uid"]
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
        await api.post(f"/apis/{GROUP}/{VERSION}/diskinventories", body)


async def publish_inventory(
    api: LightClient, node: str, status: DiskInventoryStatus, previous: DiskInventoryStatus | None
) -> None:
    """Write ``status`` (a merge patch against what was there, so vanished devices are removed)."""
    wire = status.model_dump(by_alias=True, exclude_none=True, mode="json")
    before = previous.model_dump(by_alias=True, exclude_none=True, mode="json") if previous else {}
    patch = merge_patch(before, wire)
    try:
        await api.merge_patch(_path(node, status=True), {"status": patch})
    except NotFound:
        await ensure_inventory(api, node)
        await api.merge_patch(_path(node, status=True), {"status": wire})
