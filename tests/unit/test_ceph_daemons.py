"""The mon/mgr commands of a managed cluster's daemons (cephx keys, OSD ids, OSD map, removal questions) and
the parsers of their replies, with replies shaped as Ceph Pacific sends them."""

from __future__ import annotations

import errno
import json
from typing import Any

import pytest

from storage_operator.ceph.command import Command
from storage_operator.ceph.daemons import (
    DAEMON_CAPS,
    NOT_NOW,
    OsdState,
    Verdict,
    build_auth_rm,
    build_config_set,
    build_get_or_create,
    build_module_disable,
    build_module_enable,
    build_ok_to_stop,
    build_osd_dump,
    build_osd_new,
    build_osd_out,
    build_osd_purge,
    build_safe_to_destroy,
    parse_key,
    parse_osd_dump,
    parse_osd_new,
    parse_safe_to_destroy,
)

OSD_UUID = "66666666-7777-4888-9999-aaaaaaaaaaaa"
OTHER_UUID = "0f6c1b4e-2d3a-4b5c-8d9e-0a1b2c3d4e5f"
FSID = "c4d2894c-7da7-4e23-9b34-1fa473841b4f"
KEY = "AQBvaBVmAAAAABAA8Zt3Ds5Vt2Dw3m+8o5Ba0w=="


def wire(command: Command) -> dict[str, Any]:
    """The JSON librados sends for ``command``."""
    body: dict[str, Any] = json.loads(command.to_json())
    return body


# ---------------------------------------------------------------------------- cephx


def test_get_or_create_flattens_the_caps() -> None:
    command = build_get_or_create("mgr.a", DAEMON_CAPS["mgr"])
    assert command.prefix == "auth get-or-create"
    assert command.target == "mon"
    assert command.args == {
        "entity": "mgr.a",
        "caps": ["mon", "allow profile mgr", "osd", "allow *", "mds", "allow *"],
    }
    assert wire(command) == {"prefix": "auth get-or-create", "format": "json", **command.args}


def test_mds_caps() -> None:
    caps = build_get_or_create("mds.shared-a", DAEMON_CAPS["mds"]).args["caps"]
    assert caps == ["mon", "allow profile mds", "osd", "allow *", "mds", "allow", "mgr", "allow profile mds"]


# `ceph auth get-or-create mgr.a mon 'allow profile mgr' osd 'allow *' mds 'allow *' -f json` (Pacific)
AUTH_REPLY = [
    {
        "entity": "mgr.a",
        "key": KEY,
        "caps": {"mds": "allow *", "mon": "allow profile mgr", "osd": "allow *"},
    }
]


def test_parse_key() -> None:
    assert parse_key(AUTH_REPLY, "mgr.a") == KEY


def test_parse_key_finds_its_entity_among_others() -> None:
    doc = ["junk", {"entity": "client.admin", "key": "AQAother=="}, *AUTH_REPLY]
    assert parse_key(doc, "mgr.a") == KEY


@pytest.mark.parametrize(
    "doc",
    [None, [], [{"entity": "mgr.b", "key": KEY}], [{"entity": "mgr.a", "key": ""}], [{"entity": "mgr.a"}]],
    ids=["none", "empty", "other-entity", "empty-key", "no-key"],
)
def test_parse_key_without_the_key(doc: Any) -> None:
    with pytest.raises(ValueError, match=r"the reply names no key for mgr\.a"):
        parse_key(doc, "mgr.a")


def test_auth_rm_of_a_missing_entity_is_done() -> None:
    command = build_auth_rm("mds.shared-b")
    assert (command.prefix, command.args, command.target) == ("auth rm", {"entity": "mds.shared-b"}, "mon")
    assert command.ok_errnos == frozenset({errno.ENOENT})


# ---------------------------------------------------------------------------- osd new


def test_osd_new_sends_the_key_as_input() -> None:
    command = build_osd_new(OSD_UUID, KEY)
    assert command.prefix == "osd new"
    assert command.args == {"uuid": OSD_UUID}
    assert command.target == "mon"
    assert json.loads(command.inbuf) == {"cephx_secret": KEY}
    assert command.ok_errnos == frozenset()


def test_osd_new_keeps_the_key_out_of_the_command_and_its_description() -> None:
    command = build_osd_new(OSD_UUID, KEY)
    assert KEY not in command.to_json()
    assert KEY not in command.describe()
    assert OSD_UUID in command.describe()


