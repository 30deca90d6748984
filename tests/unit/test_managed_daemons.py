"""A managed cluster's daemons as Kubernetes objects (mon placement, ceph.conf, Deployments, names, the
cleanup pod) and the pure parts of the daemons' entrypoint (``ceph-daemon``): monmap, argv, keyring."""

from __future__ import annotations

import configparser
import json
import re
from typing import Any

import pytest

from storage_operator.api.meta import DNS_SUBDOMAIN
from storage_operator.api.v1alpha1.cephcluster import CephClusterSpec
from storage_operator.daemons.launch import (
    CONF,
    Launch,
    LaunchError,
    daemon_argv,
    keyring_text,
    monmap_argv,
    split_mons,
)
from storage_operator.reconcile.managed import (
    BASE_CONFIG,
    DAEMON_ID_LABEL,
    DAEMON_LABEL,
    HOSTNAME_LABEL,
    KEYS_DIR,
    MON_PORT,
    MON_PORT_V1,
    PART_OF,
    DaemonPod,
    MonPlace,
    Owner,
    admin_secret,
    build_cleanup_pod,
    build_config_map,
    build_daemon_deployment,
    cleanup_pod_name,
    cluster_data_dir,
    config_map_name,
    daemon_name,
    daemon_secret,
    mds_pod,
    merged_config,
    mgr_pod,
    mon_host,
    mon_keyring_secret,
    mon_pod,
    osd_key_secret,
    osd_pod,
    place_mons,
    render_ceph_conf,
)
from storage_operator.reconcile.osds import CLUSTER_LABEL

FSID = "c4d2894c-7da7-4e23-9b34-1fa473841b4f"
OSD_UUID = "66666666-7777-4888-9999-aaaaaaaaaaaa"
IMAGE = "localhost/storage-operator-ceph:latest"
DATA_DIR = "/var/lib/storage-operator"
OWNER = Owner(name="ceph", namespace="storage-system", uid="0b5e7d0c-3f0e-4c0e-9d43-8c7f1f6b2a11")
NODES = {"node-c": "10.0.0.3", "node-a": "10.0.0.1", "node-b": "10.0.0.2"}  # not in name order on purpose

MON_A = MonPlace("a", "node-a", "10.0.0.1")
MON_B = MonPlace("b", "node-b", "10.0.0.2")
MON_C = MonPlace("c", "node-c", "10.0.0.3")


def mon(mon_id: str, node: str, slot: int = 0) -> MonPlace:
    return MonPlace(mon_id, node, NODES[node], MON_PORT + slot, MON_PORT_V1 + slot)


def where(mons: tuple[MonPlace, ...]) -> list[tuple[str, str, int, int]]:
    return [(m.mon_id, m.node, m.port, m.port_v1) for m in mons]


# ---------------------------------------------------------------------------- place_mons


def test_place_mons_fresh_one_per_node_in_name_order() -> None:
    placement = place_mons(3, NODES, (), allow_multiple_per_node=False)
    assert placement.problem is None
    assert placement.mons == (mon("a", "node-a"), mon("b", "node-b"), mon("c", "node-c"))


def test_place_mons_uses_the_nodes_addresses() -> None:
    placement = place_mons(3, NODES, (), allow_multiple_per_node=False)
    assert {m.node: m.ip for m in placement.mons} == NODES


def test_place_mons_keeps_the_existing_mons_where_they_are() -> None:
    existing = (mon("a", "node-c"),)
    placement = place_mons(3, NODES, existing, allow_multiple_per_node=False)
    assert placement.problem is None
    assert placement.mons == (mon("a", "node-c"), mon("b", "node-a"), mon("c", "node-b"))


def test_place_mons_keeps_a_mon_whose_node_is_no_longer_eligible() -> None:
    gone = MonPlace("a", "node-gone", "10.0.0.9")
    placement = place_mons(2, {"node-a": "10.0.0.1"}, (gone,), allow_multiple_per_node=False)
    assert placement.problem is None
    assert placement.mons == (gone, mon("b", "node-a"))


def test_place_mons_nothing_to_do_returns_the_existing_mons() -> None:
    existing = (MON_A, MON_B, MON_C)
    assert place_mons(3, NODES, existing, allow_multiple_per_node=False).mons == existing


