"""Build API clients from a kubeconfig file."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from kubernetes import client, config


def api_client(kubeconfig: Path) -> client.ApiClient:
    """A client for the kubeconfig's current context (no global state is touched)."""
    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]  # the loader is unannotated upstream
        config_file=str(kubeconfig), client_configuration=configuration, persist_config=False
    )
    return client.ApiClient(configuration)


@contextlib.contextmanager
def connect(kubeconfig: Path) -> Iterator[client.ApiClient]:
    """``api_client`` that is closed (its connection pool released) when the block ends."""
    api = api_client(kubeconfig)
    try:
        yield api
    finally:
        # The type stubs leave out close(); the runtime client has it.
        close: Callable[[], None] = getattr(api, "close")  # noqa: B009
        close()
