"""How full each volume is, measured in the background: a walk of its directory over NFS, bounded by
``nfs_usage_budget`` entries per volume and a few volumes at a time, every ``nfs_usage_interval``.

NFS has no per-directory quota, so a claim's request is a promise nobody enforces; this makes its
breach visible (a metric, and a Warning Event on the claim when a volume outgrows its request). The same
pass renews each bound volume's ownership record, which tells other clusters its owner is alive.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from storage_operator.controllers.nfs.records import read_record, write_record
from storage_operator.errors import InvalidSpec, NotFound, StorageError
from storage_operator.nfs.aclient import AsyncNFS
from storage_operator.reconcile.nfspath import under_base
from storage_operator.reconcile.nfsrecord import needs_heartbeat
from storage_operator.reconcile.nfsvolume import pv_directory
from storage_operator.reconcile.units import human_bytes, parse_quantity

if TYPE_CHECKING:
    from storage_operator.controllers.nfs.provisioner import NFSProvisioner

log = logging.getLogger("storage_operator")
Body = dict[str, Any]
PARALLEL = 4
# The first pass waits this long after start: a burst of new claims comes first.
FIRST_PASS_DELAY = 30.0


async def run(p: NFSProvisioner) -> None:
    await asyncio.sleep(min(FIRST_PASS_DELAY, p.config.nfs_usage_interval))
    while True:
        await measure_all(p)
        await asyncio.sleep(p.config.nfs_usage_interval)


async def measure_all(p: NFSProvisioner) -> None:
    gate = asyncio.Semaphore(PARALLEL)
    bound = [pv for pv in list(p.volumes.cache.values()) if (pv.get("status") or {}).get("phase") == "Bound"]

    async def one(pv: Body) -> None:
        async with gate:
            try:
                await measure(p, pv)
            except StorageError as exc:
                log.info("usage of %s not measured: %s", pv["metadata"]["name"], exc)

    await asyncio.gather(*(one(pv) for pv in bound if _ours(pv)))


async def measure(p: NFSProvisioner, pv: Body) -> None:
    backend_name, directory, _ = pv_directory(pv)
    backend = p.backend(backend_name)
    if not under_base(backend.spec.base_directory, directory):
        return  # an edited annotation: nothing outside the base directory is walked
    conn = await p.connect(backend)
    used, _seen, complete = await conn.usage(directory, p.config.nfs_usage_budget)
    ref = pv["spec"].get("claimRef") or {}
    name = pv["metadata"]["name"]
    labels = (backend_name, str(ref.get("namespace", "")), str(ref.get("name", "")), name)
    requested = parse_quantity(pv["spec"]["capacity"]["storage"])
    p.metrics.nfs_volume_used.labels(*labels).set(used)
    p.metrics.nfs_volume_requested.labels(*labels).set(requested)
    await _heartbeat(conn, directory, name)
    claim = p.claims.cache.get(f"{ref.get('namespace')}/{ref.get('name')}")
    if claim is None or str(claim["metadata"].get("uid")) != ref.get("uid"):
        return
    if used > requested:
        more = "" if complete else " (at least: the walk stopped at its budget)"
        await p.say(
            claim,
            "Warning",
            "VolumeOverRequest",
            f"volume {name} holds {human_bytes(used)}{more}, more than the {human_bytes(requested)} the claim "
            "requested; NFS does not enforce the request: resize the claim or free space",
        )
    else:
        p.forget_said(claim, "VolumeOverRequest")


async def _heartbeat(conn: AsyncNFS, directory: str, volume: str) -> None:
    try:
        record = await read_record(conn, directory)
    except (NotFound, InvalidSpec):
        return
    now = datetime.now(UTC)
    if record.volume == volume and needs_heartbeat(record, now):
        await write_record(conn, directory, record.model_copy(update={"seen": now}))


def forget(p: NFSProvisioner, pv: Body) -> None:
    try:
        backend, _, _ = pv_directory(pv)
    except InvalidSpec:
        return
    ref = pv.get("spec", {}).get("claimRef") or {}
    p.metrics.forget_nfs_volume(
        backend, str(ref.get("namespace", "")), str(ref.get("name", "")), pv["metadata"]["name"]
    )


def _ours(pv: Body) -> bool:
    try:
        pv_directory(pv)
    except InvalidSpec:
        return False
    return True
