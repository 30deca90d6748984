"""Request checks of the CSI drivers (csi.validate): sizes from capacity ranges, whether a volume fits a
range, which access mode x access type x driver combinations are served, capability and name checks."""

from __future__ import annotations

import pytest

from csi.errors import InvalidArgument, OutOfRange
from csi.ids import Kind
from csi.proto import csi_pb2
from csi.validate import (
    ALL_MODES,
    DEFAULT_SIZE,
    MAX_NAME,
    GiB,
    MiB,
    check_capabilities,
    check_capability,
    check_name,
    fits,
    is_block,
    is_read_only,
    require,
    size_for,
    unsupported,
)

Mode = csi_pb2.VolumeCapability.AccessMode.Mode
M = csi_pb2.VolumeCapability.AccessMode


def cap(mode: Mode, access: str = "mount", fs_type: str = "", flags: tuple[str, ...] = ()) -> csi_pb2.VolumeCapability:
    """A VolumeCapability with ``mode`` and a mount (or block) access type."""
    c = csi_pb2.VolumeCapability(access_mode=csi_pb2.VolumeCapability.AccessMode(mode=mode))
    if access == "block":
        c.block.SetInParent()
    elif access == "mount":
        c.mount.fs_type = fs_type
        c.mount.mount_flags.extend(flags)
        c.mount.SetInParent()
    return c


def capacity(required: int = 0, limit: int = 0) -> csi_pb2.CapacityRange:
    return csi_pb2.CapacityRange(required_bytes=required, limit_bytes=limit)


# ---------------------------------------------------------------------------- sizes


def test_size_defaults() -> None:
    assert GiB == DEFAULT_SIZE
    assert size_for(None) == GiB
    assert size_for(capacity()) == GiB
    assert size_for(None, default=5 * MiB) == 5 * MiB


@pytest.mark.parametrize(
    ("required", "limit", "align", "expected"),
    [
        pytest.param(10 * MiB, 0, 1, 10 * MiB, id="required"),
        pytest.param(10 * MiB, 10 * MiB, 1, 10 * MiB, id="required-equals-limit"),
        pytest.param(1, 0, 1, 1, id="one-byte"),
        pytest.param(0, 100 * MiB, 1, 100 * MiB, id="limit-below-default"),
        pytest.param(0, 10 * GiB, 1, GiB, id="limit-above-default"),
        pytest.param(0, GiB, 1, GiB, id="limit-equals-default"),
        pytest.param(10 * MiB + 1, 0, MiB, 11 * MiB, id="rounded-up"),
        pytest.param(10 * MiB, 0, MiB, 10 * MiB, id="already-aligned"),
        pytest.param(1, 0, 4 * MiB, 4 * MiB, id="one-byte-aligned"),
        pytest.param(10 * MiB + 1, 11 * MiB, MiB, 11 * MiB, id="rounded-up-to-the-limit"),
        pytest.param(10 * MiB + 1, 10 * MiB + 100, MiB, 10 * MiB + 1, id="rounding-past-limit-keeps-request"),
        pytest.param(0, 10 * MiB + 100, MiB, 10 * MiB + 100, id="limit-only-unaligned-keeps-limit"),
        pytest.param(0, 100 * MiB, 4 * MiB, 100 * MiB, id="limit-only-aligned"),
    ],
)
def test_size_for(required: int, limit: int, align: int, expected: int) -> None:
    assert size_for(capacity(required, limit), align=align) == expected


def test_size_for_never_exceeds_the_limit() -> None:
    for required in range(0, 5000, 7):
        for limit in (0, required, required + 1, required + 511, 4096):
            if limit and required > limit:
                continue
            size = size_for(capacity(required, limit), align=512, default=3000)
            assert size >= required
            if limit:
                assert size <= limit


def test_size_for_required_above_limit() -> None:
    with pytest.raises(OutOfRange, match=r"required_bytes 200 is more than limit_bytes 100"):
        size_for(capacity(200, 100))


