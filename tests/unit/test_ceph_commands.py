"""Mon/mgr command builders (pure values) and reply handling with errnos that mean "already done"."""

from __future__ import annotations

import errno
import json

import pytest

from storage_operator.ceph import crush, df, ecprofile, fs, osd, pools, status, subvolumes
from storage_operator.ceph.command import Command, mgr, mon, parse_reply
from storage_operator.ceph.ecprofile import ECProfile
from storage_operator.errors import CephCommandError

EEXIST = frozenset({errno.EEXIST})
ENOENT = frozenset({errno.ENOENT})


def sent(command: Command) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(command.to_json())
    return decoded


# ---------------------------------------------------------------------------- Command, mon and mgr


def test_to_json_has_prefix_format_and_args() -> None:
    command = mon("osd pool set", pool="p", var="size", val="3")
    assert sent(command) == {"prefix": "osd pool set", "format": "json", "pool": "p", "var": "size", "val": "3"}


def test_mon_drops_none_arguments() -> None:
    command = mon("fs subvolume ls", vol_name="shared", group_name=None)
    assert command.args == {"vol_name": "shared"}
    assert sent(command) == {"prefix": "fs subvolume ls", "format": "json", "vol_name": "shared"}


def test_to_json_drops_none_even_in_a_hand_made_command() -> None:
    command = Command("osd pool get", {"pool": "p", "var": None})
    assert sent(command) == {"prefix": "osd pool get", "format": "json", "pool": "p"}


def test_to_json_keeps_false_zero_and_lists() -> None:
    command = mon("x", flag=False, n=0, items=["a", "b"])
    assert sent(command) == {"prefix": "x", "format": "json", "flag": False, "n": 0, "items": ["a", "b"]}


def test_mon_and_mgr_targets() -> None:
    m = mon("status")
    g = mgr("fs subvolume ls", vol_name="shared", group_name=None)
    assert (m.target, g.target) == ("mon", "mgr")
    assert g.args == {"vol_name": "shared"}
    assert m.ok_errnos == frozenset()
    assert g.ok_errnos == frozenset()
    assert m.inbuf == b""


def test_describe_uses_what_or_the_prefix() -> None:
    assert mon("status").describe() == "status"
    assert mon("status", what="read cluster status").describe() == "read cluster status"
    assert mgr("fs volume ls", what="list volumes").describe() == "list volumes"


def test_commands_are_comparable_values() -> None:
    assert pools.build_delete("p") == pools.build_delete("p")
    assert pools.build_delete("p") != pools.build_delete("q")


# ---------------------------------------------------------------------------- read commands


@pytest.mark.parametrize(
    ("command", "prefix", "args"),
    [
        (status.build_status(), "status", {}),
        (status.build_version(), "version", {}),
        (df.build_df(), "df", {"detail": "detail"}),
        (osd.build_osd_tree(), "osd tree", {}),
        (crush.build_rule_dump(), "osd crush rule dump", {}),
        (pools.build_ls_detail(), "osd pool ls", {"detail": "detail"}),
        (pools.build_config_dump(), "config dump", {}),
        (ecprofile.build_profile_ls(), "osd erasure-code-profile ls", {}),
        (ecprofile.build_profile_get("ecpool-ec"), "osd erasure-code-profile get", {"name": "ecpool-ec"}),
        (fs.build_fs_dump(), "fs dump", {}),
    ],
)
def test_read_commands_go_to_the_mons(command: Command, prefix: str, args: dict[str, object]) -> None:
    assert command.target == "mon"
    assert (command.prefix, command.args) == (prefix, args)
    assert command.ok_errnos == frozenset()
    assert command.what  # every command says what it does


# ---------------------------------------------------------------------------- errnos that mean "already done"


