"""``ceph osd tree`` -> the cluster's topology: OSDs, their hosts and device classes (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage_operator.ceph.command import Command, mon


@dataclass(frozen=True)
class OsdNode:
    osd_id: int
    name: str
    device_class: str | None
    host: str | None
    up: bool
    in_: bool


@dataclass(frozen=True)
class Topology:
    osds: tuple[OsdNode, ...]

    def device_classes(self) -> set[str]:
        return {o.device_class for o in self.osds if o.device_class}

    def failure_domains(self, failure_domain: str, device_class: str | None = None) -> int:
        """How many distinct places of type ``failure_domain`` hold an OSD (of ``device_class``)."""
        chosen = [o for o in self.osds if device_class is None or o.device_class == device_class]
        if failure_domain == "osd":
            return len(chosen)
        return len({o.host for o in chosen if o.host})


def build_osd_tree() -> Command:
    return mon("osd tree", what="read the OSD tree")


def parse_osd_tree(doc: dict[str, Any]) -> Topology:
    nodes = doc.get("nodes", [])
    host_of: dict[int, str] = {}
    for node in nodes:
        if node.get("type") == "host":
            for child in node.get("children", []):
                host_of[int(child)] = str(node["name"])
    osds = []
    for node in [*nodes, *doc.get("stray", [])]:
        if node.get("type") != "osd":
            continue
        osd_id = int(node["id"])
        osds.append(
            OsdNode(
                osd_id=osd_id,
                name=str(node.get("name", f"osd.{osd_id}")),
                device_class=node.get("device_class") or None,
                host=host_of.get(osd_id),
                up=node.get("status") == "up",
                in_=float(node.get("reweight", 0)) > 0,
            )
        )
    return Topology(tuple(sorted(osds, key=lambda o: o.osd_id)))
