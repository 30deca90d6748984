"""The CSI plugins with real Ceph, real FUSE mounts and loop devices: data written through one path is
read through another, copies carry the data, crashes leave nothing a retry does not finish, refusals
keep data, and secrets stay out of logs and command lines."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

import grpc
import pytest

from csi import journal
from csi.ids import VolumeRef, new_uuid, volume_uuid
from csi.params import digest, parse_cephfs, parse_rbd
from csi.proto import csi_pb2
from storage_operator.ceph import fs, images, omap, subvolumes
from storage_operator.lab import csi as lab_csi
from storage_operator.lab.csi import probe_plugin
from storage_operator.lab.mounts import mounts_under
from tests.csi_support import Driver, GiB, MiB, Plugin, code_of, plugin, unique
from tests.operator_support import lab_control
from tests.support import LabHandle, eventually

DRIVERS: list[Driver] = ["cephfs", "rbd"]
JOURNAL_POOL = {"cephfs": "shared-metadata", "rbd": "replicapool"}


def write_file(target: Path, name: str, data: bytes) -> None:
    path = target / name
    path.write_bytes(data)
    with path.open("rb") as f:
        os.fsync(f.fileno())


def pids_with(text: str, program: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(program.encode()) and any(text.encode() in a for a in argv):
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("driver", DRIVERS)
def test_data_written_through_one_publish_path_is_read_through_another(lab: LabHandle, driver: Driver) -> None:
    with plugin(lab, driver) as p, p.volume(unique("paths")) as vol:
        staging = p.scratch("staging")
        first, second = p.scratch("first"), p.scratch("second")
        p.stage(vol, staging)
        p.publish(vol, staging, first)
        p.publish(vol, staging, second, readonly=True)
        data = os.urandom(3 * MiB)
        write_file(first, "payload.bin", data)
        assert (second / "payload.bin").read_bytes() == data
        with pytest.raises(OSError, match="Read-only file system"):
            (second / "other").write_bytes(b"x")
        p.unpublish(vol.volume_id, first)
        p.unpublish(vol.volume_id, second)
        assert not first.exists()
        p.unstage(vol.volume_id, staging)
        assert mounts_under(staging) == []
        # Staged again (as on another node after the pod moved): the data is in Ceph, not on the node.
        with p.mounted(vol) as third:
            assert (third / "payload.bin").read_bytes() == data


def test_a_block_volume_is_the_same_device_through_two_publish_paths(lab: LabHandle) -> None:
    with plugin(lab, "rbd") as p, p.volume(unique("block"), block=True, size=64 * MiB) as vol:
        staging = p.scratch("staging")
        first, second = p.scratch("first"), p.scratch("second")
        p.stage(vol, staging, block=True)
        try:
            p.publish(vol, staging, first, block=True)
            p.publish(vol, staging, second, block=True)
            data = os.urandom(MiB)
            with first.open("r+b") as dev:
                dev.seek(5 * MiB)
                dev.write(data)
                dev.flush()
                os.fsync(dev.fileno())
            with second.open("rb") as dev:
                dev.seek(5 * MiB)
                assert dev.read(MiB) == data
                assert dev.seek(0, os.SEEK_END) == 64 * MiB
            p.unpublish(vol.volume_id, first)
            p.unpublish(vol.volume_id, second)
            assert not first.exists()
        finally:
            p.unstage(vol.volume_id, staging)
        assert mounts_under(staging) == []
        assert mounts_under(first) == []


@pytest.mark.parametrize("driver", DRIVERS)
def test_volumes_from_a_snapshot_and_from_a_volume_carry_the_data(lab: LabHandle, driver: Driver) -> None:
    with plugin(lab, driver) as p, p.volume(unique("source")) as source:
        data = os.urandom(MiB)
        with p.mounted(source) as target:
            write_file(target, "original.bin", data)
        snap = p.snapshot(unique("snap"), source.volume_id)
        assert snap.ready_to_use
        try:
            from_snapshot = csi_pb2.VolumeContentSource(
                snapshot=csi_pb2.VolumeContentSource.SnapshotSource(snapshot_id=snap.snapshot_id)
            )
            with p.volume(unique("from-snap"), size=2 * GiB, source=from_snapshot) as copy:
                assert copy.content_source.snapshot.snapshot_id == snap.snapshot_id
                assert copy.capacity_bytes == 2 * GiB
                with p.mounted(copy) as target:
                    assert (target / "original.bin").read_bytes() == data
                    write_file(target, "only-in-copy", b"copy")
            # The source is untouched by what was written to the copy.
            with p.mounted(source) as target:
                assert not (target / "only-in-copy").exists()
        finally:
            p.delete_snapshot(snap.snapshot_id)
        from_volume = csi_pb2.VolumeContentSource(
            volume=csi_pb2.VolumeContentSource.VolumeSource(volume_id=source.volume_id)
        )
        with p.volume(unique("from-vol"), source=from_volume) as clone, p.mounted(clone) as target:
            assert (target / "original.bin").read_bytes() == data
        # No temporary snapshot is left on the source: it deletes (the context manager) without refusal.


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_volume_with_snapshots_is_not_deleted(lab: LabHandle, driver: Driver) -> None:
    with plugin(lab, driver) as p:
        vol = p.create(unique("keep"))
        snap = p.snapshot(unique("snap"), vol.volume_id)
        code = code_of(lambda: p.delete(vol.volume_id))
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        validated = p.controller.ValidateVolumeCapabilities(
            csi_pb2.ValidateVolumeCapabilitiesRequest(
                volume_id=vol.volume_id,
                volume_capabilities=[csi_pb2.VolumeCapability(mount={}, access_mode={"mode": 1})],
                secrets=p.secrets,
            )
        )
        assert validated.confirmed.volume_capabilities  # still there
        p.delete_snapshot(snap.snapshot_id)
        p.delete(vol.volume_id)
        assert (
            code_of(
                lambda: p.controller.ValidateVolumeCapabilities(
                    csi_pb2.ValidateVolumeCapabilitiesRequest(
                        volume_id=vol.volume_id,
                        volume_capabilities=[csi_pb2.VolumeCapability(mount={}, access_mode={"mode": 1})],
                        secrets=p.secrets,
                    )
                )
            )
            == grpc.StatusCode.NOT_FOUND
        )


def test_an_rbd_image_in_use_on_a_node_is_not_deleted(lab: LabHandle) -> None:
    with plugin(lab, "rbd") as p:
        vol = p.create(unique("busy"), size=64 * MiB)
        staging = p.scratch("staging")
        p.stage(vol, staging)
        try:
            code = code_of(lambda: p.delete(vol.volume_id))
            assert code == grpc.StatusCode.FAILED_PRECONDITION
        finally:
            p.unstage(vol.volume_id, staging)
        p.delete(vol.volume_id)


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_reservation_left_by_a_crash_is_finished_by_the_retry(lab: LabHandle, driver: Driver) -> None:
    """A crash right after the journal write and before the volume exists: the retry of the same
    name creates exactly that volume (the reserved UUID), not a second one."""
    name = unique("crashed")
    with plugin(lab, driver) as p:
        params = parse_cephfs(p.params) if driver == "cephfs" else parse_rbd(p.params)
        location = p.params.get("fsName") or p.params["pool"]
        reserved = new_uuid()
        record = journal.VolumeRecord(name, reserved, GiB, digest(params), "", "2026-01-01T00:00:00+00:00")
        with lab.ceph() as ceph:
            omap.omap_update(
                ceph,
                JOURNAL_POOL[driver],
                journal.NAMESPACE,
                journal.DIRECTORY,
                put={
                    journal.volume_name_key(name): reserved.encode(),
                    journal.volume_uuid_key(reserved): journal.encode(record),
                },
            )
        vol = p.create(name)
        try:
            assert vol.volume_id == VolumeRef(driver, location, reserved).id
            again = p.create(name)
            assert again.volume_id == vol.volume_id
        finally:
            p.delete(vol.volume_id)
        with lab.ceph() as ceph:
            left = omap.omap_get(
                ceph, JOURNAL_POOL[driver], journal.NAMESPACE, journal.DIRECTORY, [journal.volume_name_key(name)]
            )
        assert left == {}


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_volume_made_before_a_crash_kept_it_from_the_journal_is_found_by_the_retry(
    lab: LabHandle, driver: Driver
) -> None:
    """The other order: the volume exists, its journal record was never written. The retry of the same
    name lands on that volume (its UUID follows from the name) and records it; no second volume."""
    name = unique("unrecorded")
    with plugin(lab, driver) as p:
        location = p.params.get("fsName") or p.params["pool"]
        ref = VolumeRef(driver, location, volume_uuid(driver, location, name))
        with lab.ceph() as ceph:
            if driver == "cephfs":
                ceph.run(subvolumes.build_subvolume_create(location, ref.name, size=GiB, group="csi"))
            else:
                images.create_image(ceph, location, ref.name, GiB)
        vol = p.create(name)
        try:
            assert vol.volume_id == ref.id
            listed = [e.volume.volume_id for e in p.controller.ListVolumes(csi_pb2.ListVolumesRequest()).entries]
            assert listed.count(ref.id) == 1
        finally:
            p.delete(vol.volume_id)
        with lab.ceph() as ceph:
            if driver == "cephfs":
                left = subvolumes.parse_names(ceph.run(subvolumes.build_subvolume_ls(location, "csi")))
            else:
                left = images.list_images(ceph, location)
        assert ref.name not in left


def test_a_half_made_rbd_copy_is_redone_by_the_retry(lab: LabHandle) -> None:
    """A crash in the middle of copying a snapshot: only the temporary image exists; the retry
    removes it and makes the copy under the final name."""
    with plugin(lab, "rbd") as p, p.volume(unique("origin"), size=64 * MiB) as source:
        with p.mounted(source) as target:
            write_file(target, "data", b"kept")
        snap = p.snapshot(unique("snap"), source.volume_id)
        try:
            name = unique("copy")
            reserved = new_uuid()
            ref = VolumeRef("rbd", "replicapool", reserved)
            record = journal.VolumeRecord(
                name, reserved, 64 * MiB, digest(parse_rbd(p.params)), f"snapshot:{snap.snapshot_id}"
            )
            with lab.ceph() as ceph:
                omap.omap_update(
                    ceph,
                    "replicapool",
                    journal.NAMESPACE,
                    journal.DIRECTORY,
                    put={
                        journal.volume_name_key(name): reserved.encode(),
                        journal.volume_uuid_key(reserved): journal.encode(record),
                    },
                )
                images.create_image(ceph, "replicapool", f"{ref.name}.partial", 64 * MiB)  # the interrupted copy
            source_spec = csi_pb2.VolumeContentSource(
                snapshot=csi_pb2.VolumeContentSource.SnapshotSource(snapshot_id=snap.snapshot_id)
            )
            copy = p.create(name, size=64 * MiB, source=source_spec)
            try:
                assert copy.volume_id == ref.id
                with lab.ceph() as ceph:
                    names = images.list_images(ceph, "replicapool")
                assert ref.name in names
                assert f"{ref.name}.partial" not in names
                with p.mounted(copy) as target:
                    assert (target / "data").read_bytes() == b"kept"
            finally:
                p.delete(copy.volume_id)
        finally:
            p.delete_snapshot(snap.snapshot_id)


@pytest.mark.parametrize("driver", DRIVERS)
def test_the_name_to_volume_mapping_survives_a_restart_of_the_plugin(lab: LabHandle, driver: Driver) -> None:
    name = unique("durable")
    control = lab_control(lab)
    with plugin(lab, driver) as p:
        vol = p.create(name)
        snap = p.snapshot(f"{name}-snap", vol.volume_id)
    control.stop_process(lab_csi.process_name(driver), kill=True)
    control.start_process(lab_csi.process_name(driver))
    eventually(lambda: probe_plugin(lab_csi.socket_path(lab.config, driver)), timeout=60)
    with plugin(lab, driver) as p:
        try:
            assert p.create(name).volume_id == vol.volume_id
            assert p.snapshot(f"{name}-snap", vol.volume_id).snapshot_id == snap.snapshot_id
            listed = p.controller.ListVolumes(csi_pb2.ListVolumesRequest())
            assert vol.volume_id in [e.volume.volume_id for e in listed.entries]
        finally:
            p.delete_snapshot(snap.snapshot_id)
            p.delete(vol.volume_id)


@pytest.mark.parametrize("driver", DRIVERS)
def test_concurrent_requests_for_one_name_make_one_volume(lab: LabHandle, driver: Driver) -> None:
    name = unique("race")
    with plugin(lab, driver) as p:
        with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
            futures = [pool.submit(p.create, name) for _ in range(10)]
        ids, codes = set(), []
        for future in futures:
            try:
                ids.add(future.result().volume_id)
            except grpc.RpcError as exc:
                codes.append(exc.code())
        assert len(ids) == 1
        assert set(codes) <= {grpc.StatusCode.ABORTED}
        (volume_id,) = ids
        try:
            listed = p.controller.ListVolumes(csi_pb2.ListVolumesRequest())
            uuids = [e.volume.volume_id for e in listed.entries if e.volume.volume_id == volume_id]
            assert uuids == [volume_id]
        finally:
            p.delete(volume_id)


def evict_sessions_of_dead_clients(lab: LabHandle, mount_point: Path) -> None:
    """What an administrator does for a CephFS client that died: the MDS would wait out its session
    (session_autoclose, 300 s) before the dead client's capabilities stop blocking its files."""
    ceph = ["ceph", "-c", str(lab.config.paths.ceph_conf)]
    with lab.ceph() as client:
        active = fs.parse_fs_dump(client.run(fs.build_fs_dump())).filesystems["shared"].active
    for mds in active:
        done = subprocess.run(
            [*ceph, "tell", f"mds.{mds}", "client", "ls", "--format=json"], capture_output=True, text=True, check=True
        )
        for session in json.loads(done.stdout):
            if session.get("client_metadata", {}).get("mount_point") == str(mount_point):
                subprocess.run(
                    [*ceph, "tell", f"mds.{mds}", "client", "evict", f"id={session['id']}"],
                    capture_output=True,
                    check=True,
                )