@pytest.mark.parametrize(
    ("command", "ok"),
    [
        (pools.build_create_replicated("p", size=3, rule="replicated-osd"), EEXIST),
        (pools.build_create_erasure("p", profile="p-ec"), EEXIST),
        (crush.build_create_replicated_rule("replicated-osd", "osd", None), EEXIST),
        # Ceph answers an identical profile with success and a different one with EPERM: nothing to accept.
        (ecprofile.build_profile_set("p-ec", ECProfile(2, 1, "jerasure", "osd", None)), frozenset()),
        (pools.build_delete("p"), ENOENT),
        (crush.build_rule_rm("replicated-osd"), ENOENT),
        (ecprofile.build_profile_rm("p-ec"), ENOENT),
        (fs.build_fs_fail("shared"), ENOENT),
        (fs.build_fs_rm("shared"), ENOENT),
        (ecprofile.build_profile_set("p-ec", ECProfile(2, 1, "jerasure", "osd", None), force=True), frozenset()),
        (pools.build_set("p", "size", "3"), frozenset()),
        (pools.build_set_quota("p", "max_bytes", 1), frozenset()),
        (fs.build_fs_new("shared", "shared-metadata", "shared-default"), frozenset()),
        (fs.build_fs_set("shared", "max_mds", "1"), frozenset()),
    ],
)
def test_ok_errnos(command: Command, ok: frozenset[int]) -> None:
    assert command.ok_errnos == ok


# ---------------------------------------------------------------------------- pools


def test_build_create_replicated() -> None:
    command = pools.build_create_replicated("replicapool", size=3, rule="replicated-osd")
    assert command.prefix == "osd pool create"
    assert command.target == "mon"
    assert command.args == {
        "pool": "replicapool",
        "pg_num": pools.DEFAULT_PG_NUM,
        "pool_type": "replicated",
        "rule": "replicated-osd",
        "size": 3,
    }
    assert command.describe() == "create replicated pool replicapool (size 3, rule replicated-osd)"
    assert pools.build_create_replicated("p", size=2, rule="r", pg_num=32).args["pg_num"] == 32


def test_build_create_erasure() -> None:
    command = pools.build_create_erasure("ecpool", profile="ecpool-ec")
    assert command.prefix == "osd pool create"
    assert command.args == {
        "pool": "ecpool",
        "pg_num": pools.DEFAULT_PG_NUM,
        "pool_type": "erasure",
        "erasure_code_profile": "ecpool-ec",
    }
    assert "rule" not in command.args
    assert "size" not in command.args


def test_build_set() -> None:
    command = pools.build_set("replicapool", "size", "3")
    assert command.prefix == "osd pool set"
    assert command.args == {"pool": "replicapool", "var": "size", "val": "3"}
    assert command.describe() == "set size of pool replicapool to 3"


def test_build_set_with_confirm_adds_yes_i_really_mean_it() -> None:
    command = pools.build_set("p", "size", "1", confirm=True, what="allow size 1")
    assert command.args == {"pool": "p", "var": "size", "val": "1", "yes_i_really_mean_it": True}
    assert sent(command)["yes_i_really_mean_it"] is True
    assert command.describe() == "allow size 1"


@pytest.mark.parametrize(
    ("field_name", "value", "val", "what"),
    [
        ("max_bytes", 10737418240, "10737418240", "set max_bytes of p to 10737418240"),
        ("max_objects", 1000, "1000", "set max_objects of p to 1000"),
        ("max_bytes", 0, "0", "set max_bytes of p to no limit"),
    ],
)
def test_build_set_quota(field_name: str, value: int, val: str, what: str) -> None:
    command = pools.build_set_quota("p", field_name, value)
    assert command.prefix == "osd pool set-quota"
    assert command.args == {"pool": "p", "field": field_name, "val": val}
    assert command.describe() == what


def test_build_application_commands() -> None:
    enable = pools.build_application_enable("replicapool", "rbd")
    assert (enable.prefix, enable.args) == ("osd pool application enable", {"pool": "replicapool", "app": "rbd"})
    tag = pools.build_application_set("replicapool", "rbd", pools.OWNER_KEY, "CephBlockPool.ns.uid")
    assert tag.prefix == "osd pool application set"
    assert tag.args == {"pool": "replicapool", "app": "rbd", "key": pools.OWNER_KEY, "value": "CephBlockPool.ns.uid"}


def test_build_delete() -> None:
    command = pools.build_delete("replicapool")
    assert command.prefix == "osd pool rm"
    assert command.args == {"pool": "replicapool", "pool2": "replicapool", "yes_i_really_really_mean_it": True}


def test_build_pool_delete_setting_none_removes_it() -> None:
    command = pools.build_pool_delete_setting(None)
    assert command.prefix == "config rm"
    assert command.args == {"who": "mon", "name": "mon_allow_pool_delete"}


