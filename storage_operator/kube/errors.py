"""Map the Kubernetes client's exceptions onto the project's error hierarchy, in one place."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import urllib3
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
    """Run a block of client calls with ApiException translated (the original chained as cause).

    An API server that cannot be reached at all (restarting, network down) is status 0, "Unreachable".
    """
    try:
        yield
    except ApiException as exc:
        raise translate(exc) from exc
    except urllib3.exceptions.HTTPError as exc:
        raise KubeAPIError(0, "Unreachable", f"the API server did not answer: {exc}") from exc
