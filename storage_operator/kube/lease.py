"""Leader election on a ``coordination.k8s.io/v1`` Lease, the way client-go's leaderelection does it.

Expiry is judged by the local clock from the moment this process last saw the record change, never by
comparing the holder's timestamps with our clock, so clock skew between nodes cannot elect two leaders.
Writes use the record's resourceVersion: of two candidates taking an expired lease, one gets a conflict.
``decide`` is pure; ``LeaseStore`` does the reads and writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from kubernetes import client

from storage_operator.errors import NotFound
from storage_operator.kube.errors import api_errors


@dataclass(frozen=True)
class LeaseRecord:
    holder: str | None
    duration_seconds: int
    acquire_time: datetime | None
    renew_time: datetime | None
    transitions: int
    resource_version: str | None

    @property
    def version(self) -> tuple[str | None, datetime | None]:
        """What changes whenever the holder renews or someone takes over."""
        return (self.holder, self.renew_time)


Decision = Literal["create", "renew", "take", "wait"]


def decide(record: LeaseRecord | None, *, me: str, seen_since: float, now: float) -> Decision:
    """What a candidate does next. ``seen_since``: when (monotonic) this record version was first seen."""
    if record is None:
        return "create"
    if record.holder == me:
        return "renew"
    if not record.holder or now - seen_since > record.duration_seconds:
        return "take"
    return "wait"


class LeaseStore:
    def __init__(self, api: client.ApiClient, *, namespace: str, name: str) -> None:
        self._coord = client.CoordinationV1Api(api)
        self.namespace = namespace
        self.name = name

    def read(self) -> LeaseRecord | None:
        try:
            with api_errors():
                lease = self._coord.read_namespaced_lease(self.name, self.namespace)
        except NotFound:
            return None
        return _record(lease)

    def create(self, me: str, duration: int) -> LeaseRecord:
        now = _now()
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
            spec=client.V1LeaseSpec(
                holder_identity=me,
                lease_duration_seconds=duration,
                acquire_time=now,
                renew_time=now,
                lease_transitions=0,
            ),
        )
        with api_errors():
            return _record(self._coord.create_namespaced_lease(self.namespace, body))

    def write(self, record: LeaseRecord, *, holder: str | None, duration: int, taking: bool) -> LeaseRecord:
        """Renew (``taking`` False) or take over the lease; Conflict when someone wrote it meanwhile."""
        now = _now()
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(
                name=self.name, namespace=self.namespace, resource_version=record.resource_version
            ),
            spec=client.V1LeaseSpec(
                holder_identity=holder,
                lease_duration_seconds=duration,
                acquire_time=now if taking else record.acquire_time,
                renew_time=now,
                lease_transitions=record.transitions + (1 if taking else 0),
            ),
        )
        with api_errors():
            return _record(self._coord.replace_namespaced_lease(self.name, self.namespace, body))


def _now() -> datetime:
    # A MicroTime must carry its six digits; isoformat() drops them when they are all zero.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond or 1)


def _record(lease: client.V1Lease) -> LeaseRecord:
    spec = lease.spec or client.V1LeaseSpec()
    return LeaseRecord(
        holder=spec.holder_identity or None,
        duration_seconds=int(spec.lease_duration_seconds or 15),
        acquire_time=spec.acquire_time,
        renew_time=spec.renew_time,
        transitions=int(spec.lease_transitions or 0),
        resource_version=lease.metadata.resource_version if lease.metadata else None,
    )
