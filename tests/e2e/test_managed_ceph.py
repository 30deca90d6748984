"""Managed Ceph on the node profile: the lab's example CephCluster (no `external`) on node-a's three loop
disks becomes real mon, mgr, OSD and MDS pods from the project's image; OSDs are made by the node's
agent pod, removed safely, rolled to a new image one at a time, and a deleted cluster keeps or wipes
its disks as its cleanupPolicy says.

Its own lab in `.lab-managed-test/` on ports 26800+, brought up once for this module (as `make lab`
brings it up: LAB_MANAGED_CEPH on). The tests run in order and build on each other's cluster.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from csi.proto import csi_pb2, csi_pb2_grpc
from storage_operator.lab import loopdev
from storage_operator.lab.config import LabConfig
from storage_operator.lab.containerd import CEPH_IMAGE, RuntimePaths
from storage_operator.lab.lab import Lab
from storage_operator.lab.state import LabState
from tests.e2e.node_support import apply, get, kubectl, ready
from tests.support import eventually

REPO = Path(__file__).resolve().parents[2]
NODE = "node-a"
NS = "storage-system"
CLUSTER = "managed"
GROUP = "storage.baremetal.io/v1alpha1"
CONFIRM = "yes-really-destroy-data"


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[LabConfig, LabState]]:
    config = LabConfig(
        root=Path(os.environ.get("TEST_MANAGED_LAB_DIR", REPO / ".lab-managed-test")).resolve(),
        port_base=int(os.environ.get("TEST_MANAGED_LAB_PORT_BASE", "26800")),
        profile="node",
        managed_ceph=True,
    )
    lab = Lab(config, say=lambda line: print(f"[managed lab] {line}", flush=True))
    state = lab.up()
    yield config, state
    lab.down(keep_logs=True)


@dataclass(frozen=True)
class Admin:
    """The cluster's admin credentials, as the operator keeps them, in files for the Ceph CLI."""

    conf: Path
    keyring: Path

    def run(self, *args: str, stdin: bytes | None = None) -> bytes:
        done = subprocess.run(
            [*args[:1], "-c", str(self.conf), "-k", str(self.keyring), *args[1:]],
            input=stdin,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{' '.join(args)}: {done.stderr.decode(errors='replace')[-500:]}"
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run("ceph", *args, "--format", "json"))


def admin_of(config: LabConfig, cluster: str = CLUSTER) -> Admin:
    where = config.root / "tests" / cluster
    where.mkdir(parents=True, exist_ok=True)
    conf = get(config, "configmap", "-n", NS, f"{cluster}-ceph-config")["data"]["ceph.conf"]
    secret = get(config, "secret", "-n", NS, f"{cluster}-ceph-admin")["data"]
    key = base64.b64decode(secret["userKey"]).decode()
    (where / "ceph.conf").write_text(conf)
    keyring = where / "keyring"
    keyring.write_text(f"[client.admin]\n\tkey = {key}\n")
    keyring.chmod(0o600)
    return Admin(where / "ceph.conf", keyring)


def cluster(config: LabConfig, name: str = CLUSTER) -> dict[str, Any]:
    body: dict[str, Any] = get(config, "cephcluster", "-n", NS, name)
    return body


def osds(config: LabConfig) -> dict[str, dict[str, Any]]:
    items = get(config, "cephosds", "-n", NS, "-l", f"storage.baremetal.io/cluster={CLUSTER}")["items"]
    return {i["metadata"]["name"]: i for i in items}


def phase_of(item: dict[str, Any]) -> str | None:
    return (item.get("status") or {}).get("phase")


def condition(body: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in (body.get("status") or {}).get("conditions", []) if c["type"] == kind), {})


def events(config: LabConfig, name: str, reason: str | None = None) -> list[dict[str, Any]]:
    items = get(config, "events", "-n", NS, "--field-selector", f"involvedObject.name={name}")["items"]
    return [e for e in items if reason is None or e["reason"] == reason]


