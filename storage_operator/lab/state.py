"""The lab's record of everything it made, so ``lab down`` can remove it even after a crash.

The record is written before and after every step that creates something (atomically: write, fsync,
rename), and a lock file keeps two lab commands on the same directory from interleaving.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from storage_operator.errors import LabError

Phase = Literal["starting", "ready", "stopping"]


class ProcessRecord(BaseModel):
    """A daemon the lab started. ``start_ticks`` (from /proc/PID/stat) tells it from a reused PID."""

    name: str
    pid: int
    start_ticks: int
    argv0: str
    log: str
    # To start it again the same way (tests stop and restart daemons): its argv and extra environment.
    argv: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None


class LoopRecord(BaseModel):
    device: str
    backing_file: str
    node: str


class LabState(BaseModel):
    phase: Phase = "starting"
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    ready_at: datetime | None = None
    port_base: int
    # The profile it was brought up with (node or process): `lab status` describes the lab that runs,
    # whatever LAB_PROFILE says now.
    profile: str = "process"
    processes: list[ProcessRecord] = Field(default_factory=list)
    loops: list[LoopRecord] = Field(default_factory=list)
    mounts: list[str] = Field(default_factory=list)
    step_seconds: dict[str, float] = Field(default_factory=dict)

    def process(self, name: str) -> ProcessRecord | None:
        return next((p for p in self.processes if p.name == name), None)


class StateStore:
    """Loads and saves ``LabState`` at one path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> LabState | None:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        try:
            return LabState.model_validate_json(text)
        except ValueError as exc:
            raise LabError(
                f"the lab state file {self.path} is unreadable ({exc.__class__.__name__}); "
                "remove the leftovers by hand (see README 'Stopping the lab') and delete it"
            ) from exc

    def save(self, state: LabState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as f:
            f.write(state.model_dump_json(indent=2))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


@contextlib.contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold the lab's lock for one command; a second concurrent command gets a clear error."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise LabError(
                f"another lab command ({holder}) is working on {lock_path.parent}; wait for it to finish"
            ) from None
        f.truncate(0)
        f.write(f"pid {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            f.truncate(0)
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
