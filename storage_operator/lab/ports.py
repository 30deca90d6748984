"""Is a lab port free, and if not, who holds it? (Linux /proc only; no ss/lsof needed.)"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path

from storage_operator.errors import LabError

_TCP_LISTEN = "0A"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # SO_REUSEADDR: a port in TIME_WAIT from the last lab is free for a listener, as for the daemons.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def require_free(listeners: Mapping[str, int], ranges: Mapping[str, range], *, hint: str) -> None:
    """Raise one clear LabError for the first port that is taken."""
    wanted = [(what, port) for what, port in listeners.items()]
    wanted += [(what, port) for what, r in ranges.items() for port in r]
    for what, port in wanted:
        if not port_is_free(port):
            owner = describe_owner(port)
            raise LabError(f"port {port} for {what} is already in use on 127.0.0.1{owner}; {hint}")


def listening_ports() -> dict[int, int]:
    """Listening TCP port -> socket inode, over IPv4 and IPv6."""
    found: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if cols[3] == _TCP_LISTEN:
                    found[int(cols[1].rsplit(":", 1)[1], 16)] = int(cols[9])
    return found


def listening_in(ports: Iterable[int]) -> list[int]:
    listening = listening_ports()
    return sorted(p for p in ports if p in listening)


def describe_owner(port: int) -> str:
    inode = listening_ports().get(port)
    if inode is None:
        return ""
    pid = _pid_of_socket(inode)
    if pid is None:
        return ""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        comm = "?"
    return f" (by pid {pid}, {comm})"


def _pid_of_socket(inode: int) -> int | None:
    target = f"socket:[{inode}]"
    with os.scandir("/proc") as procs:
        for entry in procs:
            if entry.name.isdigit() and _holds(entry.name, target):
                return int(entry.name)
    return None


def _holds(pid: str, target: str) -> bool:
    with contextlib.suppress(OSError), os.scandir(f"/proc/{pid}/fd") as fds:
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.readlink(fd.path) == target:  # noqa: PTH115 (fd links are not paths)
                    return True
    return False
