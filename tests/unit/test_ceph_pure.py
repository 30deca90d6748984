"""Ceph command building, reply parsing, status parsing (recorded JSON), cephx keys and keyrings."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage_operator.ceph.auth import KeyringEntry, generate_key, read_setting, render_keyring
from storage_operator.ceph.command import build_command, parse_reply
from storage_operator.ceph.status import parse_status
from storage_operator.errors import CephCommandError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ceph"


def test_build_command_is_json_with_format_and_without_none() -> None:
    cmd = json.loads(build_command("osd pool create", pool="p", pg_num=8, rule=None))
    assert cmd == {"prefix": "osd pool create", "format": "json", "pool": "p", "pg_num": 8}


def test_parse_reply_decodes_json_and_empty() -> None:
    assert parse_reply("status", 0, b'{"a": 1}', "") == {"a": 1}
    assert parse_reply("osd pool set", 0, b"", "set pool 1 size to 3") is None


def test_parse_reply_raises_with_errno_and_message() -> None:
    with pytest.raises(CephCommandError) as info:
        parse_reply("osd pool get", -2, b"", "unrecognized pool 'nope'")
    assert info.value.errno == 2
    assert info.value.prefix == "osd pool get"
    assert "unrecognized pool 'nope'" in str(info.value)


def test_parse_reply_rejects_non_json_output() -> None:
    with pytest.raises(CephCommandError, match="not JSON"):
        parse_reply("status", 0, b"HEALTH_OK", "")


def test_parse_status_healthy_lab() -> None:
    s = parse_status(json.loads((FIXTURES / "status-health-ok.json").read_text()))
    assert s.health == "HEALTH_OK"
    assert s.health_checks == ()
    assert (s.osds, s.osds_up, s.osds_in) == (3, 3, 3)
    assert s.quorum == ("a",)
    assert s.mons == 1
    assert s.mgr_available
    assert s.mds_standby == 1
    assert s.all_pgs_active_clean


def test_parse_status_warning_names_the_checks() -> None:
    s = parse_status(json.loads((FIXTURES / "status-health-warn.json").read_text()))
    assert s.health == "HEALTH_WARN"
    assert "OSDMAP_FLAGS" in s.health_checks
    assert s.bytes_total > 0
    assert s.pgs == sum(s.pgs_by_state.values())


def test_parse_status_of_an_empty_document_is_unknown_not_a_crash() -> None:
    s = parse_status({})
    assert s.health == "HEALTH_UNKNOWN"
    assert s.osds == 0


@given(st.binary(min_size=16, max_size=16), st.floats(min_value=0, max_value=2**31 - 1))
def test_generated_key_has_cephx_layout(secret: bytes, now: float) -> None:
    raw = base64.b64decode(generate_key(now=now, secret=secret))
    key_type, seconds, _nanos, length = struct.unpack("<HIIH", raw[:12])
    assert key_type == 1
    assert seconds == int(now)
    assert length == 16
    assert raw[12:] == secret


def test_generated_keys_differ() -> None:
    assert generate_key() != generate_key()


def test_generate_key_refuses_wrong_secret_length() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        generate_key(secret=b"short")


def test_read_setting_reads_keyrings_and_conf() -> None:
    keyring = render_keyring([KeyringEntry("client.admin", "KEY==", {"mon": "allow *"})])
    assert read_setting(keyring, "key") == "KEY=="
    assert read_setting("[global]\nfsid = abc\nmon host = x\n", "fsid") == "abc"
    assert read_setting("[global]\n", "fsid") is None


def test_render_keyring() -> None:
    text = render_keyring([KeyringEntry("client.admin", "KEY==", {"mon": "allow *", "osd": "allow *"})])
    assert text == '[client.admin]\n\tkey = KEY==\n\tcaps mon = "allow *"\n\tcaps osd = "allow *"\n'