@pytest.mark.parametrize(("required", "limit"), [(-1, 0), (0, -1), (-5, -1), (10, -1)])
def test_size_for_negative(required: int, limit: int) -> None:
    with pytest.raises(OutOfRange, match=r"must not be negative"):
        size_for(capacity(required, limit))


@pytest.mark.parametrize(
    ("size", "required", "limit", "expected"),
    [
        pytest.param(GiB, 0, 0, True, id="no-range"),
        pytest.param(GiB, GiB, 0, True, id="exactly-required"),
        pytest.param(GiB, GiB + 1, 0, False, id="too-small"),
        pytest.param(GiB, 0, GiB, True, id="exactly-limit"),
        pytest.param(GiB + 1, 0, GiB, False, id="too-big"),
        pytest.param(GiB, MiB, 2 * GiB, True, id="inside"),
    ],
)
def test_fits(size: int, required: int, limit: int, expected: bool) -> None:
    assert fits(size, capacity(required, limit)) is expected


def test_fits_without_capacity() -> None:
    assert fits(0, None) is True
    assert fits(10 * GiB, None) is True


# ---------------------------------------------------------------------------- access modes

SINGLE_NODE = {
    Mode.SINGLE_NODE_WRITER,
    Mode.SINGLE_NODE_READER_ONLY,
    Mode.SINGLE_NODE_SINGLE_WRITER,
    Mode.SINGLE_NODE_MULTI_WRITER,
}
READ_ONLY = {Mode.SINGLE_NODE_READER_ONLY, Mode.MULTI_NODE_READER_ONLY}


def expected_support(kind: Kind, mode: Mode, access: str) -> bool:
    """The table the driver promises: CephFS serves every mode as a file system and never block; RBD
    serves every mode as block, and as a file system only single-node or read-only modes."""
    if kind == "cephfs":
        return access == "mount"
    return access == "block" or mode in SINGLE_NODE | READ_ONLY


TABLE = [
    pytest.param(kind, mode, access, id=f"{kind}-{M.Mode.Name(mode)}-{access}")
    for kind in ("cephfs", "rbd")
    for mode in sorted(ALL_MODES)
    for access in ("mount", "block")
]


def test_all_modes_known() -> None:
    # A new access mode in the CSI spec must get a row in the table (and a decision in unsupported()).
    assert {M.Mode.Name(m) for m in ALL_MODES} == {
        "SINGLE_NODE_WRITER",
        "SINGLE_NODE_READER_ONLY",
        "MULTI_NODE_READER_ONLY",
        "MULTI_NODE_SINGLE_WRITER",
        "MULTI_NODE_MULTI_WRITER",
        "SINGLE_NODE_SINGLE_WRITER",
        "SINGLE_NODE_MULTI_WRITER",
    }
    assert len(TABLE) == 2 * 7 * 2


@pytest.mark.parametrize(("kind", "mode", "access"), TABLE)
def test_unsupported_table(kind: Kind, mode: Mode, access: str) -> None:
    reason = unsupported(kind, cap(mode, access))
    if expected_support(kind, mode, access):
        assert reason is None
    else:
        assert reason is not None
        if kind == "cephfs":
            assert "block access is not supported" in reason
        else:
            assert M.Mode.Name(mode) in reason
            assert "single-node" in reason


@pytest.mark.parametrize("kind", ["cephfs", "rbd"])
@pytest.mark.parametrize("access", ["mount", "block"])
def test_unknown_mode_refused(kind: Kind, access: str) -> None:
    assert unsupported(kind, cap(Mode.UNKNOWN, access)) == "the volume capability has no access mode"


@pytest.mark.parametrize("kind", ["cephfs", "rbd"])
def test_no_access_type_refused(kind: Kind) -> None:
    assert "no access type" in (unsupported(kind, cap(Mode.SINGLE_NODE_WRITER, access="none")) or "")