def test_place_mons_fills_the_least_loaded_node_first() -> None:
    nodes = {"node-b": "10.0.0.2", "node-a": "10.0.0.1"}
    placement = place_mons(5, nodes, (), allow_multiple_per_node=True)
    assert placement.problem is None
    assert where(placement.mons) == [
        ("a", "node-a", 3300, 6789),
        ("b", "node-b", 3300, 6789),
        ("c", "node-a", 3301, 6790),
        ("d", "node-b", 3301, 6790),
        ("e", "node-a", 3302, 6791),
    ]


def test_place_mons_least_loaded_counts_the_existing_mons() -> None:
    existing = (mon("a", "node-a"), mon("b", "node-a", 1))
    placement = place_mons(3, {"node-a": "10.0.0.1", "node-b": "10.0.0.2"}, existing, allow_multiple_per_node=True)
    assert where(placement.mons)[2] == ("c", "node-b", 3300, 6789)


def test_place_mons_several_on_one_node_get_their_own_ports() -> None:
    placement = place_mons(3, {"node-a": "10.0.0.1"}, (), allow_multiple_per_node=True)
    assert placement.problem is None
    assert [m.addrvec for m in placement.mons] == [
        "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]",
        "[v2:10.0.0.1:3301,v1:10.0.0.1:6790]",
        "[v2:10.0.0.1:3302,v1:10.0.0.1:6791]",
    ]


def test_place_mons_not_enough_nodes_places_what_it_can_and_says_why() -> None:
    nodes = {"node-a": "10.0.0.1", "node-b": "10.0.0.2"}
    placement = place_mons(3, nodes, (), allow_multiple_per_node=False)
    assert placement.mons == (mon("a", "node-a"), mon("b", "node-b"))
    assert placement.problem is not None
    assert placement.problem.startswith("3 mons wanted but only 2 node(s) can hold one")
    assert "mon.allowMultiplePerNode" in placement.problem


def test_place_mons_without_any_node() -> None:
    placement = place_mons(1, {}, (), allow_multiple_per_node=True)
    assert placement.mons == ()
    assert placement.problem is not None
    assert "1 mons wanted but only 0 node(s)" in placement.problem


def test_place_mons_not_enough_nodes_keeps_the_existing_ones() -> None:
    placement = place_mons(3, {"node-a": "10.0.0.1"}, (MON_A,), allow_multiple_per_node=False)
    assert placement.mons == (MON_A,)
    assert placement.problem is not None


@pytest.mark.parametrize("count", [1, 2])
def test_place_mons_scale_down_keeps_the_lowest_ids(count: int) -> None:
    existing = (MON_C, MON_A, MON_B)  # any order
    placement = place_mons(count, NODES, existing, allow_multiple_per_node=False)
    assert placement.problem is None
    assert placement.mons == (MON_A, MON_B, MON_C)[:count]


def test_place_mons_fills_a_gap_in_the_ids() -> None:
    existing = (MON_A, MON_C)
    placement = place_mons(3, NODES, existing, allow_multiple_per_node=False)
    assert placement.mons == (MON_A, MON_C, mon("b", "node-b"))


def test_place_mons_is_deterministic_whatever_the_order_of_the_nodes() -> None:
    reordered = dict(sorted(NODES.items(), reverse=True))
    first = place_mons(3, NODES, (), allow_multiple_per_node=True)
    assert place_mons(3, reordered, (), allow_multiple_per_node=True) == first


# ---------------------------------------------------------------------------- mon_host, MonPlace json


def test_mon_host_in_id_order() -> None:
    assert mon_host([MON_B, MON_A]) == "[v2:10.0.0.1:3300,v1:10.0.0.1:6789],[v2:10.0.0.2:3300,v1:10.0.0.2:6789]"


def test_mon_host_of_no_mons_is_empty() -> None:
    assert mon_host([]) == ""


def test_mon_place_to_json() -> None:
    assert mon("b", "node-a", 1).to_json() == {"node": "node-a", "ip": "10.0.0.1", "port": 3301, "portV1": 6790}


@pytest.mark.parametrize("place", [MON_A, mon("c", "node-b", 2)], ids=["default-ports", "slot-2"])
def test_mon_place_json_round_trip(place: MonPlace) -> None:
    doc = json.loads(json.dumps(place.to_json()))
    assert MonPlace.from_json(place.mon_id, doc) == place


def test_mon_place_from_json_coerces_types() -> None:
    doc = {"node": "node-a", "ip": "10.0.0.1", "port": "3301", "portV1": "6790"}
    assert MonPlace.from_json("a", doc) == MonPlace("a", "node-a", "10.0.0.1", 3301, 6790)


