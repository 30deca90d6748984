"""Process bookkeeping and port checks against real processes and sockets (no lab needed)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage_operator.errors import LabError
from storage_operator.lab import ports, processes
from tests.support import eventually


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_spawned_daemon_is_tracked_and_stopped(tmp_path: Path) -> None:
    record = processes.spawn("sleeper", ["sleep", "60"], log=tmp_path / "sleeper.log")
    assert processes.is_running(record)
    assert os.getpgid(record.pid) == record.pid  # its own process group, away from the terminal
    assert processes.stop([record], timeout=5) == []
    assert not processes.is_running(record)


def test_a_reused_pid_is_not_mistaken_for_the_daemon(tmp_path: Path) -> None:
    record = processes.spawn("sleeper", ["sleep", "60"], log=tmp_path / "sleeper.log")
    impostor = record.model_copy(update={"start_ticks": record.start_ticks + 1})
    assert not processes.is_running(impostor)
    assert processes.stop([impostor], timeout=1) == []  # never signalled
    assert processes.is_running(record)
    processes.stop([record], timeout=5)


def test_a_daemon_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    record = processes.spawn("stubborn", ["bash", "-c", "trap '' TERM; echo ready; sleep 60 & wait"], log=log)
    eventually(lambda: "ready" in log.read_text(), timeout=10, interval=0.01)  # the trap is set
    assert processes.stop([record], timeout=0.5) == [f"stubborn (pid {record.pid})"]
    assert not processes.is_running(record)


def test_early_exit_is_reported_with_the_log_tail(tmp_path: Path) -> None:
    record = processes.spawn("broken", ["bash", "-c", "echo 'bad flag --x' >&2; exit 3"], log=tmp_path / "b.log")
    eventually(lambda: not processes.is_running(record), timeout=10, interval=0.01)
    reason = processes.exited_early(record)
    assert reason is not None
    assert "broken" in reason
    assert "bad flag --x" in reason


def test_missing_program_is_a_lab_error(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="not found"):
        processes.spawn("ghost", ["/nonexistent/daemon"], log=tmp_path / "g.log")


def test_port_in_use_names_its_owner(listener: int) -> None:
    assert not ports.port_is_free(listener)
    assert listener in ports.listening_in([listener])
    with pytest.raises(LabError) as info:
        ports.require_free({"kube-apiserver": listener}, {}, hint="move the lab with LAB_PORT_BASE")
    message = str(info.value)
    assert f"port {listener} for kube-apiserver is already in use" in message
    assert f"by pid {os.getpid()}" in message
    assert "LAB_PORT_BASE" in message
