"""RBD volumes: an image per volume (size, features, optionally an erasure-coded data pool) via librbd.

Snapshots are image snapshots. A volume from a snapshot (or from a volume, through a temporary
snapshot) is a full copy, not a layered clone: it shares nothing with its source, so deleting either
never waits for the other. The copy is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import cast

from csi.backends.store import Created, Observed, Params
from csi.errors import FailedPrecondition, InvalidArgument
from csi.ids import Kind, SnapshotRef, VolumeRef, uuid_of_name
from csi.params import RBDParams, parse_rbd
from storage_operator.ceph import df, images, pools
from storage_operator.ceph.session import ClusterSession
from storage_operator.errors import CephCommandError

TEMP_SNAPSHOT = "csi-tmp-"  # + the UUID of the volume being copied from it
# Block devices work in 512-byte sectors, file systems in 4 KiB blocks: sizes are whole 4 KiB blocks.
ALIGN = 4096


def _rbd(params: Params) -> RBDParams:
    return cast(RBDParams, params)


class RBDStore:
    kind: Kind = "rbd"
    align = ALIGN
    node_expansion = True  # the node grows its device and file system after the image grows

    def parse(self, parameters: Mapping[str, str]) -> Params:
        return parse_rbd(parameters)

    def location(self, params: Params) -> str:
        return _rbd(params).pool

    def __init__(self) -> None:
        self._known: set[str] = set()  # pools seen to exist (per process)

    async def _pools(self, session: ClusterSession) -> dict[str, pools.ObservedPool]:
        found = pools.parse_pools(await session.call(pools.build_ls_detail()))
        self._known = set(found)
        return found

    async def journal_pool(self, session: ClusterSession, location: str) -> str | None:
        if location in self._known or location in await self._pools(session):
            return location
        return None

    async def inspect(self, session: ClusterSession, ref: VolumeRef) -> Observed | None:
        try:
            info = await session.run(lambda c: images.image_info(c, ref.location, ref.name), what=f"inspect {ref.name}")
        except CephCommandError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise
        return Observed(size=info.size, in_use_by=info.watchers, snapshots=tuple(s.name for s in info.snapshots))

    async def create(self, session: ClusterSession, ref: VolumeRef, size: int, params: Params) -> Observed:
        p = _rbd(params)
        await self._check_data_pool(session, p)
        try:
            await session.run(
                lambda c: images.create_image(
                    c, ref.location, ref.name, size, features=p.features, data_pool=p.data_pool, exist_ok=False
                ),
                what=f"create image {ref.location}/{ref.name}",
            )
        except CephCommandError as exc:
            if exc.errno != errno.EEXIST:
                raise
            # Made by an attempt that crashed before its journal record: it is this volume.
            found = await self.inspect(session, ref)
            if found is None:
                raise
            return found
        return Observed(size=size)

    async def _check_data_pool(self, session: ClusterSession, params: RBDParams) -> None:
        if not params.data_pool:
            return
        pool = (await self._pools(session)).get(params.data_pool)
        if pool is None:
            raise InvalidArgument(f"dataPool {params.data_pool!r} does not exist")
        if pool.erasure_coded and not pool.ec_overwrites:
            raise InvalidArgument(
                f"dataPool {params.data_pool!r} is erasure-coded without allow_ec_overwrites: RBD cannot use it"
            )

    async def _copy(
        self, session: ClusterSession, source: VolumeRef, snap: str, ref: VolumeRef, *, size: int, params: Params
    ) -> None:
        p = _rbd(params)
        await self._check_data_pool(session, p)
        await session.run(
            lambda c: images.copy_image(
                c, ref.location, source.name, snap, ref.name, features=p.features, data_pool=p.data_pool
            ),
            what=f"copy {source.name}@{snap} to {ref.name}",
            timeout=3600,
        )
        await self.resize(session, ref, size)

    async def create_from_snapshot(
        self, session: ClusterSession, ref: VolumeRef, snap: SnapshotRef, size: int, params: Params
    ) -> Created:
        await self._copy(session, snap.volume, snap.name, ref, size=size, params=params)
        return Created(done=True)

    async def create_from_volume(
        self, session: ClusterSession, ref: VolumeRef, source: VolumeRef, size: int, params: Params
    ) -> Created:
        snap = f"{TEMP_SNAPSHOT}{ref.uuid}"
        await session.run(
            lambda c: images.create_snapshot(c, source.location, source.name, snap), what=f"snapshot {source.name}"
        )
        await self._copy(session, source, snap, ref, size=size, params=params)
        await session.run(
            lambda c: images.remove_snapshot(c, source.location, source.name, snap), what=f"unsnapshot {source.name}"
        )
        return Created(done=True)

    async def remove(self, session: ClusterSession, ref: VolumeRef) -> None:
        observed = await self.inspect(session, ref)
        if observed is None:
            return
        if observed.in_use_by:
            raise FailedPrecondition(
                f"image {ref.location}/{ref.name} is in use (open by {', '.join(observed.in_use_by)}): unstage it first"
            )
        for name in observed.snapshots:
            if name.startswith(TEMP_SNAPSHOT):  # left by a copy whose CreateVolume was never retried
                await self._unsnapshot(session, ref, name)
        kept = [n for n in observed.snapshots if not n.startswith(TEMP_SNAPSHOT)]
        if kept:
            raise FailedPrecondition(
                f"image {ref.location}/{ref.name} has snapshots ({', '.join(kept)}): delete them first"
            )
        try:
            await session.run(lambda c: images.remove_image(c, ref.location, ref.name), what=f"remove {ref.name}")
        except CephCommandError as exc:
            if exc.errno == errno.EBUSY:
                raise FailedPrecondition(f"image {ref.location}/{ref.name} is in use: {exc.detail}") from exc
            if exc.errno == errno.ENOTEMPTY:
                raise FailedPrecondition(f"image {ref.location}/{ref.name} has snapshots: delete them first") from exc
            raise

    async def resize(self, session: ClusterSession, ref: VolumeRef, size: int) -> None:
        await session.run(lambda c: images.resize_image(c, ref.location, ref.name, size), what=f"resize {ref.name}")

    async def snapshot(self, session: ClusterSession, snap: SnapshotRef) -> None:
        v = snap.volume
        await session.run(lambda c: images.create_snapshot(c, v.location, v.name, snap.name), what=f"snapshot {v.name}")

    async def snapshot_exists(self, session: ClusterSession, snap: SnapshotRef) -> bool:
        observed = await self.inspect(session, snap.volume)
        return observed is not None and snap.name in observed.snapshots

    async def remove_snapshot(self, session: ClusterSession, snap: SnapshotRef) -> None:
        await self._unsnapshot(session, snap.volume, snap.name)

    async def _unsnapshot(self, session: ClusterSession, volume: VolumeRef, snap: str) -> None:
        await session.run(
            lambda c: images.remove_snapshot(c, volume.location, volume.name, snap), what=f"unsnapshot {volume.name}"
        )

    async def locations(self, session: ClusterSession) -> list[str]:
        return sorted(
            name
            for name, pool in (await self._pools(session)).items()
            if "rbd" in pool.applications and not pool.erasure_coded
        )

    async def volume_uuids(self, session: ClusterSession, location: str) -> set[str]:
        names = await session.run(lambda c: images.list_images(c, location), what=f"list images of {location}")
        return {u for u in (uuid_of_name(n) for n in names) if u}

    async def capacity(self, session: ClusterSession, params: Params | None) -> int:
        report = df.parse_df(await session.call(df.build_df()))
        if params is None:
            return report.available_bytes
        p = _rbd(params)
        stats = report.pools.get(p.data_pool or p.pool)
        if stats is None:
            raise InvalidArgument(f"pool {p.data_pool or p.pool!r} does not exist")
        return stats.max_avail

    def context(self, ref: VolumeRef, params: Params, observed: Observed | None) -> dict[str, str]:
        return {**_rbd(params).context(), "imageName": ref.name}
