"""The CSI journal's pure parts (csi.journal): omap key builders, VolumeRecord/SnapshotRecord encoding and
decoding (garbage, non-objects, missing and extra fields), and SnapshotRecord.made."""

from __future__ import annotations

import json

import pytest

from csi.journal import (
    SnapshotRecord,
    VolumeRecord,
    decode_snapshot,
    decode_volume,
    encode,
    snapshot_name_key,
    snapshot_uuid_key,
    volume_name_key,
    volume_uuid_key,
)

UUID = "0f8c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
SNAP_UUID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
VOLUME = VolumeRecord(
    name="pvc-1234",
    uuid=UUID,
    size=1024**3,
    params="0123456789abcdef",
    source=f"snapshot:cephfs:shared:{UUID}:{SNAP_UUID}",
    created="2025-01-02T03:04:05+00:00",
)
SNAPSHOT = SnapshotRecord(
    name="snapshot-5678", uuid=SNAP_UUID, volume_uuid=UUID, size=1024**3, created="2025-01-02T03:04:05+00:00"
)


def test_key_builders() -> None:
    assert volume_name_key("pvc-1234") == "volume.name.pvc-1234"
    assert volume_uuid_key(UUID) == f"volume.uuid.{UUID}"
    assert snapshot_name_key("snapshot-5678") == "snapshot.name.snapshot-5678"
    assert snapshot_uuid_key(SNAP_UUID) == f"snapshot.uuid.{SNAP_UUID}"


def test_keys_of_names_with_dots_keep_their_prefix() -> None:
    # The listing scans by prefix: a name's key never starts like a UUID key.
    key = volume_name_key("uuid.x")
    assert key == "volume.name.uuid.x"
    assert not key.startswith("volume.uuid.")


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(VOLUME, id="full"),
        pytest.param(VolumeRecord(name="n", uuid=UUID, size=0, params="p"), id="defaults"),
        pytest.param(VolumeRecord(name="ünïcödé", uuid=UUID, size=1, params='"quoted"'), id="unicode"),
    ],
)
def test_volume_round_trip(record: VolumeRecord) -> None:
    raw = encode(record)
    assert isinstance(raw, bytes)
    assert decode_volume(raw) == record


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(SNAPSHOT, id="reserved"),
        pytest.param(SNAPSHOT.made("2025-02-03T00:00:00+00:00"), id="made"),
        pytest.param(SnapshotRecord(name="s", uuid=SNAP_UUID, volume_uuid=UUID, size=0), id="defaults"),
    ],
)
def test_snapshot_round_trip(record: SnapshotRecord) -> None:
    assert decode_snapshot(encode(record)) == record


def test_encoding_is_deterministic_json() -> None:
    raw = encode(VOLUME)
    assert raw == encode(VolumeRecord(**json.loads(raw)))
    assert json.loads(raw) == {
        "name": "pvc-1234",
        "uuid": UUID,
        "size": 1024**3,
        "params": "0123456789abcdef",
        "source": f"snapshot:cephfs:shared:{UUID}:{SNAP_UUID}",
        "created": "2025-01-02T03:04:05+00:00",
    }
    assert list(json.loads(raw)) == sorted(json.loads(raw))


GARBAGE = [
    pytest.param(b"", id="empty"),
    pytest.param(b"not json", id="not-json"),
    pytest.param(b"{", id="truncated"),
    pytest.param(b"\xff\xfe\x00", id="not-utf8"),
    pytest.param(b"null", id="null"),
    pytest.param(b"42", id="number"),
    pytest.param(b'"a string"', id="string"),
    pytest.param(b"[1, 2, 3]", id="list"),
    pytest.param(b"{}", id="empty-object"),
]


@pytest.mark.parametrize("raw", GARBAGE)
def test_decode_garbage(raw: bytes) -> None:
    assert decode_volume(raw) is None
    assert decode_snapshot(raw) is None


@pytest.mark.parametrize("missing", ["name", "uuid", "size", "params"])
def test_volume_missing_required_field(missing: str) -> None:
    doc = json.loads(encode(VOLUME))
    del doc[missing]
    assert decode_volume(json.dumps(doc).encode()) is None


@pytest.mark.parametrize("missing", ["name", "uuid", "volume_uuid", "size"])
def test_snapshot_missing_required_field(missing: str) -> None:
    doc = json.loads(encode(SNAPSHOT))
    del doc[missing]
    assert decode_snapshot(json.dumps(doc).encode()) is None


def test_missing_optional_fields_take_defaults() -> None:
    volume = decode_volume(json.dumps({"name": "n", "uuid": UUID, "size": 5, "params": "p"}).encode())
    assert volume == VolumeRecord(name="n", uuid=UUID, size=5, params="p", source="", created="")
    snapshot = decode_snapshot(json.dumps({"name": "s", "uuid": SNAP_UUID, "volume_uuid": UUID, "size": 5}).encode())
    assert snapshot == SnapshotRecord(name="s", uuid=SNAP_UUID, volume_uuid=UUID, size=5, created="", ready=False)


def test_extra_fields_ignored() -> None:
    doc = {**json.loads(encode(VOLUME)), "written_by": "a newer driver", "ready": True}
    assert decode_volume(json.dumps(doc).encode()) == VOLUME
    doc = {**json.loads(encode(SNAPSHOT)), "params": "from a volume", "future": [1, 2]}
    assert decode_snapshot(json.dumps(doc).encode()) == SNAPSHOT


def test_a_volume_record_is_not_a_snapshot_record() -> None:
    assert decode_snapshot(encode(VOLUME)) is None  # no volume_uuid
    assert decode_volume(encode(SNAPSHOT)) is None  # no params


def test_snapshot_made() -> None:
    assert SNAPSHOT.ready is False
    made = SNAPSHOT.made("2025-03-04T05:06:07+00:00")
    assert made.ready is True
    assert made.created == "2025-03-04T05:06:07+00:00"
    assert (made.name, made.uuid, made.volume_uuid, made.size) == (
        SNAPSHOT.name,
        SNAPSHOT.uuid,
        SNAPSHOT.volume_uuid,
        SNAPSHOT.size,
    )
    # The original is frozen and unchanged.
    assert SNAPSHOT.ready is False
    assert SNAPSHOT.created == "2025-01-02T03:04:05+00:00"
