"""Render kubeconfig files (pure).

Certificates are referenced by path, not embedded: the Python client would otherwise copy embedded data
into temporary files outside the lab directory, and the files live exactly as long as the lab does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def render_kubeconfig(*, server: str, ca: Path, cert: Path, key: Path, user: str, cluster: str = "lab") -> str:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": f"{user}@{cluster}", "context": {"cluster": cluster, "user": user}}],
        "current-context": f"{user}@{cluster}",
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)
