"""A volume directory's ownership record on the export: read, written whole, and whether a directory
holds nothing else. (The record itself, its wire form and the decisions on it: ``reconcile.nfsrecord``.)"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from storage_operator.nfs.aclient import AsyncNFS, Entry
from storage_operator.reconcile.nfsrecord import RECORD_MAX_BYTES, RECORD_NAME, VolumeRecord, decode, encode

# What write_replace leaves for a moment beside the record.
_RECORD_FILES = (RECORD_NAME, f".{RECORD_NAME}.tmp")


async def read_record(conn: AsyncNFS, directory: str) -> VolumeRecord:
    """The record in ``directory``: NotFound when there is none, InvalidSpec when the file is not one."""
    return decode(await conn.read(posixpath.join(directory, RECORD_NAME), RECORD_MAX_BYTES))


async def write_record(conn: AsyncNFS, directory: str, record: VolumeRecord) -> None:
    await conn.write_replace(posixpath.join(directory, RECORD_NAME), encode(record))


def only_record(entries: Iterable[Entry]) -> bool:
    """Whether a directory listing holds nothing but (maybe) the ownership record: no data."""
    return all(e.name in _RECORD_FILES for e in entries)
