"""Idempotent helpers for core objects (``ensure_*`` write, ``observe_*`` only read)."""

from __future__ import annotations

from collections.abc import Mapping

from kubernetes import client

from storage_operator.errors import Conflict, NotReady
from storage_operator.kube.errors import api_errors

NOT_READY_TAINT = "node.kubernetes.io/not-ready"


def ensure_namespace(api: client.ApiClient, name: str) -> None:
    core = client.CoreV1Api(api)
    try:
        with api_errors():
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    except Conflict:
        pass


def ensure_secret(
    api: client.ApiClient,
    *,
    namespace: str,
    name: str,
    string_data: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
    secret_type: str = "Opaque",  # noqa: S107 (the Secret type, not a password)
) -> None:
    """Create the Secret, or replace its data when it exists (so a re-run converges)."""
    core = client.CoreV1Api(api)
    body = client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=dict(labels or {})),
        string_data=dict(string_data),
        type=secret_type,
    )
    try:
        with api_errors():
            core.create_namespaced_secret(namespace, body)
    except Conflict:
        with api_errors():
            core.replace_namespaced_secret(name, namespace, body)


def ensure_node(
    api: client.ApiClient,
    *,
    name: str,
    labels: Mapping[str, str],
    ready_reason: str,
    ready_message: str,
    capacity: Mapping[str, str],
) -> None:
    """Register a Node with a Ready condition that says who keeps it (there is no kubelet behind it).

    ``capacity`` (also used as allocatable) lets the scheduler place pods on it.
    """
    core = client.CoreV1Api(api)
    body = client.V1Node(metadata=client.V1ObjectMeta(name=name, labels=dict(labels)))
    try:
        with api_errors():
            core.create_node(body)
    except Conflict:
        with api_errors():
            core.patch_node(name, {"metadata": {"labels": dict(labels)}})
    status = {
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": ready_reason,
                    "message": ready_message,
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": name},
            ],
            "capacity": dict(capacity),
            "allocatable": dict(capacity),
        }
    }
    with api_errors():
        core.patch_node_status(name, status)
        # Admission taints every new Node not-ready; the node-lifecycle controller lifts it once the
        # kubelet reports Ready. Without a kubelet, whoever keeps the Ready condition lifts it.
        node = core.read_node(name)
        current = (node.spec.taints if node.spec else None) or []
        taints = [t for t in current if t.key != NOT_READY_TAINT]
        if len(taints) != len(current):
            kept = [{"key": t.key, "value": t.value, "effect": t.effect} for t in taints]
            core.patch_node(name, {"spec": {"taints": kept or None}})


def observe_node_names(api: client.ApiClient) -> list[str]:
    with api_errors():
        nodes = client.CoreV1Api(api).list_node()
    return sorted(n.metadata.name for n in nodes.items if n.metadata and n.metadata.name)


def request_token(
    api: client.ApiClient,
    *,
    namespace: str,
    service_account: str,
    audiences: list[str],
    seconds: int,
    bound_node: str | None = None,
) -> str:
    """A token for the ServiceAccount from the TokenRequest API (what a pod's projected volume holds).

    ``bound_node``: bind it to that Node, as a pod's token is bound to its pod on a node: the API server
    then puts the node's name into the token's user info (``authentication.kubernetes.io/node-name``).
    """
    bound = None
    if bound_node is not None:
        bound = client.V1BoundObjectReference(
            api_version="v1", kind="Node", name=bound_node, uid=observe_node_uid(api, bound_node)
        )
    body = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=audiences, expiration_seconds=seconds, bound_object_ref=bound)
    )
    with api_errors():
        done = client.CoreV1Api(api).create_namespaced_service_account_token(service_account, namespace, body)
    if done.status is None or not done.status.token:
        raise NotReady(f"no token issued for {namespace}/{service_account}")
    return str(done.status.token)


def observe_node_uid(api: client.ApiClient, name: str) -> str:
    with api_errors():
        node = client.CoreV1Api(api).read_node(name)
    if node.metadata is None or not node.metadata.uid:
        raise NotReady(f"Node {name} has no uid yet")
    return str(node.metadata.uid)
