"""The node agent's parsers of what it reads: /proc/*/mountinfo, /proc/swaps, `wipefs --json`,
`blkid -p -o export` and a Ceph BlueStore label (recorded fixtures, pure)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from storage_operator.agent.facts import (
    BLUESTORE_MAGIC,
    CephLabel,
    FoundSignature,
    parse_blkid_export,
    parse_bluestore_label,
    parse_mountinfo,
    parse_swaps,
    parse_wipefs,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "agent"

OSD_UUID = "66666666-7777-4888-9999-aaaaaaaaaaaa"
CEPH_FSID = "11111111-2222-4333-8444-555555555555"
DUMMY_KEY = b"A" * 38 + b"=="  # what replaced the real osd_key in the fixture


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def label_bytes() -> bytes:
    return (FIXTURES / "bluestore-label.bin").read_bytes()


# ---------------------------------------------------------------------------- /proc/*/mountinfo


def test_parse_mountinfo_fixture() -> None:
    assert parse_mountinfo(read("mountinfo.txt")) == {
        (0, 21): ["/proc"],
        (0, 22): ["/sys"],
        (0, 6): ["/dev"],
        (0, 23): ["/dev/shm"],
        (0, 24): ["/dev/pts"],
        (254, 0): ["/"],
        (7, 3): ["/mnt/my data", "/srv/again"],  # \040 unescaped; kernel order kept
        (259, 1): ["/boot/efi"],
    }


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "garbage",
        "61 27 7:3 /",  # fewer than 5 fields
        "61 27 nocolon / /mnt rw,relatime - ext4 /dev/loop3 rw",
    ],
    ids=["empty", "blank", "one-field", "four-fields", "no-major-minor"],
)
def test_parse_mountinfo_ignores_malformed_lines(line: str) -> None:
    text = f"{line}\n62 27 259:1 / /boot/efi rw,relatime - vfat /dev/nvme0n1p1 rw\n{line}\n"
    assert parse_mountinfo(text) == {(259, 1): ["/boot/efi"]}


def test_parse_mountinfo_ignores_a_non_numeric_major_minor() -> None:
    text = "61 27 x:y / /mnt rw - ext4 /dev/loop3 rw\n62 27 259:1 / /boot/efi rw - vfat /dev/nvme0n1p1 rw\n"
    assert parse_mountinfo(text) == {(259, 1): ["/boot/efi"]}


def test_parse_mountinfo_empty() -> None:
    assert parse_mountinfo("") == {}


@pytest.mark.parametrize(
    ("written", "mount_point"),
    [
        ("/mnt/my\\040data", "/mnt/my data"),
        ("/mnt/tab\\011x", "/mnt/tab\tx"),
        ("/mnt/new\\012line", "/mnt/new\nline"),
        ("/mnt/back\\134slash", "/mnt/back\\slash"),
        ("/mnt/end\\040", "/mnt/end "),
        ("/mnt/a\\040b\\040c", "/mnt/a b c"),
        ("/mnt/short\\04", "/mnt/short\\04"),  # not a whole escape: kept as written
        ("/mnt/trailing\\", "/mnt/trailing\\"),
        ("/mnt/not\\xyz", "/mnt/not\\xyz"),
    ],
    ids=["space", "tab", "newline", "backslash", "at-end", "several", "incomplete", "lone-backslash", "not-octal"],
)
def test_parse_mountinfo_unescapes_octal(written: str, mount_point: str) -> None:
    assert parse_mountinfo(f"61 27 7:3 / {written} rw - ext4 /dev/loop3 rw") == {(7, 3): [mount_point]}


# ---------------------------------------------------------------------------- /proc/swaps


def test_parse_swaps_fixture() -> None:
    assert parse_swaps(read("swaps.txt")) == ["/dev/vdb", "/swapfile"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n", []),
        ("Filename Type Size Used Priority\n\n/dev/dm-1 partition 8 0 -2\n   \n", ["/dev/dm-1"]),
    ],
    ids=["empty", "header-only", "blank-lines"],
)
def test_parse_swaps(text: str, expected: list[str]) -> None:
    assert parse_swaps(text) == expected


# ---------------------------------------------------------------------------- wipefs

WIPEFS_FIXTURES: dict[str, tuple[FoundSignature, ...]] = {
    "wipefs-bluestore.json": (FoundSignature(type="ceph_bluestore", offset=0),),
    "wipefs-clean.json": (),
    "wipefs-ext4.json": (
        FoundSignature(type="ext4", offset=1080, uuid="c50dda3c-3e87-4243-a657-de6c9ab429b6", label="data"),
    ),
    "wipefs-gpt.json": (
        FoundSignature(type="gpt", offset=512),
        FoundSignature(type="gpt", offset=314572288),  # the backup GPT header at the end of the device
        FoundSignature(type="PMBR", offset=510),
    ),
    "wipefs-lvm.json": (FoundSignature(type="LVM2_member", offset=536, uuid="KA5y4h-Zuaj-F38X-Uczk-eH76-j2UP-Ogz3EK"),),
    "wipefs-swap.json": (FoundSignature(type="swap", offset=4086, uuid="51d377d3-4319-4f57-9e3e-49445f79b83c"),),
    "wipefs-xfs.json": (FoundSignature(type="xfs", offset=0, uuid="94b51dc0-3b7e-4ad1-a086-d89bac045a98"),),
}


def test_every_wipefs_fixture_is_covered() -> None:
    assert sorted(p.name for p in FIXTURES.glob("wipefs-*.json")) == sorted(WIPEFS_FIXTURES)


@pytest.mark.parametrize(
    ("name", "expected"),
    list(WIPEFS_FIXTURES.items()),
    ids=[n.removeprefix("wipefs-").removesuffix(".json") for n in WIPEFS_FIXTURES],
)
def test_parse_wipefs_fixture(name: str, expected: tuple[FoundSignature, ...]) -> None:
    found = parse_wipefs(read(name))
    assert found == expected
    assert all(type(s.offset) is int for s in found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("  \n", ()),
        ("{}", ()),
        ('{"signatures": [{"offset": 1080, "type": "ext4"}]}', (FoundSignature(type="ext4", offset=1080),)),
        ('{"signatures": [{}]}', (FoundSignature(type="unknown", offset=0),)),
        (
            '{"signatures": [{"offset": "0x0", "type": "xfs", "uuid": "", "label": ""}]}',
            (FoundSignature(type="xfs", offset=0),),
        ),
    ],
    ids=["empty", "blank", "no-signatures-key", "integer-offset", "empty-entry", "empty-uuid-and-label"],
)
def test_parse_wipefs_edge_cases(text: str, expected: tuple[FoundSignature, ...]) -> None:
    assert parse_wipefs(text) == expected


# ---------------------------------------------------------------------------- blkid


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "blkid-ext4.txt",
            {
                "DEVNAME": "/dev/loop9",
                "LABEL": "data",
                "UUID": "c50dda3c-3e87-4243-a657-de6c9ab429b6",
                "VERSION": "1.0",
                "BLOCK_SIZE": "1024",
                "TYPE": "ext4",
                "USAGE": "filesystem",
            },
        ),
        (
            "blkid-gpt.txt",
            {"DEVNAME": "/dev/loop12", "PTUUID": "e90c63e8-dbd8-474e-8449-1626ff259bbc", "PTTYPE": "gpt"},
        ),
    ],
    ids=["ext4", "gpt"],
)
def test_parse_blkid_export_fixture(name: str, expected: dict[str, str]) -> None:
    assert dict(parse_blkid_export(read(name))) == expected


def test_parse_blkid_export_skips_lines_without_a_value_and_keeps_later_equals() -> None:
    assert dict(parse_blkid_export("\nnoise\nLABEL=a=b\n TYPE = xfs \n")) == {"LABEL": "a=b", "TYPE": "xfs"}
    assert dict(parse_blkid_export("")) == {}


# ---------------------------------------------------------------------------- BlueStore label


def test_parse_bluestore_label_fixture() -> None:
    assert parse_bluestore_label(label_bytes()) == CephLabel(
        osd_uuid=OSD_UUID, ceph_fsid=CEPH_FSID, whoami=7, ready=True
    )


def test_the_fixture_holds_the_dummy_key() -> None:
    raw = label_bytes()
    assert raw.startswith(BLUESTORE_MAGIC)
    assert len(raw) == 4096
    assert b"osd_key" in raw
    assert DUMMY_KEY in raw


def test_parse_bluestore_label_never_returns_the_key() -> None:
    label = parse_bluestore_label(label_bytes())
    assert label is not None
    assert [f.name for f in dataclasses.fields(label)] == ["osd_uuid", "ceph_fsid", "whoami", "ready"]
    shown = repr(label) + str(label) + "".join(str(v) for v in dataclasses.asdict(label).values())
    assert "AAAA" not in shown
    assert "osd_key" not in shown
    assert "==" not in shown


def test_parse_bluestore_label_does_not_decode_the_key() -> None:
    """The key's bytes are skipped: a value that is not even text changes nothing."""
    raw = label_bytes()
    garbled = raw.replace(DUMMY_KEY, b"\xff" * len(DUMMY_KEY))
    assert garbled != raw
    assert len(garbled) == len(raw)
    assert parse_bluestore_label(garbled) == CephLabel(osd_uuid=OSD_UUID, ceph_fsid=CEPH_FSID, whoami=7, ready=True)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        bytes(4096),
        b"XFSB" + bytes(4092),
        b"bluestore block devic",  # the magic line cut short
        b"Bluestore block device\n" + bytes(100),
    ],
    ids=["empty", "zeros", "xfs", "short-magic", "wrong-case"],
)
def test_parse_bluestore_label_not_a_label(raw: bytes) -> None:
    assert parse_bluestore_label(raw) is None


