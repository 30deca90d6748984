"""The mgr ``volumes`` commands the CSI driver uses (storage_operator.ceph.subvolumes): builders of resize,
info, snapshots and clones (prefix, target, arguments as sent), the reply parsers of subvolume info,
snapshot info and clone status, the mgr's timestamps; and ``fs ls`` parsed (storage_operator.ceph.fs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from storage_operator.ceph import fs, subvolumes
from storage_operator.ceph.command import Command
from storage_operator.ceph.subvolumes import CloneStatus, SubvolumeInfo, SubvolumeSnapshotInfo

GiB = 1024**3


def sent(command: Command) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(command.to_json())
    return decoded


@pytest.mark.parametrize(
    ("command", "prefix", "args"),
    [
        pytest.param(
            subvolumes.build_group_create("shared", "csi"),
            "fs subvolumegroup create",
            {"vol_name": "shared", "group_name": "csi"},
            id="group-create",
        ),
        pytest.param(
            subvolumes.build_subvolume_create("shared", "csi-vol-1", size=GiB, group="csi", pool="shared-bulk"),
            "fs subvolume create",
            {
                "vol_name": "shared",
                "sub_name": "csi-vol-1",
                "size": GiB,
                "group_name": "csi",
                "pool_layout": "shared-bulk",
            },
            id="create-full",
        ),
        pytest.param(
            subvolumes.build_subvolume_create("shared", "csi-vol-1", size=0, group="csi"),
            "fs subvolume create",
            {"vol_name": "shared", "sub_name": "csi-vol-1", "group_name": "csi"},
            id="create-size-0-omitted",
        ),
        pytest.param(
            subvolumes.build_subvolume_create("shared", "csi-vol-1", size=None),
            "fs subvolume create",
            {"vol_name": "shared", "sub_name": "csi-vol-1"},
            id="create-size-none-omitted",
        ),
        pytest.param(
            subvolumes.build_subvolume_create("shared", "csi-vol-1", mode="0777"),
            "fs subvolume create",
            {"vol_name": "shared", "sub_name": "csi-vol-1", "mode": "0777"},
            id="create-mode",
        ),
        pytest.param(
            subvolumes.build_subvolume_resize("shared", "csi-vol-1", 2 * GiB, group="csi"),
            "fs subvolume resize",
            {
                "vol_name": "shared",
                "sub_name": "csi-vol-1",
                "new_size": str(2 * GiB),
                "group_name": "csi",
                "no_shrink": True,
            },
            id="resize",
        ),
        pytest.param(
            subvolumes.build_subvolume_info("shared", "csi-vol-1", group="csi"),
            "fs subvolume info",
            {"vol_name": "shared", "sub_name": "csi-vol-1", "group_name": "csi"},
            id="info",
        ),
        pytest.param(
            subvolumes.build_subvolume_rm("shared", "csi-vol-1", group="csi", force=True),
            "fs subvolume rm",
            {"vol_name": "shared", "sub_name": "csi-vol-1", "group_name": "csi", "force": True},
            id="rm-force",
        ),
        pytest.param(
            subvolumes.build_subvolume_rm("shared", "csi-vol-1", group="csi", force=False),
            "fs subvolume rm",
            {"vol_name": "shared", "sub_name": "csi-vol-1", "group_name": "csi"},
            id="rm-no-force-omitted",
        ),
        pytest.param(
            subvolumes.build_snapshot_create("shared", "csi-vol-1", "csi-snap-1", group="csi"),
            "fs subvolume snapshot create",
            {"vol_name": "shared", "sub_name": "csi-vol-1", "snap_name": "csi-snap-1", "group_name": "csi"},
            id="snapshot-create",
        ),
        pytest.param(
            subvolumes.build_snapshot_rm("shared", "csi-vol-1", "csi-snap-1", group="csi"),
            "fs subvolume snapshot rm",
            {"vol_name": "shared", "sub_name": "csi-vol-1", "snap_name": "csi-snap-1", "group_name": "csi"},
            id="snapshot-rm",
        ),
        pytest.param(
            subvolumes.build_snapshot_ls("shared", "csi-vol-1", group="csi"),
            "fs subvolume snapshot ls",
            {"vol_name": "shared", "sub_name": "csi-vol-1", "group_name": "csi"},
            id="snapshot-ls",
        ),
        pytest.param(
            subvolumes.build_snapshot_info("shared", "csi-vol-1", "csi-snap-1", group="csi"),
            "fs subvolume snapshot info",
            {"vol_name": "shared", "sub_name": "csi-vol-1", "snap_name": "csi-snap-1", "group_name": "csi"},
            id="snapshot-info",
        ),
        pytest.param(
            subvolumes.build_snapshot_clone("shared", "csi-vol-1", "csi-snap-1", "csi-vol-2", group="csi"),
            "fs subvolume snapshot clone",
            {
                "vol_name": "shared",
                "sub_name": "csi-vol-1",
                "snap_name": "csi-snap-1",
                "target_sub_name": "csi-vol-2",
                "group_name": "csi",
                "target_group_name": "csi",
            },
            id="clone",
        ),
        pytest.param(
            subvolumes.build_snapshot_clone("shared", "csi-vol-1", "csi-snap-1", "csi-vol-2", pool="shared-bulk"),
            "fs subvolume snapshot clone",
            {
                "vol_name": "shared",
                "sub_name": "csi-vol-1",
                "snap_name": "csi-snap-1",
                "target_sub_name": "csi-vol-2",
                "pool_layout": "shared-bulk",
            },
            id="clone-default-group-with-pool",
        ),
        pytest.param(
            subvolumes.build_clone_status("shared", "csi-vol-2", group="csi"),
            "fs clone status",
            {"vol_name": "shared", "clone_name": "csi-vol-2", "group_name": "csi"},
            id="clone-status",
        ),
        pytest.param(
            subvolumes.build_clone_cancel("shared", "csi-vol-2", group="csi"),
            "fs clone cancel",
            {"vol_name": "shared", "clone_name": "csi-vol-2", "group_name": "csi"},
            id="clone-cancel",
        ),
    ],
)
def test_builders(command: Command, prefix: str, args: dict[str, object]) -> None:
    assert command.target == "mgr"
    assert (command.prefix, command.args) == (prefix, args)
    assert sent(command) == {"prefix": prefix, "format": "json", **args}
    assert command.describe() != prefix  # every builder says what it does


def test_resize_size_is_a_string() -> None:
    # The mgr declares new_size a CephString (it also takes "infinite"); an int is refused.
    args = subvolumes.build_subvolume_resize("shared", "v", 5 * GiB).args
    assert args["new_size"] == "5368709120"
    assert args["no_shrink"] is True


# ---------------------------------------------------------------------------- subvolume info

# `fs subvolume info` of a Ceph 16.2 mgr, for a subvolume without and with a quota.
INFO: dict[str, Any] = {
    "atime": "2025-01-02 03:04:05",
    "bytes_pcent": "undefined",
    "bytes_quota": "infinite",
    "bytes_used": 0,
    "created_at": "2025-01-02 03:04:05",
    "ctime": "2025-01-02 03:04:05",
    "data_pool": "shared-default",
    "features": ["snapshot-clone", "snapshot-autoprotect", "snapshot-retention"],
    "gid": 0,
    "mode": 16877,
    "mon_addrs": ["10.0.0.1:6789"],
    "mtime": "2025-01-02 03:04:05",
    "path": "/volumes/csi/csi-vol-1/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d",
    "pool_namespace": "",
    "state": "complete",
    "type": "subvolume",
    "uid": 0,
}


def test_parse_subvolume_info_infinite_quota() -> None:
    assert subvolumes.parse_subvolume_info(INFO) == SubvolumeInfo(
        path="/volumes/csi/csi-vol-1/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d",
        bytes_quota=0,
        bytes_used=0,
        state="complete",
        data_pool="shared-default",
        created=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def test_parse_subvolume_info_with_quota() -> None:
    doc = {**INFO, "bytes_quota": GiB, "bytes_used": 4096, "bytes_pcent": "0.00", "state": "in-progress"}
    info = subvolumes.parse_subvolume_info(doc)
    assert info.bytes_quota == GiB
    assert info.bytes_used == 4096
    assert info.state == "in-progress"


def test_parse_subvolume_info_sparse() -> None:
    assert subvolumes.parse_subvolume_info({}) == SubvolumeInfo(
        path="", bytes_quota=0, bytes_used=0, state="complete", data_pool="", created=None
    )


# ---------------------------------------------------------------------------- snapshot info


def test_parse_snapshot_info() -> None:
    doc = {
        "created_at": "2025-01-02 03:04:05.678901",
        "data_pool": "shared-default",
        "has_pending_clones": "no",
        "size": 1048576,
    }
    assert subvolumes.parse_snapshot_info(doc) == SubvolumeSnapshotInfo(
        size=1048576, created=datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), pending_clones=0
    )


def test_parse_snapshot_info_pending_clones() -> None:
    doc = {
        "created_at": "2025-01-02 03:04:05",
        "has_pending_clones": "yes",
        "pending_clones": [{"name": "csi-vol-2", "target_group": "csi"}, {"name": "csi-vol-3"}],
        "size": 0,
    }
    assert subvolumes.parse_snapshot_info(doc).pending_clones == 2


def test_parse_snapshot_info_sparse() -> None:
    assert subvolumes.parse_snapshot_info({}) == SubvolumeSnapshotInfo(size=0, created=None, pending_clones=0)


# ---------------------------------------------------------------------------- clone status


def test_parse_clone_status_complete() -> None:
    status = subvolumes.parse_clone_status({"status": {"state": "complete"}})
    assert status == CloneStatus(state="complete", failure="")
    assert status.done
    assert not status.failed


@pytest.mark.parametrize("state", ["pending", "in-progress"])
def test_parse_clone_status_in_progress(state: str) -> None:
    doc = {
        "status": {
            "state": state,
            "source": {"volume": "shared", "subvolume": "csi-vol-1", "snapshot": "csi-snap-1", "group": "csi"},
        }
    }
    status = subvolumes.parse_clone_status(doc)
    assert status == CloneStatus(state=state)
    assert not status.done
    assert not status.failed


def test_parse_clone_status_failed_as_documented() -> None:
    # The shape of doc/cephfs/fs-volumes.rst.
    doc = {
        "status": {
            "state": "failed",
            "source": {"volume": "shared", "subvolume": "csi-vol-1", "snapshot": "csi-snap-1"},
            "failure": {"errno": "122", "errstr": "Disk quota exceeded"},
        }
    }
    status = subvolumes.parse_clone_status(doc)
    assert status == CloneStatus(state="failed", failure="Disk quota exceeded")
    assert status.failed
    assert not status.done


def test_parse_clone_status_failed_as_the_mgr_sends_it() -> None:
    doc = {
        "status": {
            "state": "failed",
            "source": {"volume": "shared", "subvolume": "csi-vol-1", "snapshot": "csi-snap-1"},
            "failure": {"errno": "2", "error_msg": "snapshot 'csi-snap-1' does not exist"},
        }
    }
    assert subvolumes.parse_clone_status(doc).failure == "snapshot 'csi-snap-1' does not exist"


def test_parse_clone_status_canceled_and_odd_failures() -> None:
    assert subvolumes.parse_clone_status({"status": {"state": "canceled"}}).failed
    assert subvolumes.parse_clone_status({"status": {"state": "failed", "failure": "text"}}).failure == "text"
    assert subvolumes.parse_clone_status({"status": {"state": "failed", "failure": None}}).failure == ""


@pytest.mark.parametrize("doc", [{}, {"status": None}, {"status": {}}])
def test_parse_clone_status_empty(doc: dict[str, Any]) -> None:
    status = subvolumes.parse_clone_status(doc)
    assert status == CloneStatus(state="", failure="")
    assert not status.done
    assert not status.failed


# ---------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-11-27 11:55:10", datetime(2026, 11, 27, 11, 55, 10, tzinfo=UTC), id="seconds"),
        pytest.param(
            "2026-11-27 11:55:10.123456", datetime(2026, 11, 27, 11, 55, 10, 123456, tzinfo=UTC), id="microseconds"
        ),
        pytest.param("2026-11-27 11:55:10.5", datetime(2026, 11, 27, 11, 55, 10, 500000, tzinfo=UTC), id="fraction"),
        pytest.param("", None, id="empty"),
        pytest.param("yesterday", None, id="junk"),
        pytest.param("2026-11-27", None, id="date-only"),
        pytest.param("2026-11-27T11:55:10", None, id="iso-t"),
        pytest.param("2026-13-27 11:55:10", None, id="month-13"),
        pytest.param(None, None, id="none"),
        pytest.param(1732708510, None, id="a-number"),
    ],
)
def test_parse_time(value: object, expected: datetime | None) -> None:
    assert subvolumes.parse_time(value) == expected


def test_parse_time_is_utc() -> None:
    parsed = subvolumes.parse_time("2026-11-27 11:55:10")
    assert parsed is not None
    assert parsed.tzinfo is UTC


# ---------------------------------------------------------------------------- fs ls


def test_parse_fs_ls_real_reply() -> None:
    reply = json.loads(
        '[{"name":"shared","metadata_pool":"shared-metadata","metadata_pool_id":3,"data_pool_ids":[4,5],'
        '"data_pools":["shared-default","shared-bulk"]}]'
    )
    assert fs.parse_fs_ls(reply) == {"shared": ("shared-metadata", ("shared-default", "shared-bulk"))}


def test_parse_fs_ls_several_and_empty() -> None:
    reply = [
        {"name": "a", "metadata_pool": "a-meta", "data_pools": ["a-data"]},
        {"name": "b", "metadata_pool": "b-meta", "data_pools": []},
    ]
    assert fs.parse_fs_ls(reply) == {"a": ("a-meta", ("a-data",)), "b": ("b-meta", ())}
    assert fs.parse_fs_ls([]) == {}
    assert fs.parse_fs_ls(None) == {}


def test_build_fs_ls() -> None:
    command = fs.build_fs_ls()
    assert command.target == "mon"
    assert sent(command) == {"prefix": "fs ls", "format": "json"}