def test_build_pool_delete_setting_sets_it() -> None:
    command = pools.build_pool_delete_setting("true")
    assert command.prefix == "config set"
    assert command.args == {"who": "mon", "name": "mon_allow_pool_delete", "value": "true"}


# ---------------------------------------------------------------------------- CRUSH rules


@pytest.mark.parametrize(
    ("failure_domain", "device_class", "root", "name"),
    [
        ("osd", None, crush.DEFAULT_ROOT, "replicated-osd"),
        ("host", None, crush.DEFAULT_ROOT, "replicated-host"),
        ("host", "ssd", crush.DEFAULT_ROOT, "replicated-host-ssd"),
        ("osd", "", crush.DEFAULT_ROOT, "replicated-osd"),
        ("host", None, "fast", "replicated-host-fast"),
        ("osd", "nvme", "fast", "replicated-osd-nvme-fast"),
    ],
)
def test_replicated_rule_name(failure_domain: str, device_class: str | None, root: str, name: str) -> None:
    assert crush.replicated_rule_name(failure_domain, device_class, root) == name


def test_replicated_rule_name_default_root() -> None:
    assert crush.replicated_rule_name("osd", None) == "replicated-osd"
    assert crush.replicated_rule_name("host", "ssd") == "replicated-host-ssd"


def test_build_create_replicated_rule_without_class() -> None:
    command = crush.build_create_replicated_rule("replicated-osd", "osd", None)
    assert command.prefix == "osd crush rule create-replicated"
    assert command.args == {"name": "replicated-osd", "root": "default", "type": "osd"}
    assert "class" not in sent(command)


def test_build_create_replicated_rule_with_class() -> None:
    command = crush.build_create_replicated_rule("replicated-host-ssd", "host", "ssd")
    assert command.args == {"name": "replicated-host-ssd", "root": "default", "type": "host", "class": "ssd"}
    assert sent(command)["class"] == "ssd"


def test_build_rule_rm() -> None:
    command = crush.build_rule_rm("replicated-osd")
    assert (command.prefix, command.args) == ("osd crush rule rm", {"name": "replicated-osd"})


# ---------------------------------------------------------------------------- EC profiles

BASE_SETTINGS = ["k=2", "m=1", "plugin=jerasure", "crush-failure-domain=osd", "crush-root=default"]


def test_build_profile_set() -> None:
    command = ecprofile.build_profile_set("ecpool-ec", ECProfile(2, 1, "jerasure", "osd", None))
    assert command.prefix == "osd erasure-code-profile set"
    assert command.args == {"name": "ecpool-ec", "profile": BASE_SETTINGS}
    assert "force" not in sent(command)


def test_build_profile_set_with_class_root_and_force() -> None:
    profile = ECProfile(4, 2, "isa", "host", "ssd", root="fast")
    command = ecprofile.build_profile_set("p-ec", profile, force=True)
    assert command.args == {
        "name": "p-ec",
        "profile": [
            "k=4",
            "m=2",
            "plugin=isa",
            "crush-failure-domain=host",
            "crush-root=fast",
            "crush-device-class=ssd",
        ],
        "force": True,
    }
    assert command.ok_errnos == frozenset()


@pytest.mark.parametrize(
    "profile",
    [
        ECProfile(2, 1, "jerasure", "osd", None),
        ECProfile(4, 2, "isa", "host", "ssd", root="fast"),
    ],
)
def test_profile_set_settings_read_back_as_the_same_profile(profile: ECProfile) -> None:
    settings = ecprofile.build_profile_set("x", profile).args["profile"]
    assert isinstance(settings, list)
    doc = dict(str(s).split("=", 1) for s in settings)
    assert ecprofile.parse_profile(doc) == profile


def test_profile_comparisons() -> None:
    a = ECProfile(2, 1, "jerasure", "osd", None)
    assert a.same_layout(ECProfile(2, 1, "jerasure", "host", "ssd"))
    assert not a.same_layout(ECProfile(2, 2, "jerasure", "osd", None))
    assert a.same_placement(ECProfile(4, 2, "isa", "osd", None))
    assert not a.same_placement(ECProfile(2, 1, "jerasure", "osd", "ssd"))