def delete_eventually(p: Plugin, volume_id: str) -> None:
    def deleted() -> bool | None:
        try:
            p.delete(volume_id)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            return None
        return True

    eventually(deleted, timeout=90, interval=2)


@pytest.mark.parametrize(("driver", "daemon"), [("cephfs", "ceph-fuse"), ("rbd", "rbd-fuse")])
def test_a_dead_fuse_daemon_does_not_block_cleanup_or_restaging(lab: LabHandle, driver: Driver, daemon: str) -> None:
    with plugin(lab, driver) as p:
        vol = p.create(unique("stale"), size=64 * MiB)
        staging, target = p.scratch("staging"), p.scratch("target")
        p.stage(vol, staging)
        p.publish(vol, staging, target)
        write_file(target, "before", b"1")
        pids = pids_with(str(p.home), daemon)
        assert pids
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        eventually(lambda: all(not Path(f"/proc/{pid}").exists() for pid in pids) or None, timeout=10)
        if driver == "cephfs":
            # Until the MDS drops the dead client, its capabilities stall the mgr's work on the file system.
            evict_sessions_of_dead_clients(lab, staging)
        stats = p.node.NodeGetVolumeStats(
            csi_pb2.NodeGetVolumeStatsRequest(volume_id=vol.volume_id, volume_path=str(target))
        )
        if driver == "cephfs":
            assert stats.volume_condition.abnormal
        # Staging again repairs the stage (the CO retries NodeStage after a node plugin restart).
        p.unpublish(vol.volume_id, target)
        p.stage(vol, staging)
        p.publish(vol, staging, target)
        assert (target / "before").read_bytes() == b"1"
        p.unpublish(vol.volume_id, target)
        p.unstage(vol.volume_id, staging)
        assert mounts_under(staging) == []
        assert mounts_under(target) == []
        assert eventually(lambda: pids_with(str(staging if driver == "cephfs" else p.home), daemon) == [] or None)
        delete_eventually(p, vol.volume_id)


