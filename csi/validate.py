"""Request checks and the arithmetic of sizes and access modes (pure).

Every RPC validates its request here before it touches Ceph or the node, so a malformed request fails
with INVALID_ARGUMENT (or OUT_OF_RANGE) and a message naming the field, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from csi.errors import InvalidArgument, OutOfRange
from csi.ids import Kind
from csi.proto import csi_pb2

AccessMode = csi_pb2.VolumeCapability.AccessMode
MiB = 1024**2
GiB = 1024**3
DEFAULT_SIZE = GiB
# Kubernetes sends names up to 128 characters ("pvc-<uid>", snapshot names); csi-sanity tests that.
MAX_NAME = 128

SINGLE_NODE = frozenset(
    {
        AccessMode.SINGLE_NODE_WRITER,
        AccessMode.SINGLE_NODE_READER_ONLY,
        AccessMode.SINGLE_NODE_SINGLE_WRITER,
        AccessMode.SINGLE_NODE_MULTI_WRITER,
    }
)
READ_ONLY = frozenset({AccessMode.SINGLE_NODE_READER_ONLY, AccessMode.MULTI_NODE_READER_ONLY})
ALL_MODES = frozenset(m for m in AccessMode.Mode.values() if m != AccessMode.UNKNOWN)


def require(value: object, field: str) -> None:
    if not value:
        raise InvalidArgument(f"{field} is required")


def check_name(name: str, field: str = "name") -> None:
    require(name, field)
    if len(name) > MAX_NAME:
        raise InvalidArgument(f"{field} is {len(name)} characters long; at most {MAX_NAME} are accepted")


def unsupported(kind: Kind, cap: csi_pb2.VolumeCapability) -> str | None:  # noqa: PLR0911
    """Why this driver cannot serve ``cap``; None when it can."""
    mode = cap.access_mode.mode
    which = cap.WhichOneof("access_type")
    if which is None:
        return "the volume capability has no access type (block or mount)"
    if mode == AccessMode.UNKNOWN:
        return "the volume capability has no access mode"
    if kind == "cephfs":
        if which == "block":
            return "CephFS volumes are file systems: block access is not supported (use the RBD driver)"
        fs_type = cap.mount.fs_type
        if fs_type and fs_type != "ceph":
            return f"CephFS volumes cannot be formatted as {fs_type!r}"
        return None
    # RBD: an image formatted with a local file system can be written by one node only.
    if which == "mount":
        if mode not in SINGLE_NODE | READ_ONLY:
            return (
                f"access mode {AccessMode.Mode.Name(mode)} needs a shared file system: RBD mount volumes are "
                "single-node (use the CephFS driver, or block access)"
            )
        fs_type = cap.mount.fs_type
        if fs_type and fs_type not in ("ext4", "xfs"):
            return f"file system {fs_type!r} is not supported on RBD volumes (ext4 or xfs)"
    return None


def check_capabilities(
    kind: Kind, caps: Sequence[csi_pb2.VolumeCapability], field: str = "volume_capabilities"
) -> None:
    require(caps, field)
    for cap in caps:
        reason = unsupported(kind, cap)
        if reason:
            raise InvalidArgument(f"{field}: {reason}")


def check_capability(kind: Kind, cap: csi_pb2.VolumeCapability | None, field: str = "volume_capability") -> None:
    if cap is None:
        raise InvalidArgument(f"{field} is required")
    check_capabilities(kind, [cap], field)


def size_for(capacity: csi_pb2.CapacityRange | None, *, align: int = 1, default: int = DEFAULT_SIZE) -> int:
    """The size to create: the required bytes (rounded up to ``align``), else the default within the limit."""
    required = capacity.required_bytes if capacity is not None else 0
    limit = capacity.limit_bytes if capacity is not None else 0
    if required < 0 or limit < 0:
        raise OutOfRange("capacity_range: required_bytes and limit_bytes must not be negative")
    if limit and required > limit:
        raise OutOfRange(f"capacity_range: required_bytes {required} is more than limit_bytes {limit}")
    size = required or (min(default, limit) if limit else default)
    size = -(-size // align) * align
    if limit and size > limit:
        # Rounding up would break the limit: the exact request is still a valid size for Ceph.
        size = required or limit
    return size


def fits(size: int, capacity: csi_pb2.CapacityRange | None) -> bool:
    """Whether an existing volume of ``size`` bytes satisfies ``capacity``."""
    if capacity is None:
        return True
    if capacity.required_bytes and size < capacity.required_bytes:
        return False
    return not (capacity.limit_bytes and size > capacity.limit_bytes)


def is_block(cap: csi_pb2.VolumeCapability | None) -> bool:
    return cap is not None and cap.WhichOneof("access_type") == "block"


def is_read_only(cap: csi_pb2.VolumeCapability | None) -> bool:
    return cap is not None and cap.access_mode.mode in READ_ONLY
