"""One claim: a directory on the export and a PersistentVolume for it; or, once bound, a resize.

Every step can be repeated: the directory is made exclusively and then recognised by its ownership record,
the PV has the claim's deterministic name. A crash anywhere is finished by the next pass.
"""

from __future__ import annotations

import posixpath
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from storage_operator.controllers.nfs import resize
from storage_operator.controllers.nfs.model import Backend, Waiting
from storage_operator.controllers.nfs.records import only_record, read_record, write_record
from storage_operator.errors import Conflict, InvalidSpec, NFSError, NotFound, NotReady, StorageError
from storage_operator.nfs.aclient import AsyncNFS
from storage_operator.reconcile.nfsclass import PROVISIONER, VolumeSettings, parse_parameters, settings_for
from storage_operator.reconcile.nfspath import ClaimFacts, is_inside, render, with_collision_suffix
from storage_operator.reconcile.nfsrecord import (
    Existing,
    VolumeRecord,
    judge,
    new_record,
)
from storage_operator.reconcile.nfsvolume import (
    Placement,
    build_pv,
    claim_facts,
    pick_backend,
    refusal,
    requested_bytes,
    volume_name,
)
from storage_operator.reconcile.units import human_bytes

if TYPE_CHECKING:
    from storage_operator.controllers.nfs.provisioner import NFSProvisioner

Body = dict[str, Any]
HELD_RECHECK = 60.0
FULL_RECHECK = 30.0


async def handle(p: NFSProvisioner, key: str) -> float | None:
    """Serve the claim ``namespace/name``; the seconds until it should be looked at again, or None."""
    pvc = p.claims.cache.get(key)
    if pvc is None:
        return None
    if p.bound_to_ours(pvc):
        return await resize.handle(p, pvc)
    if not p.wants(pvc):
        return None
    uid = str(pvc["metadata"]["uid"])
    if volume_name(uid) in p.volumes.cache:
        return None  # made already; the PV controller binds it
    started = time.monotonic()
    try:
        backend, settings, size = _plan(p, pvc)
        await p.say(pvc, "Normal", "Provisioning", f'External provisioner is provisioning volume for claim "{key}"')
        conn = await p.connect(backend)
        if settings.capacity_check:
            available = (await p.capacity(backend, conn)).available_bytes
            if size > available:
                raise Waiting(
                    f"the claim requests {human_bytes(size)} but NFSBackend {backend.name} has "
                    f"{human_bytes(available)} available; it stays Pending until there is room (or use a class "
                    'with capacityCheck: "false")',
                    delay=FULL_RECHECK,
                )
        facts = claim_facts(pvc)
        directory, adopted = await _place(p, conn, backend, settings=settings, facts=facts, size=size)
        placement = Placement(backend.name, backend.spec.server, backend.spec.export_path, directory)
        await _create_pv(p, build_pv(pvc, settings, placement, size), uid)
    except (InvalidSpec, NotReady, NFSError) as exc:
        p.metrics.nfs_operations.labels(_backend_label(p, pvc), "provision", "error").inc()
        message = str(exc)
        if isinstance(exc, NFSError) and exc.code in ("NFS4ERR_PERM", "NFS3ERR_PERM", "NFS4ERR_ACCESS"):
            message += (
                "; the operator needs to own or be root on the export (see the NFSBackend's RootSquash condition)"
            )
        await p.say(pvc, "Warning", "ProvisioningFailed", f"failed to provision volume: {message}")
        raise
    p.metrics.nfs_operations.labels(backend.name, "adopt" if adopted else "provision", "success").inc()
    p.metrics.nfs_operation_duration.labels("provision").observe(time.monotonic() - started)
    p.forget_said(pvc, "ProvisioningFailed")
    how = f"adopted the existing directory {directory}" if adopted else f"directory {directory}"
    await p.say(
        pvc,
        "Normal",
        "ProvisioningSucceeded",
        f"Successfully provisioned volume {volume_name(uid)} on NFSBackend {backend.name}: {how}",
    )
    return None


def _plan(p: NFSProvisioner, pvc: Body) -> tuple[Backend, VolumeSettings, int]:
    """Check the claim and its class; pick the backend. InvalidSpec: the user must change something."""
    why = refusal(pvc)
    if why:
        raise InvalidSpec(why)
    class_name = (pvc.get("spec") or {}).get("storageClassName")
    storage_class = p.classes.cache.get(class_name or "")
    if storage_class is None:
        raise NotReady(f"StorageClass {class_name} does not exist", delay=10)
    if storage_class.get("provisioner") != PROVISIONER:
        raise InvalidSpec(f"StorageClass {class_name} is not served by {PROVISIONER}")
    try:
        params = parse_parameters(storage_class.get("parameters") or {})
    except InvalidSpec as exc:
        raise InvalidSpec(f"StorageClass {class_name}: {exc}") from None
    size = requested_bytes(pvc)
    backends = [p.backend(name) for name in params.backends if name in p.backends.cache]
    if not backends:
        raise NotReady(f"NFSBackend {' or '.join(params.backends)} does not exist", delay=10)
    if len(backends) == 1:
        chosen = backends[0]
    else:
        name = pick_backend([(b.name, b.reachable, b.status.free_bytes if b.status else None) for b in backends])
        if name is None:
            raise NotReady(f"none of the NFSBackends {', '.join(params.backends)} is reachable", delay=5)
        chosen = next(b for b in backends if b.name == name)
    if chosen.status is None or chosen.status.root_squash is None:
        # Whether the export squashes root decides as whom directories are made: look first.
        why = chosen.status.message if chosen.status and chosen.status.message else "its first look is under way"
        raise NotReady(f"NFSBackend {chosen.name} has not been checked yet ({why})", delay=2)
    settings = settings_for(params, chosen.name, chosen.spec, storage_class)
    if chosen.root_squash:
        uid, gid = chosen.identity
        wrong = [
            f"{what} {want}"
            for what, want, have in (("uid", settings.uid, uid), ("gid", settings.gid, gid))
            if want is not None and want != have
        ]
        if wrong:
            raise InvalidSpec(
                f"cannot make the directory owned by {' and '.join(wrong)}: NFSBackend {chosen.name}'s export squashes "
                f"root, so the operator works as uid {uid} gid {gid} (spec.directoryUID/GID) and cannot give "
                "directories away; set the class's uid/gid to those, or turn root squashing off for the operator"
            )
    return chosen, settings, size


