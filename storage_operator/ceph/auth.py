"""cephx keys and keyring files (pure)."""

from __future__ import annotations

import base64
import os
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

CRYPTO_AES = 1  # the only cephx key type Ceph uses
SECRET_LEN = 16


def generate_key(*, now: float | None = None, secret: bytes | None = None) -> str:
    """A cephx secret as ``ceph-authtool --gen-print-key`` prints it.

    Encoded form: le16 type, le32 seconds, le32 nanoseconds, le16 length, then the secret bytes.
    """
    stamp = time.time() if now is None else now
    raw = secret if secret is not None else os.urandom(SECRET_LEN)
    if len(raw) != SECRET_LEN:
        raise ValueError(f"a cephx secret is {SECRET_LEN} bytes, got {len(raw)}")
    header = struct.pack("<HIIH", CRYPTO_AES, int(stamp), int((stamp % 1) * 1e9), SECRET_LEN)
    return base64.b64encode(header + raw).decode()


@dataclass(frozen=True)
class KeyringEntry:
    entity: str
    key: str
    caps: Mapping[str, str] = field(default_factory=dict)


def read_setting(text: str, name: str) -> str | None:
    """The value of the first ``name = value`` line of a Ceph keyring or ceph.conf, if any."""
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == name:
            return value.strip()
    return None


def render_keyring(entries: list[KeyringEntry]) -> str:
    lines: list[str] = []
    for e in entries:
        lines.append(f"[{e.entity}]")
        lines.append(f"\tkey = {e.key}")
        lines.extend(f'\tcaps {service} = "{cap}"' for service, cap in e.caps.items())
    return "\n".join(lines) + "\n"
