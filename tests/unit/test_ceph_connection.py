"""Connection specs: validation that names the culprit, librados options, secrets kept out of text."""

from __future__ import annotations

import base64
import dataclasses
import errno
import struct

import pytest

from storage_operator.ceph import connection
from storage_operator.ceph.auth import CRYPTO_AES, SECRET_LEN, generate_key
from storage_operator.ceph.connection import ConnectionSpec
from storage_operator.errors import CephUnavailable

KEY = generate_key(now=1_700_000_000.25, secret=bytes(range(16)))
MONS = ("[v2:10.0.0.1:3300,v1:10.0.0.1:6789]", "10.0.0.2:6789")


def spec(**changes: object) -> ConnectionSpec:
    base = ConnectionSpec(mon_hosts=MONS, user_id="admin", key=KEY)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def raw_key(key_type: int = CRYPTO_AES, length: int = SECRET_LEN, secret: bytes = b"\x01" * SECRET_LEN) -> str:
    return base64.b64encode(struct.pack("<HIIH", key_type, 1, 2, length) + secret).decode()


# ---------------------------------------------------------------------------- validate


@pytest.mark.parametrize(
    "host",
    [
        "[v2:127.0.0.1:3300,v1:127.0.0.1:6789]",
        "[v2:127.0.0.1:3300/0,v1:127.0.0.1:6789/0]",
        "v2:10.0.0.1:3300",
        "10.0.0.1:6789",
        "10.0.0.1",
        "10.0.0.1:6789/0",
        "mon-a.example.com",
        "mon-a.example.com:6789",
        "[::1]:6789",
        "[v2:[::1]:3300]",
        "[v2:[fd00::1]:3300,v1:[fd00::1]:6789]",
        " 10.0.0.1:6789 ",  # surrounding blanks from a YAML list are tolerated
    ],
)
def test_validate_accepts_monitor_addresses(host: str) -> None:
    connection.validate(spec(mon_hosts=(host,)))


def test_validate_accepts_several_monitors() -> None:
    connection.validate(spec(mon_hosts=("10.0.0.1:6789", "10.0.0.2:6789", "mon-c")))


@pytest.mark.parametrize(
    "host",
    [
        "not a host",
        "",
        "   ",
        "10.0.0.1,10.0.0.2",  # several monitors are several list entries
        "[v2:10.0.0.1:3300",
        "10.0.0.1:6789:1",
        "10.0.0.1:123456",
        "http://10.0.0.1:6789",
    ],
)
def test_validate_refuses_bad_addresses_naming_them(host: str) -> None:
    with pytest.raises(CephUnavailable) as info:
        connection.validate(spec(mon_hosts=("10.0.0.9:6789", host)))
    assert info.value.reason == "InvalidAddress"
    assert repr(host) in str(info.value)


@pytest.mark.parametrize(
    ("hosts", "twice"),
    [
        (("[v2:127.0.0.1:3300,v1:127.0.0.1:6789]", "[v2:127.0.0.1:3300,v1:127.0.0.1:6790]"), "127.0.0.1:3300"),
        (("10.0.0.1:6789", "v1:10.0.0.1:6789"), "10.0.0.1:6789"),
        (("[::1]:3300", "[v2:[::1]:3300]"), "[::1]:3300"),
    ],
    ids=["v2-twice", "protocol-prefix", "ipv6"],
)
def test_validate_refuses_an_address_given_twice(hosts: tuple[str, ...], twice: str) -> None:
    """librados aborts the process on a monmap with one address twice: refused before it sees one."""
    with pytest.raises(CephUnavailable) as info:
        connection.validate(spec(mon_hosts=hosts))
    assert info.value.reason == "InvalidAddress"
    assert f"{twice} given more than once" in str(info.value)


def test_distinct_ports_of_one_host_are_not_duplicates() -> None:
    hosts = ("[v2:127.0.0.1:3300,v1:127.0.0.1:6789]", "[v2:127.0.0.1:3301,v1:127.0.0.1:6790]", "10.0.0.2:6789")
    assert connection.duplicate_addresses(hosts) == []


def test_validate_refuses_no_monitors() -> None:
    with pytest.raises(CephUnavailable) as info:
        connection.validate(spec(mon_hosts=()))
    assert info.value.reason == "InvalidAddress"
    assert "no monitor addresses" in str(info.value)


@pytest.mark.parametrize("user_id", ["client.admin", "ad min", "", "admin/x", "csi:rbd"])
def test_validate_refuses_user_ids_that_are_not_bare_names(user_id: str) -> None:
    with pytest.raises(CephUnavailable) as info:
        connection.validate(spec(user_id=user_id))
    assert info.value.reason == "InvalidKey"
    assert repr(user_id) in str(info.value)


@pytest.mark.parametrize("user_id", ["admin", "csi-rbd", "csi_rbd.node1", "A1"])
def test_validate_accepts_bare_user_ids(user_id: str) -> None:
    connection.validate(spec(user_id=user_id))


def test_validate_refuses_a_user_id_with_a_trailing_newline() -> None:
    with pytest.raises(CephUnavailable):
        connection.validate(spec(user_id="admin\n"))


@pytest.mark.parametrize(
    "key",
    [
        "not-a-key",
        "",
        "AQ==",
        raw_key(key_type=2),
        raw_key(length=32, secret=b"\x01" * 32),
        base64.b64encode(b"\x00" * 28).decode(),
    ],
)
def test_validate_refuses_keys_that_are_not_cephx_keys(key: str) -> None:
    with pytest.raises(CephUnavailable) as info:
        connection.validate(spec(key=key, user_id="csi-rbd"))
    assert info.value.reason == "InvalidKey"
    message = str(info.value)
    assert "client.csi-rbd" in message
    assert "cephx key" in message
    if key:
        assert key not in message


