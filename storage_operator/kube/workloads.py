"""What a managed cluster's daemons are made of in Kubernetes: Deployments, their ConfigMap and
Secrets (server-side applied, so a re-apply of the same object is a no-op), their pods, and the
addresses of the nodes they run on."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from storage_operator.errors import Conflict, NotFound
from storage_operator.kube.errors import api_errors

APPLY = "application/apply-patch+yaml"  # JSON is YAML: the client sends the body as JSON
FIELD_MANAGER = "storage-operator"
Body = dict[str, Any]


def apply(api: client.ApiClient, body: Body) -> Body:
    """Server-side apply of a ConfigMap, Secret or Deployment (ours: conflicts are forced)."""
    kind, meta = body["kind"], body["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    kwargs: dict[str, Any] = {"field_manager": FIELD_MANAGER, "force": True, "_content_type": APPLY}
    done: object
    with api_errors():
        if kind == "Deployment":
            done = client.AppsV1Api(api).patch_namespaced_deployment(name, namespace, body, **kwargs)
        elif kind == "ConfigMap":
            done = client.CoreV1Api(api).patch_namespaced_config_map(name, namespace, body, **kwargs)
        elif kind == "Secret":
            done = client.CoreV1Api(api).patch_namespaced_secret(name, namespace, body, **kwargs)
        else:
            raise ValueError(f"apply does not handle {kind}")
    return _plain(api, done)


def _plain(api: client.ApiClient, obj: object) -> Body:
    plain = api.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]  # unannotated upstream
    if not isinstance(plain, dict):
        raise TypeError(f"expected an object from the API, got {type(plain).__name__}")
    return plain


def create_secret_once(api: client.ApiClient, body: Body) -> bool:
    """Create the Secret unless it exists (keys are made once and never replaced). True: created now."""
    core = client.CoreV1Api(api)
    try:
        with api_errors():
            core.create_namespaced_secret(body["metadata"]["namespace"], body)  # type: ignore[arg-type]  # sent as is
    except Conflict:
        return False
    return True


def read_config_map(api: client.ApiClient, namespace: str, name: str) -> dict[str, str] | None:
    try:
        with api_errors():
            found = client.CoreV1Api(api).read_namespaced_config_map(name, namespace)
    except NotFound:
        return None
    return dict(found.data or {})


def pod_phase(api: client.ApiClient, body: Body) -> str:
    """Create the pod unless it exists; its phase (Pending, Running, Succeeded, Failed)."""
    core = client.CoreV1Api(api)
    meta = body["metadata"]
    try:
        with api_errors():
            found = core.create_namespaced_pod(meta["namespace"], body)  # type: ignore[arg-type]  # sent as is
    except Conflict:
        with api_errors():
            found = core.read_namespaced_pod(meta["name"], meta["namespace"])
    return str((found.status.phase if found.status else None) or "Pending")


def delete_pod(api: client.ApiClient, namespace: str, name: str) -> None:
    try:
        with api_errors():
            client.CoreV1Api(api).delete_namespaced_pod(name, namespace)
    except NotFound:
        pass


def delete_deployment(api: client.ApiClient, namespace: str, name: str) -> bool:
    """Delete the Deployment and (foreground) its pods. False: it was not there."""
    try:
        with api_errors():
            client.AppsV1Api(api).delete_namespaced_deployment(
                name, namespace, body=client.V1DeleteOptions(propagation_policy="Foreground")
            )
    except NotFound:
        return False
    return True


def delete_secret(api: client.ApiClient, namespace: str, name: str) -> None:
    try:
        with api_errors():
            client.CoreV1Api(api).delete_namespaced_secret(name, namespace)
    except NotFound:
        pass


def list_deployments(api: client.ApiClient, namespace: str, selector: str) -> list[Body]:
    with api_errors():
        found = client.AppsV1Api(api).list_namespaced_deployment(namespace, label_selector=selector)
    return [_plain(api, d) for d in found.items]


def list_pods(api: client.ApiClient, namespace: str, selector: str) -> list[Body]:
    with api_errors():
        found = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector)
    return [_plain(api, p) for p in found.items]


def node_addresses(api: client.ApiClient) -> dict[str, str]:
    """Every node's InternalIP (the address a host-network daemon on it is reached at)."""
    with api_errors():
        nodes = client.CoreV1Api(api).list_node()
    found: dict[str, str] = {}
    for node in nodes.items:
        name = node.metadata.name if node.metadata else None
        for address in (node.status.addresses if node.status else None) or []:
            if name and address.type == "InternalIP":
                found[name] = address.address
                break
    return found
