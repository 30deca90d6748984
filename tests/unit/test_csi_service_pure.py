"""The controller service's pure helpers (csi.backends.service): paging of ListVolumes/ListSnapshots by
starting token, and the content source of a CreateVolumeRequest."""

from __future__ import annotations

import pytest

from csi.backends.service import Page, paginate, source_of
from csi.errors import Aborted, InvalidArgument
from csi.proto import csi_pb2

IDS = ["id-a", "id-b", "id-c", "id-d", "id-e"]
ITEMS = ["A", "B", "C", "D", "E"]


def test_no_token_no_limit_gives_everything() -> None:
    assert paginate(ITEMS, "volume", IDS, 0, "") == Page(ITEMS, "")


def test_max_entries_above_the_count() -> None:
    assert paginate(ITEMS, "volume", IDS, 10, "") == Page(ITEMS, "")
    assert paginate(ITEMS, "volume", IDS, 5, "") == Page(ITEMS, "")


def test_empty_listing() -> None:
    assert paginate([], "volume", [], 0, "") == Page([], "")
    assert paginate([], "volume", [], 2, "") == Page([], "")


def test_pages_of_two() -> None:
    first = paginate(ITEMS, "volume", IDS, 2, "")
    assert first == Page(["A", "B"], "id-b")
    second = paginate(ITEMS, "volume", IDS, 2, first.next_token)
    assert second == Page(["C", "D"], "id-d")
    third = paginate(ITEMS, "volume", IDS, 2, second.next_token)
    assert third == Page(["E"], "")


def test_walking_all_pages_gives_every_entry_once() -> None:
    for size in range(1, 7):
        seen: list[str] = []
        token = ""
        for _ in range(10):
            page = paginate(ITEMS, "snapshot", IDS, size, token)
            seen += page.entries
            token = page.next_token
            if not token:
                break
        assert seen == ITEMS


def test_exact_last_page_has_no_token() -> None:
    page = paginate(ITEMS[:4], "volume", IDS[:4], 2, "id-b")
    assert page == Page(["C", "D"], "")


def test_token_then_all() -> None:
    assert paginate(ITEMS, "volume", IDS, 0, "id-b") == Page(["C", "D", "E"], "")


def test_token_of_the_last_entry() -> None:
    assert paginate(ITEMS, "volume", IDS, 2, "id-e") == Page([], "")


@pytest.mark.parametrize("token", ["id-x", "A", "fake-token", " "])
def test_unknown_token_aborted(token: str) -> None:
    with pytest.raises(Aborted, match=r"starting_token .* is not one this driver handed out \(or its volume is gone\)"):
        paginate(ITEMS, "volume", IDS, 2, token)


@pytest.mark.parametrize("max_entries", [-1, -100])
def test_negative_max_entries(max_entries: int) -> None:
    with pytest.raises(InvalidArgument, match="max_entries must not be negative"):
        paginate(ITEMS, "volume", IDS, max_entries, "")


# ---------------------------------------------------------------------------- content sources


def test_no_source() -> None:
    assert source_of(csi_pb2.CreateVolumeRequest(name="pvc-1")) == ""


def test_snapshot_source() -> None:
    req = csi_pb2.CreateVolumeRequest(
        name="pvc-1",
        volume_content_source=csi_pb2.VolumeContentSource(
            snapshot=csi_pb2.VolumeContentSource.SnapshotSource(snapshot_id="rbd:pool:a:b")
        ),
    )
    assert source_of(req) == "snapshot:rbd:pool:a:b"


def test_volume_source() -> None:
    req = csi_pb2.CreateVolumeRequest(
        name="pvc-1",
        volume_content_source=csi_pb2.VolumeContentSource(
            volume=csi_pb2.VolumeContentSource.VolumeSource(volume_id="cephfs:shared:x")
        ),
    )
    assert source_of(req) == "volume:cephfs:shared:x"


def test_snapshot_source_without_id() -> None:
    req = csi_pb2.CreateVolumeRequest(name="pvc-1")
    req.volume_content_source.snapshot.SetInParent()
    with pytest.raises(InvalidArgument, match=r"volume_content_source.snapshot.snapshot_id is required"):
        source_of(req)


def test_volume_source_without_id() -> None:
    req = csi_pb2.CreateVolumeRequest(name="pvc-1")
    req.volume_content_source.volume.SetInParent()
    with pytest.raises(InvalidArgument, match=r"volume_content_source.volume.volume_id is required"):
        source_of(req)


def test_source_naming_neither() -> None:
    req = csi_pb2.CreateVolumeRequest(name="pvc-1")
    req.volume_content_source.SetInParent()
    with pytest.raises(InvalidArgument, match="names neither a snapshot nor a volume"):
        source_of(req)