def healthy(config: LabConfig, osd_count: int, name: str = CLUSTER) -> dict[str, Any] | None:
    body = cluster(config, name)
    status = body.get("status") or {}
    summary = status.get("summary") or {}
    ok = (
        status.get("phase") == "Ready"
        and (status.get("ceph") or {}).get("health") == "HEALTH_OK"
        and summary.get("osds") == f"{osd_count}/{osd_count}"
    )
    return body if ok else None


def node_disks(state: LabState) -> list[str]:
    return sorted(loop.device for loop in state.loops if loop.node == NODE)


def signatures(device: str) -> list[str]:
    out = subprocess.run(["wipefs", "--no-act", "--json", device], capture_output=True, text=True, check=True).stdout
    return [s["type"] for s in (json.loads(out or "{}").get("signatures") or [])]


def pool(name: str, size: int) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "CephBlockPool",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"clusterRef": {"name": CLUSTER}, "failureDomain": "osd", "replicated": {"size": size}},
    }


def wait_pool_ready(config: LabConfig, name: str) -> None:
    eventually(lambda: phase_of(get(config, "cephblockpool", "-n", NS, name)) == "Ready", timeout=60)


def image_of(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def gone(config: LabConfig, name: str) -> bool:
    return not get(config, "cephclusters", "-n", NS, "--field-selector", f"metadata.name={name}")["items"]


def delete(config: LabConfig, kind: str, name: str, *, wait: bool = False) -> None:
    kubectl(config, "delete", kind, "-n", NS, name, "--ignore-not-found", f"--wait={str(wait).lower()}")


# ---------------------------------------------------------------------------------------------- tests


def test_the_managed_cluster_comes_up_with_three_osds_and_says_so(lab: tuple[LabConfig, LabState]) -> None:
    config, state = lab
    body = eventually(lambda: healthy(config, 3), timeout=120)
    status = body["status"]
    assert status["summary"]["mons"] == "1/1"
    assert status["ceph"]["fsid"]
    table = kubectl(config, "get", "cephclusters", "-n", NS)
    (row,) = [line.split() for line in table.splitlines() if line.startswith(f"{CLUSTER} ")]
    assert row[1:5] == ["Ready", "HEALTH_OK", "1/1", "3/3"]
    found = osds(config)
    assert len(found) == 3
    assert sorted(i["spec"]["device"]["path"] for i in found.values()) == node_disks(state)
    for item in found.values():
        assert item["status"]["phase"] == "Running"
        assert item["status"]["up"] is True
    pods = get(config, "pods", "-n", NS, "-l", f"storage.baremetal.io/cluster={CLUSTER}")["items"]
    daemons = sorted(p["metadata"]["labels"]["storage.baremetal.io/daemon"] for p in pods)
    assert daemons == ["mgr", "mon", "osd", "osd", "osd"]
    assert all(ready(p) for p in pods)
    assert all(p["spec"]["containers"][0]["image"] == CEPH_IMAGE for p in pods)
    # The keys are Secrets; nothing of them is in the status or the ConfigMap everyone may read.
    secret = get(config, "secret", "-n", NS, f"{CLUSTER}-ceph-admin")
    key = secret["data"]["userKey"]
    plain = base64.b64decode(key).decode()
    assert plain not in json.dumps(body)
    assert plain not in json.dumps(get(config, "configmap", "-n", NS, f"{CLUSTER}-ceph-config"))


def test_mons_go_up_are_replaced_when_lost_and_go_down(lab: tuple[LabConfig, LabState]) -> None:
    """Three mons (allowMultiplePerNode: the lab has one real node): the new ones start from the first
    monmap and join the quorum. One is lost (its store broken on the host): after failoverSeconds it is
    replaced by a mon with a fresh id. Back to one: the others leave the monmap and stop."""
    config, _ = lab

    def mons(count: int) -> None:
        patch = {"spec": {"mon": {"count": count, "allowMultiplePerNode": count > 1, "failoverSeconds": 30}}}
        kubectl(config, "patch", "cephcluster", "-n", NS, CLUSTER, "--type", "merge", "-p", json.dumps(patch))

    def mon_pods() -> list[dict[str, Any]]:
        selector = f"storage.baremetal.io/cluster={CLUSTER},storage.baremetal.io/daemon=mon"
        pods = get(config, "pods", "-n", NS, "-l", selector)["items"]
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")]

    def quorum(n: int) -> dict[str, Any] | None:
        body = healthy(config, 3)
        return body if body is not None and body["status"]["summary"]["mons"] == f"{n}/{n}" else None

    mons(3)
    body = eventually(lambda: quorum(3), timeout=120)
    assert sorted(body["status"]["ceph"]["mons"]["quorum"]) == ["a", "b", "c"]
    assert len(mon_pods()) == 3
    assert all(ready(p) for p in mon_pods())
    # Lose mon.c: its store replaced by something that is not one; its pod restarts into a refusal.
    store = config.paths.node / "ceph" / f"{NS}-{CLUSTER}" / "mon-c"
    shutil.rmtree(store)
    store.mkdir()
    (store / "not-a-mon-store").write_text("broken on purpose\n")
    kubectl(config, "delete", "pod", "-n", NS, "-l", "storage.baremetal.io/daemon=mon,storage.baremetal.io/daemon-id=c")
    eventually(lambda: events(config, CLUSTER, "MonOutOfQuorum"), timeout=60)
    replaced = eventually(lambda: events(config, CLUSTER, "MonReplaced"), timeout=150)
    assert replaced[0]["message"].startswith("mon.c on node-a was out of the quorum for 30 s")
    body = eventually(lambda: quorum(3), timeout=120)
    assert sorted(body["status"]["ceph"]["mons"]["quorum"]) == ["a", "b", "d"]  # c's id is never given again
    mons(1)
    eventually(lambda: quorum(1), timeout=120)
    eventually(lambda: len(mon_pods()) == 1, timeout=60)
    removed = sorted(e["message"].split(" ")[0] for e in events(config, CLUSTER, "MonRemoved"))
    assert removed == ["mon.b", "mon.d"]


def test_a_pool_on_it_stores_and_returns_an_object(lab: tuple[LabConfig, LabState]) -> None:
    config, _ = lab
    apply(config, pool("data", 2))
    wait_pool_ready(config, "data")
    admin = admin_of(config)
    payload = os.urandom(4 * 1024**2)
    for i in range(8):
        admin.run("rados", "-p", "data", "put", f"object-{i}", "-", stdin=payload)
    assert admin.run("rados", "-p", "data", "get", "object-7", "-") == payload


def test_a_cephfs_volume_on_it_is_staged_and_carries_a_file(lab: tuple[LabConfig, LabState]) -> None:
    """The CSI plugin (a process of the project's code, pointed at the managed cluster's mons) makes a
    subvolume, stages it with ceph-fuse, publishes it, and a file written there is read back."""
    config, _ = lab
    apply(
        config,
        {
            "apiVersion": GROUP,
            "kind": "CephFilesystem",
            "metadata": {"name": "files", "namespace": NS},
            "spec": {
                "clusterRef": {"name": CLUSTER},
                "metadataPool": {"failureDomain": "osd", "replicated": {"size": 2}},
                "dataPools": [{"name": "data", "failureDomain": "osd", "replicated": {"size": 2}}],
                "metadataServer": {"activeCount": 1, "activeStandby": False, "standbyCount": 1},
                "preserveFilesystemOnDelete": False,
            },
        },
    )
    admin = admin_of(config)
    eventually(lambda: any(i.get("state") == "up:active" for i in _mds(admin)), timeout=120)
    home = config.root / "tests" / f"csi-{uuid.uuid4().hex[:6]}"
    home.mkdir(parents=True)
    mons = cluster(config)["status"]
    conf = admin.conf.read_text()
    monitors = next(line.split("=", 1)[1].strip() for line in conf.splitlines() if line.startswith("mon_host"))
    secret = admin.keyring.read_text().split("key = ")[1].strip()
    socket = home / "csi.sock"
    log = (home / "plugin.log").open("w")
    plugin = subprocess.Popen(
        [
            str(REPO / ".venv" / "bin" / "python"),
            "-m",
            "csi",
            "--driver",
            "cephfs",
            "--mode",
            "all",
            "--endpoint",
            f"unix://{socket}",
            "--node-id",
            NODE,
            "--monitors",
            monitors,
            "--state-dir",
            str(home / "state"),
            "--metrics-address",
            f"127.0.0.1:{config.port_base + 390}",
        ],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    staged, target = home / "staged", home / "target"
    secrets = {"userID": "admin", "userKey": secret}
    cap = csi_pb2.VolumeCapability(
        access_mode=csi_pb2.VolumeCapability.AccessMode(
            mode=csi_pb2.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER
        )
    )
    cap.mount.SetInParent()
    try:
        eventually(socket.exists, timeout=30)
        with grpc.insecure_channel(f"unix://{socket}") as channel:
            controller = csi_pb2_grpc.ControllerStub(channel)  # type: ignore[no-untyped-call]  # generated
            node = csi_pb2_grpc.NodeStub(channel)  # type: ignore[no-untyped-call]
            volume = controller.CreateVolume(
                csi_pb2.CreateVolumeRequest(
                    name=f"managed-{uuid.uuid4().hex[:6]}",
                    capacity_range=csi_pb2.CapacityRange(required_bytes=1024**3),
                    volume_capabilities=[cap],
                    parameters={"fsName": "files"},
                    secrets=secrets,
                ),
                timeout=120,
            ).volume
            staged.mkdir()
            node.NodeStageVolume(
                csi_pb2.NodeStageVolumeRequest(
                    volume_id=volume.volume_id,
                    staging_target_path=str(staged),
                    volume_capability=cap,
                    secrets=secrets,
                    volume_context=volume.volume_context,
                ),
                timeout=120,
            )
            node.NodePublishVolume(
                csi_pb2.NodePublishVolumeRequest(
                    volume_id=volume.volume_id,
                    staging_target_path=str(staged),
                    target_path=str(target),
                    volume_capability=cap,
                    volume_context=volume.volume_context,
                ),
                timeout=120,
            )
            (target / "hello").write_text("on the managed cluster\n")
            assert (staged / "hello").read_text() == "on the managed cluster\n"
            node.NodeUnpublishVolume(
                csi_pb2.NodeUnpublishVolumeRequest(volume_id=volume.volume_id, target_path=str(target)), timeout=60
            )
            node.NodeUnstageVolume(
                csi_pb2.NodeUnstageVolumeRequest(volume_id=volume.volume_id, staging_target_path=str(staged)),
                timeout=60,
            )
            controller.DeleteVolume(
                csi_pb2.DeleteVolumeRequest(volume_id=volume.volume_id, secrets=secrets), timeout=60
            )
    finally:
        plugin.terminate()
        plugin.wait(timeout=30)
        log.close()
    assert mons["phase"] == "Ready"
    delete(config, "cephfilesystem", "files", wait=True)
    # The file system went, and with it its MDS daemons.
    assert not admin.json("fs", "ls")

    def mds_left() -> list[str]:
        items = get(config, "deployments", "-n", NS)["items"]
        return [d["metadata"]["name"] for d in items if "-mds-files-" in d["metadata"]["name"]]

    eventually(lambda: not mds_left(), timeout=60)


def _mds(admin: Admin) -> list[dict[str, Any]]:
    dump = admin.json("fs", "dump")
    return [info for fs in dump.get("filesystems", []) for info in fs["mdsmap"]["info"].values()]


def test_a_disk_with_a_signature_in_the_selection_is_never_touched(lab: tuple[LabConfig, LabState]) -> None:
    """A fourth disk of node-a, formatted: the selection (every loop disk of node-a) names it unusable,
    and after several passes of the operator its bytes are what they were."""
    config, _ = lab
    image = config.paths.disks / NODE / f"extra-{uuid.uuid4().hex[:6]}.img"
    with image.open("wb") as f:
        f.truncate(2 * 1024**3)
    device = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True, check=True)
    loop = device.stdout.strip()
    try:
        subprocess.run(["mkfs.ext4", "-q", "-F", loop], check=True, timeout=120)
        before = _digest(loop)

        def named_unusable() -> bool:
            selected = condition(cluster(config), "DevicesSelected").get("message", "")
            return f"{NODE}/{Path(loop).name}: HasFilesystem" in selected

        eventually(named_unusable, timeout=60)
        time.sleep(10)  # several passes of the operator and the agent
        assert all(i["spec"]["device"]["path"] != loop for i in osds(config).values())
        assert _digest(loop) == before
        assert signatures(loop) == ["ext4"]
    finally:
        loopdev.detach(loop)
        image.unlink()


def _digest(device: str) -> str:
    """The first 64 MiB (an OSD's label, BlueFS and the start of its DB would be there) and the size."""
    with Path(device).open("rb") as f:
        head = f.read(64 * 1024**2)
        size = f.seek(0, os.SEEK_END)
    return f"{size}:{hashlib.sha256(head).hexdigest()}"


def test_removing_an_osd_below_a_pools_size_is_refused_with_a_reason(lab: tuple[LabConfig, LabState]) -> None:
    config, _ = lab
    apply(config, pool("triple", 3))
    wait_pool_ready(config, "triple")
    name = sorted(osds(config))[-1]
    delete(config, "cephosd", name)

    def refused() -> dict[str, Any] | None:
        item = osds(config)[name]
        return item if condition(item, "RemovalBlocked").get("status") == "True" else None

    item = eventually(refused, timeout=60)
    message = condition(item, "RemovalBlocked")["message"]
    assert "pool triple keeps 3 copies on different osds; 2 osd(s) would be left up and in" in message
    assert events(config, name, "RemovalBlocked")
    time.sleep(5)
    item = osds(config)[name]
    assert item["status"]["up"] is True  # nothing was done to it
    assert phase_of(item) == "Running"


def test_removing_an_osd_while_a_size_2_pool_holds_data_moves_it_and_purges_the_osd(
    lab: tuple[LabConfig, LabState],
) -> None:
    """Continues the refused removal: with the size-3 pool gone it goes ahead (out, drained, purged); every
    object of the size-2 pool is still there; without the cleanup confirmation the device keeps its data."""
    config, _ = lab
    admin = admin_of(config)
    (name,) = [n for n, i in osds(config).items() if i["metadata"].get("deletionTimestamp")]
    osd_id = osds(config)[name]["status"]["osdId"]
    device = osds(config)[name]["spec"]["device"]["path"]
    delete(config, "cephblockpool", "triple")
    eventually(lambda: name not in osds(config), timeout=180)
    tree = admin.json("osd", "tree")
    assert osd_id not in [n["id"] for n in tree["nodes"] if n["type"] == "osd"]
    for i in range(8):
        assert len(admin.run("rados", "-p", "data", "get", f"object-{i}", "-")) == 4 * 1024**2
    reasons = [e["reason"] for e in events(config, name)]
    assert "Removing" in reasons
    assert "Purged" in reasons
    assert "DeviceKept" in reasons
    assert signatures(device) == ["ceph_bluestore"]
    health = admin.json("status")["health"]["status"]
    assert health in ("HEALTH_OK", "HEALTH_WARN")


def test_a_device_wiped_with_the_confirmation_becomes_an_osd_again_despite_an_operator_crash(
    lab: tuple[LabConfig, LabState],
) -> None:
    """The kept device of the removed OSD: a CephOSD of it is removed again with the cleanup confirmation
    (wiped by the agent), the device is selected again, and the operator pod is killed while the new
    OSD is being made. It comes up once: one mkfs, one id."""
    config, state = lab
    kubectl(config, "patch", "cephcluster", "-n", NS, CLUSTER, "--type", "merge", "-p",
            json.dumps({"spec": {"cleanupPolicy": {"confirmation": CONFIRM}}}))  # fmt: skip
    used = {i["spec"]["device"]["path"] for i in osds(config).values()}
    (kept,) = [d for d in node_disks(state) if d not in used]
    subprocess.run(["wipefs", "--all", "--quiet", kept], check=True, timeout=60)  # what an admin would do
    started = time.time()

    def preparing() -> str | None:
        return next((n for n, i in osds(config).items() if i["spec"]["device"]["path"] == kept), None)

    name = eventually(preparing, timeout=90)
    kubectl(config, "delete", "pod", "-n", NS, "-l", "app.kubernetes.io/name=storage-operator",
            "--grace-period=0", "--force", "--wait=false")  # fmt: skip
    item = eventually(lambda: osds(config).get(name) if phase_of(osds(config).get(name) or {}) == "Running" else None,
                      timeout=180)  # fmt: skip
    osd_id = item["status"]["osdId"]
    logs = kubectl(config, "logs", "-n", NS, "ds/storage-agent", f"--since-time={_rfc3339(started)}")
    made = [line for line in logs.splitlines() if f"made on {kept}" in line]
    assert len(made) == 1, made
    admin = admin_of(config)
    assert sorted(admin.json("osd", "ls")) == sorted(i["status"]["osdId"] for i in osds(config).values())
    assert osd_id in admin.json("osd", "ls")
    eventually(lambda: healthy(config, 3), timeout=120)


def _rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds - 1))


