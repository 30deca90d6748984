"""The lab's kubectl, as the admin, for the steps that drive the API server the way a user would
(kustomize, server-side apply, taints, waiting on objects)."""

from __future__ import annotations

import subprocess

from storage_operator.errors import LabError
from storage_operator.lab.context import LabContext


def kubectl(ctx: LabContext, *args: str, stdin: str | None = None, timeout: float = 60, check: bool = True) -> str:
    """kubectl's output; a failure is a LabError (``check``) or an empty answer."""
    done = subprocess.run(
        [str(ctx.binaries.kubectl), "--kubeconfig", str(ctx.config.paths.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if done.returncode != 0:
        if check:
            raise LabError(f"kubectl {' '.join(args[:3])}: {done.stderr.strip()}")
        return ""
    return done.stdout
