"""Deletion that waits for dependents: what blocks it, and the status and Event that say so (pure).

Never delete what still has dependents: RBD images in a pool, subvolumes (or files) in a file system,
pools and file systems of a cluster. The object stays, with condition DeletionIsBlocked naming them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from storage_operator.api.meta import CommonStatus
from storage_operator.reconcile.conditions import find, set_condition
from storage_operator.reconcile.events import Event

S = TypeVar("S", bound=CommonStatus)
LISTED = 10  # names shown in a message; the rest are counted


def listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def pool_blockers(pool: str, images: Sequence[str]) -> list[str]:
    return [f"pool {pool} holds {len(images)} RBD image(s): {listing(images)}"] if images else []


def filesystem_blockers(
    fs: str,
    *,
    subvolumes: Sequence[str] | None,
    data_objects: Mapping[str, int],
) -> list[str]:
    """``subvolumes`` None means they could not be listed (no active MDS): that blocks too, to be safe."""
    out = []
    if subvolumes is None:
        out.append(
            f"the subvolumes of {fs} cannot be listed while it has no active MDS (start one, or set "
            "preserveFilesystemOnDelete: true to keep the file system)"
        )
    elif subvolumes:
        out.append(f"file system {fs} holds {len(subvolumes)} subvolume(s): {listing(subvolumes)}")
    full = {pool: n for pool, n in data_objects.items() if n > 0}
    if full:
        out.append(
            "its data pools still hold objects (files outside subvolumes, or deleted ones not yet purged): "
            + ", ".join(f"{pool} ({n})" for pool, n in sorted(full.items()))
        )
    return out


def cluster_blockers(pools: Sequence[str], filesystems: Sequence[str]) -> list[str]:
    out = []
    if pools:
        out.append(f"CephBlockPools still use it: {listing(pools)}")
    if filesystems:
        out.append(f"CephFilesystems still use it: {listing(filesystems)}")
    return out


def fold_blocked(status: S, blockers: Sequence[str], *, kind: str, now: datetime) -> tuple[S, list[Event]]:
    """Status and (only when the reason changed) an Event for a deletion that waits."""
    message = f"deletion of this {kind} waits: " + "; ".join(blockers)
    out = status.model_copy(deep=True)
    before = find(out.conditions, "DeletionIsBlocked")
    events = []
    if before is None or before.status != "True" or before.message != message:
        events.append(Event.warning("DeletionIsBlocked", message))
    out.conditions = set_condition(out.conditions, "DeletionIsBlocked", "True", "HasDependents", message, now=now)
    out.phase = "Deleting"
    out.message = message
    return out, events