async def _place(
    p: NFSProvisioner, conn: AsyncNFS, backend: Backend, *, settings: VolumeSettings, facts: ClaimFacts, size: int
) -> tuple[str, bool]:
    """The claim's directory, made or recognised: (directory relative to the export, adopted?)."""
    base = backend.spec.base_directory.strip("/")
    first = render(settings.path_pattern, facts)
    reasons: list[str] = []
    for relative in (first, with_collision_suffix(first, facts.uid)):
        if not is_inside(base, relative):
            raise InvalidSpec(f"the rendered directory {relative!r} would leave the base directory {base!r}")
        directory = posixpath.join(base, relative)
        now = datetime.now(UTC)
        record = new_record(facts, backend=backend.name, cluster=p.cluster_id, size_bytes=size, now=now)
        if await conn.mkdir_new(directory, settings.mode):
            await write_record(conn, directory, record)
            await _set_owner(conn, directory, settings)
            return directory, False
        existing = await _inspect(p, conn, directory)
        verdict = judge(
            existing,
            facts,
            cluster=p.cluster_id,
            adopt=settings.adopt,
            now=now,
            stale_after=timedelta(seconds=p.config.nfs_adopt_after),
        )
        if verdict.verdict == "mine":
            adopted = existing.record is not None and existing.record.adopted_from is not None
            if existing.record is None:
                await write_record(conn, directory, record)
            if not adopted:
                await _set_owner(conn, directory, settings)
            return directory, adopted
        if verdict.verdict == "adopt" and existing.record is not None:  # judge adopts only recorded directories
            previous = existing.record
            taken = new_record(
                facts,
                backend=backend.name,
                cluster=p.cluster_id,
                size_bytes=size,
                now=now,
                adopted_from=f"{previous.cluster}/{previous.claim_uid}",
            )
            await write_record(conn, directory, taken)
            return directory, True
        if verdict.verdict == "held":
            raise Waiting(f"directory {directory} is not free: {verdict.reason}", delay=HELD_RECHECK)
        reasons.append(f"{directory}: {verdict.reason}")
    raise Waiting(f"no free directory for the claim ({'; '.join(reasons)})", delay=HELD_RECHECK)


async def _inspect(p: NFSProvisioner, conn: AsyncNFS, directory: str) -> Existing:
    record: VolumeRecord | None = None
    error: str | None = None
    try:
        record = await read_record(conn, directory)
    except NotFound:
        pass
    except InvalidSpec as exc:
        error = str(exc)
    except NFSError as exc:
        error = exc.code
    empty = only_record(await conn.listdir(directory))
    if record is None:
        return Existing(record=None, empty=empty, record_error=error)
    claim_alive = any(str(c["metadata"].get("uid")) == record.claim_uid for c in p.claims.cache.values())
    return Existing(
        record=record,
        empty=empty,
        record_volume_exists=record.volume in p.volumes.cache,
        record_claim_exists=claim_alive,
        record_error=error,
    )


async def _set_owner(conn: AsyncNFS, directory: str, settings: VolumeSettings) -> None:
    # The server applies no umask over NFS, but set the mode explicitly anyway: setgid bits and a retry
    # after a crash must end in the same state.
    await conn.chmod(directory, settings.mode)
    if settings.uid is not None or settings.gid is not None:
        want_uid = settings.uid if settings.uid is not None else -1
        want_gid = settings.gid if settings.gid is not None else -1
        owner = await conn.owner(directory)
        if (want_uid in (-1, owner.uid)) and (want_gid in (-1, owner.gid)):
            return
        try:
            await conn.chown(directory, want_uid, want_gid)
        except NFSError as exc:
            raise InvalidSpec(
                f"cannot make {directory} owned by uid {settings.uid} gid {settings.gid}: the server refused "
                f"({exc.code}); the export may squash root (see the NFSBackend's RootSquash condition)"
            ) from exc


async def _create_pv(p: NFSProvisioner, body: Body, uid: str) -> None:
    name = body["metadata"]["name"]
    try:
        await p.kube.post("/api/v1/persistentvolumes", body)
    except Conflict:
        existing = await p.kube.get(f"/api/v1/persistentvolumes/{name}")
        ref = (existing.get("spec") or {}).get("claimRef") or {}
        if ref.get("uid") != uid:
            raise StorageError(f"PersistentVolume {name} exists and is not for this claim") from None


def _backend_label(p: NFSProvisioner, pvc: Body) -> str:
    class_name = (pvc.get("spec") or {}).get("storageClassName") or ""
    params = (p.classes.cache.get(class_name) or {}).get("parameters") or {}
    return str(params.get("backend") or params.get("backends") or "unknown")
