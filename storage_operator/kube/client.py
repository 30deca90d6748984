"""Build API clients from a kubeconfig file, or from a pod's ServiceAccount when running in a cluster."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client, config

from storage_operator.errors import StorageError

# For the layers that may not import the client library themselves but pass its clients around.
ApiClient = client.ApiClient


def _configuration(kubeconfig: Path | None) -> client.Configuration:
    configuration = client.Configuration()
    if kubeconfig is not None:
        config.load_kube_config(  # type: ignore[no-untyped-call]  # the loader is unannotated upstream
            config_file=str(kubeconfig), client_configuration=configuration, persist_config=False
        )
        return configuration
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException as exc:
        raise StorageError(
            "not running in a cluster (no ServiceAccount token mounted) and no kubeconfig given: "
            "pass --kubeconfig or set KUBECONFIG"
        ) from exc
    return configuration


def api_client(kubeconfig: Path | None) -> client.ApiClient:
    """A client for the kubeconfig's current context, or the in-cluster ServiceAccount when None.

    No global state of the client library is touched.
    """
    return client.ApiClient(_configuration(kubeconfig))


@contextlib.contextmanager
def connect(kubeconfig: Path | None) -> Iterator[client.ApiClient]:
    """``api_client`` that is closed (its connection pool released) when the block ends."""
    api = api_client(kubeconfig)
    try:
        yield api
    finally:
        close_client(api)


def close_client(api: client.ApiClient) -> None:
    # The type stubs leave out close(); the runtime client has it.
    close: Callable[[], None] = getattr(api, "close")  # noqa: B009
    close()


@dataclass(frozen=True)
class Endpoint:
    """How the client reaches the API server: what another HTTP stack (kopf's) needs to do the same."""

    server: str
    ca_path: str | None
    insecure: bool
    scheme: str | None
    token: str | None = field(repr=False)
    certificate_path: str | None
    private_key_path: str | None


def endpoint(api: client.ApiClient) -> Endpoint:
    cfg = api.configuration
    # The loaders store a bearer token as "Bearer <token>" (newer clients under BearerToken).
    header = cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix("authorization")
    scheme, token = None, None
    if header:
        parts = header.split(" ", 1)
        scheme, token = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
    return Endpoint(
        server=str(cfg.host),
        ca_path=cfg.ssl_ca_cert or None,
        insecure=not cfg.verify_ssl,
        scheme=scheme,
        token=token,
        certificate_path=cfg.cert_file or None,
        private_key_path=cfg.key_file or None,
    )
