"""CephCluster (external) status kept true against the lab's real Ceph: health, capacity, OSDs, mons;
failures that say which; Events on transitions; deletion held while pools use the cluster."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from kubernetes import client

from storage_operator.ceph.auth import generate_key
from storage_operator.ceph.df import parse_df
from storage_operator.ceph.status import observe_status
from storage_operator.lab.ceph import mon_host
from storage_operator.lab.cluster import CEPH_ADMIN_SECRET
from tests.operator_support import (
    Storage,
    ceph_json,
    condition,
    external_cluster_spec,
    lab_control,
    own_namespace,
    status,
    unique,
)
from tests.support import LabHandle

KIND = "CephCluster"
REFRESH = 3


@pytest.fixture(scope="module")
def ns(lab: LabHandle) -> Iterator[Storage]:
    with own_namespace(lab, refresh=REFRESH) as storage:
        yield storage


def health(body: dict[str, object] | None) -> str | None:
    return (status(body).get("ceph") or {}).get("health")


def test_status_matches_what_ceph_reports(lab: LabHandle, ns: Storage) -> None:
    body = ns.wait(KIND, "ceph", lambda b: health(b) == "HEALTH_OK", timeout=60)
    with lab.ceph() as ceph:
        truth = observe_status(ceph)
        df = parse_df(ceph.mon_command("df", detail="detail"))
    s = status(body)
    assert s["phase"] == "Ready"
    assert s["ceph"]["fsid"] == truth.fsid
    assert (
        s["ceph"]["osds"]
        == {"total": truth.osds, "up": truth.osds_up, "in": truth.osds_in}
        == {
            "total": 3,
            "up": 3,
            "in": 3,
        }
    )
    assert s["ceph"]["mons"] == {"total": 1, "quorum": ["a"]}
    capacity = s["ceph"]["capacity"]
    assert capacity["bytesTotal"] == df.total_bytes
    # Used and available move with every write; they must be Ceph's own numbers of a moment ago.
    assert abs(capacity["bytesUsed"] - df.used_bytes) < 0.05 * df.total_bytes
    assert capacity["bytesUsed"] + capacity["bytesAvailable"] == pytest.approx(df.total_bytes, rel=0.05)
    assert s["summary"] == {"mons": "1/1", "osds": "3/3", "used": s["summary"]["used"], "capacity": "9.0 GiB"}
    assert s["ceph"]["version"] == "16.2.15"
    checked = datetime.fromisoformat(s["ceph"]["lastChecked"].replace("Z", "+00:00"))
    assert (datetime.now(UTC) - checked).total_seconds() < 5 * REFRESH
    assert condition(body, "Connected")["status"] == "True"
    assert condition(body, "HealthOK")["status"] == "True"
    assert s["observedGeneration"] == body["metadata"]["generation"]


def test_a_stopped_osd_turns_health_warn_with_details_and_an_event_then_back(lab: LabHandle, ns: Storage) -> None:
    control = lab_control(lab)
    control.stop_process("ceph-osd.2")
    try:
        # A stopped OSD marks itself down at once; the status follows within the refresh interval.
        body = ns.wait(KIND, "ceph", lambda b: health(b) == "HEALTH_WARN", timeout=REFRESH * 2 + 10)
        s = status(body)
        assert s["phase"] == "Warning"
        assert "OSD_DOWN" in s["ceph"]["details"]
        assert s["ceph"]["details"]["OSD_DOWN"]["message"] == "1 osds down"
        assert s["ceph"]["osds"]["up"] == 2
        assert s["summary"]["osds"] == "2/3"
        assert condition(body, "HealthOK")["reason"] == "HealthWarn"
        ns.wait_event("ceph", "HealthWarn", contains="OSD_DOWN: 1 osds down")
    finally:
        control.start_process("ceph-osd.2")
    body = ns.wait(KIND, "ceph", lambda b: health(b) == "HEALTH_OK", timeout=120)
    assert status(body)["phase"] == "Ready"
    assert status(body)["ceph"]["details"] == {}
    ns.wait_event("ceph", "HealthOK", contains="was HEALTH_WARN")


def secret(lab: LabHandle, name: str, data: dict[str, str], namespace: str | None = None) -> None:
    body = client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=data)
    with lab.api() as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_secret(namespace or lab.config.operator_namespace, body)


def admin_key(lab: LabHandle) -> str:
    with lab.api() as api:
        found = client.CoreV1Api(api).read_namespaced_secret(CEPH_ADMIN_SECRET, lab.config.operator_namespace)
    return base64.b64decode(found.data["userKey"]).decode()


def delete_secret(lab: LabHandle, name: str) -> None:
    with lab.api() as api:
        client.CoreV1Api(api).delete_namespaced_secret(name, lab.config.operator_namespace)


def test_a_bad_key_is_a_failure_that_says_so_and_recovers_when_the_secret_is_fixed(lab: LabHandle, ns: Storage) -> None:
    name, secret_name = unique("badkey"), unique("wrong-key")
    secret(lab, secret_name, {"userID": "admin", "userKey": generate_key()})
    try:
        spec = external_cluster_spec(lab, refresh=REFRESH)
        spec["external"]["secretRef"]["name"] = secret_name
        ns.create(KIND, name, spec)
        body = ns.wait_phase(KIND, name, "Failure")
        connected = condition(body, "Connected")
        assert (connected["status"], connected["reason"]) == ("False", "AuthenticationFailed")
        assert "refused the key of client.admin" in status(body)["message"]
        assert health(body) in (None, "HEALTH_UNKNOWN")
        ns.wait_event(name, "AuthenticationFailed")
        with lab.api() as api:
            client.CoreV1Api(api).patch_namespaced_secret(
                secret_name, lab.config.operator_namespace, {"stringData": {"userKey": admin_key(lab)}}
            )
        body = ns.wait_phase(KIND, name, "Ready", timeout=REFRESH * 4 + 10)  # retried with backoff, not restarted
        assert condition(body, "Connected")["status"] == "True"
        ns.wait_event(name, "Connected")
    finally:
        ns.delete(KIND, name)
        ns.wait_gone(KIND, name)
        delete_secret(lab, secret_name)


def test_an_unreachable_monitor_is_a_failure_then_recovery_when_monhosts_are_fixed(lab: LabHandle, ns: Storage) -> None:
    name = unique("nomon")
    nobody = f"127.0.0.1:{lab.config.port_base + 398}"  # in the lab's block, never bound
    ns.create(KIND, name, external_cluster_spec(lab, refresh=REFRESH, external=_external(lab, [nobody])))
    body = ns.wait_phase(KIND, name, "Failure", timeout=40)
    assert condition(body, "Connected")["reason"] == "Unreachable"
    assert f"no monitor answered at {nobody} within" in status(body)["message"]
    ns.patch(KIND, name, {"external": {"monHosts": [mon_host(lab.config)]}})
    ns.wait_phase(KIND, name, "Ready", timeout=40)
    ns.delete(KIND, name)
    ns.wait_gone(KIND, name)


def _external(lab: LabHandle, mons: list[str], secret_namespace: str | None = None) -> dict[str, object]:
    return {
        "enable": True,
        "monHosts": mons,
        "secretRef": {"name": CEPH_ADMIN_SECRET, "namespace": secret_namespace or lab.config.operator_namespace},
    }


def test_a_monitor_address_ceph_cannot_parse_is_named(lab: LabHandle, ns: Storage) -> None:
    name = unique("badaddr")
    ns.create(KIND, name, external_cluster_spec(lab, external=_external(lab, ["mon one"])))
    body = ns.wait_phase(KIND, name, "Failure")
    assert condition(body, "Connected")["reason"] == "InvalidAddress"
    assert "'mon one'" in status(body)["message"]
    ns.delete(KIND, name)
    ns.wait_gone(KIND, name)


def test_secrets_outside_the_operator_namespace_are_not_readable(lab: LabHandle, ns: Storage) -> None:
    """Least privilege, shown by running: the Secret exists, yet the operator may not read it."""
    name, secret_name = unique("foreign"), unique("elsewhere")
    secret(lab, secret_name, {"userID": "admin", "userKey": admin_key(lab)}, namespace=ns.namespace)
    external = _external(lab, [mon_host(lab.config)], secret_namespace=ns.namespace)
    external["secretRef"] = {"name": secret_name}  # the object's own namespace
    ns.create(KIND, name, external_cluster_spec(lab, external=external))
    body = ns.wait_phase(KIND, name, "Failure")
    assert condition(body, "Connected")["reason"] == "SecretForbidden"
    assert f"reads Secrets only in its own namespace {lab.config.operator_namespace}" in status(body)["message"]
    ns.delete(KIND, name)
    ns.wait_gone(KIND, name)


def test_a_managed_cluster_without_a_kubelet_waits_for_its_mons_and_says_so_once(lab: LabHandle) -> None:
    """The process profile runs no pods: the managed example gets its keys, ConfigMap and mon Deployments,
    and waits for a quorum that never forms, saying so once (the real-node tests see it come up)."""
    with lab.api() as api:
        storage = Storage(api, lab.config.operator_namespace)
        body = storage.wait_phase(KIND, "managed", "Progressing")
        connected = condition(body, "Connected")
        assert (connected["status"], connected["reason"]) == ("False", "Bootstrapping")
        assert "waiting for the mons" in connected["message"]
        time.sleep(8)  # long enough for a retry loop to show itself
        events = [e for e in storage.event_objects("managed") if e.reason == "Bootstrapping"]
        assert len(events) == 1
        assert events[0].count == 1
        core = client.CoreV1Api(api)
        secret = core.read_namespaced_secret("managed-ceph-admin", lab.config.operator_namespace)
        data = secret.data or {}
        assert sorted(data) == ["userID", "userKey"]
        conf = core.read_namespaced_config_map("managed-ceph-config", lab.config.operator_namespace).data
        key = base64.b64decode(data["userKey"]).decode()
        assert key not in json.dumps(conf)  # keys only in Secrets
        assert key not in json.dumps(status(body))
        mons = (
            client.AppsV1Api(api)
            .list_namespaced_deployment(
                lab.config.operator_namespace, label_selector="storage.baremetal.io/cluster=managed"
            )
            .items
        )
        assert sorted(str(d.metadata.name) for d in mons) == ["managed-mon-a", "managed-mon-b", "managed-mon-c"]


def test_a_device_filter_that_is_not_a_regex_is_reported(lab: LabHandle, ns: Storage) -> None:
    name = unique("regex")
    ns.create(KIND, name, {"storage": {"deviceFilter": "^sd[b-"}, "refreshIntervalSeconds": REFRESH})
    body = ns.wait(KIND, name, lambda b: condition(b, "SpecValid").get("status") == "False")
    assert (
        "spec.storage.deviceFilter '^sd[b-' is not a valid regular expression"
        in condition(body, "SpecValid")["message"]
    )
    ns.wait_event(name, "InvalidSpec", contains="deviceFilter")
    ns.delete(KIND, name)
    ns.wait_gone(KIND, name)


def test_deletion_waits_while_pools_use_the_cluster(lab: LabHandle, ns: Storage) -> None:
    cluster, pool = unique("busy"), unique("user")
    ns.create(KIND, cluster, external_cluster_spec(lab, refresh=REFRESH))
    ns.wait_phase(KIND, cluster, "Ready", timeout=30)
    ns.create(
        "CephBlockPool",
        pool,
        {"clusterRef": {"name": cluster}, "failureDomain": "osd", "replicated": {"size": 2}},
    )
    ns.wait_phase("CephBlockPool", pool, "Ready")
    ns.delete(KIND, cluster)
    body = ns.wait(KIND, cluster, lambda b: condition(b, "DeletionIsBlocked").get("status") == "True")
    assert f"CephBlockPools still use it: {pool}" in condition(body, "DeletionIsBlocked")["message"]
    ns.wait_event(cluster, "DeletionIsBlocked", contains=pool)
    ns.delete("CephBlockPool", pool)
    ns.wait_gone("CephBlockPool", pool)
    ns.wait_gone(KIND, cluster)


def test_a_hung_monitor_does_not_hold_up_other_clusters(lab: LabHandle, ns: Storage) -> None:
    """A monitor that accepts connections and never answers ties up only its own cluster's reconciles."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        held: list[socket.socket] = []
        done = threading.Event()

        def accept_and_say_nothing() -> None:
            silent.settimeout(0.2)
            while not done.is_set():
                try:
                    held.append(silent.accept()[0])
                except OSError:
                    continue

        threading.Thread(target=accept_and_say_nothing, daemon=True).start()
        stuck, pool = unique("stuck"), unique("fine")
        try:
            address = f"127.0.0.1:{silent.getsockname()[1]}"
            ns.create(KIND, stuck, external_cluster_spec(lab, external=_external(lab, [address])))
            ns.create("CephBlockPool", unique("waits"), {"clusterRef": {"name": stuck}, "replicated": {"size": 2}})
            time.sleep(1)  # both are now waiting on the silent monitor
            ns.create(
                "CephBlockPool",
                pool,
                {"clusterRef": {"name": "ceph"}, "failureDomain": "osd", "replicated": {"size": 2}},
            )
            ns.wait_phase("CephBlockPool", pool, "Ready", timeout=30)
            # The other cluster's pool got done while the silent monitor still held its cluster's connect.
            assert status(ns.get(KIND, stuck)).get("phase") != "Failure"
            body = ns.wait_phase(KIND, stuck, "Failure", timeout=60)
            assert condition(body, "Connected")["reason"] == "Unreachable"
        finally:
            done.set()
            for conn in held:
                conn.close()


def test_the_operator_reconnects_after_a_monitor_restart(lab: LabHandle, ns: Storage) -> None:
    control = lab_control(lab)
    control.stop_process("ceph-mon.a")
    try:
        body = ns.wait_phase(KIND, "ceph", "Failure", timeout=60)
        assert condition(body, "Connected")["reason"] == "Unreachable"
    finally:
        control.start_process("ceph-mon.a")
    ns.wait(KIND, "ceph", lambda b: status(b).get("phase") in ("Ready", "Warning"), timeout=90)
    ns.wait(KIND, "ceph", lambda b: health(b) == "HEALTH_OK", timeout=90)
    assert ceph_json(lab, "status")["quorum_names"] == ["a"]
