"""What every custom resource shares: the model base, conditions, references, the common status.

Pure: pydantic models only. Fields are snake_case in Python and camelCase on the wire (the alias);
``extra="ignore"`` because objects read from the API server may carry fields of a newer version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "storage.baremetal.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
# An object with this annotation set to "true" is left alone: no reconcile, no status writes, and no
# finalizer (deleting it deletes nothing in Ceph). For maintenance, and for objects that only show a shape.
PAUSED_ANNOTATION = f"{GROUP}/paused"

# DNS-1123 label / subdomain: what Kubernetes accepts for object names.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# A CRUSH device class (hdd, ssd, nvme, or one of your own).
DEVICE_CLASS = r"^[a-z0-9][a-z0-9-]*$"
DEVICE_CLASS_MAX = 32


class APIModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        """The camelCase JSON body the API server expects, without unset optional fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def cel(rule: str, message: str, *, field_path: str | None = None, reason: str | None = None) -> dict[str, str]:
    """One ``x-kubernetes-validations`` entry (a CEL rule the API server enforces at admission)."""
    entry = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    if reason:
        entry["reason"] = reason
    return entry


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    return {"x-kubernetes-validations": list(rules)}


def nested(model: type[APIModel], description: str) -> Any:
    """A sub-object that always exists, filled with its defaults by the API server when left out.

    The default is the model's full default (not ``{}``): the API server validates a default as it is,
    and CEL rules on the sub-object need its fields.
    """
    return Field(default_factory=model, description=description, json_schema_extra={"default": model().to_wire()})


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(APIModel):
    """The standard Kubernetes condition (``metav1.Condition``)."""

    type: str = Field(description="Kind of condition, e.g. Ready, Progressing, DeletionIsBlocked.", max_length=316)
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        description="CamelCase reason of the last transition.",
        max_length=1024,
        pattern=r"^([A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?)?$",
    )
    message: str = Field("", description="Human-readable details.", max_length=32768)
    last_transition_time: datetime = Field(description="When the status last changed.")
    observed_generation: int | None = Field(None, ge=0, description="The .metadata.generation it was set for.")


class CommonStatus(APIModel):
    """Status fields every kind has."""

    phase: str | None = Field(None, description="Where the object is in its life cycle.")
    message: str | None = Field(None, description="One line a human can act on.", max_length=4096)
    observed_generation: int | None = Field(None, ge=0, description="The .metadata.generation the status describes.")
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=32,
        description="Latest observations of the object's state.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


S = TypeVar("S", bound=CommonStatus)


def status_of(body: dict[str, Any], model: type[S]) -> S | None:
    """An object's status as ``model``, without kopf's bookkeeping (``status.kopf``); None before the first
    write."""
    raw = dict(body.get("status") or {})
    raw.pop("kopf", None)
    return model.model_validate(raw) if raw else None


class LocalObjectReference(APIModel):
    name: str = Field(description="Name of the object in the same namespace.", max_length=253, pattern=DNS_SUBDOMAIN)


class SecretReference(APIModel):
    name: str = Field(description="Name of the Secret.", max_length=253, pattern=DNS_SUBDOMAIN)
    namespace: str | None = Field(
        None,
        description="Namespace of the Secret; defaults to the object's own.",
        max_length=63,
        pattern=DNS_LABEL,
    )


class ObjectMeta(APIModel):
    """The parts of ``metadata`` the operator reads (the API server owns its schema)."""

    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    generation: int | None = None
    resource_version: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    deletion_timestamp: datetime | None = None
    finalizers: list[str] = Field(default_factory=list)
