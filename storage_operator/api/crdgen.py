"""Models -> CustomResourceDefinitions (pure). ``hack/gen-crds.py`` writes the result to manifests/crds/.

pydantic emits JSON Schema; the API server wants a *structural* OpenAPI v3 schema: no $ref (inlined),
Optional as ``nullable`` rather than ``anyOf [.., null]``, no ``title``, no ``additionalProperties``
beside ``properties``, a ``type`` on every node. ``x-kubernetes-*`` keys pass through unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

from storage_operator.api.meta import GROUP, VERSION
from storage_operator.api.v1alpha1.kinds import Kind

Schema = dict[str, Any]

# kopf keeps handler progress in status.kopf (besides annotations); a structural schema would prune it.
KOPF_STATUS_FIELD: Schema = {
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
    "description": "Bookkeeping of the operator framework (kopf); not for users.",
}


def structural(schema: Schema) -> Schema:
    """Turn a pydantic JSON schema (with $defs) into an inlined structural schema."""
    defs: dict[str, Schema] = schema.get("$defs", {})
    root = {k: v for k, v in schema.items() if k != "$defs"}
    return _convert(root, defs)


def _resolve(node: Schema, defs: dict[str, Schema]) -> Schema:
    if "$ref" not in node:
        return node
    name = node["$ref"].rsplit("/", 1)[1]
    merged = copy.deepcopy(defs[name])
    merged.update({k: v for k, v in node.items() if k != "$ref"})
    return _resolve(merged, defs)


def _unwrap_optional(node: Schema, defs: dict[str, Schema]) -> Schema:
    """``anyOf: [X, {type: null}]`` -> X with ``nullable: true`` (absent is what None means on the wire)."""
    options = [o for o in node["anyOf"] if o != {"type": "null"}]
    if len(options) != 1:
        raise ValueError(f"only Optional[X] unions map onto a structural schema, got {node['anyOf']}")
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    out = {**_resolve(options[0], defs), **rest, "nullable": True}
    if "default" in out and out["default"] is None:
        del out["default"]
    return out


def _convert(node: Schema, defs: dict[str, Schema]) -> Schema:
    node = _resolve(node, defs)
    if "anyOf" in node:
        node = _unwrap_optional(node, defs)
    out: Schema = {}
    for key, value in node.items():
        if key in ("title", "$defs"):
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "properties":
            out["properties"] = {name: _convert(sub, defs) for name, sub in value.items()}
        elif key == "items":
            out["items"] = _convert(value, defs)
        elif key == "additionalProperties":
            if isinstance(value, dict):
                out["additionalProperties"] = _convert(value, defs)
            # `false` (pydantic's extra="forbid") has no structural form; unknown fields are pruned anyway.
        else:
            out[key] = copy.deepcopy(value)
    if "properties" in out:
        out.setdefault("type", "object")
        out.pop("additionalProperties", None)
    if "type" not in out and "x-kubernetes-preserve-unknown-fields" not in out:
        raise ValueError(f"schema node without a type cannot be structural: {node}")
    return out


def spec_schema(kind: Kind) -> Schema:
    return structural(kind.spec.model_json_schema(by_alias=True))


def status_schema(kind: Kind) -> Schema:
    schema = structural(kind.status.model_json_schema(by_alias=True))
    schema["properties"]["kopf"] = KOPF_STATUS_FIELD
    return schema


def _selectable(kind: Kind) -> Schema:
    if not kind.selectable_fields:
        return {}
    return {"selectableFields": [{"jsonPath": f} for f in kind.selectable_fields]}


def build_crd(kind: Kind) -> Schema:
    spec = spec_schema(kind)
    spec["description"] = f"Desired state of the {kind.kind}."
    status = status_schema(kind)
    status["description"] = f"Observed state of the {kind.kind}, written by the operator."
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{kind.plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "storage-operator"},
        },
        "spec": {
            "group": GROUP,
            "scope": kind.scope,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": list(kind.categories),
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {
                            "name": c.name,
                            "type": c.type,
                            "jsonPath": c.json_path,
                            **({"description": c.description} if c.description else {}),
                            **({"priority": c.priority} if c.priority else {}),
                        }
                        for c in kind.columns
                    ],
                    **_selectable(kind),
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": kind.description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }
