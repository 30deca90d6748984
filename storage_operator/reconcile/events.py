"""Events as values: what the controllers post for an object (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Event:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str

    @classmethod
    def normal(cls, reason: str, message: str) -> Event:
        return cls("Normal", reason, message)

    @classmethod
    def warning(cls, reason: str, message: str) -> Event:
        return cls("Warning", reason, message)
