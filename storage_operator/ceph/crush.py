"""CRUSH rules: read them, tell what a rule does, and build the one a pool spec needs (pure)."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any

from storage_operator.ceph.command import Command, mon

DEFAULT_ROOT = "default"
RULE_TYPE_REPLICATED = 1
RULE_TYPE_ERASURE = 3


@dataclass(frozen=True)
class CrushRule:
    rule_id: int
    name: str
    rule_type: int
    root: str | None
    device_class: str | None
    failure_domain: str | None

    def describe(self) -> str:
        cls = f", class {self.device_class}" if self.device_class else ""
        return f"{self.name} (failure domain {self.failure_domain or '?'}{cls})"


def replicated_rule_name(failure_domain: str, device_class: str | None, root: str = DEFAULT_ROOT) -> str:
    """Rules are shared by every pool with the same placement, so they are named after it."""
    parts = ["replicated", failure_domain]
    if device_class:
        parts.append(device_class)
    if root != DEFAULT_ROOT:
        parts.append(root)
    return "-".join(parts)


def build_rule_dump() -> Command:
    return mon("osd crush rule dump", what="read CRUSH rules")


def build_create_replicated_rule(
    name: str, failure_domain: str, device_class: str | None, root: str = DEFAULT_ROOT
) -> Command:
    return mon(
        "osd crush rule create-replicated",
        name=name,
        root=root,
        type=failure_domain,
        **({"class": device_class} if device_class else {}),
        ok_errnos=frozenset({errno.EEXIST}),
        what=f"create CRUSH rule {name}",
    )


def parse_rules(doc: list[dict[str, Any]]) -> dict[str, CrushRule]:
    rules = {}
    for raw in doc or []:
        root = device_class = failure_domain = None
        for step in raw.get("steps", []):
            op = str(step.get("op", ""))
            if op == "take":
                # A class-restricted take names the shadow tree: "default~ssd".
                item = str(step.get("item_name", ""))
                root, _, cls = item.partition("~")
                device_class = cls or None
            elif op.startswith(("choose", "chooseleaf")):
                failure_domain = str(step.get("type")) if step.get("type") is not None else None
        rule = CrushRule(
            rule_id=int(raw["rule_id"]),
            name=str(raw["rule_name"]),
            rule_type=int(raw.get("type", RULE_TYPE_REPLICATED)),
            root=root,
            device_class=device_class,
            failure_domain=failure_domain,
        )
        rules[rule.name] = rule
    return rules


def rule_by_id(rules: dict[str, CrushRule], rule_id: int) -> CrushRule | None:
    return next((r for r in rules.values() if r.rule_id == rule_id), None)


def build_rule_rm(name: str) -> Command:
    return mon("osd crush rule rm", name=name, ok_errnos=frozenset({errno.ENOENT}), what=f"remove CRUSH rule {name}")