def test_build_profile_rm() -> None:
    command = ecprofile.build_profile_rm("ecpool-ec")
    assert (command.prefix, command.args) == ("osd erasure-code-profile rm", {"name": "ecpool-ec"})


# ---------------------------------------------------------------------------- file systems


@pytest.mark.parametrize(
    ("command", "prefix", "args"),
    [
        (
            fs.build_fs_new("shared", "shared-metadata", "shared-default"),
            "fs new",
            {"fs_name": "shared", "metadata": "shared-metadata", "data": "shared-default"},
        ),
        (
            fs.build_add_data_pool("shared", "shared-bulk"),
            "fs add_data_pool",
            {"fs_name": "shared", "pool": "shared-bulk"},
        ),
        (
            fs.build_fs_set("shared", "allow_standby_replay", "true"),
            "fs set",
            {"fs_name": "shared", "var": "allow_standby_replay", "val": "true"},
        ),
        (fs.build_fs_fail("shared"), "fs fail", {"fs_name": "shared"}),
        (fs.build_fs_rm("shared"), "fs rm", {"fs_name": "shared", "yes_i_really_mean_it": True}),
    ],
)
def test_fs_builders(command: Command, prefix: str, args: dict[str, object]) -> None:
    assert command.target == "mon"
    assert (command.prefix, command.args) == (prefix, args)


# ---------------------------------------------------------------------------- subvolumes, answered by the mgr


@pytest.mark.parametrize(
    ("command", "prefix", "args"),
    [
        (subvolumes.build_group_ls("shared"), "fs subvolumegroup ls", {"vol_name": "shared"}),
        (subvolumes.build_subvolume_ls("shared"), "fs subvolume ls", {"vol_name": "shared"}),
        (
            subvolumes.build_subvolume_ls("shared", "grp"),
            "fs subvolume ls",
            {"vol_name": "shared", "group_name": "grp"},
        ),
        (
            subvolumes.build_subvolume_create("shared", "sv-a"),
            "fs subvolume create",
            {"vol_name": "shared", "sub_name": "sv-a"},
        ),
        (
            subvolumes.build_subvolume_create("shared", "sv-b", size=1 << 30, group="grp"),
            "fs subvolume create",
            {"vol_name": "shared", "sub_name": "sv-b", "size": 1 << 30, "group_name": "grp"},
        ),
        (
            subvolumes.build_subvolume_rm("shared", "sv-a"),
            "fs subvolume rm",
            {"vol_name": "shared", "sub_name": "sv-a"},
        ),
        (
            subvolumes.build_subvolume_rm("shared", "sv-b", group="grp"),
            "fs subvolume rm",
            {"vol_name": "shared", "sub_name": "sv-b", "group_name": "grp"},
        ),
    ],
)
def test_subvolume_builders(command: Command, prefix: str, args: dict[str, object]) -> None:
    assert command.target == "mgr"
    assert (command.prefix, command.args) == (prefix, args)
    assert sent(command) == {"prefix": prefix, "format": "json", **args}


# ---------------------------------------------------------------------------- replies


def test_parse_reply_accepts_a_listed_errno() -> None:
    assert parse_reply("osd pool create", -errno.EEXIST, b"", "pool 'p' already exists", ok_errnos=EEXIST) is None


def test_parse_reply_accepted_errno_still_decodes_output() -> None:
    assert parse_reply("x", -errno.EEXIST, b'{"a": 1}', "", ok_errnos=EEXIST) == {"a": 1}


def test_parse_reply_refuses_an_unlisted_errno() -> None:
    with pytest.raises(CephCommandError) as info:
        parse_reply("osd pool create", -17, b"", "pool 'p' already exists")
    assert info.value.errno == 17
    assert info.value.prefix == "osd pool create"
    assert info.value.detail == "pool 'p' already exists"


def test_parse_reply_listed_errno_does_not_excuse_others() -> None:
    with pytest.raises(CephCommandError) as info:
        parse_reply("osd pool create", -errno.EINVAL, b"", "bad pg_num\n", ok_errnos=EEXIST)
    assert info.value.errno == errno.EINVAL
    assert info.value.detail == "bad pg_num"


def test_parse_reply_without_a_status_says_so() -> None:
    with pytest.raises(CephCommandError) as info:
        parse_reply("fs rm", -errno.EPERM, b"", "  ")
    assert info.value.detail == "no message"
