"""CSI volume and snapshot IDs (csi.ids): IDs and Ceph names of VolumeRef/SnapshotRef, parsing that accepts
only this driver's IDs (of the asked kind), and the UUID inside a subvolume's, image's or snapshot's name."""

from __future__ import annotations

import uuid

import pytest

from csi.ids import (
    SNAPSHOT_PREFIX,
    VOLUME_PREFIX,
    Kind,
    SnapshotRef,
    VolumeRef,
    new_uuid,
    parse_snapshot_id,
    parse_volume_id,
    uuid_of_name,
)

UUID = "0f8c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
SNAP_UUID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"


def test_volume_ref_id_and_name() -> None:
    ref = VolumeRef(kind="cephfs", location="shared", uuid=UUID)
    assert ref.id == f"cephfs:shared:{UUID}"
    assert ref.name == f"csi-vol-{UUID}"
    assert ref.name.startswith(VOLUME_PREFIX)


def test_snapshot_ref_id_and_name() -> None:
    snap = SnapshotRef(volume=VolumeRef(kind="rbd", location="replicapool", uuid=UUID), uuid=SNAP_UUID)
    assert snap.id == f"rbd:replicapool:{UUID}:{SNAP_UUID}"
    assert snap.name == f"csi-snap-{SNAP_UUID}"
    assert snap.name.startswith(SNAPSHOT_PREFIX)


@pytest.mark.parametrize("kind", ["cephfs", "rbd"])
@pytest.mark.parametrize("location", ["shared", "replica_pool.v2-a", "a", "x" * 100])
def test_volume_id_round_trip(kind: Kind, location: str) -> None:
    ref = VolumeRef(kind=kind, location=location, uuid=new_uuid())
    assert parse_volume_id(ref.id) == ref
    assert parse_volume_id(ref.id, kind) == ref


@pytest.mark.parametrize("kind", ["cephfs", "rbd"])
def test_snapshot_id_round_trip(kind: Kind) -> None:
    snap = SnapshotRef(volume=VolumeRef(kind=kind, location="pool-1", uuid=new_uuid()), uuid=new_uuid())
    assert parse_snapshot_id(snap.id) == snap
    assert parse_snapshot_id(snap.id, kind) == snap


def test_wrong_kind_is_refused() -> None:
    volume_id = f"cephfs:shared:{UUID}"
    assert parse_volume_id(volume_id, "rbd") is None
    assert parse_volume_id(volume_id, "cephfs") is not None
    snapshot_id = f"rbd:replicapool:{UUID}:{SNAP_UUID}"
    assert parse_snapshot_id(snapshot_id, "cephfs") is None
    assert parse_snapshot_id(snapshot_id, "rbd") is not None


NOT_VOLUME_IDS = [
    pytest.param("", id="empty"),
    pytest.param("fake-vol-id-abc", id="csi-sanity-fake"),
    pytest.param("garbage", id="garbage"),
    pytest.param(UUID, id="bare-uuid"),
    pytest.param(f"nfs:shared:{UUID}", id="other-kind"),
    pytest.param(f"cephfs:shared:{UUID.upper()}", id="uppercase-uuid"),
    pytest.param(f"cephfs:a:b:{UUID}", id="location-with-colon"),
    pytest.param(f"cephfs:a/b:{UUID}", id="location-with-slash"),
    pytest.param(f"cephfs::{UUID}", id="empty-location"),
    pytest.param(f"cephfs:{'x' * 101}:{UUID}", id="location-too-long"),
    pytest.param(f"cephfs:shared:{UUID[:-1]}", id="short-uuid"),
    pytest.param(f"cephfs:shared:{UUID}\n", id="trailing-newline"),
    pytest.param(f" cephfs:shared:{UUID}", id="leading-space"),
    pytest.param(f"cephfs:shared:{UUID}:{SNAP_UUID}", id="a-snapshot-id"),
]


@pytest.mark.parametrize("value", NOT_VOLUME_IDS)
def test_parse_volume_id_rejects(value: str) -> None:
    assert parse_volume_id(value) is None


NOT_SNAPSHOT_IDS = [
    pytest.param("", id="empty"),
    pytest.param("fake-snapshot-id-abc", id="csi-sanity-fake"),
    pytest.param("garbage:with:colons:too", id="garbage"),
    pytest.param(f"cephfs:shared:{UUID}", id="a-volume-id"),
    pytest.param(f"cephfs:shared:{UUID}:{SNAP_UUID.upper()}", id="uppercase-snapshot-uuid"),
    pytest.param(f"cephfs:shared:{UUID.upper()}:{SNAP_UUID}", id="uppercase-volume-uuid"),
    pytest.param(f"rbd:a:b:{UUID}:{SNAP_UUID}", id="location-with-colon"),
    pytest.param(f"rbd:a/b:{UUID}:{SNAP_UUID}", id="location-with-slash"),
    pytest.param(f"rbd:pool:{UUID}:{SNAP_UUID}:{SNAP_UUID}", id="one-uuid-too-many"),
    pytest.param(f"s3:pool:{UUID}:{SNAP_UUID}", id="other-kind"),
]


@pytest.mark.parametrize("value", NOT_SNAPSHOT_IDS)
def test_parse_snapshot_id_rejects(value: str) -> None:
    assert parse_snapshot_id(value) is None


def test_a_ref_with_an_invalid_location_does_not_round_trip() -> None:
    # The refs do not validate; the parser is what keeps foreign IDs out.
    ref = VolumeRef(kind="rbd", location="a:b", uuid=UUID)
    assert parse_volume_id(ref.id) is None


def test_new_uuid_is_a_lowercase_uuid4() -> None:
    value = new_uuid()
    assert str(uuid.UUID(value)) == value
    assert uuid.UUID(value).version == 4
    assert new_uuid() != value


def test_uuid_of_name() -> None:
    assert uuid_of_name(f"csi-vol-{UUID}") == UUID
    assert uuid_of_name(f"csi-snap-{SNAP_UUID}", SNAPSHOT_PREFIX) == SNAP_UUID


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        pytest.param("", VOLUME_PREFIX, id="empty"),
        pytest.param("pvc-1234", VOLUME_PREFIX, id="foreign-name"),
        pytest.param(f"csi-snap-{UUID}", VOLUME_PREFIX, id="snapshot-name-as-volume"),
        pytest.param(f"csi-vol-{UUID}", SNAPSHOT_PREFIX, id="volume-name-as-snapshot"),
        pytest.param("csi-vol-", VOLUME_PREFIX, id="prefix-only"),
        pytest.param("csi-vol-not-a-uuid", VOLUME_PREFIX, id="not-a-uuid"),
        pytest.param(f"csi-vol-{UUID.upper()}", VOLUME_PREFIX, id="uppercase-uuid"),
        pytest.param(f"csi-vol-{UUID}-old", VOLUME_PREFIX, id="suffix"),
        pytest.param(f"xcsi-vol-{UUID}", VOLUME_PREFIX, id="text-before-prefix"),
    ],
)
def test_uuid_of_name_rejects(name: str, prefix: str) -> None:
    assert uuid_of_name(name, prefix) is None
