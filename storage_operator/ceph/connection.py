"""How to reach a Ceph cluster, and what a failure to reach it means (pure).

The key travels in librados' in-memory configuration (``key``), never through a file, so nothing with a
secret in it is ever written to disk by the operator.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from storage_operator.ceph.auth import CRYPTO_AES, SECRET_LEN
from storage_operator.errors import CephUnavailable

DEFAULT_CONNECT_TIMEOUT = 10
DEFAULT_OP_TIMEOUT = 15

# One monitor address as `mon host` takes it: [v2:IP:PORT,v1:IP:PORT], v2:IP:PORT, IP:PORT, IP, or a name.
_ADDR = r"(?:(?:v1|v2|any):)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?(?:/\d+)?"
MON_ADDRESS = re.compile(rf"^(?:\[{_ADDR}(?:,{_ADDR})*\]|{_ADDR})$")
USER_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
# Each HOST:PORT in a monitor address (without its protocol), to find one given twice.
ADDRESS_IN_VECTOR = re.compile(r"(?:(?:v1|v2|any):)?((?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?)(?:/\d+)?")


@dataclass(frozen=True)
class ConnectionSpec:
    """Everything needed to open a session: monitors, identity, key, and what to expect."""

    mon_hosts: tuple[str, ...]
    user_id: str
    key: str = field(repr=False)  # never in a repr, so never in a log line or an exception message
    expected_fsid: str | None = None
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT
    op_timeout: int = DEFAULT_OP_TIMEOUT

    @property
    def entity(self) -> str:
        return f"client.{self.user_id}"

    @property
    def fingerprint(self) -> str:
        """Changes when anything that needs a new connection changes (the key included, hashed)."""
        material = "|".join([*self.mon_hosts, self.user_id, self.key, self.expected_fsid or ""])
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    def describe(self) -> str:
        return f"{self.entity}@{','.join(self.mon_hosts)}"


def validate(spec: ConnectionSpec) -> None:
    """Refuse what librados would only answer with a bare EINVAL, naming the culprit."""
    if not spec.mon_hosts:
        raise CephUnavailable("InvalidAddress", "no monitor addresses given")
    for host in spec.mon_hosts:
        if not MON_ADDRESS.fullmatch(host.strip()):
            raise CephUnavailable(
                "InvalidAddress",
                f"monitor address {host!r} is not an address Ceph understands "
                "(IP:PORT, a host name, or [v2:IP:PORT,v1:IP:PORT])",
            )
    twice = duplicate_addresses(spec.mon_hosts)
    if twice:
        # librados aborts the whole process (an assertion in MonMap::add) on a monmap with one address
        # twice: refuse it here instead.
        raise CephUnavailable("InvalidAddress", f"monitor address(es) {', '.join(twice)} given more than once")
    if not USER_ID.fullmatch(spec.user_id) or spec.user_id.startswith("client."):
        raise CephUnavailable("InvalidKey", f"user id {spec.user_id!r} must be a bare name such as 'admin'")
    if not is_cephx_key(spec.key):
        raise CephUnavailable(
            "InvalidKey", f"the key for {spec.entity} is not a cephx key (base64 as `ceph auth get-key` prints it)"
        )


def duplicate_addresses(mon_hosts: Sequence[str]) -> list[str]:
    """IP:PORT pairs that appear more than once across the monitors' addresses (any protocol)."""
    seen: set[str] = set()
    twice: list[str] = []
    for host in mon_hosts:
        for address in ADDRESS_IN_VECTOR.findall(host):
            if address in seen and address not in twice:
                twice.append(address)
            seen.add(address)
    return twice


def is_cephx_key(key: str) -> bool:
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except ValueError:
        return False
    if len(raw) != 12 + SECRET_LEN:
        return False
    key_type, _sec, _nsec, length = struct.unpack("<HIIH", raw[:12])
    return bool(key_type == CRYPTO_AES and length == SECRET_LEN)


def build_rados_conf(spec: ConnectionSpec) -> dict[str, str]:
    """librados options for a client that reads no file and writes none (no log, no admin socket)."""
    return {
        "mon_host": ",".join(h.strip() for h in spec.mon_hosts),
        "key": spec.key.strip(),
        "keyring": "",
        "client_mount_timeout": str(spec.connect_timeout),
        "rados_mon_op_timeout": str(spec.op_timeout),
        "rados_osd_op_timeout": str(spec.op_timeout),
        "log_to_stderr": "false",
        "err_to_stderr": "false",
        "log_file": "",
        "admin_socket": "",
    }


def classify_connect_error(spec: ConnectionSpec, err: int, detail: str) -> CephUnavailable:
    """Turn librados' errno from connect() into a reason a human can act on."""
    where = ", ".join(spec.mon_hosts)
    if err in (errno.EACCES, errno.EPERM):
        return CephUnavailable(
            "AuthenticationFailed",
            f"the monitors at {where} refused the key of {spec.entity} (cephx authentication failed): "
            "check the Secret's userID and userKey",
        )
    if err in (errno.ETIMEDOUT, errno.EINTR):
        return CephUnavailable(
            "Unreachable",
            f"no monitor answered at {where} within {spec.connect_timeout} s: check monHosts and that the "
            "monitors run and are reachable from the operator",
        )
    if err in (errno.EINVAL, errno.ENOENT):
        return CephUnavailable(
            "InvalidAddress", f"librados cannot use the monitor addresses {where} (cannot parse or resolve them)"
        )
    return CephUnavailable("Unreachable", f"cannot connect to the monitors at {where}: {detail} (errno {err})")


# Errnos after which a session's connection is not trusted any more and is rebuilt on the next call.
CONNECTION_ERRNOS = frozenset({errno.ETIMEDOUT, errno.ENOTCONN, errno.ESHUTDOWN, errno.ECONNREFUSED, errno.EINTR})
