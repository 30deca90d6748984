from __future__ import annotations

import pytest

from storage_operator.errors import (
    CephCommandError,
    Conflict,
    InvalidSpec,
    KubeAPIError,
    LabError,
    NFSError,
    NotFound,
    NotReady,
    StorageError,
)


@pytest.mark.parametrize(
    "error",
    [
        InvalidSpec("x"),
        NotReady("x", delay=2),
        Conflict("x"),
        NotFound("x"),
        CephCommandError("osd new", 17, "exists"),
        KubeAPIError(422, "Invalid", "bad"),
        NFSError("mkdir", "a", "NFS4ERR_EXIST", "exists"),
        LabError("x"),
    ],
)
def test_every_error_is_a_storage_error(error: StorageError) -> None:
    assert isinstance(error, StorageError)


def test_messages_carry_the_details() -> None:
    assert "errno 17" in str(CephCommandError("osd new", 17, "exists"))
    assert NotReady("later", delay=2.5).delay == 2.5
    assert "422 Invalid" in str(KubeAPIError(422, "Invalid", "bad"))
