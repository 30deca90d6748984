"""Map the Kubernetes client's exceptions onto the project's error hierarchy, in one place."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from kubernetes.client.exceptions import ApiException

from storage_operator.errors import Conflict, KubeAPIError, NotFound, StorageError


def translate(exc: ApiException) -> StorageError:
    status = int(exc.status or 0)
    reason = str(exc.reason or "")
    message = reason
    if exc.body:
        try:
            body = json.loads(exc.body)
            message = str(body.get("message", message))
            reason = str(body.get("reason", reason))
        except (ValueError, AttributeError):
            message = str(exc.body)[:500]
    if status == 404:
        return NotFound(message)
    if status == 409:
        return Conflict(message)
    return KubeAPIError(status, reason, message)


@contextlib.contextmanager
def api_errors() -> Iterator[None]:
    """Run a block of client calls with ApiException translated (the original chained as cause)."""
    try:
        yield
    except ApiException as exc:
        raise translate(exc) from exc
