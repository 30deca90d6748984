"""The node's CSI semantics, the same for both drivers: stage records, publish by bind mount, stats.

Staging is the driver's own (a ceph-fuse mount; an image mapped to a block device and mounted); what
stage made is written to a record in the plugin's state dir, so publish, expand and unstage find it
again, after a plugin restart too. Publish bind-mounts the staged file system (or the device, for block
volumes) onto the target path; unpublish unmounts it and removes the path, as the spec asks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from csi import validate
from csi.cluster import Credentials, credentials_from
from csi.config import CSIConfig
from csi.errors import FailedPrecondition, InvalidArgument, NotFoundError
from csi.host import filesystems, mounts
from csi.ids import Kind, VolumeRef, parse_volume_id
from csi.locks import OperationLocks
from csi.proto import csi_pb2

# What stagers keep in a volume's home besides the record: ceph-fuse's log and admin socket, and the
# directory rbd-fuse shows the image in.
CEPH_FUSE_LOG = "ceph-fuse.log"
CEPH_FUSE_ASOK = "ceph-fuse.asok"
MAPPER_DIR = "image"


@dataclass
class StageRecord:
    volume_id: str
    staging_path: str
    block: bool = False
    device: str = ""  # RBD: the block device the image is mapped to
    mapper: str = ""  # RBD: "fuse" (rbd-fuse + loop) or "krbd"
    fstype: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class Stager(Protocol):
    """What one driver does to make a volume usable on this node, and to undo it."""

    kind: Kind

    async def stage(
        self, ref: VolumeRef, req: csi_pb2.NodeStageVolumeRequest, creds: Credentials, home: Path
    ) -> StageRecord: ...

    async def unstage(self, record: StageRecord | None, staging_path: Path, home: Path) -> None: ...

    async def expand(self, record: StageRecord, volume_path: Path, home: Path) -> int: ...

    def healthy(self, record: StageRecord) -> bool: ...


class NodeBackend:
    def __init__(self, config: CSIConfig, stager: Stager, locks: OperationLocks) -> None:
        self.config = config
        self.stager = stager
        self.kind = stager.kind
        self.locks = locks
        self.state_dir = config.state_dir

    # ------------------------------------------------------------------ records
    def home(self, volume_id: str) -> Path:
        """A private directory per volume (FUSE mount points, logs, the stage record)."""
        return self.state_dir / "volumes" / hashlib.sha256(volume_id.encode()).hexdigest()[:24]

    def load(self, volume_id: str) -> StageRecord | None:
        try:
            doc = json.loads((self.home(volume_id) / "stage.json").read_text())
            return StageRecord(**doc)
        except (OSError, ValueError, TypeError):
            return None

    def save(self, record: StageRecord) -> None:
        home = self.home(record.volume_id)
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = home / "stage.json.tmp"
        tmp.write_text(json.dumps(asdict(record), sort_keys=True))
        tmp.replace(home / "stage.json")

    def forget(self, volume_id: str) -> None:
        """Remove the record and the files the plugin itself writes there; directories only when empty.
        Never a recursive delete: were a mapper's mount still there, it would reach into the volume."""
        home = self.home(volume_id)
        for own in (CEPH_FUSE_LOG, CEPH_FUSE_ASOK, "stage.json"):
            (home / own).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            for directory in (home / MAPPER_DIR, home):
                directory.rmdir()

    def _ref(self, volume_id: str) -> VolumeRef:
        ref = parse_volume_id(volume_id, self.kind)
        if ref is None:
            raise NotFoundError(f"volume {volume_id!r} is not a {self.kind} volume of this driver")
        return ref

    # ------------------------------------------------------------------ RPCs
    async def stage(self, req: csi_pb2.NodeStageVolumeRequest) -> None:
        validate.require(req.volume_id, "volume_id")
        validate.require(req.staging_target_path, "staging_target_path")
        validate.check_capability(self.kind, req.volume_capability if req.HasField("volume_capability") else None)
        ref = self._ref(req.volume_id)
        creds = credentials_from(req.secrets)
        if creds is None:
            raise InvalidArgument("node stage needs secrets (userID, userKey): the Ceph user to mount as")
        staging = Path(req.staging_target_path)
        async with self.locks.hold(req.volume_id):
            record = self.load(req.volume_id)
            if record is not None and record.staging_path == str(staging) and self.stager.healthy(record):
                if record.block != validate.is_block(req.volume_capability):
                    raise FailedPrecondition("the volume is staged with another access type (block vs mount)")
                return
            if record is not None:
                # Left by a crash, or its FUSE daemon died: undo what is there, then stage afresh.
                await self.stager.unstage(record, Path(record.staging_path), self.home(req.volume_id))
            staging.mkdir(parents=True, exist_ok=True)
            home = self.home(req.volume_id)
            home.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                record = await self.stager.stage(ref, req, creds, home)
            except BaseException:
                # Undo what got done (a mapper mounted, a loop device attached) so the retry starts clean.
                with contextlib.suppress(Exception):
                    await self.stager.unstage(None, staging, home)
                raise
            self.save(record)

    async def unstage(self, volume_id: str, staging_target_path: str) -> None:
        validate.require(volume_id, "volume_id")
        validate.require(staging_target_path, "staging_target_path")
        async with self.locks.hold(volume_id):
            record = self.load(volume_id)
            await self.stager.unstage(record, Path(staging_target_path), self.home(volume_id))
            self.forget(volume_id)

    async def publish(self, req: csi_pb2.NodePublishVolumeRequest) -> None:
        validate.require(req.volume_id, "volume_id")
        validate.require(req.target_path, "target_path")
        cap = req.volume_capability if req.HasField("volume_capability") else None
        validate.check_capability(self.kind, cap)
        validate.require(req.staging_target_path, "staging_target_path")
        target = Path(req.target_path)
        async with self.locks.hold(req.volume_id):
            record = self.load(req.volume_id)
            if record is None or record.staging_path != req.staging_target_path:
                raise FailedPrecondition(f"volume {req.volume_id} is not staged at {req.staging_target_path}")
            block = validate.is_block(cap)
            if block != record.block:
                raise FailedPrecondition("the volume is staged with another access type (block vs mount)")
            if mounts.mount_at(target) is not None:
                if not mounts.is_stale(target):
                    return  # published already
                await mounts.unmount(target)
            source = record.device if block else record.staging_path
            if block:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.touch(exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
            flags = tuple(cap.mount.mount_flags) if cap is not None and not block else ()
            await mounts.bind(source, target, read_only=req.readonly or validate.is_read_only(cap), options=flags)

    async def unpublish(self, volume_id: str, target_path: str) -> None:
        validate.require(volume_id, "volume_id")
        validate.require(target_path, "target_path")
        target = Path(target_path)
        async with self.locks.hold(volume_id):
            await mounts.unmount(target)
            if target.is_dir() and not target.is_symlink():
                with contextlib.suppress(FileNotFoundError):
                    target.rmdir()
            else:
                target.unlink(missing_ok=True)

    async def stats(self, volume_id: str, volume_path: str) -> csi_pb2.NodeGetVolumeStatsResponse:
        validate.require(volume_id, "volume_id")
        validate.require(volume_path, "volume_path")
        path = Path(volume_path)
        if parse_volume_id(volume_id, self.kind) is None:
            raise NotFoundError(f"volume {volume_id!r} is not a {self.kind} volume of this driver")
        if mounts.is_stale(path):
            return _abnormal(f"the mount at {volume_path} is stale: its FUSE daemon is gone")
        if not path.exists():
            raise NotFoundError(f"volume {volume_id} is not published at {volume_path}")
        Unit = csi_pb2.VolumeUsage
        if filesystems.is_block_device(path):
            size = filesystems.device_size(str(path))
            return csi_pb2.NodeGetVolumeStatsResponse(usage=[Unit(unit=Unit.BYTES, total=size)])
        if mounts.mount_at(path) is None:
            raise NotFoundError(f"volume {volume_id} is not mounted at {volume_path}")
        u = filesystems.usage(path)
        return csi_pb2.NodeGetVolumeStatsResponse(
            usage=[
                Unit(unit=Unit.BYTES, total=u.total, available=u.available, used=u.used),
                Unit(unit=Unit.INODES, total=u.inodes, available=u.inodes_free, used=u.inodes_used),
            ]
        )

    async def expand(self, req: csi_pb2.NodeExpandVolumeRequest) -> int:
        validate.require(req.volume_id, "volume_id")
        validate.require(req.volume_path, "volume_path")
        self._ref(req.volume_id)
        path = Path(req.volume_path)
        if not path.exists():
            raise NotFoundError(f"volume {req.volume_id} is not published at {req.volume_path}")
        async with self.locks.hold(req.volume_id):
            record = self.load(req.volume_id)
            if record is None:
                raise FailedPrecondition(f"volume {req.volume_id} is not staged on this node")
            size = await self.stager.expand(record, path, self.home(req.volume_id))
        required = req.capacity_range.required_bytes if req.HasField("capacity_range") else 0
        return max(size, required) if self.kind == "cephfs" else size


def _abnormal(message: str) -> csi_pb2.NodeGetVolumeStatsResponse:
    return csi_pb2.NodeGetVolumeStatsResponse(volume_condition=csi_pb2.VolumeCondition(abnormal=True, message=message))


def context_value(context: Mapping[str, str], key: str, default: str = "") -> str:
    return (context.get(key) or default).strip()
