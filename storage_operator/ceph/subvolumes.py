"""CephFS subvolumes and groups (mgr ``volumes`` module): list commands and their replies (pure).

The mgr answers these only while the file system has an active MDS; without one it waits minutes for a
mount. Callers check for an active MDS first.
"""

from __future__ import annotations

from typing import Any

from storage_operator.ceph.command import Command, mgr

DEFAULT_GROUP = "_nogroup"


def build_group_ls(fs: str) -> Command:
    return mgr("fs subvolumegroup ls", vol_name=fs, what=f"list subvolume groups of {fs}")


def build_subvolume_ls(fs: str, group: str | None = None) -> Command:
    return mgr("fs subvolume ls", vol_name=fs, group_name=group, what=f"list subvolumes of {fs}")


def build_subvolume_create(fs: str, name: str, *, size: int | None = None, group: str | None = None) -> Command:
    return mgr("fs subvolume create", vol_name=fs, sub_name=name, size=size, group_name=group)


def build_subvolume_rm(fs: str, name: str, *, group: str | None = None) -> Command:
    return mgr("fs subvolume rm", vol_name=fs, sub_name=name, group_name=group)


def parse_names(doc: list[dict[str, Any]] | None) -> list[str]:
    return sorted(str(entry["name"]) for entry in doc or [])
