"""Mon/mgr commands as values, and their replies parsed (pure).

A ``Command`` is what to send (prefix, arguments, which daemon answers it) and a line a human can read.
Planning code returns Commands; the session runs them. Keeping them values is what lets a plan be
unit-tested and logged before anything is sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from storage_operator.errors import CephCommandError

Target = Literal["mon", "mgr"]


@dataclass(frozen=True)
class Command:
    prefix: str
    args: dict[str, object] = field(default_factory=dict)
    target: Target = "mon"
    inbuf: bytes = b""
    # Errnos that mean "already done" for this command (e.g. EEXIST for a create): treated as success.
    ok_errnos: frozenset[int] = frozenset()
    what: str = ""
    text: bool = False  # the reply is plain text (a few mgr commands ignore "format": "json")

    def describe(self) -> str:
        return self.what or self.prefix

    def to_json(self) -> str:
        return build_command(self.prefix, **self.args)


def mon(prefix: str, *, what: str = "", ok_errnos: frozenset[int] = frozenset(), **args: object) -> Command:
    return Command(prefix, {k: v for k, v in args.items() if v is not None}, "mon", ok_errnos=ok_errnos, what=what)


def mgr(prefix: str, *, what: str = "", text: bool = False, **args: object) -> Command:
    return Command(prefix, {k: v for k, v in args.items() if v is not None}, "mgr", what=what, text=text)


def build_command(prefix: str, **args: object) -> str:
    """The JSON form librados expects: ``{"prefix": ..., "format": "json", <args>}``."""
    body: dict[str, object] = {"prefix": prefix, "format": "json"}
    body.update({k: v for k, v in args.items() if v is not None})
    return json.dumps(body, sort_keys=True)


def parse_reply(
    prefix: str, ret: int, out: bytes, status: str, *, ok_errnos: frozenset[int] = frozenset(), text: bool = False
) -> Any:
    """Return the decoded JSON output (None when empty; the stripped text for ``text``); raise
    CephCommandError on failure."""
    if ret != 0 and abs(ret) not in ok_errnos:
        raise CephCommandError(prefix, abs(ret), status.strip() or "no message")
    if text:
        return out.decode(errors="replace").strip()
    if not out.strip():
        return None
    try:
        return json.loads(out)
    except ValueError as exc:
        raise CephCommandError(prefix, 0, f"reply is not JSON: {out[:200]!r}") from exc


class CommandRunner(Protocol):
    """Anything that can run a Command and return its parsed JSON reply (a client, a test double)."""

    def run(self, command: Command) -> Any: ...
