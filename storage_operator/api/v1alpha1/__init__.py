"""``storage.baremetal.io/v1alpha1``: the spec and status models of every kind, and their CRD facts."""

from storage_operator.api.v1alpha1.kinds import KINDS, Column, Kind, kind_named

__all__ = ["KINDS", "Column", "Kind", "kind_named"]