def test_a_new_image_rolls_through_the_daemons_one_at_a_time(lab: tuple[LabConfig, LabState]) -> None:
    config, _ = lab
    new = f"{CEPH_IMAGE}-next"
    paths = RuntimePaths.of(config)
    subprocess.run(
        ["ctr", "--address", str(paths.socket), "-n", "k8s.io", "images", "tag", "--force", CEPH_IMAGE, new],
        check=True,
        capture_output=True,
        timeout=60,
    )
    selector = f"storage.baremetal.io/cluster={CLUSTER}"
    kubectl(config, "patch", "cephcluster", "-n", NS, CLUSTER, "--type", "merge", "-p",
            json.dumps({"spec": {"cephVersion": {"image": new}}}))  # fmt: skip
    most_unavailable = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        deployments = get(config, "deployments", "-n", NS, "-l", selector)["items"]
        unavailable = [d for d in deployments if (d.get("status") or {}).get("availableReplicas") != 1]
        most_unavailable = max(most_unavailable, len(unavailable))
        images = {image_of(d) for d in deployments}
        if images == {new} and not unavailable and healthy(config, 3):
            break
        time.sleep(0.5)
    else:
        old = sorted(d["metadata"]["name"] for d in deployments if image_of(d) != new)
        pytest.fail(f"the upgrade did not finish ({old} not rolled): {cluster(config)['status'].get('message')}")
    assert most_unavailable <= 1
    upgraded = sorted(events(config, CLUSTER, "Upgrading"), key=lambda e: e.get("firstTimestamp") or "")
    who = [e["message"].split(":")[0] for e in upgraded]
    assert who[:2] == ["mon.a", "mgr.a"]
    assert sorted(w for w in who if w.startswith("osd.")) == sorted(
        f"osd.{i['status']['osdId']}" for i in osds(config).values()
    )


