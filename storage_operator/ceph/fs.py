"""CephFS file systems and their MDS daemons: ``fs dump`` parsed, and the commands that shape them (pure)."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any

from storage_operator.ceph.command import Command, mon


@dataclass(frozen=True)
class ObservedFilesystem:
    name: str
    fscid: int
    metadata_pool_id: int
    data_pool_ids: tuple[int, ...]
    max_mds: int
    allow_standby_replay: bool
    standby_count_wanted: int
    active: tuple[str, ...]
    standby_replay: tuple[str, ...]
    failed_ranks: int


@dataclass(frozen=True)
class FSMap:
    filesystems: dict[str, ObservedFilesystem]
    standbys: tuple[str, ...]


# mdsmap.flags bit that `fs set allow_standby_replay` toggles (CEPH_MDSMAP_ALLOW_STANDBY_REPLAY).
FLAG_ALLOW_STANDBY_REPLAY = 1 << 5


def build_fs_dump() -> Command:
    return mon("fs dump", what="read the file system map")


def parse_fs_dump(doc: dict[str, Any]) -> FSMap:
    filesystems = {}
    for entry in doc.get("filesystems", []):
        mdsmap = entry.get("mdsmap", {})
        infos = list((mdsmap.get("info") or {}).values())
        active = tuple(sorted(str(i["name"]) for i in infos if str(i.get("state", "")).startswith("up:active")))
        replay = tuple(sorted(str(i["name"]) for i in infos if i.get("state") == "up:standby-replay"))
        flags = int(mdsmap.get("flags", 0))
        fs = ObservedFilesystem(
            name=str(mdsmap.get("fs_name")),
            fscid=int(entry.get("id", mdsmap.get("fscid", -1))),
            metadata_pool_id=int(mdsmap.get("metadata_pool", -1)),
            data_pool_ids=tuple(int(p) for p in mdsmap.get("data_pools", [])),
            max_mds=int(mdsmap.get("max_mds", 1)),
            allow_standby_replay=bool(flags & FLAG_ALLOW_STANDBY_REPLAY),
            standby_count_wanted=int(mdsmap.get("standby_count_wanted", 0)),
            active=active,
            standby_replay=replay,
            failed_ranks=len(mdsmap.get("failed", [])) + len(mdsmap.get("damaged", [])),
        )
        filesystems[fs.name] = fs
    standbys = tuple(sorted(str(s["name"]) for s in doc.get("standbys", [])))
    return FSMap(filesystems=filesystems, standbys=standbys)


def build_fs_new(name: str, metadata_pool: str, data_pool: str) -> Command:
    return mon(
        "fs new",
        fs_name=name,
        metadata=metadata_pool,
        data=data_pool,
        what=f"create file system {name} (metadata {metadata_pool}, data {data_pool})",
    )


def build_add_data_pool(name: str, pool: str) -> Command:
    return mon("fs add_data_pool", fs_name=name, pool=pool, what=f"add data pool {pool} to {name}")


def build_fs_set(name: str, var: str, value: str) -> Command:
    return mon("fs set", fs_name=name, var=var, val=value, what=f"set {var} of {name} to {value}")


def build_fs_fail(name: str) -> Command:
    return mon("fs fail", fs_name=name, ok_errnos=frozenset({errno.ENOENT}), what=f"take file system {name} down")


def build_fs_rm(name: str) -> Command:
    return mon(
        "fs rm",
        fs_name=name,
        yes_i_really_mean_it=True,
        ok_errnos=frozenset({errno.ENOENT}),
        what=f"remove file system {name}",
    )


def build_fs_ls() -> Command:
    return mon("fs ls", what="list file systems")


def parse_fs_ls(doc: list[dict[str, Any]] | None) -> dict[str, tuple[str, tuple[str, ...]]]:
    """File system name -> (metadata pool, data pools), by pool name."""
    return {
        str(e["name"]): (str(e.get("metadata_pool", "")), tuple(str(p) for p in e.get("data_pools", [])))
        for e in doc or []
    }
