"""The one place where the project's errors become reasons, retry delays, and kopf's exceptions."""

from __future__ import annotations

import kopf

from storage_operator.errors import (
    CephCommandError,
    CephUnavailable,
    InvalidSpec,
    KubeAPIError,
    NotReady,
    StorageError,
)

# Named delays (seconds) instead of numbers scattered through the handlers.
RETRY_FIRST = 1.0
RETRY_MAX = 60.0
DELETION_RECHECK = 5.0


def reason_of(exc: BaseException) -> str:
    """A CamelCase reason for conditions, Events and the error metric."""
    if isinstance(exc, CephUnavailable):
        return exc.reason
    if isinstance(exc, CephCommandError):
        return "CephCommandFailed"
    if isinstance(exc, NotReady):
        return "NotReady"
    if isinstance(exc, InvalidSpec):
        return "InvalidSpec"
    if isinstance(exc, KubeAPIError):
        return "KubernetesAPIError"
    return "InternalError"


def failure_of(exc: BaseException) -> tuple[str, str]:
    """(reason, message) for status and Events; never a traceback, never a secret."""
    message = str(exc) if isinstance(exc, StorageError) else f"internal error: {exc.__class__.__name__}: {exc}"
    return reason_of(exc), message


def retry_after(exc: BaseException, attempt: int) -> float:
    """Backoff for the n-th consecutive failure (1, 2, 4, ... seconds, capped); NotReady names its own."""
    if isinstance(exc, NotReady):
        return float(exc.delay)
    return min(RETRY_MAX, RETRY_FIRST * float(2 ** min(max(0, attempt - 1), 16)))


def deletion_waits(message: str) -> kopf.TemporaryError:
    """A deletion held by dependents: kopf keeps the finalizer and asks again after a while."""
    return kopf.TemporaryError(message, delay=DELETION_RECHECK)


def to_kopf(exc: StorageError, *, delay: float = DELETION_RECHECK) -> kopf.TemporaryError | kopf.PermanentError:
    """For kopf's own handlers (deletion): invalid input is permanent, everything else is retried."""
    if isinstance(exc, InvalidSpec):
        return kopf.PermanentError(str(exc))
    return kopf.TemporaryError(str(exc), delay=exc.delay if isinstance(exc, NotReady) else delay)
