"""NFSBackend: look at the export on a timer (reachable, version, capacity, root squash, whether the
operator can make directories there), fold that into the status, and keep the backend while PVs use it."""

from __future__ import annotations

import asyncio
import logging
import math
import posixpath
import time
from datetime import UTC, datetime

from storage_operator.api.v1alpha1.nfsbackend import NFSBackendSpec, NFSBackendStatus
from storage_operator.controllers.errors import failure_of
from storage_operator.controllers.loop import Outcome
from storage_operator.controllers.nfs.model import Backend
from storage_operator.controllers.nfs.provisioner import NFSProvisioner
from storage_operator.controllers.nfs.sweep import sweep
from storage_operator.controllers.runtime import Body, Runtime
from storage_operator.errors import NFSError, NotReady, StorageError
from storage_operator.nfs.aclient import NFSPool
from storage_operator.reconcile.events import Event
from storage_operator.reconcile.nfsbackend import Probe, fold_backend

log = logging.getLogger("storage_operator")
KIND = "NFSBackend"
REFRESH_SECONDS = 30.0
SYNC_TIMEOUT = 30.0
# Made and removed by every check: tells whether uid 0 stays uid 0 on the export.
PROBE_NAME = ".storage-operator-probe"
_DENIED = ("NFS4ERR_ACCESS", "NFS4ERR_PERM", "NFS3ERR_ACCES", "NFS3ERR_PERM")


async def reconcile(rt: Runtime, body: Body) -> Outcome:
    meta = body["metadata"]
    name = str(meta["name"])
    spec = NFSBackendSpec.model_validate(body.get("spec") or {})
    previous = rt.status_of(body, NFSBackendStatus)
    nfs = await _synced(rt)  # the volume count comes from its caches
    probe: Probe | None = None
    error: tuple[str, str] | None = None
    failure: StorageError | None = None
    try:
        probe = await look(nfs.pool, Backend(name, spec, previous))
    except NotReady as exc:
        failure, error = exc, ("Unreachable", str(exc))
    except StorageError as exc:
        failure, error = exc, failure_of(exc)
    volumes = len(nfs.volumes_on(name))
    status, events = fold_backend(
        previous,
        spec,
        probe=probe,
        error=error,
        volumes=volumes,
        now=datetime.now(UTC),
        generation=meta.get("generation"),
    )
    m = rt.metrics
    m.nfs_backend_up.labels(name).set(1 if probe else 0)
    m.nfs_backend_volumes.labels(name).set(volumes)
    if probe is not None:
        m.nfs_backend_free.labels(name).set(probe.available_bytes)
        m.nfs_backend_total.labels(name).set(probe.total_bytes)
    if probe is not None and probe.unusable is None:
        events += await _sweep(rt, nfs, Backend(name, spec, NFSBackendStatus(root_squash=probe.root_squash)))
    await rt.write_status(KIND, body, previous, status, events)
    if failure is not None:
        return Outcome(ok=False, recheck=REFRESH_SECONDS / 3, error=failure)
    return Outcome(ok=True, recheck=REFRESH_SECONDS)


async def _sweep(rt: Runtime, nfs: NFSProvisioner, backend: Backend) -> list[Event]:
    """Now and then, remove orphaned volume directories (see ``sweep``); an Event when there were any."""
    now = time.monotonic()
    if now - nfs.last_sweep.get(backend.name, -math.inf) < rt.config.nfs_sweep_interval:
        return []
    nfs.last_sweep[backend.name] = now
    try:
        removed = await sweep(nfs, await nfs.connect(backend), backend.spec.base_directory.strip("/"))
    except StorageError as exc:
        log.warning("NFSBackend %s: looking for orphaned directories failed: %s", backend.name, exc)
        return []
    if not removed:
        return []
    shown = ", ".join(removed[:5]) + (f" and {len(removed) - 5} more" if len(removed) > 5 else "")
    return [
        Event.normal(
            "OrphansRemoved",
            f"removed {len(removed)} empty volume directories whose claim went away before its PV was made: {shown}",
        )
    ]


async def _synced(rt: Runtime) -> NFSProvisioner:
    nfs = rt.nfs_provisioner()
    try:
        await asyncio.wait_for(nfs.ready.wait(), SYNC_TIMEOUT)
    except TimeoutError:
        raise NotReady("the NFS provisioner has not listed claims and volumes yet (see the operator's log)") from None
    return nfs


async def look(pool: NFSPool, backend: Backend) -> Probe:
    """Capacity, root squash (a directory made as uid 0: who owns it?), and whether the identity the
    provisioner will use can make directories under the base directory."""
    root = await pool.get(backend.target, uid=0, gid=0)
    capacity = await root.capacity()
    base = backend.spec.base_directory.strip("/")
    probe = posixpath.join(base, PROBE_NAME)
    squashed: bool
    try:
        await root.mkdir_new(probe, 0o700)
        squashed = (await root.owner(probe)).uid != 0
        await root.remove_tree(probe)
    except NFSError as exc:
        if exc.code not in _DENIED:
            raise
        squashed = True  # uid 0 denied: it is not uid 0 on the server
    unusable = None
    if squashed:
        identity = Backend(backend.name, backend.spec, NFSBackendStatus(root_squash=True))
        uid, gid = identity.identity
        try:
            worker = await pool.get(backend.target, uid=uid, gid=gid)
            await worker.mkdir_new(f"{probe}-{uid}", 0o700)
            await worker.remove_tree(f"{probe}-{uid}")
        except NFSError as exc:
            unusable = (
                f"the export squashes root and uid {uid} gid {gid} cannot make directories under {base} "
                f"({exc.code}): give that identity write access to {base}, or set spec.directoryUID/GID to its owner"
            )
    return Probe(
        version=root.target.version,
        total_bytes=capacity.total_bytes,
        available_bytes=capacity.available_bytes,
        root_squash=squashed,
        unusable=unusable,
    )


async def delete(rt: Runtime, body: Body) -> None:
    name = str(body["metadata"]["name"])
    nfs = await _synced(rt)  # an empty cache must not pass for "no volumes"
    users = sorted(pv["metadata"]["name"] for pv in nfs.volumes_on(name))
    if users:
        previous = rt.status_of(body, NFSBackendStatus) or NFSBackendStatus()
        shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
        await rt.hold_deletion(KIND, body, previous, [f"{len(users)} PersistentVolumes ({shown})"])
    rt.metrics.forget_nfs_backend(name)
