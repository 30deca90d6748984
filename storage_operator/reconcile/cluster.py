"""CephCluster: its status folded from what the cluster says (or why it cannot be asked), and the
Events a change of health or connection deserves (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from storage_operator.api.v1alpha1.cephcluster import (
    Capacity,
    CephClusterSpec,
    CephClusterStatus,
    CephStatus,
    ClusterSummary,
    HealthCheck,
    MonStatus,
    OSDCounts,
)
from storage_operator.ceph.world import ClusterObservation
from storage_operator.reconcile.conditions import find, remove_condition, set_condition
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.osds import Selection
from storage_operator.reconcile.units import human_bytes

PHASE_BY_HEALTH = {"HEALTH_OK": "Ready", "HEALTH_WARN": "Warning", "HEALTH_ERR": "Error"}


@dataclass(frozen=True)
class Failure:
    """Why the cluster could not be read: a CamelCase reason and a message that says what to check."""

    reason: str
    message: str


@dataclass
class ClusterFold:
    status: CephClusterStatus
    events: list[Event] = field(default_factory=list)


def spec_problems(spec: CephClusterSpec) -> list[str]:
    """What admission could not check: the storage selection's regexes must compile."""
    problems = []
    candidates = [("spec.storage.deviceFilter", spec.storage.device_filter)]
    candidates.append(("spec.storage.devicePathFilter", spec.storage.device_path_filter))
    for i, node in enumerate(spec.storage.nodes):
        candidates.append((f"spec.storage.nodes[{i}].deviceFilter", node.device_filter))
    for path, pattern in candidates:
        if pattern is None:
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(f"{path} {pattern!r} is not a valid regular expression: {exc}")
    return problems


def _base(previous: CephClusterStatus | None, generation: int | None) -> CephClusterStatus:
    status = previous.model_copy(deep=True) if previous is not None else CephClusterStatus()
    status.observed_generation = generation
    return status


def _with_spec_validity(
    status: CephClusterStatus, problems: list[str], now: datetime, generation: int | None
) -> list[Event]:
    before = find(status.conditions, "SpecValid")
    if problems:
        message = "; ".join(problems)
        status.conditions = set_condition(
            status.conditions, "SpecValid", "False", "InvalidRegex", message, now=now, generation=generation
        )
        if before is None or before.message != message:
            return [Event.warning("InvalidSpec", message)]
        return []
    status.conditions = set_condition(
        status.conditions, "SpecValid", "True", "Valid", "the spec is valid", now=now, generation=generation
    )
    return []


def fold_connected(
    spec: CephClusterSpec,
    previous: CephClusterStatus | None,
    observed: ClusterObservation,
    *,
    generation: int | None,
    now: datetime,
) -> ClusterFold:
    status = _base(previous, generation)
    s, df = observed.status, observed.df
    events: list[Event] = []
    was_connected = find(status.conditions, "Connected")
    if was_connected is None or was_connected.status != "True":
        events.append(
            Event.normal(
                "Connected",
                f"connected to Ceph {observed.version} cluster {s.fsid} through "
                f"{', '.join(spec.external.mon_hosts) or 'its monitors'}",
            )
        )
    old_health = previous.ceph.health if previous is not None and previous.ceph is not None else None
    details = {name: HealthCheck(severity=c.severity, message=c.message) for name, c in sorted(s.checks.items())}
    summary_line = "; ".join(f"{name}: {c.message}" for name, c in details.items())
    if s.health not in (old_health, "HEALTH_UNKNOWN"):
        was = f" (was {old_health})" if old_health and old_health != "HEALTH_UNKNOWN" else ""
        text = f"{s.health}{was}" + (f": {summary_line}" if summary_line else "")
        if s.health == "HEALTH_OK":
            events.append(Event.normal("HealthOK", text))
        else:
            events.append(Event.warning("HealthWarn" if s.health == "HEALTH_WARN" else "HealthError", text))
    health = s.health if s.health in PHASE_BY_HEALTH else "HEALTH_UNKNOWN"
    status.ceph = CephStatus(
        health=health,
        details=details,
        fsid=s.fsid,
        version=observed.version,
        last_checked=now,
        capacity=Capacity(bytes_total=df.total_bytes, bytes_used=df.used_bytes, bytes_available=df.available_bytes),
        osds=OSDCounts(total=s.osds, up=s.osds_up, **{"in": s.osds_in}),
        mons=MonStatus(total=s.mons, quorum=list(s.quorum)),
    )
    status.summary = ClusterSummary(
        mons=f"{len(s.quorum)}/{s.mons}",
        osds=f"{s.osds_up}/{s.osds}",
        used=human_bytes(df.used_bytes),
        capacity=human_bytes(df.total_bytes),
    )
    status.phase = PHASE_BY_HEALTH.get(health, "Progressing")  # type: ignore[assignment]
    headline = (
        f"{health}: {s.osds_up}/{s.osds} OSDs up, {s.osds_in} in; {len(s.quorum)}/{s.mons} mons in quorum; "
        f"{human_bytes(df.used_bytes)} of {human_bytes(df.total_bytes)} used"
    )
    status.message = headline if not summary_line else f"{headline}; {summary_line}"
    status.conditions = set_condition(
        status.conditions,
        "Connected",
        "True",
        "Connected",
        f"connected to cluster {s.fsid}",
        now=now,
        generation=generation,
    )
    ok = health == "HEALTH_OK"
    status.conditions = set_condition(
        status.conditions,
        "HealthOK",
        "True" if ok else "False",
        "HealthOK" if ok else ("HealthWarn" if health == "HEALTH_WARN" else "HealthError"),
        "Ceph reports HEALTH_OK" if ok else (summary_line or health),
        now=now,
        generation=generation,
    )
    status.conditions = remove_condition(status.conditions, "Supported")
    events += _with_spec_validity(status, spec_problems(spec), now, generation)
    return ClusterFold(status, events)


