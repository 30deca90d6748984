"""The operator as a process: its ServiceAccount's least privilege, leader election between two
replicas, a SIGKILL in the middle of work, and what /metrics and /healthz say."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest
from kubernetes import client

from storage_operator.ceph.pools import OWNER_KEY
from storage_operator.lab import processes
from storage_operator.lab.binaries import REPO_ROOT
from storage_operator.lab.operator import (
    LAB_IDENTITY,
    PROCESS_NAME,
    SERVICE_ACCOUNT,
    build_operator_argv,
    operator_kubeconfig,
    readiness,
)
from tests.operator_support import (
    ceph_json,
    http_get,
    lab_control,
    metrics_text,
    own_namespace,
    pool_names,
    status,
    unique,
)
from tests.support import LabHandle, eventually


def kubectl(lab: LabHandle, *args: str, kubeconfig: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(lab.config.root / "bin" / "kubectl"),
            "--kubeconfig",
            kubeconfig or str(lab.config.paths.kubeconfig),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def operator_user(lab: LabHandle) -> str:
    return f"system:serviceaccount:{lab.config.operator_namespace}:{SERVICE_ACCOUNT}"


def test_the_lab_operator_authenticates_as_its_service_account(lab: LabHandle, operator_user: str) -> None:
    who = kubectl(
        lab,
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
        kubeconfig=str(operator_kubeconfig(lab.config)),
    )
    assert who.returncode == 0, who.stderr
    assert who.stdout == operator_user
    assert "client-certificate" not in operator_kubeconfig(lab.config).read_text()  # a token, not the admin's cert


CAN = [
    ("watch", "cephclusters.storage.baremetal.io", "--all-namespaces"),
    ("patch", "cephblockpools.storage.baremetal.io/status", "-n", "default"),
    ("patch", "cephfilesystems.storage.baremetal.io", "-n", "default"),
    ("create", "events", "-n", "default"),
    ("get", "secrets", "-n", "storage-system"),
    ("update", "leases.coordination.k8s.io", "-n", "storage-system"),
    ("create", "persistentvolumes"),
    ("delete", "persistentvolumes"),
    ("watch", "persistentvolumeclaims", "--all-namespaces"),
    ("patch", "persistentvolumeclaims", "--subresource=status", "-n", "default"),
    ("list", "storageclasses.storage.k8s.io"),
    ("patch", "nfsbackends.storage.baremetal.io/status"),
    ("get", "namespaces/kube-system"),
    # A managed cluster: its mons' node addresses, and its keys, config and daemons in its own namespace.
    ("get", "nodes"),
    ("create", "secrets", "-n", "storage-system"),
    ("patch", "deployments.apps", "-n", "storage-system"),
    ("create", "pods", "-n", "storage-system"),
]
CANNOT = [
    ("get", "secrets", "-n", "default"),
    ("get", "secrets", "-n", "kube-system"),
    ("list", "secrets", "-n", "storage-system"),  # only the ones it is pointed at, by name
    ("delete", "cephblockpools.storage.baremetal.io", "-n", "default"),
    ("create", "cephclusters.storage.baremetal.io", "-n", "default"),
    ("update", "leases.coordination.k8s.io", "-n", "default"),
    ("delete", "nodes"),
    ("create", "pods", "-n", "default"),
    ("create", "deployments.apps", "-n", "default"),
    ("create", "secrets", "-n", "default"),
    ("patch", "persistentvolumeclaims", "-n", "default"),  # nothing is written on a user's claim
    ("delete", "persistentvolumeclaims", "-n", "default"),
    ("create", "storageclasses.storage.k8s.io"),
    ("get", "namespaces/default"),
    ("create", "nfsbackends.storage.baremetal.io"),
]


@pytest.mark.parametrize("request_", CAN, ids=" ".join)
def test_the_service_account_can_do_what_the_operator_needs(
    lab: LabHandle, operator_user: str, request_: tuple[str, ...]
) -> None:
    got = kubectl(lab, "auth", "can-i", *request_, f"--as={operator_user}")
    assert got.stdout.strip() == "yes", got.stdout + got.stderr


@pytest.mark.parametrize("request_", CANNOT, ids=" ".join)
def test_the_service_account_cannot_do_more(lab: LabHandle, operator_user: str, request_: tuple[str, ...]) -> None:
    got = kubectl(lab, "auth", "can-i", *request_, f"--as={operator_user}")
    assert got.stdout.strip() == "no", got.stdout + got.stderr


def lease_holder(lab: LabHandle) -> str | None:
    with lab.api() as api:
        lease = client.CoordinationV1Api(api).read_namespaced_lease("storage-operator", lab.config.operator_namespace)
    return lease.spec.holder_identity


@pytest.fixture
def standby(lab: LabHandle) -> Iterator[int]:
    """A second replica beside the lab's operator; afterwards the lab's operator leads again."""
    control = lab_control(lab)
    port = lab.config.ports.operator_http + 1
    argv = build_operator_argv(lab.config, identity="test-standby", port=port)
    control.spawn("storage-operator-standby", argv, cwd=REPO_ROOT)
    try:
        yield port
    finally:
        if not readiness(lab.config.ports.operator_http) and not _running(lab, PROCESS_NAME):
            control.start_process(PROCESS_NAME)
        # A clean stop releases the lease, so the lab's operator takes over at once.
        control.forget_process("storage-operator-standby")
        eventually(lambda: readiness(lab.config.ports.operator_http), timeout=40)
        assert lease_holder(lab) == LAB_IDENTITY


def _running(lab: LabHandle, name: str) -> bool:
    state = lab_control(lab).state()
    record = state.process(name) if state else None
    return record is not None and processes.is_running(record)


def test_two_replicas_only_the_leader_acts_and_the_standby_takes_over(lab: LabHandle, standby: int) -> None:
    eventually(lambda: http_get(standby, "/readyz")[1].startswith("standby"), timeout=20)
    assert lease_holder(lab) == LAB_IDENTITY
    code, text = http_get(standby, "/healthz")
    assert (code, text.strip()) == (200, "ok (standby)")
    standby_metrics = metrics_text(standby)
    assert "storage_operator_leader 0.0" in standby_metrics
    assert "storage_operator_reconciles_total{" not in standby_metrics  # it has done nothing

    control = lab_control(lab)
    control.stop_process(PROCESS_NAME, kill=True)  # the leader dies without releasing its lease
    eventually(lambda: readiness(standby), timeout=40)  # within the 15 s lease and a retry
    assert lease_holder(lab) == "test-standby"
    assert "storage_operator_leader 1.0" in metrics_text(standby)
    with own_namespace(lab) as ns:  # the new leader acts
        name = unique("after")
        ns.create(
            "CephBlockPool", name, {"clusterRef": {"name": "ceph"}, "failureDomain": "osd", "replicated": {"size": 2}}
        )
        ns.wait_phase("CephBlockPool", name, "Ready")

    control.start_process(PROCESS_NAME)  # the old leader comes back and stands by
    eventually(lambda: http_get(lab.config.ports.operator_http, "/readyz")[1].startswith("standby"), timeout=30)


def test_sigkill_mid_reconcile_then_restart_converges_with_nothing_duplicated(lab: LabHandle) -> None:
    control = lab_control(lab)
    with own_namespace(lab) as ns:
        names = [unique("kill") for _ in range(6)]
        for name in names:
            ns.create(
                "CephBlockPool",
                name,
                {"clusterRef": {"name": "ceph"}, "failureDomain": "osd", "replicated": {"size": 3}},
            )
        # Kill it as soon as the first of them exists in Ceph: the others are on their way.
        eventually(lambda: bool(set(names) & set(pool_names(lab))), timeout=30, interval=0.02)
        control.stop_process(PROCESS_NAME, kill=True)
        control.start_process(PROCESS_NAME)
        for name in names:
            ns.wait_phase("CephBlockPool", name, "Ready", timeout=60)
        detail = {p["pool_name"]: p for p in ceph_json(lab, "osd pool ls", detail="detail")}
        for name in names:
            body = ns.get("CephBlockPool", name)
            assert body is not None
            assert status(body)["poolId"] == detail[name]["pool_id"]
            assert detail[name]["application_metadata"]["rbd"][OWNER_KEY].endswith(body["metadata"]["uid"])
            assert detail[name]["size"] == 3
            created = [r for _t, r, _m in ns.events(name) if r == "Created"]
            assert len(created) <= 1
        assert sorted(n for n in pool_names(lab) if n in names) == sorted(names)  # each exactly once
        rules = [r["rule_name"] for r in ceph_json(lab, "osd crush rule dump")]
        assert len(rules) == len(set(rules))


def test_metrics_and_health(lab: LabHandle) -> None:
    port = lab.config.ports.operator_http
    assert http_get(port, "/healthz") == (200, "ok (leader)\n")
    assert http_get(port, "/readyz") == (200, "leader: controllers running\n")

    def scraped() -> str | None:
        text = metrics_text(port)
        return text if "storage_operator_pool_stored_bytes{" in text else None

    text = eventually(scraped, timeout=60)
    labels = 'cluster="lab",namespace="storage-system"'  # sorted by name in the exposition
    assert f"storage_operator_ceph_health_status{{{labels}}} 0.0" in text
    assert f"storage_operator_ceph_osds_up{{{labels}}} 3.0" in text
    assert f"storage_operator_ceph_osds_in{{{labels}}} 3.0" in text
    capacity = re.search(rf"storage_operator_ceph_capacity_bytes{{{labels}}} (\S+)", text)
    assert capacity is not None
    assert float(capacity.group(1)) == ceph_json(lab, "df")["stats"]["total_bytes"]
    assert f'storage_operator_pool_quota_bytes{{{labels},pool="replicapool"}} 1.073741824e+10' in text
    assert 'storage_operator_reconciles_total{kind="CephBlockPool",result="success"}' in text
    assert 'storage_operator_reconcile_duration_seconds_bucket{kind="CephCluster",le="0.1"}' in text
    assert "storage_operator_leader 1.0" in text
