"""The driver's journal: which request name became which volume or snapshot, kept in Ceph.

One RADOS object (``csi.directory``, namespace ``csi``) per pool the volumes live in (the RBD pool; a
CephFS file system's metadata pool) holds an omap:

    volume.name.<request name>     -> <uuid>
    volume.uuid.<uuid>             -> VolumeRecord (JSON)
    snapshot.name.<request name>   -> <uuid>
    snapshot.uuid.<uuid>           -> SnapshotRecord (JSON)

A CreateVolume writes its reservation (both keys, one atomic write) before it creates anything, so a
crash at any point leaves either nothing or a reservation the retry of the same name finds and finishes.
A DeleteVolume removes the volume first and the keys last, so a retry after a crash finishes that too.
Parsing and key building are pure; the I/O goes through the session's thread pool.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from storage_operator.ceph import omap
from storage_operator.ceph.session import ClusterSession

NAMESPACE = "csi"
DIRECTORY = "csi.directory"


@dataclass(frozen=True)
class VolumeRecord:
    name: str  # the CO's request name (pvc-<uid> in Kubernetes)
    uuid: str
    size: int
    params: str  # csi.params.digest of the class parameters
    source: str = ""  # the content source's ID ("" for an empty volume)
    created: str = ""  # ISO 8601, when reserved


@dataclass(frozen=True)
class SnapshotRecord:
    name: str
    uuid: str
    volume_uuid: str
    size: int
    created: str = ""
    ready: bool = False  # set once the snapshot exists in Ceph; listing shows only ready ones

    def made(self, when: str) -> SnapshotRecord:
        return replace(self, ready=True, created=when)


def volume_name_key(name: str) -> str:
    return f"volume.name.{name}"


def volume_uuid_key(uuid: str) -> str:
    return f"volume.uuid.{uuid}"


def snapshot_name_key(name: str) -> str:
    return f"snapshot.name.{name}"


def snapshot_uuid_key(uuid: str) -> str:
    return f"snapshot.uuid.{uuid}"


def encode(record: VolumeRecord | SnapshotRecord) -> bytes:
    return json.dumps(asdict(record), sort_keys=True).encode()


def decode_volume(raw: bytes) -> VolumeRecord | None:
    doc = _doc(raw)
    try:
        return VolumeRecord(**{k: doc[k] for k in VolumeRecord.__dataclass_fields__ if k in doc})
    except TypeError:
        return None


def decode_snapshot(raw: bytes) -> SnapshotRecord | None:
    doc = _doc(raw)
    try:
        return SnapshotRecord(**{k: doc[k] for k in SnapshotRecord.__dataclass_fields__ if k in doc})
    except TypeError:
        return None


def _doc(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


class Journal:
    """The journal in one pool of one cluster."""

    def __init__(self, session: ClusterSession, pool: str) -> None:
        self.session = session
        self.pool = pool

    async def _get(self, keys: list[str]) -> dict[str, bytes]:
        return await self.session.run(
            lambda c: omap.omap_get(c, self.pool, NAMESPACE, DIRECTORY, keys),
            what=f"read the CSI journal in {self.pool}",
        )

    async def _find(self, name_key: str, uuid_key: Callable[[str], str]) -> bytes | None:
        def read(client: Any) -> bytes | None:
            found = omap.omap_get(client, self.pool, NAMESPACE, DIRECTORY, [name_key])
            if name_key not in found:
                return None
            key = uuid_key(found[name_key].decode())
            return omap.omap_get(client, self.pool, NAMESPACE, DIRECTORY, [key]).get(key)

        return await self.session.run(read, what=f"read the CSI journal in {self.pool}")

    async def _update(self, put: dict[str, bytes], remove: list[str] | None = None) -> None:
        await self.session.run(
            lambda c: omap.omap_update(c, self.pool, NAMESPACE, DIRECTORY, put=put, remove=remove or []),
            what=f"write the CSI journal in {self.pool}",
        )

    async def _list(self, prefix: str) -> dict[str, bytes]:
        return await self.session.run(
            lambda c: omap.omap_list(c, self.pool, NAMESPACE, DIRECTORY, prefix),
            what=f"list the CSI journal in {self.pool}",
        )

    # ------------------------------------------------------------------ volumes
    async def find_volume(self, name: str) -> VolumeRecord | None:
        raw = await self._find(volume_name_key(name), volume_uuid_key)
        return decode_volume(raw) if raw is not None else None

    async def volume(self, uuid: str) -> VolumeRecord | None:
        raw = (await self._get([volume_uuid_key(uuid)])).get(volume_uuid_key(uuid))
        return decode_volume(raw) if raw is not None else None

    async def put_volume(self, record: VolumeRecord) -> None:
        await self._update(
            {volume_name_key(record.name): record.uuid.encode(), volume_uuid_key(record.uuid): encode(record)}
        )

    async def drop_volume(self, record: VolumeRecord) -> None:
        await self._update({}, [volume_name_key(record.name), volume_uuid_key(record.uuid)])

    async def volumes(self) -> dict[str, VolumeRecord]:
        found = {}
        for raw in (await self._list("volume.uuid.")).values():
            record = decode_volume(raw)
            if record is not None:
                found[record.uuid] = record
        return found

    # ------------------------------------------------------------------ snapshots
    async def find_snapshot(self, name: str) -> SnapshotRecord | None:
        raw = await self._find(snapshot_name_key(name), snapshot_uuid_key)
        return decode_snapshot(raw) if raw is not None else None

    async def snapshot(self, uuid: str) -> SnapshotRecord | None:
        raw = (await self._get([snapshot_uuid_key(uuid)])).get(snapshot_uuid_key(uuid))
        return decode_snapshot(raw) if raw is not None else None

    async def put_snapshot(self, record: SnapshotRecord) -> None:
        await self._update(
            {snapshot_name_key(record.name): record.uuid.encode(), snapshot_uuid_key(record.uuid): encode(record)}
        )

    async def drop_snapshot(self, record: SnapshotRecord) -> None:
        await self._update({}, [snapshot_name_key(record.name), snapshot_uuid_key(record.uuid)])

    async def snapshots(self) -> dict[str, SnapshotRecord]:
        found = {}
        for raw in (await self._list("snapshot.uuid.")).values():
            record = decode_snapshot(raw)
            if record is not None:
                found[record.uuid] = record
        return found
