"""Managed mode's pure helpers outside the builders: rollout readiness, MDS naming and counts, the
first monmap kept in the ConfigMap, long cluster names as label values, and the lab's managed example."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from storage_operator.ceph.daemons import build_mon_remove
from storage_operator.controllers.managed import filesystem_of, mds_count, mds_id
from storage_operator.controllers.rollout import available, image_of
from storage_operator.lab.config import LabConfig
from storage_operator.lab.containerd import CEPH_IMAGE
from storage_operator.lab.operator import LAB_EXAMPLES, lab_examples
from storage_operator.reconcile.managed import (
    MonPlace,
    Owner,
    build_config_map,
    mons_to_replace,
    parse_mons,
    parse_retired,
    place_mons,
)
from storage_operator.reconcile.osds import LABEL_VALUE_MAX, cluster_label

OWNER = Owner("managed", "storage-system", "uid-1")
A = MonPlace("a", "node-a", "10.0.0.1")
B = MonPlace("b", "node-b", "10.0.0.2")


def deployment(
    *, generation: int = 2, observed: int = 2, ready: int = 1, updated: int = 1, total: int = 1
) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"image": "img:1", "env": []}]}}},
        "status": {
            "observedGeneration": observed,
            "availableReplicas": ready,
            "updatedReplicas": updated,
            "replicas": total,
        },
    }


def test_a_rolled_out_deployment_is_available() -> None:
    assert available(deployment()) is True


@pytest.mark.parametrize(
    "changes",
    [{"observed": 1}, {"ready": 0}, {"updated": 0}, {"total": 2}],
    ids=["not-observed", "not-ready", "old-pod", "two-pods"],
)
def test_a_deployment_still_rolling_is_not_available(changes: dict[str, int]) -> None:
    assert available(deployment(**changes)) is False


def test_image_of() -> None:
    assert image_of(deployment()) == "img:1"
    assert image_of({"spec": {}}) is None


def test_mds_count_and_names() -> None:
    assert mds_count(1, False, 1) == 2
    assert mds_count(2, True, 1) == 5
    assert [mds_id("shared", i) for i in (0, 1, 25, 26)] == ["shared-a", "shared-b", "shared-z", "shared-a1"]


def test_filesystem_of_reads_the_daemons_environment() -> None:
    body = deployment()
    assert filesystem_of(body) is None
    body["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "CEPH_FILESYSTEM", "value": "shared"}]
    assert filesystem_of(body) == "shared"


def test_the_first_monmap_is_kept_when_mons_are_added() -> None:
    first = build_config_map(OWNER, "f", [A], "conf")
    assert parse_mons(first["data"]["initial-mons.json"]) == (A,)
    later = build_config_map(OWNER, "f", [A, B], "conf", initial=[A])
    assert parse_mons(later["data"]["mons.json"]) == (A, B)
    assert parse_mons(later["data"]["initial-mons.json"]) == (A,)
    assert parse_mons(None) == ()


def test_mon_remove() -> None:
    command = build_mon_remove("c")
    assert (command.prefix, command.args) == ("mon remove", {"name": "c"})


def test_cluster_label_is_a_valid_label_value() -> None:
    assert cluster_label("managed") == "managed"
    long_a, long_b = "a" * 200, "a" * 199 + "b"
    assert len(cluster_label(long_a)) <= LABEL_VALUE_MAX
    assert cluster_label(long_a) != cluster_label(long_b)  # the hash tells them apart
    assert cluster_label(long_a)[-1].isalnum()


def managed_example(config: LabConfig) -> dict[str, Any] | None:
    clusters = [d for d in lab_examples(config) if d["kind"] == "CephCluster"]
    found = [d for d in clusters if not d["spec"].get("external", {}).get("enable")]
    return found[0] if found else None


def test_the_node_lab_runs_the_managed_example_on_its_real_node_only_when_asked() -> None:
    off = LabConfig(root=Path("/tmp/lab-unit"), port_base=30000, profile="node")
    assert managed_example(off) is None
    assert len(lab_examples(off)) == len(LAB_EXAMPLES) - 1
    on = LabConfig(root=Path("/tmp/lab-unit"), port_base=30000, profile="node", managed_ceph=True)
    doc = managed_example(on)
    assert doc is not None
    spec = doc["spec"]
    assert spec["cephVersion"]["image"] == CEPH_IMAGE
    assert spec["mon"]["count"] == 1
    assert spec["storage"]["nodes"] == [{"name": "node-a", "deviceFilter": "^loop[0-9]+$"}]
    assert spec["dataDirHostPath"] == "/tmp/lab-unit/node/ceph"  # removed with the lab
    assert spec["cephConfig"]["global"]["osd_crush_chooseleaf_type"] == "0"


def test_the_process_lab_keeps_the_managed_example_as_it_is() -> None:
    doc = managed_example(LabConfig(root=Path("/tmp/lab-unit"), port_base=30000))
    assert doc is not None
    assert "cephConfig" not in doc["spec"]
    assert json.dumps(doc["spec"]["storage"]["nodes"]).count("node-b") == 1


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, True), ({"LAB_MANAGED_CEPH": "0"}, False), ({"LAB_PROFILE": "process"}, False)],
    ids=["default", "off", "process-profile"],
)
def test_lab_managed_ceph_knob(env: dict[str, str], expected: bool) -> None:
    assert LabConfig.from_env(env, default_root=Path("/tmp/lab-unit")).managed_ceph is expected


C = MonPlace("c", "node-a", "10.0.0.1", 3302, 6791)


@pytest.mark.parametrize(
    ("mons", "quorum", "since", "expected"),
    [
        ([A, B, C], ["a", "b"], {"c": 0.0}, ["c"]),  # out long enough, the quorum stands
        ([A, B, C], ["a", "b"], {"c": 500.0}, []),  # not long enough yet
        ([A, B, C], ["a", "b", "c"], {}, []),  # all in
        ([A, B, C], ["a"], {"b": 0.0, "c": 0.0}, []),  # no quorum without them: never
        ([A, B], ["a"], {"b": 0.0}, []),  # fewer than three: never
    ],
    ids=["due", "not-yet", "all-in", "no-quorum", "two-mons"],
)
def test_mons_to_replace(mons: list[MonPlace], quorum: list[str], since: dict[str, float], expected: list[str]) -> None:
    assert mons_to_replace(mons, quorum, since, now=600.0, failover=600.0) == expected


def test_only_one_mon_is_replaced_at_a_time() -> None:
    d = MonPlace("d", "node-b", "10.0.0.2", 3301, 6790)
    e = MonPlace("e", "node-c", "10.0.0.3")
    assert mons_to_replace([A, B, C, d, e], ["a", "b", "e"], {"c": 0.0, "d": 0.0}, now=600.0, failover=600.0) == ["c"]


def test_a_replacement_mon_gets_a_fresh_id_a_free_port_and_another_node_when_there_is_one() -> None:
    nodes = {"node-a": "10.0.0.1", "node-b": "10.0.0.2"}
    a0 = MonPlace("a", "node-a", "10.0.0.1", 3300, 6789)
    b1 = MonPlace("b", "node-b", "10.0.0.2", 3300, 6789)
    placed = place_mons(3, nodes, [a0, b1], allow_multiple_per_node=True, retired=["c"], avoid=["node-b"]).mons
    (new,) = [m for m in placed if m.mon_id not in ("a", "b")]
    assert new.mon_id == "d"  # c is retired: its store may still be on its node
    assert new.node == "node-a"
    assert (new.port, new.port_v1) == (3301, 6790)


def test_a_port_left_free_by_a_removed_mon_is_taken_again() -> None:
    nodes = {"node-a": "10.0.0.1"}
    a0 = MonPlace("a", "node-a", "10.0.0.1", 3300, 6789)
    c2 = MonPlace("c", "node-a", "10.0.0.1", 3302, 6791)
    placed = place_mons(3, nodes, [a0, c2], allow_multiple_per_node=True, retired=["b"]).mons
    (new,) = [m for m in placed if m.mon_id not in ("a", "c")]
    assert (new.mon_id, new.port) == ("d", 3301)


def test_retired_mons_are_kept_in_the_config_map() -> None:
    body = build_config_map(OWNER, "f", [A], "conf", retired={"b": "node-b"})
    assert parse_retired(body["data"]["retired-mons.json"]) == {"b": "node-b"}
    assert parse_retired(None) == {}


def test_nodes_sharing_an_address_never_share_a_mon_port() -> None:
    nodes = {"node-a": "127.0.0.1", "node-b": "127.0.0.1"}
    placed = place_mons(3, nodes, [], allow_multiple_per_node=True).mons
    assert len({(m.ip, m.port) for m in placed}) == 3
    assert len({(m.ip, m.port_v1) for m in placed}) == 3