@pytest.mark.parametrize(("driver", "fs_type"), [("cephfs", ""), ("rbd", "xfs")])
def test_an_online_expansion_shows_in_the_mounted_file_system(lab: LabHandle, driver: Driver, fs_type: str) -> None:
    with plugin(lab, driver) as p, p.volume(unique("grow"), size=GiB) as vol, p.mounted(vol, fs_type=fs_type) as target:
        before = total_bytes(target)
        expanded = expand(p, vol.volume_id, 2 * GiB)
        assert expanded.capacity_bytes == 2 * GiB
        assert expanded.node_expansion_required == (driver == "rbd")
        if expanded.node_expansion_required:
            p.node.NodeExpandVolume(
                csi_pb2.NodeExpandVolumeRequest(
                    volume_id=vol.volume_id,
                    volume_path=str(target),
                    capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GiB),
                )
            )
        eventually(lambda: total_bytes(target) > before * 1.5 or None, timeout=30)


def test_an_ext4_volume_expanded_while_unstaged_is_grown_when_staged(lab: LabHandle) -> None:
    """ext4 grows online only with CAP_SYS_RESOURCE (which a privileged node plugin has, and this
    machine's root has not): a volume expanded between two stagings is grown before it is mounted."""
    with plugin(lab, "rbd") as p, p.volume(unique("grow4"), size=256 * MiB) as vol:
        with p.mounted(vol) as target:
            write_file(target, "kept", b"data")
            before = total_bytes(target)
        assert expand(p, vol.volume_id, GiB).capacity_bytes == GiB
        with p.mounted(vol) as target:
            assert total_bytes(target) > before * 3
            assert (target / "kept").read_bytes() == b"data"