def test_config_map_carries_the_mons_for_the_next_placement() -> None:
    mons = (MON_A, mon("b", "node-a", 1))
    cm = build_config_map(OWNER, FSID, mons, "conf")
    assert cm["metadata"]["name"] == config_map_name("ceph")
    assert cm["data"]["fsid"] == FSID
    assert cm["data"]["ceph.conf"] == "conf"
    read_back = tuple(MonPlace.from_json(i, d) for i, d in json.loads(cm["data"]["mons.json"]).items())
    assert read_back == mons


# ---------------------------------------------------------------------------- ceph.conf


def parse_conf(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def test_render_ceph_conf_exactly() -> None:
    conf = render_ceph_conf(FSID, [MON_A], {"mon": {"mon_allow_pool_delete": "true"}, "global": {"a": "1"}})
    assert conf == (
        "[global]\n"
        f"fsid = {FSID}\n"
        "mon_host = [v2:10.0.0.1:3300,v1:10.0.0.1:6789]\n"
        "a = 1\n"
        "\n"
        "[mon]\n"
        "mon_allow_pool_delete = true\n"
    )


def test_render_ceph_conf_global_first_then_sections_by_name() -> None:
    config = {"osd.3": {"x": "1"}, "osd": {"x": "2"}, "mgr": {"x": "3"}, "global": {"x": "4"}, "mds": {"x": "5"}}
    sections = re.findall(r"^\[(.+)\]$", render_ceph_conf(FSID, [MON_A], config), flags=re.MULTILINE)
    assert sections == ["global", "mds", "mgr", "osd", "osd.3"]


def test_render_ceph_conf_without_a_global_section_still_has_fsid_and_mon_host() -> None:
    conf = parse_conf(render_ceph_conf(FSID, [MON_B, MON_A], {"osd": {"osd_memory_target": "939524096"}}))
    assert conf.sections()[0] == "global"
    assert conf["global"]["fsid"] == FSID
    assert conf["global"]["mon_host"] == mon_host([MON_A, MON_B])
    assert conf["osd"]["osd_memory_target"] == "939524096"


def test_render_ceph_conf_fsid_and_mon_host_lead_the_global_section() -> None:
    conf = parse_conf(render_ceph_conf(FSID, [MON_A], BASE_CONFIG))
    assert list(conf["global"])[:2] == ["fsid", "mon_host"]


def test_render_ceph_conf_does_not_change_its_input() -> None:
    config = {"global": {"a": "1"}}
    render_ceph_conf(FSID, [MON_A], config)
    assert config == {"global": {"a": "1"}}


def test_merged_config_without_user_options_is_the_base() -> None:
    assert merged_config(CephClusterSpec()) == BASE_CONFIG


def test_merged_config_user_options_win_and_add() -> None:
    spec = CephClusterSpec.model_validate(
        {
            "cephConfig": {
                "global": {"log_to_file": "true", "osd_pool_default_size": "1"},
                "osd": {"osd_memory_target": "939524096"},
            }
        }
    )
    merged = merged_config(spec)
    assert merged["global"]["log_to_file"] == "true"
    assert merged["global"]["osd_pool_default_size"] == "1"
    assert merged["global"]["auth_cluster_required"] == "cephx"  # the rest of the base stays
    assert merged["mon"] == BASE_CONFIG["mon"]
    assert merged["osd"] == {"osd_memory_target": "939524096"}
    assert BASE_CONFIG["global"]["log_to_file"] == "false"  # the base itself is not changed


def test_rendered_conf_carries_the_user_override_once() -> None:
    spec = CephClusterSpec.model_validate({"cephConfig": {"global": {"log_to_file": "true"}}})
    conf = render_ceph_conf(FSID, [MON_A], merged_config(spec))
    assert re.findall(r"^log_to_file = .*$", conf, flags=re.MULTILINE) == ["log_to_file = true"]
    assert parse_conf(conf)["global"]["log_to_file"] == "true"


# ---------------------------------------------------------------------------- Deployments


def pods() -> dict[str, DaemonPod]:
    return {
        "mon": mon_pod(OWNER, MON_A, [MON_B, MON_A], FSID, DATA_DIR),
        "mgr": mgr_pod(OWNER, "a", "node-a"),
        "osd": osd_pod(OWNER, 3, OSD_UUID, "node-b", "/dev/disk/by-id/virtio-osd3"),
        "mds": mds_pod(OWNER, "shared-a", "shared", "node-c"),
    }


KINDS = ["mon", "mgr", "osd", "mds"]


def deployment(kind: str) -> dict[str, Any]:
    return build_daemon_deployment(OWNER, IMAGE, pods()[kind])


def pod_spec(kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = deployment(kind)["spec"]["template"]["spec"]
    return spec


def container(kind: str) -> dict[str, Any]:
    found: dict[str, Any] = pod_spec(kind)["containers"][0]
    return found


def volumes(kind: str) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod_spec(kind)["volumes"]}


def mounts(kind: str) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in container(kind)["volumeMounts"]}


