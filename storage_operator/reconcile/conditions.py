"""Conditions (``metav1.Condition``) kept the Kubernetes way: the transition time moves only on a change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from storage_operator.api.meta import Condition, ConditionStatus


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    now: datetime,
    generation: int | None = None,
) -> list[Condition]:
    """A copy of ``conditions`` with ``type_`` set; lastTransitionTime kept unless the status flips."""
    previous = find(conditions, type_)
    since = previous.last_transition_time if previous is not None and previous.status == status else now
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message[:32768],
        last_transition_time=since,
        observed_generation=generation,
    )
    out = [c for c in conditions if c.type != type_]
    out.append(updated)
    return sorted(out, key=lambda c: c.type)


def remove_condition(conditions: Sequence[Condition], type_: str) -> list[Condition]:
    return [c for c in conditions if c.type != type_]


def find(conditions: Sequence[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def is_true(conditions: Sequence[Condition], type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and found.status == "True"