def total_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize


def expand(p: Plugin, volume_id: str, size: int) -> csi_pb2.ControllerExpandVolumeResponse:
    response: csi_pb2.ControllerExpandVolumeResponse = p.controller.ControllerExpandVolume(
        csi_pb2.ControllerExpandVolumeRequest(
            volume_id=volume_id, capacity_range=csi_pb2.CapacityRange(required_bytes=size), secrets=p.secrets
        )
    )
    return response


def test_secrets_stay_out_of_logs_and_command_lines(lab: LabHandle) -> None:
    with plugin(lab, "cephfs") as p, p.volume(unique("secret")) as vol, p.mounted(vol):
        key = p.secrets["userKey"]
        cmdlines = [
            (entry / "cmdline").read_bytes()
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and (entry / "cmdline").exists()
        ]
        assert not any(key.encode() in c for c in cmdlines)
        assert pids_with(str(p.home), "ceph-fuse")  # the mount is there, with its key read from a file...
        assert list((p.home / "state" / "keys").iterdir()) == []  # ...that is gone once mounted
    for driver in DRIVERS:
        log = lab.config.paths.log(lab_csi.process_name(driver)).read_text()
        assert key not in log
        assert "userKey" in log  # the secret's name is logged, its value never


def test_operations_are_counted_and_timed_by_method_and_code(lab: LabHandle) -> None:
    with plugin(lab, "rbd") as p:
        p.create(unique("counted"), size=8 * MiB)  # left for the list below, deleted next
        code_of(lambda: p.controller.CreateVolume(csi_pb2.CreateVolumeRequest(secrets=p.secrets)))
        for entry in p.controller.ListVolumes(csi_pb2.ListVolumesRequest()).entries:
            if "counted" in entry.volume.volume_id:
                p.delete(entry.volume.volume_id)
    port = lab.config.ports.csi_metrics("rbd")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert 'csi_operations_total{code="OK",driver="rbd.csi.storage.baremetal.io",method="CreateVolume"}' in text
    assert (
        'csi_operations_total{code="INVALID_ARGUMENT",driver="rbd.csi.storage.baremetal.io",method="CreateVolume"}'
        in text
    )
    assert (
        'csi_operation_duration_seconds_bucket{driver="rbd.csi.storage.baremetal.io",le="0.05",method="CreateVolume"}'
        in text
    )


