"""``ceph status`` -> a typed ClusterStatus (pure parser; ``observe_status`` runs the command)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage_operator.ceph.client import CephClient


@dataclass(frozen=True)
class ClusterStatus:
    fsid: str
    health: str
    health_checks: tuple[str, ...]
    mons: int
    quorum: tuple[str, ...]
    mgr_available: bool
    osds: int
    osds_up: int
    osds_in: int
    pgs: int
    pgs_by_state: dict[str, int]
    bytes_total: int
    bytes_used: int
    bytes_available: int
    mds_up: int
    mds_standby: int

    @property
    def all_pgs_active_clean(self) -> bool:
        return all(state == "active+clean" for state in self.pgs_by_state)


def parse_status(doc: dict[str, Any]) -> ClusterStatus:
    health = doc.get("health", {})
    osdmap = doc.get("osdmap", {})
    # Pacific nests the osd counts under osdmap.osdmap in some releases; accept both shapes.
    osdmap = osdmap.get("osdmap", osdmap)
    pgmap = doc.get("pgmap", {})
    fsmap = doc.get("fsmap", {})
    monmap = doc.get("monmap", {})
    return ClusterStatus(
        fsid=str(doc.get("fsid", "")),
        health=str(health.get("status", "HEALTH_UNKNOWN")),
        health_checks=tuple(sorted(health.get("checks", {}))),
        mons=int(monmap.get("num_mons", len(monmap.get("mons", [])))),
        quorum=tuple(doc.get("quorum_names", [])),
        mgr_available=bool(doc.get("mgrmap", {}).get("available", False)),
        osds=int(osdmap.get("num_osds", 0)),
        osds_up=int(osdmap.get("num_up_osds", 0)),
        osds_in=int(osdmap.get("num_in_osds", 0)),
        pgs=int(pgmap.get("num_pgs", 0)),
        pgs_by_state={str(s["state_name"]): int(s["count"]) for s in pgmap.get("pgs_by_state", [])},
        bytes_total=int(pgmap.get("bytes_total", 0)),
        bytes_used=int(pgmap.get("bytes_used", 0)),
        bytes_available=int(pgmap.get("bytes_avail", 0)),
        mds_up=int(fsmap.get("up", 0)),
        mds_standby=int(fsmap.get("up:standby", 0)),
    )


def observe_status(ceph: CephClient) -> ClusterStatus:
    return parse_status(ceph.mon_command("status"))
