"""The project's one error hierarchy.

Every layer raises these (with the library's exception chained as ``__cause__``), so callers never
catch ``rados.Error``, ``kubernetes.client.ApiException`` or ``nfs_rs.NfsError`` directly. The kopf
handler layer maps them to ``kopf.TemporaryError`` / ``kopf.PermanentError`` in one place.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error this project raises on purpose."""


class InvalidSpec(StorageError):
    """The user's input cannot be acted on; retrying without a change will not help."""


class NotReady(StorageError):
    """Something we depend on is not there yet; retry after ``delay`` seconds."""

    def __init__(self, message: str, *, delay: float = 5.0) -> None:
        super().__init__(message)
        self.delay = delay


class Conflict(StorageError):
    """The object changed under us (or exists with different content); re-read and retry."""


class NotFound(StorageError):
    """The object does not exist."""


class CephCommandError(StorageError):
    """A mon/mgr command failed: ``prefix`` is the command, ``errno`` its (positive) error number."""

    def __init__(self, prefix: str, errno: int, message: str) -> None:
        super().__init__(f"ceph command {prefix!r} failed with errno {errno}: {message}")
        self.prefix = prefix
        self.errno = errno
        self.detail = message


class CephUnavailable(StorageError):
    """The cluster cannot be used: ``reason`` is Unreachable, AuthenticationFailed, InvalidAddress,
    InvalidKey, FsidMismatch or Busy; the message says what to check."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class KubeAPIError(StorageError):
    """The Kubernetes API answered with an error ``status`` (HTTP code) and ``reason``."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"kubernetes API error {status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.detail = message


class NFSError(StorageError):
    """An NFS operation failed; ``code`` is the NFS status name when the server gave one."""

    def __init__(self, operation: str, path: str, code: str, message: str) -> None:
        super().__init__(f"nfs {operation} {path!r} failed ({code}): {message}")
        self.operation = operation
        self.path = path
        self.code = code


class LabError(StorageError):
    """The local lab cannot do what was asked; the message says what to do instead."""