def test_unknown_class_parameters_and_unsupported_capabilities_are_refused_with_reasons(lab: LabHandle) -> None:
    with plugin(lab, "cephfs") as p:
        req = csi_pb2.CreateVolumeRequest(
            name=unique("typo"),
            volume_capabilities=[csi_pb2.VolumeCapability(mount={}, access_mode={"mode": 5})],
            parameters={**p.params, "fsname": "shared"},
            secrets=p.secrets,
        )
        with pytest.raises(grpc.RpcError) as caught:
            p.controller.CreateVolume(req)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "fsname" in (caught.value.details() or "")
        block = csi_pb2.CreateVolumeRequest(
            name=unique("block"),
            volume_capabilities=[csi_pb2.VolumeCapability(block={}, access_mode={"mode": 1})],
            parameters=p.params,
            secrets=p.secrets,
        )
        with pytest.raises(grpc.RpcError) as caught:
            p.controller.CreateVolume(block)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "block" in (caught.value.details() or "")
    with plugin(lab, "rbd") as p:
        rwx = csi_pb2.CreateVolumeRequest(
            name=unique("rwx"),
            volume_capabilities=[csi_pb2.VolumeCapability(mount={}, access_mode={"mode": 5})],
            parameters=p.params,
            secrets=p.secrets,
        )
        with pytest.raises(grpc.RpcError) as caught:
            p.controller.CreateVolume(rwx)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with lab.ceph() as ceph:
            assert not [n for n in images.list_images(ceph, "replicapool") if "rwx" in n]


