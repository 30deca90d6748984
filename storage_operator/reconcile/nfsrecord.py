"""The ownership record each volume directory carries, and who may use a directory that exists (pure).

Why a record on the export: these users replace whole clusters to upgrade, so the export outlives every
cluster that uses it. The record (backend, cluster, namespace, claim name and UID, size, times; never a
secret) lets a new cluster's claim of the same namespace and name take its directory back, data intact,
and lets every cluster refuse a directory that belongs to someone else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, Field, ValidationError

from storage_operator.api.meta import APIModel
from storage_operator.errors import InvalidSpec
from storage_operator.reconcile.nfspath import ClaimFacts

RECORD_NAME = ".storage-operator-volume.json"
RECORD_MAX_BYTES = 64 * 1024
# A bound volume's record is re-stamped this often, so another cluster can tell a live owner from a gone one.
HEARTBEAT = timedelta(minutes=10)


class VolumeRecord(APIModel):
    kind: Literal["NFSVolume"] = "NFSVolume"
    version: int = 1
    backend: str
    cluster: str = Field(description="The UID of the owning cluster's kube-system namespace.")
    namespace: str
    claim: str
    claim_uid: str = Field(alias="claimUID")
    volume: str = Field(description="The PersistentVolume's name.")
    size_bytes: int = Field(ge=0)
    created: AwareDatetime
    seen: AwareDatetime | None = Field(None, description="Last time the owning cluster saw the volume bound.")
    released: AwareDatetime | None = Field(None, description="When the owner let go of it (its PV was deleted).")
    adopted_from: str | None = Field(None, description="cluster/claimUID of the previous owner.")

    def owner(self) -> str:
        return f"claim {self.namespace}/{self.claim} (uid {self.claim_uid}) of cluster {self.cluster}"


def encode(record: VolumeRecord) -> bytes:
    return (json.dumps(record.to_wire(), indent=2, sort_keys=True) + "\n").encode()


def decode(data: bytes) -> VolumeRecord:
    """Parse a record; InvalidSpec when it is not one (a damaged or foreign file never passes as ours)."""
    if len(data) > RECORD_MAX_BYTES:
        raise InvalidSpec(f"{RECORD_NAME} is {len(data)} bytes: not an ownership record")
    try:
        return VolumeRecord.model_validate_json(data)
    except ValidationError as exc:
        raise InvalidSpec(f"{RECORD_NAME} is not a valid ownership record: {exc.errors()[0]['msg']}") from None


def new_record(
    claim: ClaimFacts, *, backend: str, cluster: str, size_bytes: int, now: datetime, adopted_from: str | None = None
) -> VolumeRecord:
    return VolumeRecord(
        backend=backend,
        cluster=cluster,
        namespace=claim.namespace,
        claim=claim.name,
        claimUID=claim.uid,
        volume=claim.pv_name,
        size_bytes=size_bytes,
        created=now,
        seen=now,
        adopted_from=adopted_from,
    )


Verdict = Literal["mine", "adopt", "collision", "held"]


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str = ""


@dataclass(frozen=True)
class Existing:
    """What is known about a directory that is already there."""

    record: VolumeRecord | None
    empty: bool  # nothing in it but (maybe) the record
    record_volume_exists: bool = False  # this cluster still has the record's PV
    record_claim_exists: bool = False  # this cluster still has the record's claim (by UID)
    record_error: str | None = None  # the record file is there but unreadable


def judge(  # noqa: PLR0911  (one return per case of the decision table above)
    existing: Existing, claim: ClaimFacts, *, cluster: str, adopt: bool, now: datetime, stale_after: timedelta
) -> Judgement:
    """May ``claim`` use this existing directory?

    mine: it is this claim's (a retry after a crash). adopt: it held the same namespace/name's data and
    its owner let go (adopt classes only). collision: someone else's, take the deterministic alternative
    name. held: someone else's and the claim must wait (adopt classes, which must not get an empty
    directory instead of the data they asked for).
    """
    record = existing.record
    if existing.record_error is not None:
        return _taken(adopt, f"the directory has an unreadable ownership record ({existing.record_error})")
    if record is None:
        if existing.empty:
            return Judgement("mine", "an empty directory without a record (an interrupted provisioning)")
        return _taken(adopt, "the directory holds data but no ownership record (not made by this provisioner)")
    if record.claim_uid == claim.uid:
        return Judgement("mine")
    if not adopt:
        return Judgement("collision", f"the directory belongs to {record.owner()}")
    if (record.namespace, record.claim) != (claim.namespace, claim.name):
        return Judgement("held", f"the directory belongs to {record.owner()}, a different claim")
    if record.released is not None:
        return Judgement("adopt", f"released by {record.owner()} at {record.released.isoformat()}")
    if record.cluster == cluster:
        if existing.record_volume_exists:
            return Judgement("held", f"PersistentVolume {record.volume} still uses it; delete that PV first")
        if existing.record_claim_exists:
            return Judgement("held", f"{record.owner()} still exists")
        return Judgement("adopt", f"{record.owner()} and its PersistentVolume are gone")
    seen = record.seen or record.created
    if now - seen < stale_after:
        age = int((now - seen).total_seconds())
        wait = int((stale_after - (now - seen)).total_seconds())
        return Judgement(
            "held",
            f"{record.owner()} was alive {age} s ago; the directory can be adopted once that cluster releases it "
            f"(deletes its PV) or has not been seen for {int(stale_after.total_seconds())} s (in {wait} s)",
        )
    return Judgement("adopt", f"{record.owner()} has not been seen since {seen.isoformat()}")


def _taken(adopt: bool, reason: str) -> Judgement:
    return Judgement("held" if adopt else "collision", reason)


# A directory whose provisioning never finished is left this long before it counts as orphaned: a claim
# being provisioned right now has a record and no PV yet, too.
ORPHAN_AFTER = timedelta(minutes=10)


def is_orphan(
    record: VolumeRecord, *, cluster: str, now: datetime, volume_exists: bool, claim_exists: bool, empty: bool
) -> bool:
    """A directory this cluster made for a claim that is gone, which never got its PV, holding nothing.

    Only then may it be removed without anyone asking: it carries no data (``empty``), no PV points at it,
    its claim no longer exists, it was not released for adoption, and it is not another cluster's.
    """
    return (
        record.cluster == cluster
        and record.released is None
        and empty
        and not volume_exists
        and not claim_exists
        and now - record.created >= ORPHAN_AFTER
    )


def needs_heartbeat(record: VolumeRecord, now: datetime) -> bool:
    return record.released is None and (record.seen is None or now - record.seen >= HEARTBEAT)