def test_osd_new_is_the_same_command_on_a_retry() -> None:
    assert build_osd_new(OSD_UUID, KEY) == build_osd_new(OSD_UUID, KEY)


@pytest.mark.parametrize(("doc", "osd_id"), [({"osdid": 3}, 3), ({"osdid": "12"}, 12), (0, 0), (7, 7)])
def test_parse_osd_new(doc: Any, osd_id: int) -> None:
    assert parse_osd_new(doc) == osd_id


@pytest.mark.parametrize("doc", [None, {}, {"osd": 3}, "3", [3]], ids=["none", "empty", "other-key", "text", "list"])
def test_parse_osd_new_unexpected(doc: Any) -> None:
    with pytest.raises(ValueError, match="unexpected reply to osd new"):
        parse_osd_new(doc)


# ---------------------------------------------------------------------------- config, modules


def test_config_set() -> None:
    command = build_config_set("mon", "auth_allow_insecure_global_id_reclaim", "false")
    assert wire(command) == {
        "prefix": "config set",
        "format": "json",
        "who": "mon",
        "name": "auth_allow_insecure_global_id_reclaim",
        "value": "false",
    }


def test_module_enable_and_disable() -> None:
    enable, disable = build_module_enable("prometheus"), build_module_disable("prometheus")
    assert (enable.prefix, enable.args, enable.target) == ("mgr module enable", {"module": "prometheus"}, "mon")
    assert (disable.prefix, disable.args, disable.target) == ("mgr module disable", {"module": "prometheus"}, "mon")


# ---------------------------------------------------------------------------- osd dump


# `ceph osd dump -f json` (Pacific), trimmed to what is parsed and a little around it.
OSD_DUMP = {
    "epoch": 27,
    "fsid": FSID,
    "max_osd": 3,
    "osds": [
        {
            "osd": 0,
            "uuid": OSD_UUID,
            "up": 1,
            "in": 1,
            "weight": 1,
            "primary_affinity": 1,
            "last_clean_begin": 0,
            "last_clean_end": 0,
            "up_from": 9,
            "up_thru": 21,
            "down_at": 0,
            "lost_at": 0,
            "public_addrs": {"addrvec": [{"type": "v2", "addr": "10.0.0.1:6800", "nonce": 1870}]},
            "state": ["exists", "up"],
        },
        {
            "osd": 1,
            "uuid": OTHER_UUID,
            "up": 0,
            "in": 0,
            "weight": 0,
            "primary_affinity": 1,
            "state": ["autoout", "exists"],
        },
        {"osd": 2, "uuid": "00000000-0000-0000-0000-000000000000", "up": 0, "in": 1, "state": ["exists", "new"]},
    ],
}


def test_osd_dump_command() -> None:
    command = build_osd_dump()
    assert (command.prefix, command.args, command.target) == ("osd dump", {}, "mon")


def test_parse_osd_dump() -> None:
    assert parse_osd_dump(OSD_DUMP) == {
        0: OsdState(0, OSD_UUID, up=True, in_=True),
        1: OsdState(1, OTHER_UUID, up=False, in_=False),
        2: OsdState(2, "00000000-0000-0000-0000-000000000000", up=False, in_=True),
    }


@pytest.mark.parametrize("doc", [None, {}, {"osds": []}], ids=["none", "empty", "no-osds"])
def test_parse_osd_dump_without_osds(doc: Any) -> None:
    assert parse_osd_dump(doc) == {}


def test_parse_osd_dump_missing_fields() -> None:
    assert parse_osd_dump({"osds": [{"osd": "5"}]}) == {5: OsdState(5, "", up=False, in_=False)}


@pytest.mark.parametrize(("build", "prefix"), [(build_osd_out, "osd out")])
def test_osd_out_and_in(build: Any, prefix: str) -> None:
    command = build(3)
    assert isinstance(command, Command)
    assert (command.prefix, command.args, command.target) == (prefix, {"ids": ["3"]}, "mon")


# ---------------------------------------------------------------------------- safe-to-destroy