def test_erasure_coded_data_pools_hold_rbd_data(lab: LabHandle) -> None:
    with plugin(lab, "rbd") as p:
        p.params = {**p.params, "dataPool": "ecpool"}
        with p.volume(unique("ec"), size=64 * MiB) as vol:
            with lab.ceph() as ceph:
                info = images.image_info(ceph, "replicapool", vol.volume_context["imageName"])
            assert info.data_pool == "ecpool"
            with p.mounted(vol) as target:
                write_file(target, "ec", b"erasure-coded")
                assert (target / "ec").read_bytes() == b"erasure-coded"


def test_cephfs_subvolumes_live_in_the_csi_group_with_their_size_as_quota(lab: LabHandle) -> None:
    with plugin(lab, "cephfs") as p, p.volume(unique("quota"), size=256 * MiB) as vol:
        name = "csi-vol-" + vol.volume_id.rsplit(":", 1)[1]
        with lab.ceph() as ceph:
            info = subvolumes.parse_subvolume_info(
                ceph.run(subvolumes.build_subvolume_info("shared", name, group="csi"))
            )
        assert info.bytes_quota == 256 * MiB
        with p.mounted(vol) as target:
            done = subprocess.run(
                ["dd", "if=/dev/zero", f"of={target / 'fill'}", "bs=1M", "count=400", "conv=fsync"],
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode != 0
            assert "quota" in done.stderr.lower() or "No space" in done.stderr or "Disk quota" in done.stderr


def test_a_volume_is_never_reformatted_and_a_refused_stage_leaves_nothing_behind(lab: LabHandle) -> None:
    with plugin(lab, "rbd") as p, p.volume(unique("fs"), size=64 * MiB) as vol:
        with p.mounted(vol, fs_type="ext4") as target:
            write_file(target, "kept", b"ext4 data")
        staging = p.scratch("staging")
        with pytest.raises(grpc.RpcError) as caught:
            p.stage(vol, staging, fs_type="xfs")
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "never reformatted" in (caught.value.details() or "")
        assert mounts_under(p.home / "state") == []
        assert pids_with(str(p.home), "rbd-fuse") == []
        with p.mounted(vol, fs_type="ext4") as target:
            assert (target / "kept").read_bytes() == b"ext4 data"


def _ready(p: Plugin) -> bool:
    response: csi_pb2.ProbeResponse = p.identity.Probe(csi_pb2.ProbeRequest(), timeout=30)
    return response.ready.value


def test_probe_says_not_ready_while_ceph_does_not_answer_and_ready_again_after(lab: LabHandle) -> None:
    control = lab_control(lab)
    with plugin(lab, "rbd") as p:
        assert _ready(p)
        control.stop_process("ceph-mon.a")
        try:
            eventually(lambda: (not _ready(p)) or None, timeout=60, interval=1)
        finally:
            control.start_process("ceph-mon.a")
        eventually(lambda: _ready(p) or None, timeout=90, interval=1)
        # and it serves again
        with p.volume(unique("after"), size=8 * MiB):
            pass
