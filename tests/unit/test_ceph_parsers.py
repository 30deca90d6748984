"""Ceph reply parsers on the real Ceph 16.2 replies recorded by hack/record-ceph-fixtures.py.

The recorded cluster: 3 hdd OSDs on one host "vm"; pools replicapool (replicated 3/2, rule replicated-osd,
10 GiB quota, rbd with an owner) and ecpool (EC 2+1, profile ecpool-ec, overwrites, aggressive compression);
a file system "shared" (shared-metadata, shared-default, shared-bulk) with MDS d active, c standby-replay,
a and b standby.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from storage_operator.ceph import crush, df, ecprofile, fs, osd, pools, status, subvolumes, world
from storage_operator.ceph.crush import CrushRule
from storage_operator.ceph.df import PoolStats
from storage_operator.ceph.ecprofile import ECProfile
from storage_operator.ceph.status import HealthCheck

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ceph"

REPLICAPOOL_OWNER = "CephBlockPool.storage-system.ce746244-968d-42ba-af79-664100eb5c1b"
ECPOOL_OWNER = "CephBlockPool.storage-system.fbd5c652-db3e-4f9e-a83d-ba521fc6d0ca"
SHARED_OWNER = "CephFilesystem.storage-system.621e6da9-3ad7-4f83-b3a6-e6d7282adb09"
ALL_POOLS = {"device_health_metrics", "replicapool", "ecpool", "shared-metadata", "shared-default", "shared-bulk"}


# What every pool reports besides its "options": autoscale mode, fast_read and the boolean flags.
BASE_OPTIONS = {
    "pg_autoscale_mode": "off",
    "fast_read": "false",
    "noscrub": "false",
    "nodeep-scrub": "false",
    "bulk": "false",
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


# ---------------------------------------------------------------------------- status, version


def test_parse_status_of_the_lab() -> None:
    s = status.parse_status(load("status-lab"))
    assert s.fsid == "c4d2894c-7da7-4e23-9b34-1fa473841b4f"
    assert s.health == "HEALTH_OK"
    assert s.checks == {}
    assert s.health_checks == ()
    assert s.mons == 1
    assert s.quorum == ("a",)
    assert s.mgr_available is True
    assert (s.osds, s.osds_up, s.osds_in) == (3, 3, 3)
    assert s.pgs == 41
    assert s.pgs_by_state == {"active+clean": 41}
    assert s.all_pgs_active_clean
    assert (s.bytes_total, s.bytes_used, s.bytes_available) == (9663676416, 913846272, 8749830144)
    assert (s.mds_up, s.mds_standby) == (1, 2)


def test_parse_status_warning_keeps_severity_and_summary() -> None:
    s = status.parse_status(load("status-health-warn"))
    assert s.fsid == "3259fa2e-4ceb-47e8-9170-048faad1b99e"
    assert s.health == "HEALTH_WARN"
    assert s.checks == {"OSDMAP_FLAGS": HealthCheck(severity="HEALTH_WARN", message="noout flag(s) set")}
    assert s.health_checks == ("OSDMAP_FLAGS",)
    assert s.quorum == ("a",)
    assert (s.osds, s.osds_up, s.osds_in) == (3, 3, 3)
    assert s.pgs_by_state == {"active+clean": 9}
    assert (s.mds_up, s.mds_standby) == (0, 1)
    assert status.HEALTH_CODES[s.health] == 1


def test_parse_status_accepts_the_nested_osdmap_shape() -> None:
    doc = {"osdmap": {"osdmap": {"num_osds": 4, "num_up_osds": 3, "num_in_osds": 2}}}
    s = status.parse_status(doc)
    assert (s.osds, s.osds_up, s.osds_in) == (4, 3, 2)


def test_parse_status_check_without_summary_falls_back_to_its_name() -> None:
    doc = {"health": {"status": "HEALTH_ERR", "checks": {"MON_DOWN": {}, "A_CHECK": {"severity": "HEALTH_ERR"}}}}
    s = status.parse_status(doc)
    assert s.health_checks == ("A_CHECK", "MON_DOWN")
    assert s.checks["MON_DOWN"] == HealthCheck("HEALTH_WARN", "MON_DOWN")
    assert s.checks["A_CHECK"] == HealthCheck("HEALTH_ERR", "A_CHECK")


def test_pgs_not_all_active_clean() -> None:
    doc = {
        "pgmap": {"pgs_by_state": [{"state_name": "active+clean", "count": 7}, {"state_name": "peering", "count": 1}]}
    }
    s = status.parse_status(doc)
    assert s.pgs_by_state == {"active+clean": 7, "peering": 1}
    assert not s.all_pgs_active_clean


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"version": "ceph version 16.2.15 (618f440892089921c3e944a991122ddc44e60516) pacific (stable)"}, "16.2.15"),
        ({"version": "17.2.7"}, "17.2.7"),
        ({}, ""),
    ],
)
def test_parse_version(doc: dict[str, Any], expected: str) -> None:
    assert status.parse_version(doc) == expected


def test_parse_version_of_the_recording() -> None:
    assert status.parse_version(load("version")) == "16.2.15"


# ---------------------------------------------------------------------------- df


def test_parse_df_totals() -> None:
    report = df.parse_df(load("df-detail"))
    assert report.total_bytes == 9663676416
    assert report.used_bytes == 913846272
    assert report.available_bytes == 8749830144
    assert set(report.pools) == ALL_POOLS


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "replicapool",
            PoolStats(
                pool_id=2,
                stored=0,
                objects=0,
                bytes_used=0,
                percent_used=0.0,
                max_avail=2755548672,
                quota_bytes=10737418240,
                quota_objects=0,
            ),
        ),
        (
            "ecpool",
            PoolStats(
                pool_id=3,
                stored=0,
                objects=0,
                bytes_used=0,
                percent_used=0.0,
                max_avail=5511097344,
                quota_bytes=0,
                quota_objects=0,
            ),
        ),
        (
            "shared-metadata",
            PoolStats(
                pool_id=4,
                stored=92718,
                objects=23,
                bytes_used=380928,
                percent_used=0.0046,  # Ceph's ratio 4.6077992010395974e-05, as a percentage
                max_avail=2755548672,
                quota_bytes=0,
                quota_objects=0,
            ),
        ),
    ],
)
def test_parse_df_pool_stats(name: str, expected: PoolStats) -> None:
    assert df.parse_df(load("df-detail")).pools[name] == expected


@pytest.mark.parametrize(
    ("ratio", "percent"), [(0, 0.0), (0.5, 50.0), (0.123456789, 12.3457), (1, 100.0), (1.7, 100.0)]
)
def test_parse_df_turns_ratio_into_percent(ratio: float, percent: float) -> None:
    doc = {"pools": [{"id": 7, "name": "p", "stats": {"percent_used": ratio}}]}
    assert df.parse_df(doc).pools["p"].percent_used == percent


def test_parse_df_used_falls_back_to_total_used_bytes() -> None:
    report = df.parse_df({"stats": {"total_bytes": 100, "total_used_bytes": 40, "total_avail_bytes": 60}})
    assert (report.total_bytes, report.used_bytes, report.available_bytes) == (100, 40, 60)
    assert report.pools == {}


# ---------------------------------------------------------------------------- osd tree


def test_parse_osd_tree() -> None:
    topo = osd.parse_osd_tree(load("osd-tree"))
    assert [o.osd_id for o in topo.osds] == [0, 1, 2]  # sorted, though the host lists them 2, 1, 0
    assert [o.name for o in topo.osds] == ["osd.0", "osd.1", "osd.2"]
    assert {o.host for o in topo.osds} == {"vm"}
    assert all(o.device_class == "hdd" and o.up and o.in_ for o in topo.osds)
    assert topo.device_classes() == {"hdd"}


@pytest.mark.parametrize(
    ("failure_domain", "device_class", "count"),
    [
        ("osd", None, 3),
        ("host", None, 1),
        ("osd", "hdd", 3),
        ("host", "hdd", 1),
        ("osd", "ssd", 0),
        ("host", "ssd", 0),
    ],
)
def test_failure_domains_of_the_recording(failure_domain: str, device_class: str | None, count: int) -> None:
    assert osd.parse_osd_tree(load("osd-tree")).failure_domains(failure_domain, device_class) == count


def test_parse_osd_tree_down_out_and_stray_osds() -> None:
    doc = {
        "nodes": [
            {"id": -2, "name": "h1", "type": "host", "children": [0]},
            {"id": 0, "name": "osd.0", "type": "osd", "device_class": "ssd", "status": "down", "reweight": 0},
        ],
        "stray": [{"id": 5, "name": "osd.5", "type": "osd", "device_class": "", "status": "up", "reweight": 1}],
    }
    topo = osd.parse_osd_tree(doc)
    assert topo.osds == (
        osd.OsdNode(osd_id=0, name="osd.0", device_class="ssd", host="h1", up=False, in_=False),
        osd.OsdNode(osd_id=5, name="osd.5", device_class=None, host=None, up=True, in_=True),
    )
    assert topo.device_classes() == {"ssd"}
    assert topo.failure_domains("host") == 1  # the stray OSD is on no host


# ---------------------------------------------------------------------------- CRUSH rules


def test_parse_rules_of_the_recording() -> None:
    rules = crush.parse_rules(load("crush-rule-dump"))
    assert set(rules) == {"replicated_rule", "replicated-osd", "ecpool", "shared-bulk"}
    assert rules["replicated-osd"] == CrushRule(
        rule_id=1,
        name="replicated-osd",
        rule_type=crush.RULE_TYPE_REPLICATED,
        root="default",
        device_class=None,
        failure_domain="osd",
    )
    # The EC rule Ceph made for ecpool is named after the pool; set_choose*_tries steps are not choose steps.
    assert rules["ecpool"] == CrushRule(
        rule_id=2,
        name="ecpool",
        rule_type=crush.RULE_TYPE_ERASURE,
        root="default",
        device_class=None,
        failure_domain="osd",
    )
    assert rules["replicated-osd"].describe() == "replicated-osd (failure domain osd)"


@pytest.mark.parametrize(
    ("rule_id", "name"), [(0, "replicated_rule"), (1, "replicated-osd"), (2, "ecpool"), (3, "shared-bulk")]
)
def test_rule_by_id(rule_id: int, name: str) -> None:
    rule = crush.rule_by_id(crush.parse_rules(load("crush-rule-dump")), rule_id)
    assert rule is not None
    assert rule.name == name


def test_rule_by_id_unknown_is_none() -> None:
    assert crush.rule_by_id(crush.parse_rules(load("crush-rule-dump")), 99) is None


def test_parse_rules_reads_a_class_restricted_take() -> None:
    doc = [
        {
            "rule_id": 4,
            "rule_name": "replicated-host-ssd",
            "type": 1,
            "steps": [
                {"op": "take", "item": -2, "item_name": "default~ssd"},
                {"op": "chooseleaf_firstn", "num": 0, "type": "host"},
                {"op": "emit"},
            ],
        }
    ]
    rule = crush.parse_rules(doc)["replicated-host-ssd"]
    assert (rule.root, rule.device_class, rule.failure_domain) == ("default", "ssd", "host")
    assert rule.describe() == "replicated-host-ssd (failure domain host, class ssd)"


# ---------------------------------------------------------------------------- EC profile


def test_parse_profile_of_the_recording() -> None:
    profile = ecprofile.parse_profile(load("ec-profile-ecpool"))
    assert profile == ECProfile(k=2, m=1, plugin="jerasure", failure_domain="osd", device_class=None, root="default")
    assert profile.describe() == "2+1 jerasure (failure domain osd)"
    # The recording was made with the profile name the operator gives ecpool.
    assert ecprofile.profile_name("ecpool") == "ecpool-ec"


# ---------------------------------------------------------------------------- pools


def test_parse_pools_names() -> None:
    assert set(pools.parse_pools(load("pool-ls-detail"))) == ALL_POOLS


def test_parse_pools_replicapool() -> None:
    p = pools.parse_pools(load("pool-ls-detail"))["replicapool"]
    assert p.pool_id == 2
    assert p.pool_type == pools.POOL_TYPE_REPLICATED
    assert not p.erasure_coded
    assert (p.size, p.min_size) == (3, 2)
    assert p.crush_rule_id == 1
    assert p.ec_profile is None  # Ceph reports "" for replicated pools
    assert (p.quota_max_bytes, p.quota_max_objects) == (10737418240, 0)
    assert p.applications == {"rbd": {pools.OWNER_KEY: REPLICAPOOL_OWNER}}
    assert p.owner == REPLICAPOOL_OWNER
    assert p.options == BASE_OPTIONS
    assert p.ec_overwrites is False


def test_parse_pools_ecpool() -> None:
    p = pools.parse_pools(load("pool-ls-detail"))["ecpool"]
    assert p.pool_id == 3
    assert p.pool_type == pools.POOL_TYPE_ERASURE
    assert p.erasure_coded
    assert (p.size, p.min_size) == (3, 2)  # k+m and k for 2+1
    assert p.crush_rule_id == 2
    assert p.ec_profile == "ecpool-ec"
    assert p.ec_overwrites is True
    assert p.options == BASE_OPTIONS | {"compression_mode": "aggressive"}
    assert p.options["compression_mode"] == "aggressive"
    assert (p.quota_max_bytes, p.quota_max_objects) == (0, 0)
    assert p.owner == ECPOOL_OWNER


def test_parse_pools_other_pools() -> None:
    parsed = pools.parse_pools(load("pool-ls-detail"))
    health = parsed["device_health_metrics"]
    assert health.applications == {"mgr_devicehealth": {}}
    assert health.owner is None
    assert health.options == BASE_OPTIONS | {"pg_num_max": "32", "pg_num_min": "1"}  # numbers as strings
    meta = parsed["shared-metadata"]
    assert meta.applications == {"cephfs": {"metadata": "shared", pools.OWNER_KEY: SHARED_OWNER}}
    assert meta.owner == SHARED_OWNER
    assert meta.options == BASE_OPTIONS | {"pg_autoscale_bias": "4", "pg_num_min": "16", "recovery_priority": "5"}
    bulk = parsed["shared-bulk"]
    assert (bulk.pool_id, bulk.erasure_coded, bulk.ec_overwrites) == (6, True, True)
    assert bulk.ec_profile == "shared-bulk-ec"
    assert bulk.crush_rule_id == 3


def test_pools_crush_rules_resolve_to_the_recorded_rules() -> None:
    parsed = pools.parse_pools(load("pool-ls-detail"))
    rules = crush.parse_rules(load("crush-rule-dump"))
    names = {name: crush.rule_by_id(rules, p.crush_rule_id) for name, p in parsed.items()}
    assert {name: r.name for name, r in names.items()} == {
        "device_health_metrics": "replicated_rule",
        "replicapool": "replicated-osd",
        "ecpool": "ecpool",
        "shared-metadata": "replicated-osd",
        "shared-default": "replicated-osd",
        "shared-bulk": "shared-bulk",
    }


@pytest.mark.parametrize(
    ("value", "text"), [(True, "true"), (False, "false"), (4.0, "4"), (0.5, "0.5"), (7, "7"), ("x", "x")]
)
def test_pool_options_become_strings(value: object, text: str) -> None:
    doc = [{"pool_id": 9, "pool_name": "p", "options": {"opt": value}}]
    assert pools.parse_pools(doc)["p"].options["opt"] == text


def test_settable_pool_variables_reported_outside_options_are_options_too() -> None:
    """`osd pool set` takes them all alike; `ls detail` reports some as fields or flags of the pool."""
    doc = [{"pool_id": 9, "pool_name": "p", "pg_autoscale_mode": "warn", "fast_read": True, "flags_names": "noscrub"}]
    options = pools.parse_pools(doc)["p"].options
    assert options == {
        "pg_autoscale_mode": "warn",
        "fast_read": "true",
        "noscrub": "true",
        "nodeep-scrub": "false",
        "bulk": "false",
    }


@pytest.mark.parametrize(
    ("var", "value", "normal"),
    [
        ("fast_read", "1", "true"),
        ("noscrub", "off", "false"),
        ("bulk", "yes", "true"),
        ("pg_autoscale_mode", "on", "on"),
    ],
)
def test_boolean_parameters_compare_as_ceph_reports_them(var: str, value: str, normal: str) -> None:
    assert pools.normalize_option(var, value) == normal


@pytest.mark.parametrize(("size", "min_size"), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3)])
def test_default_min_size(size: int, min_size: int) -> None:
    assert pools.default_min_size(size) == min_size


# ---------------------------------------------------------------------------- config dump


@pytest.mark.parametrize(
    ("section", "name", "value"),
    [
        ("mgr", "mgr/prometheus/server_port", "26412"),
        ("mgr", "mgr/prometheus/server_addr", "127.0.0.1"),
        ("mon", pools.POOL_DELETE_OPTION, None),
        ("mon", "mgr/prometheus/server_port", None),  # present, but in another section
    ],
)
def test_parse_config_value(section: str, name: str, value: str | None) -> None:
    assert pools.parse_config_value(load("config-dump"), section, name) == value


# ---------------------------------------------------------------------------- file systems


def test_parse_fs_dump_of_the_recording() -> None:
    fsmap = fs.parse_fs_dump(load("fs-dump"))
    assert set(fsmap.filesystems) == {"shared"}
    shared = fsmap.filesystems["shared"]
    assert shared.name == "shared"
    assert shared.fscid == 1
    assert shared.metadata_pool_id == 4
    assert shared.data_pool_ids == (5, 6)
    assert shared.max_mds == 1
    assert shared.allow_standby_replay is True  # flags 50 has bit 5 set
    assert shared.standby_count_wanted == 1
    assert shared.active == ("d",)
    assert shared.standby_replay == ("c",)
    assert shared.failed_ranks == 0
    assert fsmap.standbys == ("a", "b")
    assert len(fsmap.standbys) == 2


def test_fs_pool_ids_match_the_recorded_pools() -> None:
    shared = fs.parse_fs_dump(load("fs-dump")).filesystems["shared"]
    by_name = pools.parse_pools(load("pool-ls-detail"))
    assert shared.metadata_pool_id == by_name["shared-metadata"].pool_id
    assert shared.data_pool_ids == (by_name["shared-default"].pool_id, by_name["shared-bulk"].pool_id)


def test_parse_fs_dump_without_standby_replay_and_with_failed_ranks() -> None:
    doc = {
        "filesystems": [
            {
                "id": 3,
                "mdsmap": {
                    "fs_name": "x",
                    "flags": 18,
                    "metadata_pool": 1,
                    "data_pools": [2],
                    "max_mds": 2,
                    "info": {"gid_1": {"name": "m1", "state": "up:active"}},
                    "failed": [1],
                    "damaged": [],
                },
            }
        ],
        "standbys": [],
    }
    x = fs.parse_fs_dump(doc).filesystems["x"]
    assert (x.fscid, x.max_mds, x.allow_standby_replay, x.failed_ranks) == (3, 2, False, 1)
    assert (x.active, x.standby_replay) == (("m1",), ())


# ---------------------------------------------------------------------------- subvolumes


@pytest.mark.parametrize(
    ("fixture", "names"),
    [
        ("subvolume-ls-shared", ["sv-a"]),
        ("subvolume-ls-shared-grp", ["sv-b"]),
        ("subvolumegroup-ls-shared", ["grp"]),
    ],
)
def test_parse_names(fixture: str, names: list[str]) -> None:
    assert subvolumes.parse_names(load(fixture)) == names


def test_parse_names_of_nothing() -> None:
    assert subvolumes.parse_names(None) == []
    assert subvolumes.parse_names([{"name": "b"}, {"name": "a"}]) == ["a", "b"]


# ---------------------------------------------------------------------------- the pool world


def _world() -> world.PoolWorld:
    profile = ecprofile.parse_profile(load("ec-profile-ecpool"))
    return world.PoolWorld(
        pools=pools.parse_pools(load("pool-ls-detail")),
        rules=crush.parse_rules(load("crush-rule-dump")),
        profiles={"ecpool-ec": profile},
        topology=osd.parse_osd_tree(load("osd-tree")),
        df=df.parse_df(load("df-detail")),
    )


@pytest.mark.parametrize(
    ("pool_id", "name"),
    [
        (1, "device_health_metrics"),
        (2, "replicapool"),
        (3, "ecpool"),
        (4, "shared-metadata"),
        (5, "shared-default"),
        (6, "shared-bulk"),
    ],
)
def test_pool_world_pool_by_id(pool_id: int, name: str) -> None:
    pool = _world().pool_by_id(pool_id)
    assert pool is not None
    assert pool.name == name


def test_pool_world_unknown_pool_id_is_none() -> None:
    assert _world().pool_by_id(99) is None


def test_pool_world_parts_agree() -> None:
    w = _world()
    for name, pool in w.pools.items():
        assert w.df.pools[name].pool_id == pool.pool_id
    ecpool = w.pools["ecpool"]
    assert ecpool.ec_profile is not None
    profile = w.profiles[ecpool.ec_profile]
    assert ecpool.size == profile.k + profile.m
    assert profile.k + profile.m <= w.topology.failure_domains(profile.failure_domain)
