"""CephFS on a node: the subvolume mounted at the staging path by ceph-fuse (no kernel module needed) or,
with ``mounter: kernel`` on nodes whose kernel has the ceph module, by the kernel client."""

from __future__ import annotations

import errno
from collections.abc import Mapping
from pathlib import Path

from csi import validate
from csi.backends.node import CEPH_FUSE_ASOK, CEPH_FUSE_LOG, StageRecord, context_value
from csi.cluster import Clusters, Credentials
from csi.config import CSIConfig
from csi.errors import FailedPrecondition, NotFoundError
from csi.host import filesystems, mounts
from csi.host.keyfile import keyfile
from csi.host.run import run
from csi.ids import Kind, VolumeRef
from csi.proto import csi_pb2
from storage_operator.ceph import subvolumes
from storage_operator.errors import CephCommandError

FUSE_TYPES = frozenset({"fuse.ceph-fuse", "ceph"})
GROUP = "csi"


def build_fuse_argv(
    *, monitors: str, user: str, keyfile: Path, fs_name: str, path: str, target: Path, home: Path, read_only: bool
) -> list[str]:
    """ceph-fuse for one subvolume: no ceph.conf, its own admin socket and log (pure)."""
    argv = [
        "ceph-fuse",
        str(target),
        "-c", "/dev/null",
        "-m", monitors,
        "--id", user,
        "--keyfile", str(keyfile),
        "--client_fs", fs_name,
        "-r", path,
        f"--admin-socket={home / CEPH_FUSE_ASOK}",
        f"--log-file={home / CEPH_FUSE_LOG}",
        "--client_mount_timeout=15",
    ]  # fmt: skip
    if read_only:
        argv += ["-o", "ro"]
    return argv


def build_kernel_mount(
    *, monitors: tuple[str, ...], user: str, keyfile: Path, fs_name: str, path: str, read_only: bool
) -> tuple[str, tuple[str, ...]]:
    """(source, options) for ``mount -t ceph`` (pure)."""
    hosts = ",".join(h for h, _ in _v1_hosts(monitors))
    options = (f"name={user}", f"secretfile={keyfile}", f"mds_namespace={fs_name}", *(("ro",) if read_only else ()))
    return f"{hosts}:{path}", options


def _v1_hosts(monitors: tuple[str, ...]) -> list[tuple[str, str]]:
    # The kernel client of older kernels speaks only msgr1: prefer each monitor's v1 address.
    out = []
    for mon in monitors:
        parts = [p.strip() for p in mon.strip().removeprefix("[").removesuffix("]").split(",") if p.strip()]
        chosen = next((p for p in parts if p.startswith("v1:")), parts[0] if parts else "")
        addr = chosen.split(":", 1)[1] if chosen.startswith(("v1:", "v2:")) else chosen
        out.append((addr.split("/", 1)[0], chosen))
    return out


def kernel_has_ceph() -> bool:
    try:
        return any(line.split()[-1] == "ceph" for line in Path("/proc/filesystems").read_text().splitlines())
    except OSError:
        return False


class CephFSStager:
    kind: Kind = "cephfs"

    def __init__(self, config: CSIConfig, clusters: Clusters) -> None:
        self.config = config
        self.clusters = clusters

    async def _path(self, ref: VolumeRef, context: dict[str, str], secrets: Mapping[str, str]) -> str:
        path = context_value(context, "subvolumePath")
        if path:
            return path
        # CreateVolume leaves the path out (it saves a call to the mgr, which runs subvolume commands one
        # at a time): ask the mgr now, as the stage user.
        try:
            found = await self.clusters.session(secrets).call(
                subvolumes.build_subvolume_getpath(ref.location, ref.name, group=GROUP)
            )
        except CephCommandError as exc:
            if exc.errno == errno.ENOENT:
                raise NotFoundError(f"volume {ref.id} does not exist") from exc
            raise
        return str(found)

    async def stage(
        self, ref: VolumeRef, req: csi_pb2.NodeStageVolumeRequest, creds: Credentials, home: Path
    ) -> StageRecord:
        context = dict(req.volume_context)
        fs_name = context_value(context, "fsName", ref.location)
        mounter = context_value(context, "mounter", "fuse")
        path = await self._path(ref, context, req.secrets)
        staging = Path(req.staging_target_path)
        read_only = validate.is_read_only(req.volume_capability)
        await mounts.unmount(staging)  # a stale mount from before a crash
        with keyfile(self.config.state_dir, creds.key) as key:
            if mounter == "kernel":
                if not kernel_has_ceph():
                    raise FailedPrecondition(
                        "mounter 'kernel' asked for, but this node's kernel has no ceph file system"
                    )
                source, options = build_kernel_mount(
                    monitors=self.config.monitor_list,
                    user=creds.user_id,
                    keyfile=key,
                    fs_name=fs_name,
                    path=path,
                    read_only=read_only,
                )
                await mounts.mount(source, staging, "ceph", options)
            else:
                await run(
                    *build_fuse_argv(
                        monitors=self.config.monitors,
                        user=creds.user_id,
                        keyfile=key,
                        fs_name=fs_name,
                        path=path,
                        target=staging,
                        home=home,
                        read_only=read_only,
                    ),
                    timeout=60,
                )
        return StageRecord(
            volume_id=req.volume_id, staging_path=str(staging), fstype=mounter, extra={"path": path, "fsName": fs_name}
        )

    def healthy(self, record: StageRecord) -> bool:
        entry = mounts.mount_at(record.staging_path)
        return entry is not None and entry.fstype in FUSE_TYPES and not mounts.is_stale(record.staging_path)

    async def unstage(self, record: StageRecord | None, staging_path: Path, home: Path) -> None:
        # ceph-fuse exits by itself once unmounted (closing its MDS session takes it about a second);
        # nothing waits on that, unlike an rbd-fuse whose open image blocks the image's deletion.
        for path in {str(staging_path), record.staging_path if record else str(staging_path)}:
            await mounts.unmount(path)

    async def expand(self, record: StageRecord, volume_path: Path, home: Path) -> int:
        # The quota grew on the MDS; every client sees it at once. Report what the mount says now.
        return filesystems.usage(volume_path).total if not mounts.is_stale(volume_path) else 0
