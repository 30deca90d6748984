"""Build mon/mgr commands and parse their replies (pure)."""

from __future__ import annotations

import json
from typing import Any

from storage_operator.errors import CephCommandError


def build_command(prefix: str, **args: object) -> str:
    """The JSON form librados expects: ``{"prefix": ..., "format": "json", <args>}``."""
    body: dict[str, object] = {"prefix": prefix, "format": "json"}
    body.update({k: v for k, v in args.items() if v is not None})
    return json.dumps(body, sort_keys=True)


def parse_reply(prefix: str, ret: int, out: bytes, status: str) -> Any:
    """Return the decoded JSON output (None when empty); raise CephCommandError on failure."""
    if ret != 0:
        raise CephCommandError(prefix, abs(ret), status.strip() or "no message")
    if not out.strip():
        return None
    try:
        return json.loads(out)
    except ValueError as exc:
        raise CephCommandError(prefix, 0, f"reply is not JSON: {out[:200]!r}") from exc
