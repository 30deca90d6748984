"""RADOS pools: what ``osd pool ls detail`` says about each, and the commands that change them (pure)."""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Any

from storage_operator.ceph.command import Command, mon

POOL_TYPE_REPLICATED = 1
POOL_TYPE_ERASURE = 3
# Pools the operator creates or adopts carry this key in their application metadata, with the value
# "<Kind>.<namespace>.<uid>" of the object that owns them (Ceph allows only [A-Za-z0-9-_.] here).
OWNER_KEY = "storage-operator.owner"
DEFAULT_PG_NUM = 8


@dataclass(frozen=True)
class ObservedPool:
    pool_id: int
    name: str
    pool_type: int
    size: int
    min_size: int
    crush_rule_id: int
    ec_profile: str | None
    quota_max_bytes: int
    quota_max_objects: int
    applications: dict[str, dict[str, str]] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    ec_overwrites: bool = False

    @property
    def erasure_coded(self) -> bool:
        return self.pool_type == POOL_TYPE_ERASURE

    @property
    def owner(self) -> str | None:
        for meta in self.applications.values():
            if OWNER_KEY in meta:
                return meta[OWNER_KEY]
        return None


def build_ls_detail() -> Command:
    return mon("osd pool ls", detail="detail", what="list pools")


def parse_pools(doc: list[dict[str, Any]]) -> dict[str, ObservedPool]:
    pools = {}
    for raw in doc or []:
        flags = str(raw.get("flags_names", "")).split(",")
        pool = ObservedPool(
            pool_id=int(raw["pool_id"]),
            name=str(raw["pool_name"]),
            pool_type=int(raw.get("type", POOL_TYPE_REPLICATED)),
            size=int(raw.get("size", 0)),
            min_size=int(raw.get("min_size", 0)),
            crush_rule_id=int(raw.get("crush_rule", -1)),
            ec_profile=str(raw.get("erasure_code_profile") or "") or None,
            quota_max_bytes=int(raw.get("quota_max_bytes", 0)),
            quota_max_objects=int(raw.get("quota_max_objects", 0)),
            applications={
                str(app): {str(k): str(v) for k, v in (meta or {}).items()}
                for app, meta in (raw.get("application_metadata") or {}).items()
            },
            options=_options(raw, flags),
            ec_overwrites="ec_overwrites" in flags,
        )
        pools[pool.name] = pool
    return pools


# `osd pool set` variables that `ls detail` reports as fields or flags of the pool, not under "options".
TOP_LEVEL_OPTIONS = ("pg_autoscale_mode", "fast_read")
FLAG_OPTIONS = ("noscrub", "nodeep-scrub", "bulk")


def _options(raw: dict[str, Any], flags: list[str]) -> dict[str, str]:
    options = {str(k): _option(v) for k, v in (raw.get("options") or {}).items()}
    options.update({k: _option(raw[k]) for k in TOP_LEVEL_OPTIONS if k in raw})
    options.update({k: "true" if k in flags else "false" for k in FLAG_OPTIONS})
    return options


BOOLEAN_OPTIONS = frozenset({"fast_read", *FLAG_OPTIONS})


def normalize_option(var: str, value: str) -> str:
    """A spec value as ``_options`` reports it: "1", "yes" and "true" are one boolean to Ceph."""
    text = value.strip()
    if var in BOOLEAN_OPTIONS:
        if text.lower() in ("1", "true", "yes", "on"):
            return "true"
        if text.lower() in ("0", "false", "no", "off"):
            return "false"
    return text


def _option(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def default_min_size(size: int) -> int:
    """Ceph's own default: a majority of the copies (2 of 3, 2 of 4, 1 of 2)."""
    return max(1, size - size // 2)


# ---------------------------------------------------------------------------- commands


def build_create_replicated(name: str, *, size: int, rule: str, pg_num: int = DEFAULT_PG_NUM) -> Command:
    return mon(
        "osd pool create",
        pool=name,
        pg_num=pg_num,
        pool_type="replicated",
        rule=rule,
        size=size,
        ok_errnos=frozenset({errno.EEXIST}),
        what=f"create replicated pool {name} (size {size}, rule {rule})",
    )


def build_create_erasure(name: str, *, profile: str, pg_num: int = DEFAULT_PG_NUM) -> Command:
    return mon(
        "osd pool create",
        pool=name,
        pg_num=pg_num,
        pool_type="erasure",
        erasure_code_profile=profile,
        ok_errnos=frozenset({errno.EEXIST}),
        what=f"create erasure-coded pool {name} (profile {profile})",
    )


def build_set(name: str, var: str, value: str, *, confirm: bool = False, what: str = "") -> Command:
    return mon(
        "osd pool set",
        pool=name,
        var=var,
        val=value,
        yes_i_really_mean_it=True if confirm else None,
        what=what or f"set {var} of pool {name} to {value}",
    )


def build_set_quota(name: str, field_name: str, value: int) -> Command:
    shown = value if value else "no limit"
    return mon(
        "osd pool set-quota", pool=name, field=field_name, val=str(value), what=f"set {field_name} of {name} to {shown}"
    )


def build_application_enable(name: str, app: str) -> Command:
    return mon("osd pool application enable", pool=name, app=app, what=f"tag pool {name} with application {app}")


def build_application_set(name: str, app: str, key: str, value: str) -> Command:
    return mon(
        "osd pool application set",
        pool=name,
        app=app,
        key=key,
        value=value,
        what=f"record {key} on pool {name}",
    )


def build_delete(name: str) -> Command:
    return mon(
        "osd pool rm",
        pool=name,
        pool2=name,
        yes_i_really_really_mean_it=True,
        ok_errnos=frozenset({errno.ENOENT}),
        what=f"delete pool {name}",
    )


# Ceph refuses `osd pool rm` unless the mons allow it; the operator allows it for one call at a time.
POOL_DELETE_OPTION = "mon_allow_pool_delete"


def build_pool_delete_setting(value: str | None) -> Command:
    """Set the mons' pool-deletion switch to ``value``, or drop it from the database (None: Ceph's default)."""
    if value is None:
        return mon("config rm", who="mon", name=POOL_DELETE_OPTION, what="restore pool deletion to its default")
    return mon("config set", who="mon", name=POOL_DELETE_OPTION, value=value, what=f"set {POOL_DELETE_OPTION}={value}")


def build_config_dump() -> Command:
    return mon("config dump", what="read the monitors' configuration database")


def parse_config_value(doc: list[dict[str, Any]], section: str, name: str) -> str | None:
    """The value the configuration database holds for ``name`` in ``section``, if it holds one."""
    for entry in doc or []:
        if entry.get("section") == section and entry.get("name") == name:
            return str(entry.get("value"))
    return None
