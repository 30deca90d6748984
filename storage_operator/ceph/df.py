"""``ceph df detail`` -> cluster capacity and per-pool usage (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from storage_operator.ceph.command import Command, mon


@dataclass(frozen=True)
class PoolStats:
    pool_id: int
    stored: int
    objects: int
    bytes_used: int
    percent_used: float  # 0..100
    max_avail: int
    quota_bytes: int
    quota_objects: int


@dataclass(frozen=True)
class DfReport:
    total_bytes: int
    used_bytes: int
    available_bytes: int
    pools: dict[str, PoolStats] = field(default_factory=dict)


def build_df() -> Command:
    return mon("df", detail="detail", what="read capacity and pool usage")


def parse_df(doc: dict[str, Any]) -> DfReport:
    stats = doc.get("stats", {})
    pools = {}
    for entry in doc.get("pools", []):
        s = entry.get("stats", {})
        pools[str(entry["name"])] = PoolStats(
            pool_id=int(entry.get("id", -1)),
            stored=int(s.get("stored", 0)),
            objects=int(s.get("objects", 0)),
            bytes_used=int(s.get("bytes_used", 0)),
            # Ceph reports a ratio (0..1) under the name percent_used.
            percent_used=round(min(100.0, float(s.get("percent_used", 0.0)) * 100), 4),
            max_avail=int(s.get("max_avail", 0)),
            quota_bytes=int(s.get("quota_bytes", 0)),
            quota_objects=int(s.get("quota_objects", 0)),
        )
    return DfReport(
        total_bytes=int(stats.get("total_bytes", 0)),
        used_bytes=int(stats.get("total_used_raw_bytes", stats.get("total_used_bytes", 0))),
        available_bytes=int(stats.get("total_avail_bytes", 0)),
        pools=pools,
    )
