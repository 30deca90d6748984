"""The ownership record of an NFS volume directory: its wire form, what is refused as a record, and who may
use a directory that exists (the decision table of ``judge``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from storage_operator.config import OperatorConfig
from storage_operator.errors import InvalidSpec
from storage_operator.reconcile.nfspath import ClaimFacts
from storage_operator.reconcile.nfsrecord import (
    HEARTBEAT,
    ORPHAN_AFTER,
    RECORD_MAX_BYTES,
    RECORD_NAME,
    Existing,
    Judgement,
    VolumeRecord,
    decode,
    encode,
    is_orphan,
    judge,
    needs_heartbeat,
    new_record,
)

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
STALE = timedelta(hours=1)
HERE = "cluster-here"
THERE = "cluster-there"
CLAIM = ClaimFacts(
    namespace="team-a",
    name="data",
    uid="uid-new",
    pv_name="pvc-uid-new",
    labels={"team": "a"},
    annotations={},
)


def record(**fields: Any) -> VolumeRecord:
    """A record of another claim (uid-old) of the same namespace/name on another cluster, seen just now."""
    values: dict[str, Any] = {
        "backend": "fast",
        "cluster": THERE,
        "namespace": "team-a",
        "claim": "data",
        "claimUID": "uid-old",
        "volume": "pvc-uid-old",
        "sizeBytes": 2**30,
        "created": NOW - timedelta(days=30),
        "seen": NOW,
    }
    values.update(fields)
    return VolumeRecord.model_validate(values)


def verdict(existing: Existing, *, adopt: bool, cluster: str = HERE) -> Judgement:
    return judge(existing, CLAIM, cluster=cluster, adopt=adopt, now=NOW, stale_after=STALE)


def on_disk(**fields: Any) -> bytes:
    return json.dumps({**record().to_wire(), **fields}).encode()


# ---------------------------------------------------------------- wire form


def test_new_record_describes_the_claim() -> None:
    made = new_record(CLAIM, backend="fast", cluster=HERE, size_bytes=5 * 2**30, now=NOW)
    assert (made.kind, made.version, made.backend, made.cluster) == ("NFSVolume", 1, "fast", HERE)
    assert (made.namespace, made.claim, made.claim_uid, made.volume) == ("team-a", "data", "uid-new", "pvc-uid-new")
    assert made.size_bytes == 5 * 2**30
    assert made.created == made.seen == NOW
    assert made.released is None
    assert made.adopted_from is None
    adopted = new_record(CLAIM, backend="fast", cluster=HERE, size_bytes=1, now=NOW, adopted_from="c/u")
    assert adopted.adopted_from == "c/u"


def test_encode_is_camel_case_json_sorted_with_a_final_newline() -> None:
    made = new_record(CLAIM, backend="fast", cluster=HERE, size_bytes=1024, now=NOW, adopted_from="old/uid")
    data = encode(made)
    assert data.endswith(b"}\n")
    wire = json.loads(data)
    assert wire == {
        "kind": "NFSVolume",
        "version": 1,
        "backend": "fast",
        "cluster": HERE,
        "namespace": "team-a",
        "claim": "data",
        "claimUID": "uid-new",
        "volume": "pvc-uid-new",
        "sizeBytes": 1024,
        "created": "2024-05-06T07:08:09Z",
        "seen": "2024-05-06T07:08:09Z",
        "adoptedFrom": "old/uid",
    }
    assert list(wire) == sorted(wire)
    assert "released" not in wire  # unset optional fields are left out


def test_no_secret_or_label_travels_in_the_record() -> None:
    data = encode(new_record(CLAIM, backend="fast", cluster=HERE, size_bytes=1, now=NOW)).decode()
    assert "team" not in data.replace("team-a", "")  # the claim's labels are not written


@pytest.mark.parametrize(
    "made",
    [
        new_record(CLAIM, backend="fast", cluster=HERE, size_bytes=0, now=NOW),
        record(released=NOW, adoptedFrom="x/y"),
        record(seen=None),
        record(created=datetime(2024, 1, 1, 12, 0, tzinfo=UTC), sizeBytes=2**62),
    ],
)
def test_round_trip(made: VolumeRecord) -> None:
    assert decode(encode(made)) == made
    assert encode(decode(encode(made))) == encode(made)


def test_decode_reads_a_record_written_by_hand() -> None:
    got = decode(on_disk(claimUID="abc", sizeBytes=7))
    assert (got.claim_uid, got.size_bytes) == ("abc", 7)


def test_decode_ignores_fields_of_a_newer_version() -> None:
    assert decode(on_disk(futureField={"x": 1})).claim_uid == "uid-old"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"null",
        b"[]",
        b"{}",
        b'"NFSVolume"',
        on_disk(kind="Secret"),
        on_disk(kind=None),
        on_disk(sizeBytes=-1),
        on_disk(sizeBytes="lots"),
        on_disk(created="yesterday"),
        on_disk(claimUID=None),
        json.dumps({k: v for k, v in record().to_wire().items() if k != "cluster"}).encode(),
    ],
)
def test_garbage_is_not_a_record(data: bytes) -> None:
    with pytest.raises(InvalidSpec) as info:
        decode(data)
    assert str(info.value).startswith(f"{RECORD_NAME} is not a valid ownership record: ")


def test_an_oversized_file_is_not_a_record_even_when_it_would_parse() -> None:
    valid = encode(record())
    padded = valid + b" " * (RECORD_MAX_BYTES + 1 - len(valid))
    with pytest.raises(InvalidSpec, match=f"{RECORD_MAX_BYTES + 1} bytes: not an ownership record"):
        decode(padded)
    assert decode(valid + b" " * (RECORD_MAX_BYTES - len(valid))) == record()  # exactly the limit is fine


def test_a_record_with_naive_timestamps_is_refused_or_judged() -> None:
    data = on_disk(created="2024-01-01T00:00:00", seen="2024-01-01T00:00:00")
    try:
        found = decode(data)
    except InvalidSpec:
        return  # refused as not ours: fine
    assert verdict(Existing(record=found, empty=False), adopt=True).verdict in ("held", "adopt")
    needs_heartbeat(found, NOW)


# ---------------------------------------------------------------- judge: no usable record


@pytest.mark.parametrize("adopt", [False, True])
def test_an_empty_directory_without_record_is_mine(adopt: bool) -> None:
    got = verdict(Existing(record=None, empty=True), adopt=adopt)
    assert got.verdict == "mine"
    assert "interrupted" in got.reason


@pytest.mark.parametrize(("adopt", "expected"), [(False, "collision"), (True, "held")])
def test_data_without_a_record_is_never_taken(adopt: bool, expected: str) -> None:
    got = verdict(Existing(record=None, empty=False), adopt=adopt)
    assert got.verdict == expected
    assert "no ownership record" in got.reason


@pytest.mark.parametrize(("adopt", "expected"), [(False, "collision"), (True, "held")])
@pytest.mark.parametrize("empty", [False, True])
def test_an_unreadable_record_is_never_taken(adopt: bool, expected: str, empty: bool) -> None:
    got = verdict(Existing(record=None, empty=empty, record_error="NFS4ERR_IO"), adopt=adopt)
    assert got.verdict == expected
    assert "unreadable ownership record" in got.reason
    assert "NFS4ERR_IO" in got.reason


def test_an_unreadable_record_wins_over_a_matching_one() -> None:
    existing = Existing(record=record(claimUID="uid-new"), empty=False, record_error="damaged")
    assert verdict(existing, adopt=False).verdict == "collision"


# ---------------------------------------------------------------- judge: a record


@pytest.mark.parametrize("adopt", [False, True])
@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"cluster": HERE},
        {"namespace": "other", "claim": "other"},  # the uid decides
        {"released": NOW},
        {"seen": NOW - timedelta(days=365)},
    ],
)
def test_the_claims_own_record_is_mine(adopt: bool, fields: dict[str, Any]) -> None:
    existing = Existing(record=record(claimUID="uid-new", **fields), empty=False, record_volume_exists=True)
    assert verdict(existing, adopt=adopt).verdict == "mine"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"released": NOW},  # released, but adopt is off
        {"cluster": HERE},
        {"seen": NOW - timedelta(days=365)},
        {"namespace": "other"},
    ],
)
def test_another_claims_directory_is_a_collision_without_adopt(fields: dict[str, Any]) -> None:
    found = record(**fields)
    got = verdict(Existing(record=found, empty=True), adopt=False)
    assert got.verdict == "collision"
    assert got.reason == f"the directory belongs to {found.owner()}"
    assert "uid-old" in got.reason


@pytest.mark.parametrize(
    "fields",
    [
        {"namespace": "team-b"},
        {"claim": "other"},
        {"namespace": "team-b", "claim": "other", "released": NOW},  # released, but not this claim's data
        {"claim": "other", "seen": NOW - timedelta(days=365)},
    ],
)
def test_adopt_never_takes_a_different_claims_directory(fields: dict[str, Any]) -> None:
    got = verdict(Existing(record=record(**fields), empty=False), adopt=True)
    assert got.verdict == "held"
    assert "a different claim" in got.reason


@pytest.mark.parametrize("cluster", [HERE, THERE])
def test_a_released_directory_is_adopted(cluster: str) -> None:
    got = verdict(
        Existing(record=record(cluster=cluster, released=NOW - timedelta(minutes=1)), empty=False), adopt=True
    )
    assert got.verdict == "adopt"
    assert "released by" in got.reason
    assert (NOW - timedelta(minutes=1)).isoformat() in got.reason


@pytest.mark.parametrize(
    ("volume_exists", "claim_exists", "expected", "words"),
    [
        (True, False, "held", "PersistentVolume pvc-uid-old still uses it; delete that PV first"),
        (True, True, "held", "delete that PV first"),
        (False, True, "held", "still exists"),
        (False, False, "adopt", "and its PersistentVolume are gone"),
    ],
)
def test_same_cluster_adopts_only_when_pv_and_claim_are_gone(
    volume_exists: bool, claim_exists: bool, expected: str, words: str
) -> None:
    existing = Existing(
        record=record(cluster=HERE), empty=False, record_volume_exists=volume_exists, record_claim_exists=claim_exists
    )
    got = verdict(existing, adopt=True)
    assert got.verdict == expected
    assert words in got.reason


def test_same_cluster_does_not_wait_for_staleness() -> None:
    existing = Existing(record=record(cluster=HERE, seen=NOW), empty=False)
    assert verdict(existing, adopt=True).verdict == "adopt"


def test_another_cluster_seen_recently_holds_the_directory() -> None:
    found = record(seen=NOW - timedelta(minutes=10))
    got = verdict(Existing(record=found, empty=False), adopt=True)
    assert got.verdict == "held"
    assert found.owner() in got.reason
    assert "alive 600 s ago" in got.reason
    assert "releases it" in got.reason
    assert "not been seen for 3600 s (in 3000 s)" in got.reason


def test_another_cluster_holds_even_when_this_cluster_has_a_pv_of_that_name() -> None:
    """What this cluster has says nothing about the other cluster: only release or staleness count."""
    existing = Existing(record=record(seen=NOW), empty=False, record_volume_exists=False, record_claim_exists=False)
    assert verdict(existing, adopt=True).verdict == "held"


@pytest.mark.parametrize(
    ("seen", "created", "expected"),
    [
        (NOW, NOW - timedelta(days=30), "held"),
        (NOW - STALE + timedelta(seconds=1), NOW - timedelta(days=30), "held"),
        (NOW - STALE, NOW - timedelta(days=30), "adopt"),  # exactly stale_after: stale
        (NOW - timedelta(hours=2), NOW - timedelta(days=30), "adopt"),
        (None, NOW - timedelta(minutes=5), "held"),  # never seen: its creation counts
        (None, NOW - timedelta(hours=2), "adopt"),
    ],
)
def test_another_cluster_is_adopted_from_only_when_stale(
    seen: datetime | None, created: datetime, expected: str
) -> None:
    got = verdict(Existing(record=record(seen=seen, created=created), empty=False), adopt=True)
    assert got.verdict == expected
    if expected == "adopt":
        assert "has not been seen since" in got.reason
        assert (seen or created).isoformat() in got.reason


# ---------------------------------------------------------------- heartbeat


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"seen": None}, True),
        ({"seen": NOW}, False),
        ({"seen": NOW - HEARTBEAT + timedelta(seconds=1)}, False),
        ({"seen": NOW - HEARTBEAT}, True),
        ({"seen": NOW - timedelta(days=1)}, True),
        ({"seen": None, "released": NOW - timedelta(days=1)}, False),  # a released record is not stamped again
        ({"seen": NOW - timedelta(days=1), "released": NOW}, False),
    ],
)
def test_needs_heartbeat(fields: dict[str, Any], expected: bool) -> None:
    assert needs_heartbeat(record(**fields), NOW) is expected


def test_heartbeat_is_well_inside_the_default_staleness_window() -> None:
    """A live owner re-stamps its record several times before another cluster may call it gone."""
    default = OperatorConfig.model_fields["nfs_adopt_after"].default
    assert timedelta(seconds=default) > 2 * HEARTBEAT


ORPHAN_FACTS: dict[str, Any] = {"volume_exists": False, "claim_exists": False, "empty": True}


@pytest.mark.parametrize(
    ("fields", "facts", "orphan"),
    [
        ({"cluster": HERE}, {}, True),
        ({"cluster": THERE}, {}, False),  # another cluster's: never judged here
        ({"cluster": HERE, "released": NOW - timedelta(days=1)}, {}, False),  # released: waits for adoption
        ({"cluster": HERE}, {"empty": False}, False),  # holds data
        ({"cluster": HERE}, {"volume_exists": True}, False),  # its PV exists
        ({"cluster": HERE}, {"claim_exists": True}, False),  # its claim exists (provisioning may resume)
        ({"cluster": HERE, "created": NOW - ORPHAN_AFTER + timedelta(seconds=1)}, {}, False),  # too new
        ({"cluster": HERE, "created": NOW - ORPHAN_AFTER}, {}, True),
    ],
    ids=["orphan", "other-cluster", "released", "has-data", "pv-exists", "claim-exists", "too-new", "just-old-enough"],
)
def test_only_an_empty_unreleased_directory_of_a_gone_claim_of_this_cluster_is_an_orphan(
    fields: dict[str, Any], facts: dict[str, Any], orphan: bool
) -> None:
    assert is_orphan(record(**fields), cluster=HERE, now=NOW, **(ORPHAN_FACTS | facts)) is orphan
