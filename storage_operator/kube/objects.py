"""Our custom objects and the Secrets they reference: read, list, and status written through /status.

Status is written with a JSON merge patch of the whole computed status (lists such as conditions are
replaced as a whole, which is what a folded status means). kopf's own bookkeeping under status.kopf is
left alone because the patch never names it.
"""

from __future__ import annotations

import base64
from typing import Any

from kubernetes import client

from storage_operator.api.meta import GROUP, VERSION
from storage_operator.api.v1alpha1 import kind_named
from storage_operator.errors import NotFound
from storage_operator.kube.errors import api_errors

MERGE_PATCH = "application/merge-patch+json"
Body = dict[str, Any]


def get_object(api: client.ApiClient, kind: str, name: str, namespace: str | None = None) -> Body:
    k = kind_named(kind)
    custom = client.CustomObjectsApi(api)
    with api_errors():
        if k.scope == "Namespaced":
            found = custom.get_namespaced_custom_object(GROUP, VERSION, namespace or "", k.plural, name)
        else:
            found = custom.get_cluster_custom_object(GROUP, VERSION, k.plural, name)
    return _body(found)


def list_objects(api: client.ApiClient, kind: str, namespace: str | None = None) -> list[Body]:
    k = kind_named(kind)
    custom = client.CustomObjectsApi(api)
    with api_errors():
        if k.scope == "Namespaced" and namespace is not None:
            found = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, k.plural)
        else:
            found = custom.list_cluster_custom_object(GROUP, VERSION, k.plural)
    return [_body(item) for item in _body(found).get("items", [])]


def patch_status(api: client.ApiClient, kind: str, name: str, namespace: str | None, status: Body) -> Body:
    """Replace the fields of ``status`` that it names (None values remove a field)."""
    k = kind_named(kind)
    custom = client.CustomObjectsApi(api)
    body = {"status": status}
    with api_errors():
        if k.scope == "Namespaced":
            done = custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace or "", k.plural, name, body, _content_type=MERGE_PATCH
            )
        else:
            done = custom.patch_cluster_custom_object_status(
                GROUP, VERSION, k.plural, name, body, _content_type=MERGE_PATCH
            )
    return _body(done)


def _body(obj: object) -> Body:
    """The custom-objects API returns untyped JSON; it is always an object at the top."""
    if not isinstance(obj, dict):
        raise TypeError(f"expected a JSON object from the API, got {type(obj).__name__}")
    return obj


def read_secret(api: client.ApiClient, namespace: str, name: str) -> dict[str, str]:
    """The Secret's data, decoded. Values are secrets: callers never log or publish them."""
    with api_errors():
        secret = client.CoreV1Api(api).read_namespaced_secret(name, namespace)
    data = secret.data or {}
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def exists_with_uid(api: client.ApiClient, kind: str, namespace: str, uid: str) -> str | None:
    """The name of the object of ``kind`` in ``namespace`` with this uid, or None when there is none."""
    try:
        items = list_objects(api, kind, namespace)
    except NotFound:
        return None
    for item in items:
        meta = item.get("metadata", {})
        if meta.get("uid") == uid:
            return str(meta.get("name"))
    return None


def create_object(api: client.ApiClient, body: Body) -> Body:
    """Create one of our objects (``body`` carries kind and, when namespaced, metadata.namespace)."""
    k = kind_named(str(body["kind"]))
    custom = client.CustomObjectsApi(api)
    with api_errors():
        if k.scope == "Namespaced":
            done = custom.create_namespaced_custom_object(GROUP, VERSION, body["metadata"]["namespace"], k.plural, body)
        else:
            done = custom.create_cluster_custom_object(GROUP, VERSION, k.plural, body)
    return _body(done)


def patch_object(api: client.ApiClient, kind: str, name: str, namespace: str | None, patch: Body) -> Body:
    """A merge patch of the object itself (spec, metadata), not its status."""
    k = kind_named(kind)
    custom = client.CustomObjectsApi(api)
    with api_errors():
        if k.scope == "Namespaced":
            done = custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace or "", k.plural, name, patch, _content_type=MERGE_PATCH
            )
        else:
            done = custom.patch_cluster_custom_object(GROUP, VERSION, k.plural, name, patch, _content_type=MERGE_PATCH)
    return _body(done)


def delete_object(api: client.ApiClient, kind: str, name: str, namespace: str | None = None) -> None:
    k = kind_named(kind)
    custom = client.CustomObjectsApi(api)
    with api_errors():
        if k.scope == "Namespaced":
            custom.delete_namespaced_custom_object(GROUP, VERSION, namespace or "", k.plural, name)
        else:
            custom.delete_cluster_custom_object(GROUP, VERSION, k.plural, name)
