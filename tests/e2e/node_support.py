"""What the node-profile tests share: kubectl against a lab as its admin, and reading objects back."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from storage_operator.lab.config import LabConfig


def kubectl(config: LabConfig, *args: str, stdin: str | None = None, check: bool = True) -> str:
    done = subprocess.run(
        [str(config.root / "bin" / "kubectl"), "--kubeconfig", str(config.paths.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check:
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def get(config: LabConfig, *args: str) -> Any:
    return json.loads(kubectl(config, "get", *args, "-o", "json"))


def apply(config: LabConfig, doc: dict[str, Any]) -> None:
    kubectl(config, "apply", "-f", "-", stdin=json.dumps(doc))


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