@pytest.mark.parametrize(
    ("kind", "fs_type", "ok"),
    [
        pytest.param("cephfs", "", True, id="cephfs-default"),
        pytest.param("cephfs", "ceph", True, id="cephfs-ceph"),
        pytest.param("cephfs", "ext4", False, id="cephfs-ext4"),
        pytest.param("cephfs", "xfs", False, id="cephfs-xfs"),
        pytest.param("rbd", "", True, id="rbd-default"),
        pytest.param("rbd", "ext4", True, id="rbd-ext4"),
        pytest.param("rbd", "xfs", True, id="rbd-xfs"),
        pytest.param("rbd", "btrfs", False, id="rbd-btrfs"),
        pytest.param("rbd", "ceph", False, id="rbd-ceph"),
        pytest.param("rbd", "EXT4", False, id="rbd-uppercase"),
    ],
)
def test_fs_types(kind: Kind, fs_type: str, ok: bool) -> None:
    reason = unsupported(kind, cap(Mode.SINGLE_NODE_WRITER, "mount", fs_type=fs_type))
    assert (reason is None) is ok
    if not ok:
        assert repr(fs_type) in (reason or "")


def test_check_capabilities() -> None:
    good = cap(Mode.SINGLE_NODE_WRITER)
    check_capabilities("rbd", [good])
    check_capabilities("cephfs", [good, cap(Mode.MULTI_NODE_MULTI_WRITER)])
    with pytest.raises(InvalidArgument, match=r"^volume_capabilities is required$"):
        check_capabilities("rbd", [])
    with pytest.raises(InvalidArgument, match=r"^volume_capabilities: CephFS volumes are file systems"):
        check_capabilities("cephfs", [good, cap(Mode.SINGLE_NODE_WRITER, "block")])
    with pytest.raises(InvalidArgument, match=r"^caps: access mode MULTI_NODE_MULTI_WRITER needs a shared"):
        check_capabilities("rbd", [cap(Mode.MULTI_NODE_MULTI_WRITER)], field="caps")


def test_check_capability() -> None:
    check_capability("rbd", cap(Mode.MULTI_NODE_MULTI_WRITER, "block"))
    with pytest.raises(InvalidArgument, match=r"^volume_capability is required$"):
        check_capability("rbd", None)
    with pytest.raises(InvalidArgument, match=r"^volume_capability: the volume capability has no access mode$"):
        check_capability("cephfs", cap(Mode.UNKNOWN))
    with pytest.raises(InvalidArgument, match=r"^cap: file system 'zfs' is not supported"):
        check_capability("rbd", cap(Mode.SINGLE_NODE_WRITER, fs_type="zfs"), field="cap")


# ---------------------------------------------------------------------------- names and helpers


def test_check_name() -> None:
    check_name("pvc-1234")
    check_name("x" * MAX_NAME)
    assert MAX_NAME == 128
    with pytest.raises(InvalidArgument, match=r"^name is required$"):
        check_name("")
    with pytest.raises(InvalidArgument, match=r"^name is 129 characters long; at most 128 are accepted$"):
        check_name("x" * 129)
    with pytest.raises(InvalidArgument, match=r"^snapshot name is required$"):
        check_name("", "snapshot name")


def test_require() -> None:
    require("x", "field")
    require([1], "field")
    empties: list[object] = ["", None, [], {}, 0]
    for empty in empties:
        with pytest.raises(InvalidArgument, match=r"^volume_id is required$"):
            require(empty, "volume_id")


def test_is_block() -> None:
    assert is_block(cap(Mode.SINGLE_NODE_WRITER, "block")) is True
    assert is_block(cap(Mode.SINGLE_NODE_WRITER, "mount")) is False
    assert is_block(cap(Mode.SINGLE_NODE_WRITER, "none")) is False
    assert is_block(None) is False


@pytest.mark.parametrize("mode", sorted(ALL_MODES | {Mode.UNKNOWN}))
def test_is_read_only(mode: Mode) -> None:
    expected = mode in READ_ONLY
    assert is_read_only(cap(mode, "mount")) is expected
    assert is_read_only(cap(mode, "block")) is expected


def test_is_read_only_without_capability() -> None:
    assert is_read_only(None) is False
