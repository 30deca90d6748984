"""The controller's CSI semantics, the same for CephFS and RBD: request names, the journal, idempotency,
conflicts, content sources, paging. What happens in Ceph is the Store's business.

Every create is "find or reserve, then make what is missing": the same request name always leads to the
same volume, a retry after a crash finishes the work, and a request that differs from the first one for
that name (size, class parameters, source) is refused with ALREADY_EXISTS.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Generic, TypeVar

from csi import validate
from csi.backends.store import Observed, Params, Store
from csi.cluster import Clusters
from csi.errors import Aborted, AlreadyExists, FailedPrecondition, InvalidArgument, NotFoundError, OutOfRange
from csi.ids import SnapshotRef, VolumeRef, new_uuid, parse_snapshot_id, parse_volume_id, volume_uuid
from csi.journal import Journal, SnapshotRecord, VolumeRecord
from csi.locks import OperationLocks
from csi.params import digest
from csi.proto import csi_pb2
from storage_operator.ceph.session import ClusterSession

log = logging.getLogger(__name__)
T = TypeVar("T")
# How long a CreateVolume from a source waits for a clone before answering ABORTED (the CO retries).
CLONE_WAIT = 20.0
CLONE_POLL = 0.1


@dataclass(frozen=True)
class VolumeOut:
    volume_id: str
    size: int
    context: dict[str, str]
    source: str = ""  # "snapshot:<id>" or "volume:<id>"


@dataclass(frozen=True)
class SnapshotOut:
    snapshot_id: str
    volume_id: str
    size: int
    created: datetime
    ready: bool = True


@dataclass(frozen=True)
class Page(Generic[T]):
    entries: list[T]
    next_token: str = ""


def source_of(req: csi_pb2.CreateVolumeRequest) -> str:
    if not req.HasField("volume_content_source"):
        return ""
    src = req.volume_content_source
    which = src.WhichOneof("type")
    if which == "snapshot":
        validate.require(src.snapshot.snapshot_id, "volume_content_source.snapshot.snapshot_id")
        return f"snapshot:{src.snapshot.snapshot_id}"
    if which == "volume":
        validate.require(src.volume.volume_id, "volume_content_source.volume.volume_id")
        return f"volume:{src.volume.volume_id}"
    raise InvalidArgument("volume_content_source names neither a snapshot nor a volume")


def paginate(items: list[T], key: str, ids: list[str], max_entries: int, token: str) -> Page[T]:
    """Entries after ``token`` (the last ID of the previous page), at most ``max_entries`` of them."""
    if max_entries < 0:
        raise InvalidArgument("max_entries must not be negative")
    start = 0
    if token:
        if token not in ids:
            raise Aborted(f"starting_token {token!r} is not one this driver handed out (or its {key} is gone)")
        start = ids.index(token) + 1
    end = len(items) if not max_entries else min(len(items), start + max_entries)
    next_token = ids[end - 1] if end < len(items) and end > start else ""
    return Page(items[start:end], next_token)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


class VolumeService:
    def __init__(self, store: Store, clusters: Clusters, locks: OperationLocks, *, clone_wait: float = CLONE_WAIT):
        self.store = store
        self.kind = store.kind
        self.clusters = clusters
        self.locks = locks
        self.clone_wait = clone_wait

    # ------------------------------------------------------------------ helpers
    async def _journal(self, session: ClusterSession, location: str) -> Journal | None:
        pool = await self.store.journal_pool(session, location)
        return Journal(session, pool) if pool else None

    async def _require_journal(self, session: ClusterSession, location: str, what: str) -> Journal:
        journal = await self._journal(session, location)
        if journal is None:
            raise InvalidArgument(f"{what} {location!r} does not exist in the Ceph cluster")
        return journal

    def _volume_ref(self, volume_id: str) -> VolumeRef | None:
        return parse_volume_id(volume_id, self.kind)

    # ------------------------------------------------------------------ volumes
    async def create_volume(self, req: csi_pb2.CreateVolumeRequest) -> VolumeOut:
        validate.check_name(req.name)
        validate.check_capabilities(self.kind, req.volume_capabilities)
        if req.mutable_parameters:
            raise InvalidArgument("mutable_parameters are not supported by this driver (no ModifyVolume)")
        params = self.store.parse(req.parameters)
        location = self.store.location(params)
        capacity = req.capacity_range if req.HasField("capacity_range") else None
        size = validate.size_for(capacity, align=self.store.align)
        source = source_of(req)
        session = self.clusters.session(req.secrets)
        journal = await self._require_journal(session, location, "the file system or pool")
        async with self.locks.hold(f"name:{req.name}"):
            record = await journal.find_volume(req.name)
            fresh = False
            if record is not None:
                self._same_request(record, req.name, digest(params), source, capacity)
            else:
                src_size = await self._source_size(session, journal, source, location)
                if src_size > size:
                    if capacity is not None and capacity.limit_bytes and src_size > capacity.limit_bytes:
                        raise OutOfRange(
                            f"the source holds {src_size} bytes, more than limit_bytes {capacity.limit_bytes}"
                        )
                    size = src_size
                record = VolumeRecord(
                    req.name, volume_uuid(self.kind, location, req.name), size, digest(params), source, _now()
                )
                fresh = True
            ref = VolumeRef(self.kind, location, record.uuid)
            async with self.locks.hold(ref.id):
                if fresh and not source:
                    # An empty volume and its record at once: the UUID follows from the name, so whichever of
                    # the two a crash cuts short, the retry finds the other and finishes.
                    observed: Observed | None = await self._create_recorded(session, journal, ref, record, params)
                else:
                    if fresh:
                        await journal.put_volume(record)  # a copy takes long: recorded before it starts
                    observed = await self._make(session, ref, record, params)
        return VolumeOut(ref.id, record.size, self.store.context(ref, params, observed), source)

    async def _create_recorded(
        self, session: ClusterSession, journal: Journal, ref: VolumeRef, record: VolumeRecord, params: Params
    ) -> Observed:
        recorded, created = await asyncio.gather(
            journal.put_volume(record), self.store.create(session, ref, record.size, params), return_exceptions=True
        )
        if isinstance(created, BaseException):
            if not isinstance(recorded, BaseException) and await self.store.inspect(session, ref) is None:
                # Nothing was made (a bad pool, a refusal): forget the name, so a corrected request is not
                # held to this one's parameters.
                await journal.drop_volume(record)
            raise created
        if isinstance(recorded, BaseException):
            raise recorded
        if created.size < record.size:
            await self.store.resize(session, ref, record.size)
        return created

    def _same_request(
        self, record: VolumeRecord, name: str, params: str, source: str, capacity: csi_pb2.CapacityRange | None
    ) -> None:
        if record.params != params:
            raise AlreadyExists(f"volume {name!r} exists with other class parameters")
        if record.source != source:
            raise AlreadyExists(f"volume {name!r} exists with another content source ({record.source or 'none'})")
        if not validate.fits(record.size, capacity):
            raise AlreadyExists(
                f"volume {name!r} exists with {record.size} bytes, outside the requested range "
                f"({capacity.required_bytes if capacity else 0}..{capacity.limit_bytes if capacity else 0})"
            )

    async def _source_size(self, session: ClusterSession, journal: Journal, source: str, location: str) -> int:
        """The size of the source (it must exist, in the same place); 0 without a source."""
        if not source:
            return 0
        kind, _, source_id = source.partition(":")
        if kind == "snapshot":
            snap = parse_snapshot_id(source_id, self.kind)
            record = await self._snapshot_record(session, snap) if snap else None
            if snap is None or record is None or not record.ready:
                raise NotFoundError(f"source snapshot {source_id!r} does not exist")
            self._same_place(snap.volume, location, "snapshot")
            return record.size
        volume = self._volume_ref(source_id)
        observed = await self.store.inspect(session, volume) if volume else None
        if volume is None or observed is None:
            raise NotFoundError(f"source volume {source_id!r} does not exist")
        self._same_place(volume, location, "volume")
        return observed.size

    def _same_place(self, source: VolumeRef, location: str, what: str) -> None:
        if source.location != location:
            raise InvalidArgument(
                f"the source {what} is in {source.location!r} but the class creates volumes in {location!r}: "
                "a copy can be made only within the same file system or pool"
            )

    async def _make(
        self, session: ClusterSession, ref: VolumeRef, record: VolumeRecord, params: Params
    ) -> Observed | None:
        """Make what is missing of ``record``'s volume; returns the volume as observed when done."""
        observed = await self.store.inspect(session, ref)
        if observed is not None and observed.failure:
            raise FailedPrecondition(f"making volume {record.name!r} from {record.source} failed: {observed.failure}")
        if observed is not None and observed.ready:
            if observed.size < record.size:
                await self.store.resize(session, ref, record.size)
            return observed
        kind, _, source_id = record.source.partition(":")
        deadline = time.monotonic() + self.clone_wait
        while True:
            if kind == "snapshot":
                snap = parse_snapshot_id(source_id, self.kind)
                if snap is None:
                    raise NotFoundError(f"source snapshot {source_id!r} does not exist")
                created = await self.store.create_from_snapshot(session, ref, snap, record.size, params)
            elif kind == "volume":
                source = self._volume_ref(source_id)
                if source is None:
                    raise NotFoundError(f"source volume {source_id!r} does not exist")
                async with self.locks.hold(source.id):
                    created = await self.store.create_from_volume(session, ref, source, record.size, params)
            else:
                return await self.store.create(session, ref, record.size, params)
            if created.done:
                break
            if time.monotonic() > deadline:
                raise Aborted(
                    f"volume {record.name!r} is still being copied from {record.source} ({created.detail}); retry"
                )
            await asyncio.sleep(CLONE_POLL)
        return await self.store.inspect(session, ref)

    async def delete_volume(self, volume_id: str, secrets: Mapping[str, str]) -> None:
        validate.require(volume_id, "volume_id")
        ref = self._volume_ref(volume_id)
        if ref is None:
            return  # not an ID this driver hands out: nothing of ours to delete
        session = self.clusters.session(secrets)
        async with self.locks.hold(ref.id):
            journal = await self._journal(session, ref.location)
            if journal is None:
                return  # the pool or file system is gone, and the volume with it
            record = await journal.volume(ref.uuid)
            if record is not None and self.locks.busy(f"name:{record.name}"):
                raise Aborted(f"volume {volume_id} is being created; retry later")
            await self.store.remove(session, ref)
            if record is not None:
                await journal.drop_volume(record)

    async def expand_volume(
        self, volume_id: str, capacity: csi_pb2.CapacityRange | None, secrets: Mapping[str, str]
    ) -> tuple[int, bool]:
        validate.require(volume_id, "volume_id")
        if capacity is None or (not capacity.required_bytes and not capacity.limit_bytes):
            raise InvalidArgument("capacity_range is required")
        ref = self._volume_ref(volume_id)
        if ref is None:
            raise NotFoundError(f"volume {volume_id!r} does not exist")
        size = validate.size_for(capacity, align=self.store.align)
        session = self.clusters.session(secrets)
        async with self.locks.hold(ref.id):
            observed = await self.store.inspect(session, ref)
            if observed is None:
                raise NotFoundError(f"volume {volume_id!r} does not exist")
            if size > observed.size:
                await self.store.resize(session, ref, size)
            else:
                size = observed.size
            journal = await self._journal(session, ref.location)
            record = await journal.volume(ref.uuid) if journal else None
            if journal is not None and record is not None and record.size != size:
                await journal.put_volume(replace(record, size=size))
        return size, self.store.node_expansion

    async def observe(
        self, volume_id: str, secrets: Mapping[str, str]
    ) -> tuple[VolumeRef, Observed, VolumeRecord | None]:
        """The volume as it is (NOT_FOUND when it is not there) and its journal record."""
        ref = self._volume_ref(volume_id)
        if ref is None:
            raise NotFoundError(f"volume {volume_id!r} does not exist")
        session = self.clusters.session(secrets)
        observed = await self.store.inspect(session, ref)
        if observed is None:
            raise NotFoundError(f"volume {volume_id!r} does not exist")
        journal = await self._journal(session, ref.location)
        return ref, observed, await journal.volume(ref.uuid) if journal else None

    async def list_volumes(self, max_entries: int, token: str) -> Page[VolumeOut]:
        session = self.clusters.session()
        found: list[VolumeOut] = []
        for location in await self.store.locations(session):
            journal = await self._journal(session, location)
            if journal is None:
                continue
            records, present = await asyncio.gather(journal.volumes(), self.store.volume_uuids(session, location))
            for uuid, record in records.items():
                if uuid in present:
                    ref = VolumeRef(self.kind, location, uuid)
                    found.append(VolumeOut(ref.id, record.size, {}, record.source))
        found.sort(key=lambda v: v.volume_id)
        return paginate(found, "volume", [v.volume_id for v in found], max_entries, token)

    async def capacity(self, parameters: Mapping[str, str]) -> int:
        params = self.store.parse(parameters) if parameters else None
        return await self.store.capacity(self.clusters.session(), params)

    # ------------------------------------------------------------------ snapshots
    async def _snapshot_record(self, session: ClusterSession, snap: SnapshotRef) -> SnapshotRecord | None:
        journal = await self._journal(session, snap.volume.location)
        record = await journal.snapshot(snap.uuid) if journal else None
        if record is None or record.volume_uuid != snap.volume.uuid:
            return None
        return record

    async def create_snapshot(self, req: csi_pb2.CreateSnapshotRequest) -> SnapshotOut:
        validate.check_name(req.name)
        validate.require(req.source_volume_id, "source_volume_id")
        volume = self._volume_ref(req.source_volume_id)
        if volume is None:
            raise NotFoundError(f"source volume {req.source_volume_id!r} does not exist")
        session = self.clusters.session(req.secrets)
        journal = await self._journal(session, volume.location)
        if journal is None:
            raise NotFoundError(f"source volume {req.source_volume_id!r} does not exist")
        async with self.locks.hold(f"snapshot-name:{req.name}"):
            record = await journal.find_snapshot(req.name)
            if record is not None and record.volume_uuid != volume.uuid:
                raise AlreadyExists(f"snapshot {req.name!r} exists for another source volume")
            async with self.locks.hold(volume.id):
                if record is None:
                    observed = await self.store.inspect(session, volume)
                    if observed is None:
                        raise NotFoundError(f"source volume {req.source_volume_id!r} does not exist")
                    record = SnapshotRecord(req.name, new_uuid(), volume.uuid, observed.size, _now())
                    await journal.put_snapshot(record)
                snap = SnapshotRef(volume, record.uuid)
                if not record.ready:
                    if not await self.store.snapshot_exists(session, snap):
                        await self.store.snapshot(session, snap)
                    record = record.made(_now())
                    await journal.put_snapshot(record)
        return SnapshotOut(snap.id, volume.id, record.size, _time(record.created))

    async def delete_snapshot(self, snapshot_id: str, secrets: Mapping[str, str]) -> None:
        validate.require(snapshot_id, "snapshot_id")
        snap = parse_snapshot_id(snapshot_id, self.kind)
        if snap is None:
            return
        session = self.clusters.session(secrets)
        async with self.locks.hold(snap.id):
            journal = await self._journal(session, snap.volume.location)
            if journal is None:
                return
            record = await journal.snapshot(snap.uuid)
            await self.store.remove_snapshot(session, snap)
            if record is not None:
                await journal.drop_snapshot(record)

    async def list_snapshots(self, req: csi_pb2.ListSnapshotsRequest) -> Page[SnapshotOut]:
        session = self.clusters.session(req.secrets)
        found: list[SnapshotOut] = []
        if req.snapshot_id:
            snap = parse_snapshot_id(req.snapshot_id, self.kind)
            record = await self._snapshot_record(session, snap) if snap else None
            if snap is not None and record is not None and record.ready:
                found.append(SnapshotOut(snap.id, snap.volume.id, record.size, _time(record.created)))
            return Page(found)
        wanted: VolumeRef | None = None
        if req.source_volume_id:
            wanted = self._volume_ref(req.source_volume_id)
            if wanted is None:
                return Page([])
        locations = [wanted.location] if wanted else await self.store.locations(session)
        for location in locations:
            journal = await self._journal(session, location)
            if journal is None:
                continue
            for record in (await journal.snapshots()).values():
                if not record.ready or (wanted is not None and record.volume_uuid != wanted.uuid):
                    continue
                volume = VolumeRef(self.kind, location, record.volume_uuid)
                snap = SnapshotRef(volume, record.uuid)
                found.append(SnapshotOut(snap.id, volume.id, record.size, _time(record.created)))
        found.sort(key=lambda s: s.snapshot_id)
        return paginate(found, "snapshot", [s.snapshot_id for s in found], req.max_entries, req.starting_token)

    async def get_snapshot(self, snapshot_id: str, secrets: Mapping[str, str]) -> SnapshotOut:
        validate.require(snapshot_id, "snapshot_id")
        snap = parse_snapshot_id(snapshot_id, self.kind)
        session = self.clusters.session(secrets)
        record = await self._snapshot_record(session, snap) if snap else None
        if snap is None or record is None or not record.ready:
            raise NotFoundError(f"snapshot {snapshot_id!r} does not exist")
        return SnapshotOut(snap.id, snap.volume.id, record.size, _time(record.created))
