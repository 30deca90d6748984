"""The contract between the CSI semantics (service.py) and one kind of Ceph volume (cephfs.py, rbd.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from csi.ids import Kind, SnapshotRef, VolumeRef
from csi.params import CephFSParams, RBDParams
from storage_operator.ceph.session import ClusterSession

Params = CephFSParams | RBDParams


@dataclass(frozen=True)
class Observed:
    """A volume as Ceph has it now."""

    size: int
    ready: bool = True  # False while a clone still fills it
    path: str = ""  # CephFS: the subvolume's path in the file system
    in_use_by: tuple[str, ...] = ()  # RBD: watchers (clients that have it open)
    snapshots: tuple[str, ...] = ()  # snapshot names
    failure: str = ""  # a clone that failed: why


@dataclass(frozen=True)
class Created:
    """The outcome of one create step: done, or still filling (a clone) and to be waited for or retried."""

    done: bool
    detail: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


class Store(Protocol):
    kind: Kind
    align: int  # sizes are rounded up to a multiple of this
    node_expansion: bool  # whether the node must grow something after ControllerExpandVolume

    def parse(self, parameters: Mapping[str, str]) -> Params: ...

    def location(self, params: Params) -> str: ...

    async def journal_pool(self, session: ClusterSession, location: str) -> str | None:
        """Where the journal of ``location`` lives; None when the location does not exist. Cached: every
        request needs it, and file systems and pools come and go rarely (a miss asks Ceph again)."""
        ...

    async def inspect(self, session: ClusterSession, ref: VolumeRef) -> Observed | None: ...

    async def create(self, session: ClusterSession, ref: VolumeRef, size: int, params: Params) -> Observed:
        """Make an empty volume that is known not to exist yet; returns it as made."""
        ...

    async def create_from_snapshot(
        self, session: ClusterSession, ref: VolumeRef, snap: SnapshotRef, size: int, params: Params
    ) -> Created: ...

    async def create_from_volume(
        self, session: ClusterSession, ref: VolumeRef, source: VolumeRef, size: int, params: Params
    ) -> Created: ...

    async def remove(self, session: ClusterSession, ref: VolumeRef) -> None: ...

    async def resize(self, session: ClusterSession, ref: VolumeRef, size: int) -> None: ...

    async def snapshot(self, session: ClusterSession, snap: SnapshotRef) -> None: ...

    async def snapshot_exists(self, session: ClusterSession, snap: SnapshotRef) -> bool: ...

    async def remove_snapshot(self, session: ClusterSession, snap: SnapshotRef) -> None: ...

    async def locations(self, session: ClusterSession) -> list[str]: ...

    async def volume_uuids(self, session: ClusterSession, location: str) -> set[str]: ...

    async def capacity(self, session: ClusterSession, params: Params | None) -> int: ...

    def context(self, ref: VolumeRef, params: Params, observed: Observed | None) -> dict[str, str]: ...
