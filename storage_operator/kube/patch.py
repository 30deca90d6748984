"""JSON merge patches (RFC 7386) computed from before and after (pure).

A merge patch merges objects recursively, so sending the new status as it is would never remove a key
that disappeared from a map (a health check that cleared, a column that must go blank): such keys must
be sent as null. Lists are replaced whole, which is what a folded status means for conditions.
"""

from __future__ import annotations

from typing import Any


def merge_patch(before: Any, after: Any) -> Any:
    """The patch that turns ``before`` into ``after``; ``{}`` when they are equal."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return after
    patch: dict[str, Any] = {key: None for key in before if key not in after}
    for key, value in after.items():
        if key not in before:
            patch[key] = value
        elif before[key] != value:
            patch[key] = merge_patch(before[key], value)
    return patch