def env(kind: str) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(kind)["env"]}


@pytest.mark.parametrize("kind", KINDS)
def test_deployment_identity(kind: str) -> None:
    pod = pods()[kind]
    found = deployment(kind)
    assert found["apiVersion"] == "apps/v1"
    assert found["kind"] == "Deployment"
    assert found["metadata"]["name"] == daemon_name("ceph", kind, pod.daemon_id)
    assert found["metadata"]["namespace"] == "storage-system"
    labels = {DAEMON_LABEL: kind, DAEMON_ID_LABEL: pod.daemon_id, CLUSTER_LABEL: "ceph"}
    assert found["metadata"]["labels"] == {**PART_OF, **labels}
    assert found["spec"]["selector"] == {"matchLabels": labels}
    template = found["spec"]["template"]["metadata"]["labels"]
    assert {**PART_OF, **labels}.items() <= template.items()
    assert template["app.kubernetes.io/name"] == f"ceph-{kind}"


@pytest.mark.parametrize("kind", KINDS)
def test_deployment_is_owned_by_the_cluster(kind: str) -> None:
    assert deployment(kind)["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "storage.baremetal.io/v1alpha1",
            "kind": "CephCluster",
            "name": "ceph",
            "uid": OWNER.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_deployment_one_replica_recreated_never_rolled(kind: str) -> None:
    spec = deployment(kind)["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize("kind", KINDS)
def test_deployment_on_the_host_network_of_its_node(kind: str) -> None:
    spec = pod_spec(kind)
    assert spec["hostNetwork"] is True
    assert spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert spec["nodeSelector"] == {HOSTNAME_LABEL: pods()[kind].node}
    assert spec["automountServiceAccountToken"] is False


@pytest.mark.parametrize("kind", KINDS)
def test_deployment_container(kind: str) -> None:
    found = container(kind)
    assert found["name"] == kind
    assert found["image"] == IMAGE
    assert found["args"] == ["ceph-daemon", kind]
    assert found["securityContext"]["readOnlyRootFilesystem"] is True
    assert found["securityContext"]["runAsUser"] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_deployment_env_fixed_part(kind: str) -> None:
    first = container(kind)["env"][:3]
    assert first == [
        {"name": "CEPH_DAEMON_ID", "value": pods()[kind].daemon_id},
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_deployment_daemon_env_sorted_by_name(kind: str) -> None:
    names = [e["name"] for e in container(kind)["env"][3:]]
    assert names == sorted(pods()[kind].env)


@pytest.mark.parametrize("kind", KINDS)
def test_deployment_key_secret_is_read_only_to_its_owner(kind: str) -> None:
    keys = volumes(kind)["keys"]
    assert keys["secret"] == {"secretName": pods()[kind].keyring_secret, "defaultMode": 0o400}
    assert mounts(kind)["keys"] == {"name": "keys", "mountPath": KEYS_DIR, "readOnly": True}


@pytest.mark.parametrize("kind", KINDS)
def test_deployment_reads_the_clusters_ceph_conf(kind: str) -> None:
    assert volumes(kind)["config"]["configMap"] == {
        "name": config_map_name("ceph"),
        "items": [{"key": "ceph.conf", "path": "ceph.conf"}],
    }
    assert mounts(kind)["config"]["mountPath"] == "/etc/ceph"
    assert mounts(kind)["config"]["readOnly"] is True


@pytest.mark.parametrize("kind", KINDS)
def test_deployment_writable_places_are_volumes(kind: str) -> None:
    found = {m["mountPath"] for m in container(kind)["volumeMounts"] if not m.get("readOnly")}
    assert {"/run/ceph", "/var/lib/ceph/crash", "/tmp"} <= found
    assert container(kind)["terminationMessagePath"].startswith("/tmp/")


@pytest.mark.parametrize("kind", KINDS)
def test_deployment_data_dir_is_where_the_entrypoint_looks(kind: str) -> None:
    pod = pods()[kind]
    launch = Launch(kind, pod.daemon_id, {})
    assert mounts(kind)["data"]["mountPath"] == str(launch.data_dir)


@pytest.mark.parametrize("kind", ["mgr", "osd", "mds"])
def test_deployment_data_in_memory_for_daemons_without_a_store_on_the_host(kind: str) -> None:
    assert volumes(kind)["data"] == {"name": "data", "emptyDir": {"medium": "Memory"}}


def test_mon_data_on_the_host_under_the_clusters_directory() -> None:
    data = volumes("mon")["data"]
    assert data["hostPath"] == {
        "path": "/var/lib/storage-operator/storage-system-ceph/mon-a",
        "type": "DirectoryOrCreate",
    }
    assert data["hostPath"]["path"].startswith(cluster_data_dir(OWNER, DATA_DIR) + "/")


def test_mon_data_dir_with_a_trailing_slash() -> None:
    pod = mon_pod(OWNER, MON_A, [MON_A], FSID, "/srv/ceph/")
    assert pod.host_data == "/srv/ceph/storage-system-ceph/mon-a"


def test_only_the_osd_is_privileged_and_sees_dev() -> None:
    for kind in ("mon", "mgr", "mds"):
        assert container(kind)["securityContext"]["privileged"] is False, kind
        assert "dev" not in volumes(kind), kind
        assert "dev" not in mounts(kind), kind
    assert container("osd")["securityContext"]["privileged"] is True
    assert volumes("osd")["dev"] == {"name": "dev", "hostPath": {"path": "/dev"}}
    assert mounts("osd")["dev"] == {"name": "dev", "mountPath": "/dev"}


def test_mon_env() -> None:
    assert env("mon")["CEPH_FSID"] == FSID
    assert env("mon")["CEPH_PUBLIC_ADDRV"] == "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]"
    # id order, whatever order the initial mons were given in
    assert env("mon")["CEPH_INITIAL_MONS"] == (
        "a=[v2:10.0.0.1:3300,v1:10.0.0.1:6789],b=[v2:10.0.0.2:3300,v1:10.0.0.2:6789]"
    )


def test_mon_keyring_secret() -> None:
    assert pods()["mon"].keyring_secret == mon_keyring_secret("ceph") == "ceph-ceph-mon-keyring"


def test_osd_env_and_key() -> None:
    assert env("osd")["CEPH_OSD_UUID"] == OSD_UUID
    assert env("osd")["CEPH_OSD_DEVICE"] == "/dev/disk/by-id/virtio-osd3"
    assert env("osd")["CEPH_DAEMON_ID"] == "3"
    assert pods()["osd"].keyring_secret == osd_key_secret("ceph", OSD_UUID)


def test_mgr_and_mds_keys_and_env() -> None:
    assert pods()["mgr"].keyring_secret == daemon_secret("ceph", "mgr", "a") == "ceph-mgr-a-keyring"
    assert pods()["mds"].keyring_secret == daemon_secret("ceph", "mds", "shared-a")
    assert env("mds")["CEPH_FILESYSTEM"] == "shared"
    assert pods()["mgr"].env == {}


@pytest.mark.parametrize(
    ("kind", "command", "field", "values"),
    [("mon", "mon_status", "state", "leader,peon"), ("osd", "status", "state", "active")],
)
def test_deployment_ready_when_ceph_says_so(kind: str, command: str, field: str, values: str) -> None:
    probe = container(kind)["readinessProbe"]["exec"]["command"]
    socket = f"/run/ceph/ceph-{kind}.{pods()[kind].daemon_id}.asok"
    assert probe == ["python3", "-m", "storage_operator.daemons.ready", socket, command, field, values]
    assert mounts(kind)["run"]["mountPath"] == "/run/ceph"  # where the admin socket is


@pytest.mark.parametrize("kind", ["mgr", "mds"])
def test_deployment_without_a_readiness_question(kind: str) -> None:
    assert "readinessProbe" not in container(kind)


def test_deployment_annotations_only_when_given() -> None:
    assert "annotations" not in deployment("mgr")["spec"]["template"]["metadata"]
    pod = DaemonPod("mgr", "a", "node-a", "s", {}, annotations={"storage.baremetal.io/config-hash": "abc"})
    found = build_daemon_deployment(OWNER, IMAGE, pod)
    assert found["spec"]["template"]["metadata"]["annotations"] == {"storage.baremetal.io/config-hash": "abc"}


@pytest.mark.parametrize("kind", KINDS)
def test_deployment_env_is_enough_for_the_entrypoint(kind: str) -> None:
    """What the Deployment sets (fieldRefs filled in as the kubelet would) is what ``ceph-daemon`` needs."""
    filled = {"spec.nodeName": pods()[kind].node, "status.podIP": "10.0.0.7"}
    environ = {
        name: value if isinstance(value, str) else filled[value["fieldRef"]["fieldPath"]]
        for name, value in env(kind).items()
    }
    argv = daemon_argv(Launch(kind, environ["CEPH_DAEMON_ID"], environ))
    assert argv[0] == f"ceph-{kind}"
    assert argv[argv.index("-i") + 1] == pods()[kind].daemon_id


# ---------------------------------------------------------------------------- names

LONG = "a" * 199 + "-" + "b" * 53  # 253 characters; cut at 200 it would end in "-"
DOTTED = "c." * 126 + "c"  # 253 characters


def test_names_of_a_short_cluster() -> None:
    assert config_map_name("ceph") == "ceph-ceph-config"
    assert admin_secret("ceph") == "ceph-ceph-admin"
    assert daemon_name("ceph", "osd", "3") == "ceph-osd-3"
    assert daemon_secret("ceph", "mds", "shared-a") == "ceph-mds-shared-a-keyring"
    assert osd_key_secret("ceph", OSD_UUID) == f"ceph-osd-key-{OSD_UUID}"
    assert cleanup_pod_name(OWNER, "node-a") == "ceph-cleanup-node-a"


def test_long_cluster_name_is_cut_without_a_trailing_dash() -> None:
    assert len(LONG) == 253
    assert config_map_name(LONG) == "a" * 199 + "-ceph-config"


@pytest.mark.parametrize("cluster", [LONG, DOTTED], ids=["dash", "dotted"])
def test_names_of_a_253_character_cluster_are_valid(cluster: str) -> None:
    assert len(cluster) == 253
    owner = Owner(cluster, "storage-system", "u")
    names = [
        config_map_name(cluster),
        mon_keyring_secret(cluster),
        admin_secret(cluster),
        daemon_name(cluster, "mon", "a"),
        daemon_name(cluster, "osd", "1023"),
        daemon_secret(cluster, "mgr", "b"),
        daemon_secret(cluster, "osd", "1023"),
        osd_key_secret(cluster, OSD_UUID),
        cleanup_pod_name(owner, "node-a"),
        cleanup_pod_name(owner, "n" * 253),
    ]
    for name in names:
        assert len(name) <= 253, name
        assert re.match(DNS_SUBDOMAIN, name), name


def test_labels_of_a_253_character_cluster_are_valid() -> None:
    owner = Owner(LONG, "storage-system", "u")
    found = build_daemon_deployment(owner, IMAGE, mgr_pod(owner, "a", "node-a"))
    label_sets = [
        found["metadata"]["labels"],
        found["spec"]["selector"]["matchLabels"],
        found["spec"]["template"]["metadata"]["labels"],
        build_config_map(owner, FSID, [MON_A], "")["metadata"]["labels"],
    ]
    for labels in label_sets:
        for value in labels.values():
            assert len(value) <= 63, value


# ---------------------------------------------------------------------------- cleanup pod


def cleanup(data_dir: str = DATA_DIR) -> dict[str, Any]:
    return build_cleanup_pod(OWNER, "node-b", data_dir, IMAGE)


def test_cleanup_pod_removes_only_the_clusters_directory() -> None:
    found = cleanup()["spec"]["containers"][0]
    assert found["command"] == ["rm", "-rf", "--one-file-system", "--", "/host-data/storage-system-ceph"]
    assert found["volumeMounts"][0] == {"name": "host-data", "mountPath": "/host-data"}


def test_cleanup_pod_target_is_the_mons_directory_on_the_host() -> None:
    pod = cleanup()
    parent = {v["name"]: v for v in pod["spec"]["volumes"]}["host-data"]["hostPath"]["path"]
    target = pod["spec"]["containers"][0]["command"][-1]
    assert parent == DATA_DIR
    assert parent + target.removeprefix("/host-data") == cluster_data_dir(OWNER, DATA_DIR)


@pytest.mark.parametrize(("data_dir", "parent"), [("/srv/ceph/", "/srv/ceph"), ("/", "/")])
def test_cleanup_pod_parent_without_a_trailing_slash(data_dir: str, parent: str) -> None:
    volumes = {v["name"]: v for v in cleanup(data_dir)["spec"]["volumes"]}
    assert volumes["host-data"]["hostPath"] == {"path": parent, "type": "DirectoryOrCreate"}


def test_cleanup_pod_runs_once_on_its_node() -> None:
    pod = cleanup()
    assert pod["kind"] == "Pod"
    assert pod["metadata"]["name"] == "ceph-cleanup-node-b"
    assert pod["metadata"]["labels"][DAEMON_LABEL] == "cleanup"
    assert pod["metadata"]["ownerReferences"] == [OWNER.reference()]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["nodeSelector"] == {HOSTNAME_LABEL: "node-b"}


def test_cleanup_pod_is_not_privileged_and_sees_only_the_data_dir() -> None:
    pod = cleanup()
    security = pod["spec"]["containers"][0]["securityContext"]
    assert security.get("privileged", False) is False
    assert security["readOnlyRootFilesystem"] is True
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["host-data", "tmp"]
    assert pod["spec"].get("hostNetwork", False) is False


# ---------------------------------------------------------------------------- ceph-daemon: monmap

INITIAL = "a=[v2:10.0.0.1:3300,v1:10.0.0.1:6789],b=[v2:10.0.0.2:3300,v1:10.0.0.2:6789]"


def test_split_mons_keeps_commas_inside_brackets() -> None:
    assert split_mons(INITIAL) == ["a=[v2:10.0.0.1:3300,v1:10.0.0.1:6789]", "b=[v2:10.0.0.2:3300,v1:10.0.0.2:6789]"]


@pytest.mark.parametrize(
    ("initial", "entries"),
    [
        ("", []),
        ("a=10.0.0.1:6789", ["a=10.0.0.1:6789"]),
        (" a=[v2:1.2.3.4:3300] , b=[v2:1.2.3.5:3300] ", ["a=[v2:1.2.3.4:3300]", "b=[v2:1.2.3.5:3300]"]),
        ("a=[v2:1.2.3.4:3300],,b=[v2:1.2.3.5:3300],", ["a=[v2:1.2.3.4:3300]", "b=[v2:1.2.3.5:3300]"]),
    ],
    ids=["empty", "one-plain", "spaces", "empty-entries"],
)
def test_split_mons(initial: str, entries: list[str]) -> None:
    assert split_mons(initial) == entries


def test_monmap_argv() -> None:
    assert monmap_argv(FSID, INITIAL, "/tmp/monmap") == [
        "monmaptool",
        "--create",
        "--fsid",
        FSID,
        "--set-min-mon-release",
        "pacific",
        "--enable-all-features",
        "--addv",
        "a",
        "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]",
        "--addv",
        "b",
        "[v2:10.0.0.2:3300,v1:10.0.0.2:6789]",
        "/tmp/monmap",
    ]


def test_monmap_argv_from_what_the_operator_sets() -> None:
    mons = [mon("a", "node-a"), mon("b", "node-a", 1), mon("c", "node-b")]
    initial = mon_pod(OWNER, mons[0], mons, FSID, DATA_DIR).env["CEPH_INITIAL_MONS"]
    argv = monmap_argv(FSID, initial, "/tmp/monmap")
    assert argv.count("--addv") == 3
    pairs = [(argv[i + 1], argv[i + 2]) for i, arg in enumerate(argv) if arg == "--addv"]
    assert pairs == [(m.mon_id, m.addrvec) for m in mons]


@pytest.mark.parametrize("entry", ["a", "=[v2:10.0.0.1:3300]", "a="], ids=["no-address", "no-name", "empty-address"])
def test_monmap_argv_malformed_entry(entry: str) -> None:
    with pytest.raises(LaunchError, match="malformed entry") as raised:
        monmap_argv(FSID, f"{entry},b=[v2:10.0.0.2:3300,v1:10.0.0.2:6789]", "/tmp/monmap")
    assert repr(entry) in str(raised.value)


# ---------------------------------------------------------------------------- ceph-daemon: argv

COMMON = ["-f", "-c", CONF]
OSD_ENV = {"POD_IP": "10.0.0.2", "NODE_NAME": "node-b", "CEPH_OSD_UUID": OSD_UUID}


def test_mon_argv() -> None:
    launch = Launch("mon", "a", {"CEPH_PUBLIC_ADDRV": "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]"})
    assert daemon_argv(launch) == [
        "ceph-mon",
        *COMMON,
        "-i",
        "a",
        "--mon-data",
        "/var/lib/ceph/mon/ceph-a",
        "--public-addrv",
        "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]",
    ]


def test_osd_argv() -> None:
    assert daemon_argv(Launch("osd", "3", OSD_ENV)) == [
        "ceph-osd",
        *COMMON,
        "-i",
        "3",
        "--osd-data",
        "/var/lib/ceph/osd/ceph-3",
        "--osd-uuid",
        OSD_UUID,
        "--public-addr",
        "10.0.0.2",
        "--cluster-addr",
        "10.0.0.2",
        "--crush-location",
        "root=default host=node-b",
    ]


@pytest.mark.parametrize("daemon", ["mgr", "mds"])
def test_mgr_and_mds_argv(daemon: str) -> None:
    assert daemon_argv(Launch(daemon, "x", {"POD_IP": "10.0.0.3"})) == [
        f"ceph-{daemon}",
        *COMMON,
        "-i",
        "x",
        "--public-addr",
        "10.0.0.3",
    ]


def test_mds_argv_joins_its_file_system() -> None:
    argv = daemon_argv(Launch("mds", "shared-a", {"POD_IP": "10.0.0.3", "CEPH_FILESYSTEM": "shared"}))
    assert argv == ["ceph-mds", *COMMON, "-i", "shared-a", "--public-addr", "10.0.0.3", "--mds-join-fs", "shared"]


def test_mds_deployment_joins_its_file_system() -> None:
    environ = {"POD_IP": "10.0.0.3", **pods()["mds"].env}
    argv = daemon_argv(Launch("mds", "shared-a", environ))
    assert argv[-2:] == ["--mds-join-fs", "shared"]


@pytest.mark.parametrize(
    ("daemon", "environ", "missing"),
    [
        ("mon", {"POD_IP": "10.0.0.1"}, "CEPH_PUBLIC_ADDRV"),
        ("mon", {"CEPH_PUBLIC_ADDRV": "  "}, "CEPH_PUBLIC_ADDRV"),
        ("osd", {**OSD_ENV, "POD_IP": ""}, "POD_IP"),
        ("osd", {k: v for k, v in OSD_ENV.items() if k != "NODE_NAME"}, "NODE_NAME"),
        ("osd", {k: v for k, v in OSD_ENV.items() if k != "CEPH_OSD_UUID"}, "CEPH_OSD_UUID"),
        ("mgr", {}, "POD_IP"),
        ("mds", {"NODE_NAME": "node-a"}, "POD_IP"),
    ],
    ids=["mon-addrv", "mon-blank", "osd-ip", "osd-node", "osd-uuid", "mgr-ip", "mds-ip"],
)
def test_argv_missing_env_names_the_variable(daemon: str, environ: dict[str, str], missing: str) -> None:
    with pytest.raises(LaunchError, match=f"^{missing} is not set") as raised:
        daemon_argv(Launch(daemon, "a", environ))
    assert f"the {daemon} Deployment" in str(raised.value)


def test_argv_unknown_daemon() -> None:
    with pytest.raises(LaunchError, match="unknown daemon 'rgw'"):
        daemon_argv(Launch("rgw", "a", {"POD_IP": "10.0.0.1"}))


def test_launch_entity_and_data_dir() -> None:
    launch = Launch("osd", "3", {})
    assert launch.entity == "osd.3"
    assert str(launch.data_dir) == "/var/lib/ceph/osd/ceph-3"


def test_need_strips_the_value() -> None:
    assert Launch("osd", "3", {"POD_IP": " 10.0.0.2\n"}).need("POD_IP") == "10.0.0.2"


def test_keyring_text() -> None:
    key = "AQBvaBVmAAAAABAA8Zt3Ds5Vt2Dw3m+8o5Ba0w=="
    assert keyring_text("osd.3", key) == f"[osd.3]\n\tkey = {key}\n"
