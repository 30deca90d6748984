"""The one mapping of errors to gRPC status codes (csi.status.code_for): the CSI errors, Ceph command errnos,
an unusable cluster by reason, the project's other errors, timeouts and anything else; every answer is a
``grpc.StatusCode`` member name."""

from __future__ import annotations

import errno

import grpc
import pytest

from csi import errors
from csi.status import CEPH_ERRNO_CODES, code_for
from storage_operator.errors import (
    CephCommandError,
    CephUnavailable,
    Conflict,
    InvalidSpec,
    KubeAPIError,
    LabError,
    NFSError,
    NotFound,
    NotReady,
    StorageError,
)


def mapped(exc: BaseException) -> str:
    """code_for(exc), checked to name a grpc.StatusCode member."""
    code = code_for(exc)
    assert grpc.StatusCode[code].name == code
    return code


CSI_ERRORS = [
    pytest.param(errors.CSIError("x"), "INTERNAL", id="CSIError"),
    pytest.param(errors.InvalidArgument("x"), "INVALID_ARGUMENT", id="InvalidArgument"),
    pytest.param(errors.NotFoundError("x"), "NOT_FOUND", id="NotFoundError"),
    pytest.param(errors.AlreadyExists("x"), "ALREADY_EXISTS", id="AlreadyExists"),
    pytest.param(errors.FailedPrecondition("x"), "FAILED_PRECONDITION", id="FailedPrecondition"),
    pytest.param(errors.OutOfRange("x"), "OUT_OF_RANGE", id="OutOfRange"),
    pytest.param(errors.Aborted("x"), "ABORTED", id="Aborted"),
    pytest.param(errors.Unavailable("x"), "UNAVAILABLE", id="Unavailable"),
    pytest.param(errors.ResourceExhausted("x"), "RESOURCE_EXHAUSTED", id="ResourceExhausted"),
    pytest.param(errors.HostCommandError("mount", 32, "mount: wrong fs type"), "INTERNAL", id="HostCommandError"),
]


@pytest.mark.parametrize(("exc", "code"), CSI_ERRORS)
def test_csi_errors(exc: BaseException, code: str) -> None:
    assert mapped(exc) == code


def test_every_csi_error_class_is_in_the_table() -> None:
    classes = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, errors.CSIError) and obj.__module__ == errors.__name__
    }
    tested = {type(p.values[0]) for p in CSI_ERRORS}
    assert classes == tested


@pytest.mark.parametrize(
    ("number", "code"),
    [
        pytest.param(errno.ENOENT, "NOT_FOUND", id="ENOENT"),
        pytest.param(errno.EEXIST, "ALREADY_EXISTS", id="EEXIST"),
        pytest.param(errno.EBUSY, "FAILED_PRECONDITION", id="EBUSY"),
        pytest.param(errno.ENOTEMPTY, "FAILED_PRECONDITION", id="ENOTEMPTY"),
        pytest.param(errno.EDQUOT, "RESOURCE_EXHAUSTED", id="EDQUOT"),
        pytest.param(errno.ENOSPC, "RESOURCE_EXHAUSTED", id="ENOSPC"),
        pytest.param(errno.EAGAIN, "UNAVAILABLE", id="EAGAIN"),
        pytest.param(errno.ETIMEDOUT, "UNAVAILABLE", id="ETIMEDOUT"),
        pytest.param(errno.EINVAL, "INVALID_ARGUMENT", id="EINVAL"),
        pytest.param(errno.EPERM, "PERMISSION_DENIED", id="EPERM"),
        pytest.param(errno.EACCES, "PERMISSION_DENIED", id="EACCES"),
        pytest.param(errno.ENOTSUP, "INTERNAL", id="ENOTSUP-unknown"),
        pytest.param(errno.EIO, "INTERNAL", id="EIO-unknown"),
        pytest.param(0, "INTERNAL", id="zero-reply-not-json"),
        pytest.param(99999, "INTERNAL", id="unknown-number"),
    ],
)
def test_ceph_command_errnos(number: int, code: str) -> None:
    assert mapped(CephCommandError("fs subvolume create", number, "message")) == code


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("Unreachable", "UNAVAILABLE"),
        ("AuthenticationFailed", "PERMISSION_DENIED"),
        ("InvalidAddress", "UNAVAILABLE"),
        ("InvalidKey", "INVALID_ARGUMENT"),
        ("FsidMismatch", "UNAVAILABLE"),
        ("Busy", "UNAVAILABLE"),
        ("SomethingNew", "UNAVAILABLE"),
    ],
)
def test_ceph_unavailable_reasons(reason: str, code: str) -> None:
    assert mapped(CephUnavailable(reason, "check the monitors")) == code


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        pytest.param(InvalidSpec("bad"), "INVALID_ARGUMENT", id="InvalidSpec"),
        pytest.param(NotFound("gone"), "NOT_FOUND", id="NotFound"),
        pytest.param(Conflict("changed"), "ALREADY_EXISTS", id="Conflict"),
        pytest.param(NotReady("later", delay=1), "UNAVAILABLE", id="NotReady"),
        pytest.param(TimeoutError(), "DEADLINE_EXCEEDED", id="TimeoutError"),
        pytest.param(StorageError("x"), "INTERNAL", id="StorageError"),
        pytest.param(KubeAPIError(500, "InternalError", "x"), "INTERNAL", id="KubeAPIError"),
        pytest.param(NFSError("read", "/x", "NFS3ERR_IO", "x"), "INTERNAL", id="NFSError"),
        pytest.param(LabError("x"), "INTERNAL", id="LabError"),
        pytest.param(Exception("boom"), "INTERNAL", id="Exception"),
        pytest.param(ValueError("boom"), "INTERNAL", id="ValueError"),
        pytest.param(OSError(errno.ENOENT, "no such file"), "INTERNAL", id="OSError"),
    ],
)
def test_other_errors(exc: BaseException, code: str) -> None:
    assert mapped(exc) == code


def test_every_code_is_a_grpc_status_code() -> None:
    codes = {"INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED", "PERMISSION_DENIED", "INVALID_ARGUMENT"}
    codes |= set(CEPH_ERRNO_CODES.values())
    codes |= {p.values[1] for p in CSI_ERRORS}  # type: ignore[misc]
    for code in codes:
        assert grpc.StatusCode[code].name == code
    # The CSI errors' own codes too, even ones no test raises.
    for obj in vars(errors).values():
        if isinstance(obj, type) and issubclass(obj, errors.CSIError):
            assert grpc.StatusCode[obj.code].name == obj.code