def test_a_device_leaving_the_selection_has_its_osd_removed_when_allowed(lab: tuple[LabConfig, LabState]) -> None:
    """With removeOSDsOutOfSelection, a device the selection stops naming loses its OSD (safely: drained,
    purged, wiped with the confirmation); named again, it becomes an OSD again."""
    config, state = lab
    disks = [Path(d).name for d in node_disks(state)]
    leaving = disks[-1]
    storage = {
        "removeOSDsOutOfSelection": True,
        "nodes": [{"name": NODE, "devices": [{"name": d} for d in disks[:-1]]}],
    }
    kubectl(config, "patch", "cephcluster", "-n", NS, CLUSTER, "--type", "merge", "-p",
            json.dumps({"spec": {"storage": storage}}))  # fmt: skip
    eventually(lambda: events(config, CLUSTER, "LeavesSelection"), timeout=60)
    eventually(
        lambda: all(Path(i["spec"]["device"]["path"]).name != leaving for i in osds(config).values()), timeout=180
    )
    admin = admin_of(config)
    assert len(admin.json("osd", "ls")) == 2
    assert signatures(f"/dev/{leaving}") == []  # wiped: the cluster's cleanupPolicy confirms it
    storage["nodes"] = [{"name": NODE, "deviceFilter": "^loop[0-9]+$"}]
    kubectl(config, "patch", "cephcluster", "-n", NS, CLUSTER, "--type", "merge", "-p",
            json.dumps({"spec": {"storage": storage}}))  # fmt: skip
    eventually(lambda: healthy(config, 3), timeout=120)


