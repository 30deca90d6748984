"""What one observation of a cluster holds (pure values; ``observe.py`` fills them)."""

from __future__ import annotations

from dataclasses import dataclass

from storage_operator.ceph.crush import CrushRule
from storage_operator.ceph.df import DfReport
from storage_operator.ceph.ecprofile import ECProfile
from storage_operator.ceph.osd import Topology
from storage_operator.ceph.pools import ObservedPool
from storage_operator.ceph.status import ClusterStatus


@dataclass(frozen=True)
class ClusterObservation:
    status: ClusterStatus
    df: DfReport
    version: str


@dataclass(frozen=True)
class PoolWorld:
    """Everything pool planning looks at: pools, rules, the profiles asked for, topology, usage."""

    pools: dict[str, ObservedPool]
    rules: dict[str, CrushRule]
    profiles: dict[str, ECProfile]
    topology: Topology
    df: DfReport

    def pool_by_id(self, pool_id: int) -> ObservedPool | None:
        return next((p for p in self.pools.values() if p.pool_id == pool_id), None)
