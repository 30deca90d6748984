"""The lab's Ceph cluster is real: cephx, 3 OSDs, objects round-trip, secrets stay private."""

from __future__ import annotations

import base64
import stat
import urllib.request
import uuid

from kubernetes import client

from storage_operator.ceph.auth import read_setting
from storage_operator.ceph.status import ClusterStatus, observe_status
from storage_operator.lab.cluster import CEPH_ADMIN_SECRET
from tests.support import LabHandle, eventually, remove_pools_by_hand


def test_health_ok_with_three_osds_up_through_python_rados(lab: LabHandle) -> None:
    with lab.ceph() as ceph:

        def healthy() -> ClusterStatus | None:
            s = observe_status(ceph)
            return s if s.health == "HEALTH_OK" else None

        status = eventually(healthy, timeout=60)
        assert (status.osds, status.osds_up, status.osds_in) == (3, 3, 3)
        assert status.quorum == ("a",)
        assert status.mgr_available
        assert status.fsid == ceph.fsid


def test_a_pool_round_trips_an_object(lab: LabHandle) -> None:
    pool = f"smoke-{uuid.uuid4().hex[:6]}"
    payload = uuid.uuid4().bytes * 64
    with lab.ceph() as ceph:
        ceph.mon_command("osd pool create", pool=pool, pg_num=8)
        try:
            ceph.mon_command("osd pool application enable", pool=pool, app="rados")
            with ceph.ioctx(pool) as io:
                io.write_full("hello", payload)
                assert io.read("hello", length=len(payload)) == payload
                io.remove_object("hello")
            detail = ceph.mon_command("osd pool ls", detail="detail")
            (mine,) = [p for p in detail if p["pool_name"] == pool]
            assert mine["size"] == 3  # replicated across the three OSDs
        finally:
            remove_pools_by_hand(ceph, pool)


def test_admin_keyring_is_private_and_stored_as_a_secret(lab: LabHandle) -> None:
    keyring = lab.config.paths.ceph_admin_keyring
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    key = read_setting(keyring.read_text(), "key")
    assert key
    with lab.api() as api:
        secret = client.CoreV1Api(api).read_namespaced_secret(CEPH_ADMIN_SECRET, lab.config.operator_namespace)
    data = {k: base64.b64decode(v).decode() for k, v in secret.data.items()}
    assert data["userID"] == "admin"
    assert data["userKey"] == key
    assert data["monHost"] == f"[v2:127.0.0.1:{lab.config.ports.mon_v2},v1:127.0.0.1:{lab.config.ports.mon_v1}]"


def test_mgr_prometheus_module_serves_health_on_loopback(lab: LabHandle) -> None:
    url = f"http://127.0.0.1:{lab.config.ports.mgr_prometheus}/metrics"

    def scrape() -> str | None:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text: str = resp.read().decode()
        # OSD series appear once the mgr has collected the OSDs' metadata, one OSD at a time.
        every_osd = all(
            f'ceph_osd_up{{ceph_daemon="osd.{osd}"}} 1.0' in text
            and f'ceph_osd_in{{ceph_daemon="osd.{osd}"}} 1.0' in text
            for osd in range(3)
        )
        return text if every_osd else None

    metrics = eventually(scrape, timeout=60, interval=1)  # fails the test if the three never show up and in
    assert "ceph_health_status 0.0" in metrics