def test_deleting_the_cluster_with_the_confirmation_wipes_its_disks(lab: tuple[LabConfig, LabState]) -> None:
    config, state = lab
    stores = config.paths.node / "ceph" / f"{NS}-{CLUSTER}"
    assert stores.is_dir()
    delete(config, "cephblockpool", "data", wait=True)
    delete(config, "cephcluster", CLUSTER)
    eventually(lambda: gone(config, CLUSTER), timeout=180)
    for device in node_disks(state):
        assert signatures(device) == []
    assert not stores.exists()
    assert not get(config, "deployments", "-n", NS, "-l", f"storage.baremetal.io/cluster={CLUSTER}")["items"]

    def all_available() -> bool:
        devices = get(config, "diskinventory", NODE)["status"]["devices"]
        return all(d["available"] for d in devices)

    eventually(all_available, timeout=60)


def test_a_cluster_deleted_without_the_confirmation_leaves_its_disks_as_they_are(
    lab: tuple[LabConfig, LabState],
) -> None:
    config, state = lab
    name = "keeper"
    body = {
        "apiVersion": GROUP,
        "kind": "CephCluster",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            **{k: v for k, v in cluster_spec_of_example(config).items() if k != "cleanupPolicy"},
        },
    }
    apply(config, body)
    eventually(lambda: healthy(config, 3, name), timeout=120)
    fsid = cluster(config, name)["status"]["ceph"]["fsid"]
    delete(config, "cephcluster", name)
    eventually(lambda: gone(config, name), timeout=180)
    for device in node_disks(state):
        assert signatures(device) == ["ceph_bluestore"]
        assert (
            fsid
            in subprocess.run(
                ["ceph-bluestore-tool", "show-label", "--dev", device], capture_output=True, text=True, check=True
            ).stdout
        )
    assert (config.paths.node / "ceph" / f"{NS}-{name}").is_dir()
    assert [e for e in events(config, name, "Deleted") if "keep their data" in e["message"]]


def cluster_spec_of_example(config: LabConfig) -> dict[str, Any]:
    from storage_operator.lab.operator import lab_examples  # noqa: PLC0415

    (doc,) = [
        d
        for d in lab_examples(config)
        if d["kind"] == "CephCluster" and not d["spec"].get("external", {}).get("enable")
    ]
    spec: dict[str, Any] = doc["spec"]
    return spec
