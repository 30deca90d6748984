"""The CSI driver's manifests (manifests/csi/): accepted by the lab's API server once the VolumeSnapshot
CRDs (manifests/csi/snapshot-crds/) are in, and the two CSIDriver objects are the drivers the plugin serves."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.support import LabHandle

REPO = Path(__file__).resolve().parents[2]
CSI_MANIFESTS = REPO / "manifests" / "csi"
SNAPSHOT_CRDS = CSI_MANIFESTS / "snapshot-crds"
SNAPSHOT_KINDS = ("volumesnapshotclasses", "volumesnapshotcontents", "volumesnapshots")
DRIVERS = {"cephfs.csi.storage.baremetal.io", "rbd.csi.storage.baremetal.io"}


def kubectl(lab: LabHandle, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(lab.config.root / "bin" / "kubectl"), "--kubeconfig", str(lab.config.paths.kubeconfig), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False, cwd=REPO)


def test_the_csi_manifests_pass_a_server_side_dry_run_once_the_snapshot_crds_are_in(lab: LabHandle) -> None:
    # The CRDs for real (cluster-scoped, nothing else uses them here): VolumeSnapshotClass must be a known kind.
    crds = kubectl(lab, "apply", "--server-side", "--field-manager=storage-csi-tests", "-k", str(SNAPSHOT_CRDS))
    assert crds.returncode == 0, crds.stderr
    names = [f"crd/{plural}.snapshot.storage.k8s.io" for plural in SNAPSHOT_KINDS]
    established = kubectl(lab, "wait", "--for", "condition=established", "--timeout=60s", *names)
    assert established.returncode == 0, established.stderr

    done = kubectl(lab, "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-k", str(CSI_MANIFESTS))
    assert done.returncode == 0, done.stderr
    for applied in (
        "deployment.apps/csi-cephfs-controller",
        "deployment.apps/csi-rbd-controller",
        "daemonset.apps/csi-cephfs-node",
        "daemonset.apps/csi-rbd-node",
        *(f"csidriver.storage.k8s.io/{driver}" for driver in sorted(DRIVERS)),
        "storageclass.storage.k8s.io/ceph-rbd",
        "storageclass.storage.k8s.io/ceph-rbd-ec",
        "storageclass.storage.k8s.io/cephfs",
        "volumesnapshotclass.snapshot.storage.k8s.io/ceph-rbd-snapshots",
        "volumesnapshotclass.snapshot.storage.k8s.io/cephfs-snapshots",
    ):
        assert f"{applied} serverside-applied (server dry run)" in done.stdout, done.stdout


def test_the_csidrivers_are_the_two_drivers_and_need_no_attach() -> None:
    docs = [d for d in yaml.safe_load_all((CSI_MANIFESTS / "csidriver.yaml").read_text()) if d]
    assert {d["kind"] for d in docs} == {"CSIDriver"}
    assert sorted(d["metadata"]["name"] for d in docs) == sorted(DRIVERS)
    for doc in docs:
        assert doc["spec"]["attachRequired"] is False, doc["metadata"]["name"]