def fold_failure(
    spec: CephClusterSpec,
    previous: CephClusterStatus | None,
    failure: Failure,
    *,
    generation: int | None,
    now: datetime,
) -> ClusterFold:
    """The cluster could not be read: say why, keep the last observed facts, show no health we do not know."""
    status = _base(previous, generation)
    events: list[Event] = []
    before = find(status.conditions, "Connected")
    if (
        before is None
        or before.status != "False"
        or before.reason != failure.reason
        or before.message != failure.message
    ):
        events.append(Event.warning(failure.reason, failure.message))
    status.phase = "Failure"
    status.message = failure.message
    if status.ceph is not None:
        # Keep fsid, version, capacity and lastChecked (when they were true); health is unknown now.
        status.ceph = status.ceph.model_copy(update={"health": "HEALTH_UNKNOWN", "details": {}})
    status.summary = ClusterSummary()
    status.conditions = set_condition(
        status.conditions, "Connected", "False", failure.reason, failure.message, now=now, generation=generation
    )
    status.conditions = set_condition(
        status.conditions,
        "HealthOK",
        "Unknown",
        "NotConnected",
        "the cluster's health is unknown while it cannot be reached",
        now=now,
        generation=generation,
    )
    events += _with_spec_validity(status, spec_problems(spec), now, generation)
    return ClusterFold(status, events)


def _fold_selection(
    status: CephClusterStatus, selection: Selection, *, now: datetime, generation: int | None
) -> list[Event]:
    details = [selection.describe(), *selection.problems]
    if selection.unusable:
        details.append("selected but not usable: " + "; ".join(selection.unusable))
    message = "; ".join(details)
    before = find(status.conditions, "DevicesSelected")
    ok = bool(selection.desired) and not selection.problems
    status.conditions = set_condition(
        status.conditions,
        "DevicesSelected",
        "True" if ok else "False",
        "DevicesSelected" if ok else ("SelectionProblem" if selection.problems else "NothingSelected"),
        message,
        now=now,
        generation=generation,
    )
    if before is not None and before.message == message:
        return []
    return [Event.normal("DevicesSelected", message) if ok else Event.warning("SelectionProblem", message)]


def fold_bootstrapping(
    spec: CephClusterSpec,
    previous: CephClusterStatus | None,
    waiting: str,
    *,
    generation: int | None,
    now: datetime,
    selection: Selection,
) -> ClusterFold:
    """A managed cluster whose mons do not answer yet (being made, starting, forming a quorum): it is
    progressing, not failing; the message says what it waits for."""
    status = _base(previous, generation)
    events: list[Event] = []
    before = find(status.conditions, "Connected")
    if before is None or before.reason != "Bootstrapping":
        events.append(Event.normal("Bootstrapping", waiting))
    status.phase = "Progressing"
    status.message = f"{waiting}; {selection.describe()}"
    if status.ceph is not None:
        status.ceph = status.ceph.model_copy(update={"health": "HEALTH_UNKNOWN", "details": {}})
    status.conditions = set_condition(
        status.conditions, "Connected", "False", "Bootstrapping", waiting, now=now, generation=generation
    )
    events += _fold_selection(status, selection, now=now, generation=generation)
    events += _with_spec_validity(status, spec_problems(spec), now, generation)
    return ClusterFold(status, events)


def fold_managed_progress(
    fold: ClusterFold, selection: Selection, osd_phases: Mapping[str, str], *, now: datetime, generation: int | None
) -> ClusterFold:
    """A managed cluster: the selection's condition; Progressing until every CephOSD runs (Ceph's health
    alone would say OK with no OSD at all, or Warning while they start); Warning when one failed."""
    fold.events += _fold_selection(fold.status, selection, now=now, generation=generation)
    running = sum(1 for p in osd_phases.values() if p == "Running")
    ceph = fold.status.ceph
    if ceph is not None and ceph.osds is not None:
        running = min(running, ceph.osds.up)  # what Ceph said at the start of this pass counts too
    failed = sorted(n for n, p in osd_phases.items() if p in ("Failed", "Down"))
    if fold.status.phase not in ("Warning", "Ready"):
        return fold
    if failed:
        fold.status.phase = "Warning"
        fold.status.message = f"CephOSDs not running: {', '.join(failed)}; {fold.status.message}"
    elif running < len(osd_phases):
        fold.status.phase = "Progressing"
        fold.status.message = f"{running}/{len(osd_phases)} OSDs running; {fold.status.message}"
    return fold
