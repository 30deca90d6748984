"""Server-side apply of arbitrary manifests (what `kubectl apply --server-side` does), for the lab."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubernetes import client
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError

from storage_operator.errors import KubeAPIError

FIELD_MANAGER = "storage-operator-lab"


def apply_manifests(
    api: client.ApiClient, docs: Iterable[dict[str, Any]], *, manager: str = FIELD_MANAGER
) -> list[str]:
    """Apply each document (idempotent); returns "Kind/namespace/name" of each."""
    dynamic = DynamicClient(api)  # type: ignore[no-untyped-call]  # unannotated upstream
    applied = []
    for doc in docs:
        resource = dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        meta = doc["metadata"]
        namespace = meta.get("namespace") if resource.namespaced else None
        try:
            resource.server_side_apply(
                body=doc, name=meta["name"], namespace=namespace, field_manager=manager, force_conflicts=True
            )
        except DynamicApiError as exc:
            raise KubeAPIError(int(exc.status or 0), str(exc.reason), str(exc.summary())) from exc  # type: ignore[no-untyped-call]
        applied.append("/".join(p for p in (doc["kind"], namespace, meta["name"]) if p))
    return applied
