"""Which gRPC status code an error becomes (pure; the one mapping, used by csi.rpc)."""

from __future__ import annotations

import errno

from csi.errors import CSIError
from storage_operator.errors import (
    CephCommandError,
    CephUnavailable,
    Conflict,
    InvalidSpec,
    NotFound,
    NotReady,
    StorageError,
)

# What a Ceph errno means to a CSI caller.
CEPH_ERRNO_CODES = {
    errno.ENOENT: "NOT_FOUND",
    errno.EEXIST: "ALREADY_EXISTS",
    errno.EBUSY: "FAILED_PRECONDITION",  # open (watched) somewhere
    errno.ENOTEMPTY: "FAILED_PRECONDITION",  # has snapshots
    errno.EDQUOT: "RESOURCE_EXHAUSTED",
    errno.ENOSPC: "RESOURCE_EXHAUSTED",
    errno.EAGAIN: "UNAVAILABLE",  # the mgr is busy (a clone in progress): retry
    errno.ETIMEDOUT: "UNAVAILABLE",
    errno.EINVAL: "INVALID_ARGUMENT",
    errno.EPERM: "PERMISSION_DENIED",
    errno.EACCES: "PERMISSION_DENIED",
}


def code_for(exc: BaseException) -> str:  # noqa: PLR0911 - one branch per error kind, in one place
    """The gRPC status code name (``grpc.StatusCode`` member name) for ``exc``."""
    if isinstance(exc, CSIError):
        return exc.code
    if isinstance(exc, CephCommandError):
        return CEPH_ERRNO_CODES.get(exc.errno, "INTERNAL")
    if isinstance(exc, CephUnavailable):
        return {"AuthenticationFailed": "PERMISSION_DENIED", "InvalidKey": "INVALID_ARGUMENT"}.get(
            exc.reason, "UNAVAILABLE"
        )
    if isinstance(exc, InvalidSpec):
        return "INVALID_ARGUMENT"
    if isinstance(exc, NotFound):
        return "NOT_FOUND"
    if isinstance(exc, Conflict):
        return "ALREADY_EXISTS"
    if isinstance(exc, NotReady):
        return "UNAVAILABLE"
    if isinstance(exc, TimeoutError):
        return "DEADLINE_EXCEEDED"
    if isinstance(exc, StorageError):
        return "INTERNAL"
    return "INTERNAL"
