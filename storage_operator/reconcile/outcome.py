"""What a pool's or a file system's status says when a pass did not end Ready: the cluster failed us,
the spec was refused, or adopted data waits for confirmation (pure, shared by both kinds)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from storage_operator.api.meta import Condition
from storage_operator.reconcile.conditions import set_condition
from storage_operator.reconcile.events import Event


class Confirmable(Protocol):
    phase: Any
    message: str | None
    conditions: list[Condition]
    pending_changes: list[str]


def fold_unready(
    status: Confirmable,
    *,
    subject: str,
    now: datetime,
    generation: int | None,
    error: tuple[str, str] | None = None,
    refusal: str | None = None,
    pending: Sequence[str] = (),
) -> list[Event] | None:
    """Fold a failure, a refusal or pending confirmations into ``status``; None when there is none.

    An Event is posted only when what the status says changes, so a retry loop does not flood Events.
    """
    events: list[Event] = []
    if error is not None:
        reason, message = error
        phase, pending_after = "Failure", status.pending_changes
    elif refusal is not None:
        reason, message, phase, pending_after = "Refused", refusal, "Failure", []
    elif pending:
        reason, phase, pending_after = "ConfirmationRequired", "Progressing", list(pending)
        message = (
            f"{subject} was adopted; these changes move or drop data and wait for "
            f"spec.confirmAdoptionChanges: {'; '.join(pending)}"
        )
    else:
        return None
    if status.message != message or status.phase != phase:
        events.append(Event.warning(reason, message))
    status.phase = phase
    status.message = message
    status.pending_changes = list(pending_after)
    status.conditions = set_condition(
        status.conditions, "Ready", "False", reason, message, now=now, generation=generation
    )
    return events
