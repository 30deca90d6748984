"""CephFS volumes: a subvolume per volume in group ``csi``, its size as the quota (mgr ``volumes`` module).

Snapshots are subvolume snapshots; a volume from a snapshot is a subvolume clone (the mgr copies the
files in the background: CreateVolume waits a while, then answers ABORTED and finishes on the retry);
a volume from a volume clones a temporary snapshot of the source, removed once the clone is complete.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import cast

from csi.backends.store import Created, Observed, Params
from csi.errors import FailedPrecondition, InvalidArgument
from csi.ids import Kind, SnapshotRef, VolumeRef, uuid_of_name
from csi.params import CephFSParams, parse_cephfs
from storage_operator.ceph import df, fs, subvolumes
from storage_operator.ceph.session import ClusterSession
from storage_operator.errors import CephCommandError

GROUP = "csi"
TEMP_SNAPSHOT = "csi-tmp-"  # + the UUID of the volume being cloned from it


def _cephfs(params: Params) -> CephFSParams:
    return cast(CephFSParams, params)


def temp_snapshot(target: VolumeRef) -> str:
    return f"{TEMP_SNAPSHOT}{target.uuid}"


class CephFSStore:
    kind: Kind = "cephfs"
    align = 1
    node_expansion = False  # the quota applies at once on every client

    def __init__(self) -> None:
        self._groups: set[str] = set()  # file systems known to have the group (per process)
        self._known: dict[str, tuple[str, tuple[str, ...]]] = {}  # file system -> its pools, as last seen

    def parse(self, parameters: Mapping[str, str]) -> Params:
        return parse_cephfs(parameters)

    def location(self, params: Params) -> str:
        return _cephfs(params).fs_name

    async def _filesystems(self, session: ClusterSession) -> dict[str, tuple[str, tuple[str, ...]]]:
        self._known = fs.parse_fs_ls(await session.call(fs.build_fs_ls()))
        return self._known

    async def journal_pool(self, session: ClusterSession, location: str) -> str | None:
        found = self._known.get(location) or (await self._filesystems(session)).get(location)
        return found[0] if found else None

    async def _ensure_group(self, session: ClusterSession, fs_name: str) -> None:
        if fs_name not in self._groups:
            await session.call(subvolumes.build_group_create(fs_name, GROUP))
            self._groups.add(fs_name)

    async def inspect(self, session: ClusterSession, ref: VolumeRef) -> Observed | None:
        try:
            info = subvolumes.parse_subvolume_info(
                await session.call(subvolumes.build_subvolume_info(ref.location, ref.name, group=GROUP))
            )
        except CephCommandError as exc:
            if exc.errno == errno.ENOENT:
                return None
            if exc.errno == errno.EAGAIN:  # a clone not yet started: info is refused until it is
                return Observed(size=0, ready=False)
            raise
        failure = ""
        ready = info.state == subvolumes.CLONE_DONE
        if not ready:
            status = await self._clone_status(session, ref)
            failure = status.failure or (f"clone {status.state}" if status.failed else "")
        return Observed(size=info.bytes_quota, ready=ready, path=info.path, failure=failure)

    async def _clone_status(self, session: ClusterSession, ref: VolumeRef) -> subvolumes.CloneStatus:
        return subvolumes.parse_clone_status(
            await session.call(subvolumes.build_clone_status(ref.location, ref.name, group=GROUP))
        )

    async def create(self, session: ClusterSession, ref: VolumeRef, size: int, params: Params) -> Observed:
        await self._ensure_group(session, ref.location)
        try:
            await session.call(
                subvolumes.build_subvolume_create(
                    ref.location, ref.name, size=size, group=GROUP, pool=_cephfs(params).pool
                )
            )
            # The path (with the UUID the mgr chose) is looked up by the node when it stages the volume:
            # one mgr call less on the way of every claim (the mgr runs subvolume commands one at a time).
            return Observed(size=size)
        except CephCommandError as exc:
            if exc.errno == errno.EINVAL and _cephfs(params).pool:
                raise InvalidArgument(
                    f"pool {_cephfs(params).pool!r} cannot hold files of {ref.location!r}: {exc.detail}"
                ) from exc
            raise

    async def _clone(
        self, session: ClusterSession, source: VolumeRef, snap: str, ref: VolumeRef, params: Params
    ) -> Created:
        status = None
        try:
            await session.call(
                subvolumes.build_snapshot_clone(
                    ref.location, source.name, snap, ref.name, group=GROUP, pool=_cephfs(params).pool
                )
            )
        except CephCommandError as exc:
            if exc.errno != errno.EEXIST:  # EEXIST: the clone was started by an earlier attempt
                raise
        status = await self._clone_status(session, ref)
        if status.failed:
            raise FailedPrecondition(f"cloning {source.name}@{snap} failed: {status.failure or status.state}")
        return Created(done=status.done, detail=f"clone {status.state}")

    async def create_from_snapshot(
        self, session: ClusterSession, ref: VolumeRef, snap: SnapshotRef, size: int, params: Params
    ) -> Created:
        await self._ensure_group(session, ref.location)
        created = await self._clone(session, snap.volume, snap.name, ref, params)
        if created.done:
            await self.resize(session, ref, size)
        return created

    async def create_from_volume(
        self, session: ClusterSession, ref: VolumeRef, source: VolumeRef, size: int, params: Params
    ) -> Created:
        await self._ensure_group(session, ref.location)
        snap = temp_snapshot(ref)
        try:
            await session.call(subvolumes.build_snapshot_create(source.location, source.name, snap, group=GROUP))
        except CephCommandError as exc:
            if exc.errno != errno.EEXIST:
                raise
        created = await self._clone(session, source, snap, ref, params)
        if created.done:
            await self.resize(session, ref, size)
            await self._remove_snapshot(session, source, snap)
        return created

    async def remove(self, session: ClusterSession, ref: VolumeRef) -> None:
        # The common case is one mgr call (the mgr runs subvolume commands one at a time); what can stand
        # in the way is looked at only when the removal is refused.
        try:
            await self._rm(session, ref)
            return
        except CephCommandError as exc:
            if exc.errno == errno.ENOENT:
                return
            if exc.errno not in (errno.ENOTEMPTY, errno.EAGAIN):
                raise
        observed = await self.inspect(session, ref)
        if observed is None:
            return
        if not observed.ready:
            # A clone still filling it (or failed): stop the copy, then remove what is there.
            try:
                await session.call(subvolumes.build_clone_cancel(ref.location, ref.name, group=GROUP))
            except CephCommandError as exc:
                if exc.errno not in (errno.ENOENT, errno.EINVAL):
                    raise
        await self._drop_temp_snapshots(session, ref)
        try:
            await self._rm(session, ref)
        except CephCommandError as exc:
            if exc.errno == errno.ENOENT:
                return
            if exc.errno == errno.ENOTEMPTY:
                names = await self._snapshot_names(session, ref)
                raise FailedPrecondition(f"volume has snapshots ({', '.join(names)}): delete them first") from exc
            if exc.errno == errno.EAGAIN:
                raise FailedPrecondition(f"volume is the source of a clone in progress: {exc.detail}") from exc
            raise

    async def _rm(self, session: ClusterSession, ref: VolumeRef) -> None:
        await session.call(subvolumes.build_subvolume_rm(ref.location, ref.name, group=GROUP, force=True))

    async def _snapshot_names(self, session: ClusterSession, ref: VolumeRef) -> list[str]:
        try:
            return subvolumes.parse_names(
                await session.call(subvolumes.build_snapshot_ls(ref.location, ref.name, group=GROUP))
            )
        except CephCommandError as exc:
            if exc.errno == errno.ENOENT:
                return []
            raise

    async def _drop_temp_snapshots(self, session: ClusterSession, ref: VolumeRef) -> None:
        """Temporary snapshots left by a clone whose CreateVolume was never retried."""
        for name in await self._snapshot_names(session, ref):
            if name.startswith(TEMP_SNAPSHOT):
                await self._remove_snapshot(session, ref, name)

    async def _remove_snapshot(self, session: ClusterSession, ref: VolumeRef, snap: str) -> None:
        try:
            await session.call(subvolumes.build_snapshot_rm(ref.location, ref.name, snap, group=GROUP))
        except CephCommandError as exc:
            if exc.errno == errno.ENOENT:
                return
            if exc.errno == errno.EAGAIN:
                raise FailedPrecondition(f"snapshot {snap} is the source of a clone in progress") from exc
            raise

    async def resize(self, session: ClusterSession, ref: VolumeRef, size: int) -> None:
        await session.call(subvolumes.build_subvolume_resize(ref.location, ref.name, size, group=GROUP))

    async def snapshot(self, session: ClusterSession, snap: SnapshotRef) -> None:
        volume = snap.volume
        try:
            await session.call(subvolumes.build_snapshot_create(volume.location, volume.name, snap.name, group=GROUP))
        except CephCommandError as exc:
            if exc.errno != errno.EEXIST:
                raise

    async def snapshot_exists(self, session: ClusterSession, snap: SnapshotRef) -> bool:
        return snap.name in await self._snapshot_names(session, snap.volume)

    async def remove_snapshot(self, session: ClusterSession, snap: SnapshotRef) -> None:
        await self._remove_snapshot(session, snap.volume, snap.name)

    async def locations(self, session: ClusterSession) -> list[str]:
        return sorted(await self._filesystems(session))

    async def volume_uuids(self, session: ClusterSession, location: str) -> set[str]:
        try:
            names = subvolumes.parse_names(await session.call(subvolumes.build_subvolume_ls(location, GROUP)))
        except CephCommandError as exc:
            if exc.errno == errno.ENOENT:
                return set()
            raise
        return {u for u in (uuid_of_name(n) for n in names) if u}

    async def capacity(self, session: ClusterSession, params: Params | None) -> int:
        report = df.parse_df(await session.call(df.build_df()))
        if params is None:
            return report.available_bytes
        p = _cephfs(params)
        pools = (await self._filesystems(session)).get(p.fs_name)
        if pools is None:
            raise InvalidArgument(f"the file system {p.fs_name!r} does not exist")
        pool = p.pool or (pools[1][0] if pools[1] else "")
        stats = report.pools.get(pool)
        return stats.max_avail if stats else 0

    def context(self, ref: VolumeRef, params: Params, observed: Observed | None) -> dict[str, str]:
        ctx = _cephfs(params).context()
        if observed is not None and observed.path:
            ctx["subvolumePath"] = observed.path
        return ctx
