"""An NFSBackend's status from one look at its export (pure): reachable or why not, capacity, whether it
squashes root and what that means for owners, how many volumes it holds; Events only on transitions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage_operator.api.v1alpha1.nfsbackend import NFSBackendSpec, NFSBackendStatus
from storage_operator.reconcile.conditions import find, set_condition
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.units import human_bytes


@dataclass(frozen=True)
class Probe:
    """What one visit to the export found."""

    version: str
    total_bytes: int
    available_bytes: int
    root_squash: bool
    # Why the operator's working identity cannot make directories under the base directory (None: it can).
    unusable: str | None = None


def fold_backend(
    previous: NFSBackendStatus | None,
    spec: NFSBackendSpec,
    *,
    probe: Probe | None,
    error: tuple[str, str] | None,
    volumes: int,
    now: datetime,
    generation: int | None,
) -> tuple[NFSBackendStatus, list[Event]]:
    before = previous or NFSBackendStatus()
    status = before.model_copy(deep=True)
    status.observed_generation = generation
    status.volumes = volumes
    status.last_checked = now
    events: list[Event] = []
    where = f"nfs://{spec.server}:{spec.port}{spec.export_path}"
    if probe is None:
        reason, message = error or ("Unreachable", "no answer")
        status.phase = "Unreachable" if reason == "Unreachable" else "Error"
        status.reachable = False
        status.message = message
        status.conditions = set_condition(status.conditions, "Reachable", "False", reason, message, now=now)
        status.conditions = set_condition(status.conditions, "Ready", "False", reason, message, now=now)
        if before.reachable is not False or before.message != message:
            events.append(Event.warning(reason, f"{where}: {message}"))
        return status, events

    status.reachable = True
    status.version = probe.version
    status.total_bytes = probe.total_bytes
    status.free_bytes = probe.available_bytes
    status.free = human_bytes(probe.available_bytes)
    status.root_squash = probe.root_squash
    status.conditions = set_condition(
        status.conditions, "Reachable", "True", "Answered", f"{where} answered over NFSv{probe.version}", now=now
    )
    if probe.root_squash:
        gid = spec.directory_gid if spec.directory_gid is not None else spec.directory_uid
        owner = (
            f"uid {spec.directory_uid} gid {gid}"
            if spec.directory_uid is not None
            else "the anonymous user (uid 65534): set spec.directoryUID/directoryGID to the owner volumes should have"
        )
        squash = f"the export maps uid 0 to an anonymous user; directories are made as {owner}"
        status.conditions = set_condition(status.conditions, "RootSquash", "True", "RootSquashed", squash, now=now)
        if before.root_squash is not True:
            events.append(Event.normal("RootSquashed", squash))
    else:
        status.conditions = set_condition(
            status.conditions, "RootSquash", "False", "NoRootSquash", "uid 0 is uid 0 on the export", now=now
        )
    if probe.unusable is not None:
        status.phase = "Error"
        status.message = probe.unusable
        status.conditions = set_condition(status.conditions, "Ready", "False", "NotWritable", probe.unusable, now=now)
        if before.message != probe.unusable:
            events.append(Event.warning("NotWritable", probe.unusable))
        return status, events
    status.phase = "Ready"
    status.message = f"{human_bytes(probe.available_bytes)} free of {human_bytes(probe.total_bytes)}, {volumes} volumes"
    was_ready = (found := find(before.conditions, "Ready")) is not None and found.status == "True"
    status.conditions = set_condition(status.conditions, "Ready", "True", "Ready", status.message, now=now)
    if not was_ready:
        events.append(Event.normal("Ready", f"{where} is reachable over NFSv{probe.version}: {status.message}"))
    return status, events
