"""Install CustomResourceDefinitions (server-side apply) and wait until the API server serves them."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from kubernetes import client

from storage_operator.errors import NotReady
from storage_operator.kube.errors import api_errors

APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "storage-operator"


def apply_crds(api: client.ApiClient, crds: Iterable[dict[str, Any]], *, timeout: float = 30) -> list[str]:
    """Apply each CRD (idempotent) and return their names once all are Established."""
    ext = client.ApiextensionsV1Api(api)
    names = []
    for crd in crds:
        name = str(crd["metadata"]["name"])
        with api_errors():
            ext.patch_custom_resource_definition(
                name, crd, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY_PATCH
            )
        names.append(name)
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending:
        for name in sorted(pending):
            with api_errors():
                got = ext.read_custom_resource_definition(name)
            conditions = (got.status.conditions if got.status else None) or []
            if any(c.type == "Established" and c.status == "True" for c in conditions):
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            raise NotReady(f"CRDs not established after {timeout:.0f} s: {', '.join(sorted(pending))}")
        if pending:
            time.sleep(0.1)
    return names