def test_safe_to_destroy_command() -> None:
    command = build_safe_to_destroy(1)
    assert command.prefix == "osd safe-to-destroy"
    assert command.args == {"ids": ["1"]}
    assert command.target == "mon"
    assert command.ok_errnos == frozenset({errno.EBUSY, errno.EAGAIN})
    assert "osd.1" in command.describe()


def test_parse_safe_to_destroy_safe() -> None:
    doc = {"safe_to_destroy": [1], "active": [], "missing_stats": [], "stored_pgs": []}
    assert parse_safe_to_destroy(doc, 1) == Verdict(True, "osd.1 holds no data that is not elsewhere")


def test_parse_safe_to_destroy_ids_as_text() -> None:
    doc = {"safe_to_destroy": ["1"], "active": [], "missing_stats": [], "stored_pgs": []}
    assert parse_safe_to_destroy(doc, 1).ok is True


def test_parse_safe_to_destroy_another_osd_is_not_this_one() -> None:
    doc = {"safe_to_destroy": [2], "active": [], "missing_stats": [], "stored_pgs": []}
    verdict = parse_safe_to_destroy(doc, 1)
    assert verdict.ok is False
    assert verdict.why == "Ceph does not yet say osd.1 is safe to destroy"


@pytest.mark.parametrize(
    ("field", "words"),
    [
        ("active", "placement groups on it are still active"),
        ("missing_stats", "no statistics of it yet"),
        ("stored_pgs", "it still stores placement groups"),
    ],
)
def test_parse_safe_to_destroy_not_safe(field: str, words: str) -> None:
    doc: dict[str, list[int]] = {"safe_to_destroy": [], "active": [], "missing_stats": [], "stored_pgs": []}
    doc[field] = [1]
    verdict = parse_safe_to_destroy(doc, 1)
    assert verdict.ok is False
    assert words in verdict.why


def test_parse_safe_to_destroy_every_reason_at_once() -> None:
    doc = {"safe_to_destroy": [], "active": [1], "missing_stats": [1], "stored_pgs": [1]}
    verdict = parse_safe_to_destroy(doc, 1)
    assert verdict.ok is False
    assert verdict.why.count("; ") == 2


@pytest.mark.parametrize("doc", [None, {}], ids=["no-reply", "empty"])
def test_parse_safe_to_destroy_without_an_answer(doc: Any) -> None:
    # EAGAIN ("N pgs have unknown state; cannot draw any conclusions") comes without JSON.
    assert parse_safe_to_destroy(doc, 4) == Verdict(False, "Ceph does not yet say osd.4 is safe to destroy")


def test_parse_safe_to_destroy_does_not_count_osds_as_placement_groups() -> None:
    doc = {"safe_to_destroy": [], "active": [1], "missing_stats": [], "stored_pgs": []}
    assert "1 placement groups" not in parse_safe_to_destroy(doc, 1).why


def test_parse_safe_to_destroy_names_only_what_holds_this_osd_back() -> None:
    doc = {"safe_to_destroy": [], "active": [2], "missing_stats": [1], "stored_pgs": [2]}
    assert parse_safe_to_destroy(doc, 1).why == "the mgr has no statistics of it yet"


# ---------------------------------------------------------------------------- ok-to-stop, purge, services


@pytest.mark.parametrize("kind", ["osd", "mon", "mds"])
def test_ok_to_stop(kind: str) -> None:
    command = build_ok_to_stop(kind, ["1", "2"])
    assert command.prefix == f"{kind} ok-to-stop"
    assert command.args == {"ids": ["1", "2"]}
    assert command.target == "mon"
    # "no" is an error (EBUSY/EAGAIN) the caller sees, never taken for "yes"
    assert command.ok_errnos == frozenset()
    assert f"{kind}.1,2" in command.describe()


def test_not_now_errnos() -> None:
    assert frozenset({errno.EBUSY, errno.EAGAIN}) == NOT_NOW


def test_ok_to_stop_copies_the_ids() -> None:
    ids = ["1"]
    command = build_ok_to_stop("osd", ids)
    ids.append("2")
    assert command.args == {"ids": ["1"]}


def test_osd_purge_goes_to_the_mgr() -> None:
    command = build_osd_purge(3)
    assert command.prefix == "osd purge"
    assert command.target == "mgr"
    assert command.args == {"id": 3, "yes_i_really_mean_it": True}
    assert command.ok_errnos == frozenset({errno.ENOENT})
