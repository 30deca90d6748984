"""The mon commands a managed cluster needs to run its own daemons: cephx entities for them, OSD ids
allocated and released, and the questions asked before a daemon may stop or an OSD may go (pure).
"""

from __future__ import annotations

import errno
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from storage_operator.ceph.command import Command, mon

# What each kind of daemon may do, as Ceph's own deployment tools grant it.
DAEMON_CAPS: dict[str, dict[str, str]] = {
    "mgr": {"mon": "allow profile mgr", "osd": "allow *", "mds": "allow *"},
    "mds": {"mon": "allow profile mds", "osd": "allow *", "mds": "allow", "mgr": "allow profile mds"},
}


def build_get_or_create(entity: str, caps: Mapping[str, str]) -> Command:
    """A cephx entity with these caps (the existing key when it is there already)."""
    flat: list[str] = []
    for service, cap in caps.items():
        flat += [service, cap]
    return mon("auth get-or-create", what=f"make the cephx key of {entity}", entity=entity, caps=flat)


def parse_key(doc: Any, entity: str) -> str:
    """The key from ``auth get-or-create`` / ``auth get`` JSON: a list of {entity, key, caps}."""
    for item in doc or []:
        if isinstance(item, dict) and item.get("entity") == entity and item.get("key"):
            return str(item["key"])
    raise ValueError(f"the reply names no key for {entity}")


def build_auth_rm(entity: str) -> Command:
    return mon("auth rm", what=f"remove the cephx key of {entity}", ok_errnos=frozenset({errno.ENOENT}), entity=entity)


def build_osd_new(uuid: str, key: str) -> Command:
    """Allocate an OSD id for ``uuid`` with its cephx key. The same uuid and key again return the same id,
    which is what makes a retry after a crash safe."""
    secret = json.dumps({"cephx_secret": key}).encode()
    return Command("osd new", {"uuid": uuid}, "mon", inbuf=secret, what=f"allocate an OSD id for {uuid}")


def parse_osd_new(doc: Any) -> int:
    if isinstance(doc, dict) and "osdid" in doc:
        return int(doc["osdid"])
    if isinstance(doc, int):
        return doc
    raise ValueError(f"unexpected reply to osd new: {doc!r}")


def build_mon_remove(mon_id: str) -> Command:
    return mon(
        "mon remove", what=f"remove mon.{mon_id} from the monmap", ok_errnos=frozenset({errno.ENOENT}), name=mon_id
    )


def build_config_set(who: str, name: str, value: str) -> Command:
    return mon("config set", what=f"set {name} for {who}", who=who, name=name, value=value)


def build_module_enable(module: str) -> Command:
    return mon("mgr module enable", what=f"enable mgr module {module}", module=module)


def build_module_disable(module: str) -> Command:
    return mon("mgr module disable", what=f"disable mgr module {module}", module=module)


def build_osd_dump() -> Command:
    return mon("osd dump", what="read the OSD map")


@dataclass(frozen=True)
class OsdState:
    osd_id: int
    uuid: str
    up: bool
    in_: bool


def parse_osd_dump(doc: Any) -> dict[int, OsdState]:
    osds: dict[int, OsdState] = {}
    for item in (doc or {}).get("osds", []):
        osd_id = int(item["osd"])
        osds[osd_id] = OsdState(osd_id, str(item.get("uuid", "")), bool(item.get("up")), bool(item.get("in")))
    return osds


def build_osd_out(osd_id: int) -> Command:
    return mon("osd out", what=f"mark osd.{osd_id} out", ids=[str(osd_id)])


def build_safe_to_destroy(osd_id: int) -> Command:
    # EBUSY/EAGAIN: not safe yet (data still on it, or not enough known); the reply says why.
    return Command(
        "osd safe-to-destroy",
        {"ids": [str(osd_id)]},
        "mon",
        ok_errnos=frozenset({errno.EBUSY, errno.EAGAIN}),
        what=f"ask whether osd.{osd_id} can go without losing data",
    )


@dataclass(frozen=True)
class Verdict:
    ok: bool
    why: str


def parse_safe_to_destroy(doc: Any, osd_id: int) -> Verdict:
    doc = doc or {}
    if osd_id in [int(i) for i in doc.get("safe_to_destroy", [])]:
        return Verdict(True, f"osd.{osd_id} holds no data that is not elsewhere")
    # The lists name OSDs (not placement groups): the asked-about OSD is in the one that says why.
    reasons = []
    if osd_id in _ids(doc.get("active")):
        reasons.append("placement groups on it are still active (their data has not moved yet)")
    if osd_id in _ids(doc.get("missing_stats")):
        reasons.append("the mgr has no statistics of it yet")
    if osd_id in _ids(doc.get("stored_pgs")):
        reasons.append("it still stores placement groups")
    return Verdict(False, "; ".join(reasons) or f"Ceph does not yet say osd.{osd_id} is safe to destroy")


def _ids(values: Any) -> set[int]:
    return {int(v) for v in values or []}


def build_ok_to_stop(kind: str, ids: Sequence[str]) -> Command:
    """``osd ok-to-stop`` / ``mon ok-to-stop`` / ``mds ok-to-stop``: success means yes; the command fails
    with EBUSY (or EAGAIN) when stopping them now would make data or the quorum unavailable."""
    return Command(f"{kind} ok-to-stop", {"ids": list(ids)}, "mon", what=f"ask whether {kind}.{','.join(ids)} may stop")


NOT_NOW = frozenset({errno.EBUSY, errno.EAGAIN})


def build_osd_purge(osd_id: int) -> Command:
    # The mgr's command (it checks safe-to-destroy itself, then has the mons purge); the mons know only
    # "osd purge-actual" and refuse "osd purge" with EINVAL.
    return Command(
        "osd purge",
        {"id": osd_id, "yes_i_really_mean_it": True},
        "mgr",
        what=f"purge osd.{osd_id} (CRUSH entry, cephx key, id)",
        ok_errnos=frozenset({errno.ENOENT}),
    )
