"""Kubernetes Events about our objects (``kubectl describe`` and ``kubectl get events`` show them).

Repeats of the same reason and message on the same object within a short window are counted on one
Event (as the kubelet and controllers do) instead of adding a new object each time.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from storage_operator.errors import NotFound
from storage_operator.kube.errors import api_errors

COMPONENT = "storage-operator"
MAX_MESSAGE = 1024
# Within this window a repeat updates the existing Event (count, lastTimestamp) instead of a new one.
AGGREGATE_SECONDS = 600


def post_event(
    api: client.ApiClient,
    involved: Mapping[str, Any],
    *,
    type_: str,
    reason: str,
    message: str,
    instance: str,
    now: datetime | None = None,
) -> None:
    """Record an Event on ``involved`` (a custom object's body: apiVersion, kind, metadata)."""
    meta = involved.get("metadata", {})
    namespace = meta.get("namespace") or "default"
    stamp = now or datetime.now(UTC)
    text = message[:MAX_MESSAGE]
    # Same object, type, reason and message in the same window: the same Event name.
    window = int(time.time() // AGGREGATE_SECONDS)
    digest = hashlib.sha256(f"{meta.get('uid')}|{type_}|{reason}|{text}|{window}".encode()).hexdigest()[:16]
    name = f"{meta.get('name', 'object')}.{digest}"
    core = client.CoreV1Api(api)
    try:
        with api_errors():
            existing = core.read_namespaced_event(name, namespace)
        with api_errors():
            core.patch_namespaced_event(
                name, namespace, {"count": int(existing.count or 1) + 1, "lastTimestamp": stamp.isoformat()}
            )
        return
    except NotFound:
        pass
    body = client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace),
        involved_object=client.V1ObjectReference(
            api_version=involved.get("apiVersion"),
            kind=involved.get("kind"),
            name=meta.get("name"),
            namespace=meta.get("namespace"),
            uid=meta.get("uid"),
            resource_version=meta.get("resourceVersion"),
        ),
        type=type_,
        reason=reason,
        message=text,
        count=1,
        first_timestamp=stamp,
        last_timestamp=stamp,
        source=client.V1EventSource(component=COMPONENT),
        reporting_component=COMPONENT,
        reporting_instance=instance,
    )
    with api_errors():
        core.create_namespaced_event(namespace, body)