def test_parse_bluestore_label_truncated() -> None:
    assert parse_bluestore_label(label_bytes()[:100]) == CephLabel(osd_uuid="unreadable", ceph_fsid=None, whoami=None)


def test_parse_bluestore_label_any_truncation_never_raises() -> None:
    raw = label_bytes()
    end = raw.index(b"whoami") + len(b"whoami") + 4 + 1  # the last meta value ("7") ends here
    for n in range(len(BLUESTORE_MAGIC), end + 1):
        label = parse_bluestore_label(raw[:n])
        assert isinstance(label, CephLabel), n
        assert label.osd_uuid in (OSD_UUID, "unreadable"), n
        assert label.ceph_fsid in (CEPH_FSID, None), n
    assert parse_bluestore_label(raw[:end]) == CephLabel(osd_uuid=OSD_UUID, ceph_fsid=CEPH_FSID, whoami=7, ready=True)
    # Cut inside the last value: what was read is kept, the OSD id is not guessed.
    assert parse_bluestore_label(raw[: end - 1]) == CephLabel(
        osd_uuid=OSD_UUID, ceph_fsid=CEPH_FSID, whoami=None, ready=True
    )


def test_parse_bluestore_label_non_text_uuid_is_unreadable() -> None:
    raw = bytearray(label_bytes())
    start = len(BLUESTORE_MAGIC)
    raw[start : start + 2] = b"\xff\xfe"
    assert parse_bluestore_label(bytes(raw)) == CephLabel(osd_uuid="unreadable", ceph_fsid=None, whoami=None)
