"""Whether an OSD may leave its cluster without losing data, and what its CephOSD says meanwhile (pure).

An OSD goes only when every pool can still keep all its copies without it: a pool that keeps one copy
(size 1) and holds data has that data nowhere else, and a pool of size N needs N places (OSDs or hosts,
by its CRUSH rule's failure domain) among the OSDs that stay up and in. Device classes are not
considered: a rule restricted to a class is judged by all OSDs, which errs toward letting the removal
start; Ceph's own ``osd safe-to-destroy`` is asked before anything is destroyed anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage_operator.api.v1alpha1.cephosd import CephOSDStatus
from storage_operator.ceph.osd import Topology
from storage_operator.reconcile.conditions import find, set_condition
from storage_operator.reconcile.events import Event


@dataclass(frozen=True)
class PoolNeeds:
    name: str
    size: int
    failure_domain: str | None  # from its CRUSH rule; None: unknown (judged as host)
    objects: int


def removal_blockers(osd_id: int, topology: Topology, pools: Sequence[PoolNeeds]) -> list[str]:
    """Why removing ``osd_id`` now would lose data (empty: it may start)."""
    if osd_id not in {o.osd_id for o in topology.osds}:
        return []  # not in the CRUSH map: it holds nothing
    staying = [o for o in topology.osds if o.osd_id != osd_id and o.up and o.in_]
    blockers = []
    for pool in sorted(pools, key=lambda p: p.name):
        domain = pool.failure_domain or "host"
        places = len(staying) if domain == "osd" else len({o.host for o in staying if o.host})
        if pool.size == 1 and pool.objects > 0:
            blockers.append(
                f"pool {pool.name} keeps one copy (size 1) and holds {pool.objects} objects: "
                f"what osd.{osd_id} stores of it exists nowhere else"
            )
        elif places < pool.size:
            blockers.append(
                f"pool {pool.name} keeps {pool.size} copies on different {domain}s; "
                f"{places} {domain}(s) would be left up and in"
            )
    return blockers


def fold_removal(
    previous: CephOSDStatus, *, blockers: Sequence[str], message: str, now: datetime
) -> tuple[CephOSDStatus, list[Event]]:
    """Removing (with what it waits for), or blocked (condition RemovalBlocked, an Event on change)."""
    status = previous.model_copy(deep=True)
    before = find(status.conditions, "RemovalBlocked")
    events = []
    if blockers:
        why = "removal refused, it would lose data: " + "; ".join(blockers)
        if before is None or before.status != "True" or before.message != why:
            events.append(Event.warning("RemovalBlocked", why))
        status.conditions = set_condition(status.conditions, "RemovalBlocked", "True", "WouldLoseData", why, now=now)
        status.message = why
        return status, events
    if before is not None and before.status == "True":
        status.conditions = set_condition(
            status.conditions, "RemovalBlocked", "False", "Safe", "nothing would be lost", now=now
        )
    if status.phase != "Removing":
        events.append(Event.normal("Removing", message))
    status.phase = "Removing"
    status.message = message
    return status, events
