"""``python3 -m storage_operator.daemons.ready SOCKET COMMAND FIELD VALUE[,VALUE...]``: a readiness probe
that asks a Ceph daemon through its admin socket and succeeds when the reply's FIELD is one of VALUEs.

Standard library only, no Ceph CLI: the probe runs every few seconds in every daemon's pod, and the
``ceph`` CLI costs a Python interpreter with the Ceph bindings each time.

The admin socket protocol: the command as JSON followed by a NUL byte; the reply is a 4-byte
big-endian length, then that many bytes of JSON.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
from collections.abc import Sequence
from typing import Any

TIMEOUT = 5.0


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise OSError(f"the admin socket closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def query(path: str, prefix: str) -> Any:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(path)
        sock.sendall(json.dumps({"prefix": prefix}).encode() + b"\0")
        (length,) = struct.unpack(">I", _read_exactly(sock, 4))
        return json.loads(_read_exactly(sock, length))


def main(argv: Sequence[str]) -> int:
    if len(argv) != 4:
        print("usage: ready SOCKET COMMAND FIELD VALUE[,VALUE...]", file=sys.stderr)
        return 2
    path, prefix, field, values = argv
    try:
        reply = query(path, prefix)
    except (OSError, ValueError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    found = reply.get(field) if isinstance(reply, dict) else None
    if str(found) in values.split(","):
        return 0
    print(f"{field} is {found!r}, not one of {values}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
