"""Whether the agent may make an OSD on a device the operator asked for (pure).

The operator chose the device from an inventory that may be minutes old; the agent looks again, just
before it writes, and writes only when the device is still exactly what was chosen: present, the same
size and serial, no signature, partition, mount or holder. A device that already carries this very
OSD's finished BlueStore label is prepared already (the agent restarted after mkfs, before it said so):
it is reported, never made twice. Anything else is refused, with what was found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from storage_operator.agent.eligibility import Policy, assess
from storage_operator.agent.facts import DeviceFacts
from storage_operator.api.v1alpha1.cephosd import CephOSDSpec, CephOSDStatus

Action = Literal["mkfs", "wipe", "done", "refuse", "wait"]


@dataclass(frozen=True)
class Decision:
    action: Action
    message: str


def find_device(devices: list[DeviceFacts], spec: CephOSDSpec) -> DeviceFacts | None:
    """The device the CephOSD names: by its stable link first (names can move between boots), else path."""
    wanted = spec.device
    if wanted.stable_path:
        for d in devices:
            if wanted.stable_path in d.by_id or wanted.stable_path in d.by_path:
                return d
    return next((d for d in devices if d.path == wanted.path), None)


def decide(  # noqa: PLR0911 (one verdict per check, in the order they are made)
    spec: CephOSDSpec,
    status: CephOSDStatus,
    device: DeviceFacts | None,
    policy: Policy,
    *,
    active_swaps: frozenset[str] = frozenset(),
) -> Decision:
    where = f"{spec.device.path} on {spec.node}"
    if status.osd_id is None or not status.osd_uuid or not status.fsid:
        return Decision("wait", "the operator has not allocated the OSD's id yet")
    osd = f"osd.{status.osd_id}"
    if device is None:
        return Decision("refuse", f"{where} is not on the node any more: nothing was written")
    label = device.probe.ceph
    if label is not None and label.osd_uuid == status.osd_uuid:
        if label.ready and label.whoami == status.osd_id and label.ceph_fsid == status.fsid:
            return Decision("done", f"{where} already carries {osd}'s finished BlueStore: not made twice")
        return Decision(
            "refuse",
            f"{where} carries {osd}'s BlueStore label but its mkfs did not finish (interrupted): "
            "the label at offset 0 was written; the device is left as it is",
        )
    if device.probe.error:
        return Decision("refuse", f"{where} could not be probed ({device.probe.error}): nothing was written")
    if spec.device.size_bytes is not None and device.size_bytes != spec.device.size_bytes:
        return Decision(
            "refuse",
            f"{where} is {device.size_bytes} bytes now, {spec.device.size_bytes} when it was chosen: "
            "another device? nothing was written",
        )
    if spec.device.serial and device.serial != spec.device.serial:
        return Decision(
            "refuse",
            f"{where} has serial {device.serial or '(none)'}, not {spec.device.serial}: another disk; "
            "nothing was written",
        )
    reasons = assess(device, policy, active_swaps=active_swaps)
    if reasons:
        why = "; ".join(f"{r.code}: {r.message}" for r in reasons)
        return Decision("refuse", f"{where} is no longer available ({why}): nothing was written")
    return Decision("mkfs", f"{where} checked again just now: still available; making {osd}")


def decide_wipe(spec: CephOSDSpec, status: CephOSDStatus, device: DeviceFacts | None) -> Decision:
    """Wipe only what this OSD left: its own BlueStore label (or nothing at all, which needs no wipe).
    A device that shows anything else, or is mounted or held, is left as it is."""
    where = f"{spec.device.path} on {spec.node}"
    if device is None:
        return Decision("refuse", f"{where} is not on the node any more: nothing to wipe")
    label = device.probe.ceph
    if device.mountpoints or device.holders:
        return Decision("refuse", f"{where} is mounted or held now: left as it is")
    if label is not None and label.osd_uuid == status.osd_uuid:
        return Decision("wipe", f"{where} carries osd.{status.osd_id}'s BlueStore: wiping it")
    if not device.probe.signatures and not device.partitions:
        return Decision("done", f"{where} shows no signature: nothing to wipe")
    found = ", ".join(s.type for s in device.probe.signatures) or "partitions"
    return Decision("refuse", f"{where} carries {found}, not osd.{status.osd_id}'s BlueStore: left as it is")
