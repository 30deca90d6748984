"""Orphaned volume directories: made for a claim that was deleted before its PV existed (the operator
crashed in between, so the deletion was never seen). They hold nothing but their ownership record; this
removes them, on the backend's timer, and says so in an Event on the backend.

Nothing with data in it is ever removed here, nor anything another cluster or an adoption may want.
"""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storage_operator.controllers.nfs.listing import walk
from storage_operator.controllers.nfs.records import write_record
from storage_operator.errors import NFSError, NotFound
from storage_operator.nfs.aclient import AsyncNFS
from storage_operator.reconcile.nfspath import under_base
from storage_operator.reconcile.nfsrecord import RECORD_NAME, is_orphan

if TYPE_CHECKING:
    from storage_operator.controllers.nfs.provisioner import NFSProvisioner


async def sweep(p: NFSProvisioner, conn: AsyncNFS, base: str) -> list[str]:
    """Remove the orphaned directories under ``base``; the ones removed."""
    now = datetime.now(UTC)
    claim_uids = {str(c["metadata"].get("uid")) for c in p.claims.cache.values()}
    removed: list[str] = []
    for found in await walk(conn, base, 0):
        record = found.record
        if record is None or not under_base(base, found.directory):
            continue
        if not is_orphan(
            record,
            cluster=p.cluster_id,
            now=now,
            volume_exists=record.volume in p.volumes.cache,
            claim_exists=record.claim_uid in claim_uids,
            empty=found.empty,
        ):
            continue
        await conn.remove(posixpath.join(found.directory, RECORD_NAME))
        try:
            await conn.rmdir(found.directory)  # refused if something appeared meanwhile
        except (NFSError, NotFound):
            await write_record(conn, found.directory, record)  # then it is in use: give its record back
            continue
        removed.append(found.directory)
        await conn.remove_empty_parents(found.directory, base)
    return removed
