"""Errors that carry the gRPC status code the CSI spec names for them (as a string: this module is pure).

They extend the project's one hierarchy (``StorageError``); ``csi.status.code_for`` maps these and every
other StorageError to a code in one place.
"""

from __future__ import annotations

from storage_operator.errors import StorageError


class CSIError(StorageError):
    code = "INTERNAL"


class InvalidArgument(CSIError):
    code = "INVALID_ARGUMENT"


class NotFoundError(CSIError):
    code = "NOT_FOUND"


class AlreadyExists(CSIError):
    code = "ALREADY_EXISTS"


class FailedPrecondition(CSIError):
    code = "FAILED_PRECONDITION"


class OutOfRange(CSIError):
    code = "OUT_OF_RANGE"


class Aborted(CSIError):
    """Another operation on the same volume (or name) is in progress, or a long one must be retried."""

    code = "ABORTED"


class Unavailable(CSIError):
    code = "UNAVAILABLE"


class ResourceExhausted(CSIError):
    code = "RESOURCE_EXHAUSTED"


class HostCommandError(CSIError):
    """A node tool (mount, losetup, mkfs, ceph-fuse, rbd-fuse) failed; the message has its stderr."""

    def __init__(self, argv0: str, returncode: int, stderr: str) -> None:
        super().__init__(f"{argv0} failed (exit {returncode}): {stderr.strip()[-500:] or 'no message'}")
        self.argv0 = argv0
        self.returncode = returncode
        self.stderr = stderr
