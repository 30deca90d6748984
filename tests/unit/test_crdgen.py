"""CRD generation: structural schemas, CEL rules in place, columns that point at real fields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from storage_operator.api.crdgen import build_crd, structural
from storage_operator.api.v1alpha1 import KINDS, Kind, kind_named

FORBIDDEN_KEYS = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "title", "const"}


def _walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{name}")
    if "items" in node:
        yield from _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _walk(node["additionalProperties"], f"{path}{{}}")


def _schema(kind: Kind) -> dict[str, Any]:
    crd = build_crd(kind)
    (version,) = crd["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def _at(schema: dict[str, Any], dotted: str) -> dict[str, Any]:
    node = schema
    for part in dotted.strip(".").split("."):
        node = node["properties"][part]
    return node


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_schema_is_structural(kind: Kind) -> None:
    for path, node in _walk(_schema(kind)):
        assert not FORBIDDEN_KEYS & node.keys(), path
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), path
        assert not ("properties" in node and "additionalProperties" in node), path


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_crd_names_status_subresource_and_category(kind: Kind) -> None:
    crd = build_crd(kind)
    assert crd["metadata"]["name"] == f"{kind.plural}.storage.baremetal.io"
    assert crd["spec"]["names"]["categories"] == ["storage"]
    assert crd["spec"]["names"]["shortNames"]
    (version,) = crd["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    assert _schema(kind)["required"] == ["spec"]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_kopf_progress_storage_is_not_pruned(kind: Kind) -> None:
    kopf = _at(_schema(kind), "status.kopf")
    assert kopf["x-kubernetes-preserve-unknown-fields"] is True


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_printer_column_points_at_a_field(kind: Kind) -> None:
    schema = _schema(kind)
    for column in kind.columns:
        if column.json_path.startswith(".metadata."):
            continue
        _at(schema, column.json_path)  # KeyError when the column shows a field that does not exist
    assert {"Age", "Message"} <= {c.name for c in kind.columns}


def test_cluster_columns_answer_at_a_glance() -> None:
    columns = kind_named("CephCluster").columns
    normal = [c.name for c in columns if c.priority == 0]
    wide = [c.name for c in columns if c.priority == 1]
    assert normal == ["Phase", "Health", "Mons", "OSDs", "Used", "Capacity", "External", "Age"]
    assert wide == ["Message", "FSID"]


def _rules(node: dict[str, Any]) -> list[str]:
    return [v["rule"] for v in node.get("x-kubernetes-validations", [])]


def test_cross_field_rules_sit_where_their_fields_are() -> None:
    cluster = _schema(kind_named("CephCluster"))
    assert "self.count % 2 == 1" in _rules(_at(cluster, "spec.mon"))
    assert any("monHosts" in r for r in _rules(_at(cluster, "spec.external")))
    assert any("secretRef" in r for r in _rules(_at(cluster, "spec.external")))
    pool = _schema(kind_named("CephBlockPool"))
    assert "has(self.replicated) != has(self.erasureCoded)" in _rules(_at(pool, "spec"))
    assert _at(pool, "spec.replicated.size")["minimum"] == 1
    assert _at(pool, "spec.replicated.size")["maximum"] == 10
    assert _at(pool, "spec.erasureCoded.dataChunks")["minimum"] == 2
    assert _at(pool, "spec.erasureCoded.codingChunks")["minimum"] == 1
    nfs = _schema(kind_named("NFSBackend"))
    assert _at(nfs, "spec.onDelete")["enum"] == ["delete", "retain", "archive"]
    assert _at(nfs, "spec.pathPattern")["minLength"] == 1
    assert any("startsWith('/')" in r for r in _rules(_at(nfs, "spec")))


def test_defaults_and_nullable_survive_generation() -> None:
    cluster = _schema(kind_named("CephCluster"))
    assert _at(cluster, "spec.mon")["default"] == {"count": 3, "allowMultiplePerNode": False, "failoverSeconds": 600}
    assert _at(cluster, "spec.external")["default"] == {"enable": False, "monHosts": []}
    assert _at(cluster, "spec.external.secretRef")["nullable"] is True
    assert "default" not in _at(cluster, "spec.external.secretRef")
    assert _at(cluster, "spec.storage.useAllDevices")["default"] is False


def test_unions_other_than_optional_are_refused() -> None:
    class Either(BaseModel):
        value: int | str

    with pytest.raises(ValueError, match="only Optional"):
        structural(Either.model_json_schema())
