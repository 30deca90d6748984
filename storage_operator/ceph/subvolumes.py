"""CephFS subvolumes, groups, snapshots and clones (mgr ``volumes`` module): commands and replies (pure).

The mgr answers these only while the file system has an active MDS; without one it waits minutes for a
mount. Callers check for an active MDS first.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage_operator.ceph.command import Command, mgr

DEFAULT_GROUP = "_nogroup"
# Clone states as `fs clone status` reports them.
CLONE_DONE = "complete"
CLONE_FAILED = ("failed", "canceled")


@dataclass(frozen=True)
class SubvolumeInfo:
    path: str
    bytes_quota: int  # 0: no quota
    bytes_used: int
    state: str  # "complete" once usable; "pending"/"in-progress" while a clone fills it
    data_pool: str
    created: datetime | None


@dataclass(frozen=True)
class SubvolumeSnapshotInfo:
    size: int
    created: datetime | None
    pending_clones: int


@dataclass(frozen=True)
class CloneStatus:
    state: str
    failure: str = ""

    @property
    def done(self) -> bool:
        return self.state == CLONE_DONE

    @property
    def failed(self) -> bool:
        return self.state in CLONE_FAILED


def build_group_ls(fs: str) -> Command:
    return mgr("fs subvolumegroup ls", vol_name=fs, what=f"list subvolume groups of {fs}")


def build_group_create(fs: str, group: str) -> Command:
    # Creating an existing group is a no-op for the mgr (it answers 0).
    return mgr("fs subvolumegroup create", vol_name=fs, group_name=group, what=f"create subvolume group {fs}/{group}")


def build_subvolume_ls(fs: str, group: str | None = None) -> Command:
    return mgr("fs subvolume ls", vol_name=fs, group_name=group, what=f"list subvolumes of {fs}")


def build_subvolume_create(
    fs: str,
    name: str,
    *,
    size: int | None = None,
    group: str | None = None,
    pool: str | None = None,
    mode: str | None = None,
) -> Command:
    return mgr(
        "fs subvolume create",
        vol_name=fs,
        sub_name=name,
        size=size or None,
        group_name=group,
        pool_layout=pool,
        mode=mode,
        what=f"create subvolume {fs}/{group or DEFAULT_GROUP}/{name}",
    )


def build_subvolume_resize(fs: str, name: str, size: int, *, group: str | None = None) -> Command:
    return mgr(
        "fs subvolume resize",
        vol_name=fs,
        sub_name=name,
        new_size=str(size),
        group_name=group,
        no_shrink=True,
        what=f"resize subvolume {fs}/{name} to {size} bytes",
    )


def build_subvolume_getpath(fs: str, name: str, *, group: str | None = None) -> Command:
    # The mgr answers with the bare path, whatever format is asked for.
    return mgr(
        "fs subvolume getpath", vol_name=fs, sub_name=name, group_name=group, text=True, what=f"path of {fs}/{name}"
    )


def build_subvolume_info(fs: str, name: str, *, group: str | None = None) -> Command:
    return mgr("fs subvolume info", vol_name=fs, sub_name=name, group_name=group, what=f"inspect subvolume {fs}/{name}")


def build_subvolume_rm(fs: str, name: str, *, group: str | None = None, force: bool = False) -> Command:
    return mgr(
        "fs subvolume rm",
        vol_name=fs,
        sub_name=name,
        group_name=group,
        force=force or None,
        what=f"remove subvolume {fs}/{name}",
    )


def build_snapshot_create(fs: str, name: str, snap: str, *, group: str | None = None) -> Command:
    return mgr(
        "fs subvolume snapshot create",
        vol_name=fs,
        sub_name=name,
        snap_name=snap,
        group_name=group,
        what=f"snapshot subvolume {fs}/{name} as {snap}",
    )


def build_snapshot_rm(fs: str, name: str, snap: str, *, group: str | None = None) -> Command:
    return mgr(
        "fs subvolume snapshot rm",
        vol_name=fs,
        sub_name=name,
        snap_name=snap,
        group_name=group,
        what=f"remove snapshot {snap} of {fs}/{name}",
    )


def build_snapshot_ls(fs: str, name: str, *, group: str | None = None) -> Command:
    return mgr(
        "fs subvolume snapshot ls", vol_name=fs, sub_name=name, group_name=group, what=f"list snapshots of {name}"
    )


def build_snapshot_info(fs: str, name: str, snap: str, *, group: str | None = None) -> Command:
    return mgr(
        "fs subvolume snapshot info",
        vol_name=fs,
        sub_name=name,
        snap_name=snap,
        group_name=group,
        what=f"inspect snapshot {snap} of {fs}/{name}",
    )


def build_snapshot_clone(
    fs: str, name: str, snap: str, target: str, *, group: str | None = None, pool: str | None = None
) -> Command:
    return mgr(
        "fs subvolume snapshot clone",
        vol_name=fs,
        sub_name=name,
        snap_name=snap,
        target_sub_name=target,
        group_name=group,
        target_group_name=group,
        pool_layout=pool,
        what=f"clone {fs}/{name}@{snap} into {target}",
    )


def build_clone_status(fs: str, clone: str, *, group: str | None = None) -> Command:
    return mgr("fs clone status", vol_name=fs, clone_name=clone, group_name=group, what=f"clone status of {clone}")


def build_clone_cancel(fs: str, clone: str, *, group: str | None = None) -> Command:
    return mgr("fs clone cancel", vol_name=fs, clone_name=clone, group_name=group, what=f"cancel clone {clone}")


def parse_names(doc: list[dict[str, Any]] | None) -> list[str]:
    return sorted(str(entry["name"]) for entry in doc or [])


def parse_subvolume_info(doc: dict[str, Any]) -> SubvolumeInfo:
    quota = doc.get("bytes_quota")
    return SubvolumeInfo(
        path=str(doc.get("path", "")),
        # "infinite" when no quota is set
        bytes_quota=int(quota) if isinstance(quota, int) else 0,
        bytes_used=int(doc.get("bytes_used", 0)),
        state=str(doc.get("state", "complete")),
        data_pool=str(doc.get("data_pool", "")),
        created=parse_time(doc.get("created_at")),
    )


def parse_snapshot_info(doc: dict[str, Any]) -> SubvolumeSnapshotInfo:
    return SubvolumeSnapshotInfo(
        size=int(doc.get("size", 0)),
        created=parse_time(doc.get("created_at")),
        pending_clones=len(doc.get("pending_clones") or []) if doc.get("has_pending_clones") == "yes" else 0,
    )


def parse_clone_status(doc: dict[str, Any]) -> CloneStatus:
    status = doc.get("status") or {}
    failure = status.get("failure") or {}
    return CloneStatus(
        state=str(status.get("state", "")),
        # The mgr sends "error_msg"; the documentation shows "errstr".
        failure=str(failure.get("error_msg") or failure.get("errstr") or "")
        if isinstance(failure, dict)
        else str(failure),
    )


def parse_time(value: object) -> datetime | None:
    """The mgr's "2026-11-27 11:55:10" (or with microseconds), in UTC."""
    if not isinstance(value, str) or not value:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


# What a subvolume command's errno means (mgr volumes module conventions).
NOT_FOUND = errno.ENOENT
HAS_SNAPSHOTS = errno.ENOTEMPTY
IN_PROGRESS = errno.EAGAIN
