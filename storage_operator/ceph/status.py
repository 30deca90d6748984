"""``ceph status`` and ``ceph version`` -> typed values (pure parsers; ``observe_status`` runs the command)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from storage_operator.ceph.command import Command, mon

if TYPE_CHECKING:
    from storage_operator.ceph.command import CommandRunner

# Ceph's health as the number Prometheus conventions (and the mgr's own exporter) use.
HEALTH_CODES = {"HEALTH_OK": 0, "HEALTH_WARN": 1, "HEALTH_ERR": 2}


@dataclass(frozen=True)
class HealthCheck:
    severity: str
    message: str


@dataclass(frozen=True)
class ClusterStatus:
    fsid: str
    health: str
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
    checks: dict[str, HealthCheck] = field(default_factory=dict)

    @property
    def health_checks(self) -> tuple[str, ...]:
        """The failing checks' names, sorted."""
        return tuple(sorted(self.checks))

    @property
    def all_pgs_active_clean(self) -> bool:
        return all(state == "active+clean" for state in self.pgs_by_state)


def build_status() -> Command:
    return mon("status", what="read cluster status")


def build_version() -> Command:
    return mon("version", what="read the monitor's version")


def parse_status(doc: dict[str, Any]) -> ClusterStatus:
    health = doc.get("health", {})
    osdmap = doc.get("osdmap", {})
    # Pacific nests the osd counts under osdmap.osdmap in some releases; accept both shapes.
    osdmap = osdmap.get("osdmap", osdmap)
    pgmap = doc.get("pgmap", {})
    fsmap = doc.get("fsmap", {})
    monmap = doc.get("monmap", {})
    checks = {
        str(name): HealthCheck(
            severity=str(check.get("severity", "HEALTH_WARN")),
            message=str(check.get("summary", {}).get("message", name)),
        )
        for name, check in health.get("checks", {}).items()
    }
    return ClusterStatus(
        fsid=str(doc.get("fsid", "")),
        health=str(health.get("status", "HEALTH_UNKNOWN")),
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
        checks=checks,
    )


def parse_version(doc: dict[str, Any]) -> str:
    """'ceph version 16.2.15 (618f...) pacific (stable)' -> '16.2.15'."""
    text = str(doc.get("version", ""))
    parts = text.split()
    return parts[2] if len(parts) > 2 and parts[0] == "ceph" else text


def observe_status(ceph: CommandRunner) -> ClusterStatus:
    return parse_status(ceph.run(build_status()))
