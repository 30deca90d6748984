"""Start daemons detached from the terminal, and stop exactly those again, by PID.

A PID alone is not an identity: after a crash and a reboot of the lab the number may belong to someone
else. Each record carries the process's start time in clock ticks (field 22 of /proc/PID/stat), and a
process is only signalled when both match.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from storage_operator.errors import LabError
from storage_operator.lab.state import ProcessRecord

# Popen objects of the daemons this Python process started, kept so they can be reaped (no zombies,
# no ResourceWarning when the object would otherwise be collected while the daemon still runs).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in ticks) of a live PID, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0], int(fields[19])


def is_running(record: ProcessRecord) -> bool:
    stat = proc_stat(record.pid)
    if stat is None or stat[1] != record.start_ticks:
        return False
    if stat[0] == "Z":  # exited; if it is our child, collect it so it leaves the process table
        _reap(record.pid)
        return False
    return True


def _reap(pid: int) -> None:
    proc = _CHILDREN.pop(pid, None)
    if proc is not None:
        # The thread-group leader shows as a zombie while its other threads still unwind; waitpid only
        # succeeds once the last one is gone, so wait for it instead of polling once.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ProcessRecord:
    """Start ``argv`` in its own session with stdout/stderr appended to ``log``.

    ``env`` adds to (or overrides) the lab's own environment; it is recorded, so a restart matches.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    extra = dict(env or {})
    with log.open("ab") as out:
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: Ctrl-C on `make lab` does not reach it
                close_fds=True,
                env=os.environ | extra if extra else None,
                cwd=cwd,
            )
        except FileNotFoundError as exc:
            raise LabError(f"cannot start {name}: {argv[0]} not found") from exc
    _CHILDREN[proc.pid] = proc
    stat = proc_stat(proc.pid)
    if stat is None:
        raise LabError(f"{name} exited at once; see {log}")
    return ProcessRecord(
        name=name,
        pid=proc.pid,
        start_ticks=stat[1],
        argv0=str(argv[0]),
        log=str(log),
        argv=[str(a) for a in argv],
        env=extra,
        cwd=str(cwd) if cwd else None,
    )


def respawn(record: ProcessRecord) -> ProcessRecord:
    """Start a recorded process again, the same way (same argv, environment, directory and log)."""
    if not record.argv:
        raise LabError(f"{record.name} was recorded without its command line; it cannot be restarted")
    return spawn(
        record.name, record.argv, log=Path(record.log), env=record.env, cwd=Path(record.cwd) if record.cwd else None
    )


def exited_early(record: ProcessRecord) -> str | None:
    """If the daemon is gone, a one-line reason with the log's last line; else None."""
    if is_running(record):
        return None
    tail = last_lines(Path(record.log), 3)
    return f"{record.name} (pid {record.pid}) exited; last log lines: {tail!r} (full log: {record.log})"


def last_lines(path: Path, n: int) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return " | ".join(line.strip() for line in lines[-n:])


def stop(records: Iterable[ProcessRecord], *, timeout: float = 20.0) -> list[str]:
    """SIGTERM each still-running record, wait, SIGKILL what is left. Returns what had to be killed."""
    alive = [r for r in records if is_running(r)]
    for r in alive:
        _signal(r, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [r for r in alive if is_running(r)]
    killed = []
    for r in alive:
        _signal(r, signal.SIGKILL)
        killed.append(f"{r.name} (pid {r.pid})")
    deadline = time.monotonic() + 5
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [r for r in alive if is_running(r)]
    if alive:
        raise LabError(f"could not stop {', '.join(r.name for r in alive)}")
    return killed


def kill(record: ProcessRecord) -> None:
    """SIGKILL, as a crash would end it, and wait until it is gone."""
    if not is_running(record):
        return
    _signal(record, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while is_running(record) and time.monotonic() < deadline:
        time.sleep(0.02)
    if is_running(record):
        raise LabError(f"{record.name} (pid {record.pid}) survived SIGKILL")


def _signal(record: ProcessRecord, sig: signal.Signals) -> None:
    # The daemon leads its own process group (start_new_session); signal the group so helpers it forked
    # go too, but only while it is still the leader of a group of that number.
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(record.pid) == record.pid:
            os.killpg(record.pid, sig)
        else:
            os.kill(record.pid, sig)