def test_validate_checks_addresses_before_the_identity() -> None:
    with pytest.raises(CephUnavailable) as info:
        connection.validate(spec(mon_hosts=("not a host",), user_id="client.admin", key="nope"))
    assert info.value.reason == "InvalidAddress"


# ---------------------------------------------------------------------------- is_cephx_key


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        (KEY, True),
        (generate_key(), True),
        (f"  {KEY}\n", True),
        (raw_key(), True),
        ("", False),
        ("not base64!", False),
        (KEY[:-4], False),
        (KEY + "AAAA", False),
        (raw_key(key_type=0), False),
        (raw_key(length=15), False),
        (base64.b64encode(b"\x05" * 27).decode(), False),
    ],
)
def test_is_cephx_key(key: str, valid: bool) -> None:
    assert connection.is_cephx_key(key) is valid


# ---------------------------------------------------------------------------- librados options


def test_build_rados_conf() -> None:
    conf = connection.build_rados_conf(
        spec(mon_hosts=(" 10.0.0.1:6789", "10.0.0.2:6789 "), key=f"{KEY}\n", connect_timeout=7, op_timeout=9)
    )
    assert conf == {
        "mon_host": "10.0.0.1:6789,10.0.0.2:6789",
        "key": KEY,
        "keyring": "",
        "client_mount_timeout": "7",
        "rados_mon_op_timeout": "9",
        "rados_osd_op_timeout": "9",
        "log_to_stderr": "false",
        "err_to_stderr": "false",
        "log_file": "",
        "admin_socket": "",
    }


def test_build_rados_conf_default_timeouts() -> None:
    conf = connection.build_rados_conf(spec())
    assert conf["mon_host"] == ",".join(MONS)
    assert conf["client_mount_timeout"] == str(connection.DEFAULT_CONNECT_TIMEOUT) == "10"
    assert conf["rados_mon_op_timeout"] == conf["rados_osd_op_timeout"] == str(connection.DEFAULT_OP_TIMEOUT)


# ---------------------------------------------------------------------------- the spec itself


def test_spec_repr_and_describe_never_show_the_key() -> None:
    s = spec(expected_fsid="c4d2894c-7da7-4e23-9b34-1fa473841b4f")
    for text in (repr(s), str(s), s.describe(), s.fingerprint):
        assert KEY not in text
    assert "key=" not in repr(s)
    assert "admin" in repr(s)
    assert s.entity == "client.admin"
    assert s.describe() == f"client.admin@{MONS[0]},{MONS[1]}"


def test_fingerprint_is_stable_for_the_same_spec() -> None:
    assert spec().fingerprint == spec().fingerprint
    assert len(spec().fingerprint) == 16
    int(spec().fingerprint, 16)  # hex


@pytest.mark.parametrize(
    "change",
    [
        {"key": generate_key(now=1, secret=b"\x02" * 16)},
        {"mon_hosts": ("10.0.0.1:6789",)},
        {"mon_hosts": (*MONS, "10.0.0.3:6789")},
        {"mon_hosts": (MONS[1], MONS[0])},
        {"user_id": "csi-rbd"},
        {"expected_fsid": "c4d2894c-7da7-4e23-9b34-1fa473841b4f"},
    ],
)
def test_fingerprint_changes_with_what_needs_a_new_connection(change: dict[str, object]) -> None:
    assert spec(**change).fingerprint != spec().fingerprint


# ---------------------------------------------------------------------------- connect errors


@pytest.mark.parametrize(
    ("err", "reason"),
    [
        (errno.EACCES, "AuthenticationFailed"),
        (errno.EPERM, "AuthenticationFailed"),
        (errno.ETIMEDOUT, "Unreachable"),
        (errno.EINTR, "Unreachable"),
        (errno.EINVAL, "InvalidAddress"),
        (errno.ENOENT, "InvalidAddress"),
        (errno.ECONNREFUSED, "Unreachable"),
    ],
)
def test_classify_connect_error(err: int, reason: str) -> None:
    s = spec()
    error = connection.classify_connect_error(s, err, "error connecting to the cluster")
    assert isinstance(error, CephUnavailable)
    assert error.reason == reason
    message = str(error)
    assert ", ".join(MONS) in message
    assert KEY not in message


def test_classify_authentication_failure_names_the_entity() -> None:
    message = str(connection.classify_connect_error(spec(user_id="csi-rbd"), errno.EACCES, ""))
    assert "client.csi-rbd" in message
    assert "cephx" in message


def test_classify_timeout_names_the_monitors_and_the_timeout() -> None:
    error = connection.classify_connect_error(
        spec(mon_hosts=("10.0.0.1:6789",), connect_timeout=7), errno.ETIMEDOUT, ""
    )
    assert error.reason == "Unreachable"
    assert "10.0.0.1:6789" in str(error)
    assert "within 7 s" in str(error)


def test_classify_other_errors_keep_the_detail_and_errno() -> None:
    error = connection.classify_connect_error(spec(), errno.ECONNREFUSED, "connection refused")
    assert "connection refused" in str(error)
    assert f"(errno {errno.ECONNREFUSED})" in str(error)


@pytest.mark.parametrize("err", [errno.ETIMEDOUT, errno.ENOTCONN, errno.ESHUTDOWN, errno.ECONNREFUSED, errno.EINTR])
def test_connection_errnos(err: int) -> None:
    assert err in connection.CONNECTION_ERRNOS
