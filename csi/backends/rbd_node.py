"""RBD on a node: the image becomes a block device, formatted on first use and mounted at the staging path
(or, for block access, handed to publish as the device itself).

With the kernel's rbd module the image is mapped by `rbd device map` (krbd). Without it (this lab's
machines, and many hardened kernels) a userspace mapper does the job: ``rbd-fuse`` shows the image as a
file in a private directory and a loop device over that file is the block device. Unstage undoes it in
reverse: unmount, detach the loop device (or unmap), stop the mapper.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from csi import validate
from csi.backends.node import MAPPER_DIR, StageRecord, context_value
from csi.cluster import Credentials
from csi.config import CSIConfig
from csi.errors import FailedPrecondition
from csi.host import daemons, filesystems, loop, mounts
from csi.host.keyfile import keyfile
from csi.host.run import run
from csi.ids import Kind, VolumeRef
from csi.proto import csi_pb2

DEFAULT_FSTYPE = "ext4"


def build_rbd_fuse_argv(*, monitors: str, user: str, keyfile: Path, pool: str, image: str, target: Path) -> list[str]:
    return [
        "rbd-fuse", "-c", "/dev/null", "-m", monitors, "--id", user, "--keyfile", str(keyfile),
        "-p", pool, "-r", image, str(target),
    ]  # fmt: skip


def build_krbd_map_argv(*, monitors: str, user: str, keyfile: Path, pool: str, image: str) -> list[str]:
    return ["rbd", "device", "map", f"{pool}/{image}", "-m", monitors, "--id", user, "--keyfile", str(keyfile)]


def kernel_has_rbd() -> bool:
    return Path("/sys/bus/rbd").exists() and shutil.which("rbd") is not None


def mount_options(cap: csi_pb2.VolumeCapability, read_only: bool) -> tuple[str, ...]:
    flags = [f for f in cap.mount.mount_flags if f]
    return (*flags, *(("ro",) if read_only else ()))


class RBDStager:
    kind: Kind = "rbd"

    def __init__(self, config: CSIConfig) -> None:
        self.config = config

    async def stage(
        self, ref: VolumeRef, req: csi_pb2.NodeStageVolumeRequest, creds: Credentials, home: Path
    ) -> StageRecord:
        context = dict(req.volume_context)
        pool = context_value(context, "pool", ref.location)
        image = context_value(context, "imageName", ref.name)
        cap = req.volume_capability
        block = validate.is_block(cap)
        staging = Path(req.staging_target_path)
        record = StageRecord(volume_id=req.volume_id, staging_path=str(staging), block=block)
        fuse_dir = home / MAPPER_DIR
        with keyfile(self.config.state_dir, creds.key) as key:
            if kernel_has_rbd():
                _code, out = await run(
                    *build_krbd_map_argv(
                        monitors=self.config.monitors, user=creds.user_id, keyfile=key, pool=pool, image=image
                    )
                )
                record.mapper, record.device = "krbd", out.strip()
            else:
                fuse_dir.mkdir(parents=True, exist_ok=True)
                await run(
                    *build_rbd_fuse_argv(
                        monitors=self.config.monitors,
                        user=creds.user_id,
                        keyfile=key,
                        pool=pool,
                        image=image,
                        target=fuse_dir,
                    ),
                    timeout=60,
                )
                record.mapper = "fuse"
                record.extra = {"fuseDir": str(fuse_dir), "image": image}
                record.device = await loop.attach(fuse_dir / image)
        if block:
            return record
        fstype = cap.mount.fs_type or DEFAULT_FSTYPE
        found = await filesystems.probe(record.device)
        if found is None:
            await filesystems.make(record.device, fstype)
        elif found != fstype:
            await self.unstage(record, staging, home)
            raise FailedPrecondition(f"the volume holds {found}, not the {fstype} asked for: it is never reformatted")
        else:
            await filesystems.grow_unmounted(record.device, fstype)
        record.fstype = fstype
        read_only = validate.is_read_only(cap)
        await mounts.mount(record.device, staging, fstype, mount_options(cap, read_only))
        if fstype == "xfs" and not read_only:
            await filesystems.grow(record.device, fstype, staging)
        return record

    def healthy(self, record: StageRecord) -> bool:
        if not record.device or not Path(record.device).exists():
            return False
        if record.mapper == "fuse":
            fuse_dir = record.extra.get("fuseDir", "")
            if mounts.mount_at(fuse_dir) is None or mounts.is_stale(fuse_dir):
                return False
            if loop.find(Path(fuse_dir) / record.extra.get("image", "")) != record.device:
                return False
        if record.block:
            return True
        return mounts.mount_at(record.staging_path) is not None and not mounts.is_stale(record.staging_path)

    async def unstage(self, record: StageRecord | None, staging_path: Path, home: Path) -> None:
        await mounts.unmount(staging_path)
        fuse_dir = (
            Path(record.extra.get("fuseDir", "")) if record and record.extra.get("fuseDir") else home / MAPPER_DIR
        )
        if record is not None and record.staging_path != str(staging_path):
            await mounts.unmount(record.staging_path)
        if record is not None and record.mapper == "krbd" and record.device:
            await run("rbd", "device", "unmap", record.device, ok=(0, 22))
            return
        # The loop device over the mapper's file: found by its backing file, even without a record and
        # with the mapper dead.
        for device in loop.attached_under(fuse_dir):
            await loop.detach(device)
        mapper = daemons.pids_of("rbd-fuse", str(fuse_dir))
        await mounts.unmount(fuse_dir)
        await daemons.wait_gone(mapper)

    async def expand(self, record: StageRecord, volume_path: Path, home: Path) -> int:
        if record.mapper == "fuse":
            await loop.refresh(record.device)
        if not record.block and record.fstype:
            await filesystems.grow(record.device, record.fstype, Path(record.staging_path))
        return filesystems.device_size(record.device)
