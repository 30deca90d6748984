"""A node's DiskInventory status from what the scanner found (pure), and whether it changed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from storage_operator.agent.eligibility import Policy, assess
from storage_operator.agent.facts import DeviceFacts
from storage_operator.api.v1alpha1.diskinventory import Device, DiskInventoryStatus, Signature, UnavailableReason

MAX_REASONS = 16  # the schema's bound; more are summed up in the last one
# The schema's bounds of the other lists: a busy root disk can be mounted in hundreds of places.
MAX_LINKS, MAX_MOUNTS, MAX_SIGNATURES, MAX_PARTITIONS, MAX_HOLDERS = 32, 32, 32, 128, 32


def device_of(facts: DeviceFacts, policy: Policy, active_swaps: frozenset[str]) -> Device:
    reasons = assess(facts, policy, active_swaps=active_swaps)
    if len(reasons) > MAX_REASONS:
        extra = len(reasons) - MAX_REASONS + 1
        reasons = [*reasons[: MAX_REASONS - 1], reasons[-1].__class__("More", f"and {extra} more reasons")]
    sigs = facts.probe.signatures
    return Device(
        name=facts.name,
        path=facts.path,
        by_id=list(facts.by_id[:MAX_LINKS]),
        by_path=list(facts.by_path[:MAX_LINKS]),
        size_bytes=facts.size_bytes,
        logical_sector_size=facts.logical_sector_size,
        physical_sector_size=facts.physical_sector_size,
        type=facts.type,
        rotational=facts.rotational,
        read_only=facts.read_only,
        removable=facts.removable,
        vendor=facts.vendor,
        model=facts.model,
        serial=facts.serial,
        wwn=facts.wwn,
        backing_file=facts.backing_file,
        filesystem=sigs[0].type if sigs else None,
        signatures=[Signature(type=s.type, offset=s.offset, uuid=s.uuid, label=s.label) for s in sigs[:MAX_SIGNATURES]],
        partitions=list(facts.partitions[:MAX_PARTITIONS]),
        holders=list(facts.holders[:MAX_HOLDERS]),
        mountpoints=list(facts.mountpoints[:MAX_MOUNTS]),
        available=not reasons,
        reasons=[UnavailableReason(code=r.code, message=r.message[:1024]) for r in reasons],
    )


def build_status(
    devices: Sequence[DeviceFacts],
    policy: Policy,
    active_swaps: frozenset[str],
    *,
    now: datetime,
    agent_version: str,
    scan_seconds: float,
) -> DiskInventoryStatus:
    listed = [device_of(d, policy, active_swaps) for d in devices]
    available = sum(1 for d in listed if d.available)
    return DiskInventoryStatus(
        phase="Ready",
        message=f"{len(listed)} devices, {available} available",
        devices=listed,
        device_count=len(listed),
        available_count=available,
        last_scan=now,
        agent_version=agent_version,
        scan_seconds=round(scan_seconds, 4),
    )


def same_devices(a: DiskInventoryStatus | None, b: DiskInventoryStatus) -> bool:
    """Whether publishing ``b`` over ``a`` would change what users see (scan time and duration aside)."""
    return a is not None and (a.devices, a.phase, a.agent_version) == (b.devices, b.phase, b.agent_version)
