"""The NFS bridge when things break: the NFS server goes away and comes back, and the operator is killed
(SIGKILL, no chance to clean up) again and again in the middle of a burst of claims."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.nfs_support import LAB_BACKEND, Claims, claims_namespace, read_backend, storage_class
from tests.operator_support import lab_control, status
from tests.support import LabHandle, eventually

Body = dict[str, Any]
OPERATOR = "storage-operator"
GANESHA = "nfs-ganesha"


@pytest.fixture
def claims(lab: LabHandle) -> Any:
    with claims_namespace(lab, "nfs-res") as found:
        yield found


def phases(claims: Claims) -> dict[str, str]:
    items = claims.core.list_namespaced_persistent_volume_claim(claims.namespace).items
    return {str(pvc.metadata.name): str(pvc.status.phase) for pvc in items}


def volume_dirs(lab: LabHandle, namespace: str) -> set[str]:
    base = lab.config.paths.nfs_export / "volumes"
    return {p.name for p in base.iterdir() if p.name.startswith(f"{namespace}-")}


def test_claims_wait_while_the_nfs_server_is_down_and_bind_when_it_is_back(lab: LabHandle, claims: Claims) -> None:
    control = lab_control(lab)
    control.stop_process(GANESHA)
    try:
        for i in range(3):
            claims.create(f"wait-{i}")
        for i in range(3):
            message = claims.wait_event(f"wait-{i}", "ProvisioningFailed", contains="unreachable", timeout=60)
            assert "NFS server" in message
        assert set(phases(claims).values()) == {"Pending"}
        eventually(lambda: status(read_backend(lab, LAB_BACKEND)).get("phase") == "Unreachable", timeout=60)
    finally:
        control.start_process(GANESHA)
    for i in range(3):
        claims.wait_bound(f"wait-{i}", timeout=60)


def test_a_burst_survives_the_operator_being_killed_five_times(lab: LabHandle, claims: Claims) -> None:
    count, kills = 200, 5
    control = lab_control(lab)
    with storage_class(lab, {"backend": LAB_BACKEND, "onDelete": "delete"}) as sc:
        done = threading.Event()

        def killer() -> None:
            for _ in range(kills):
                time.sleep(0.7)
                control.stop_process(OPERATOR, kill=True)
                time.sleep(0.2)
                control.start_process(OPERATOR)
            done.set()

        thread = threading.Thread(target=killer)
        thread.start()
        try:
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda i: claims.create(f"b-{i:03d}", storage_class=sc), range(count)))
        finally:
            thread.join()
        assert done.is_set()

        def all_bound() -> bool:
            seen = phases(claims)
            return len(seen) == count and set(seen.values()) == {"Bound"}

        eventually(all_bound, timeout=180, interval=1)
        pvcs = claims.core.list_namespaced_persistent_volume_claim(claims.namespace).items
        pvs = [
            pv
            for pv in claims.core.list_persistent_volume().items
            if pv.spec.claim_ref is not None and pv.spec.claim_ref.namespace == claims.namespace
        ]
        # Exactly one PV per claim, each the claim's own, and one directory each: nothing orphaned.
        assert len(pvs) == count
        assert {pv.spec.claim_ref.uid for pv in pvs} == {pvc.metadata.uid for pvc in pvcs}
        assert {pvc.spec.volume_name for pvc in pvcs} == {pv.metadata.name for pv in pvs}
        assert len(volume_dirs(lab, claims.namespace)) == count

        claims.core.delete_collection_namespaced_persistent_volume_claim(claims.namespace)
        names = {pv.metadata.name for pv in pvs}

        def reclaimed() -> bool:
            left = {pv.metadata.name for pv in claims.core.list_persistent_volume().items}
            return not (names & left)

        eventually(reclaimed, timeout=180, interval=1)
        assert volume_dirs(lab, claims.namespace) == set()
