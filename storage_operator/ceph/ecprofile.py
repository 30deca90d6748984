"""Erasure-code profiles (pure): one per erasure-coded pool, named after it."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any

from storage_operator.ceph.command import Command, mon
from storage_operator.ceph.crush import DEFAULT_ROOT


@dataclass(frozen=True)
class ECProfile:
    k: int
    m: int
    plugin: str
    failure_domain: str
    device_class: str | None
    root: str = DEFAULT_ROOT

    def describe(self) -> str:
        cls = f", class {self.device_class}" if self.device_class else ""
        return f"{self.k}+{self.m} {self.plugin} (failure domain {self.failure_domain}{cls})"

    def same_layout(self, other: ECProfile) -> bool:
        return (self.k, self.m, self.plugin) == (other.k, other.m, other.plugin)

    def same_placement(self, other: ECProfile) -> bool:
        return (self.failure_domain, self.device_class, self.root) == (
            other.failure_domain,
            other.device_class,
            other.root,
        )


def profile_name(pool: str) -> str:
    return f"{pool}-ec"


def build_profile_ls() -> Command:
    return mon("osd erasure-code-profile ls", what="list erasure-code profiles")


def build_profile_get(name: str) -> Command:
    return mon("osd erasure-code-profile get", name=name, what=f"read erasure-code profile {name}")


def build_profile_set(name: str, profile: ECProfile, *, force: bool = False) -> Command:
    settings = [
        f"k={profile.k}",
        f"m={profile.m}",
        f"plugin={profile.plugin}",
        f"crush-failure-domain={profile.failure_domain}",
        f"crush-root={profile.root}",
    ]
    if profile.device_class:
        settings.append(f"crush-device-class={profile.device_class}")
    return mon(
        "osd erasure-code-profile set",
        name=name,
        profile=settings,
        force=True if force else None,
        what=f"set erasure-code profile {name} to {profile.describe()}",
    )


def parse_profile(doc: dict[str, Any]) -> ECProfile:
    return ECProfile(
        k=int(doc.get("k", 0)),
        m=int(doc.get("m", 0)),
        plugin=str(doc.get("plugin", "jerasure")),
        failure_domain=str(doc.get("crush-failure-domain", "host")),
        device_class=str(doc.get("crush-device-class") or "") or None,
        root=str(doc.get("crush-root", DEFAULT_ROOT)),
    )


def build_profile_rm(name: str) -> Command:
    return mon(
        "osd erasure-code-profile rm",
        name=name,
        ok_errnos=frozenset({errno.ENOENT}),
        what=f"remove erasure-code profile {name}",
    )
