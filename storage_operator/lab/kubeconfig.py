"""Render kubeconfig files (pure).

Certificates are referenced by path, not embedded: the Python client would otherwise copy embedded data
into temporary files outside the lab directory, and the files live exactly as long as the lab does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def render_kubeconfig(*, server: str, ca: Path, cert: Path, key: Path, user: str, cluster: str = "lab") -> str:
    return _render(server, ca, user, {"client-certificate": str(cert), "client-key": str(key)}, cluster)


def render_token_kubeconfig(*, server: str, ca: Path, token: str, user: str, cluster: str = "lab") -> str:
    """A kubeconfig that authenticates with a bearer token (a ServiceAccount's); write it 0600."""
    return _render(server, ca, user, {"token": token}, cluster)


def _render(server: str, ca: Path, user: str, credentials: dict[str, str], cluster: str) -> str:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": f"{user}@{cluster}", "context": {"cluster": cluster, "user": user}}],
        "current-context": f"{user}@{cluster}",
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)
