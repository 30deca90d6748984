"""``storage-operator nfs volumes --backend NAME``: what is on an export and who owns it.

Reads the ownership record of every volume directory under the backend's base directory and sets it
beside this cluster's PersistentVolumes: the view an operator needs before replacing a cluster, or
when a directory's claim is Pending because someone else holds it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from storage_operator.api.meta import GROUP, VERSION
from storage_operator.controllers.nfs.model import Backend
from storage_operator.controllers.nfs.records import only_record, read_record
from storage_operator.errors import InvalidSpec, NotFound
from storage_operator.kube.light import LightClient
from storage_operator.nfs.aclient import AsyncNFS, NFSPool
from storage_operator.reconcile.nfsrecord import RECORD_NAME, VolumeRecord
from storage_operator.reconcile.nfsvolume import DIRECTORY_ANNOTATION, is_ours
from storage_operator.reconcile.units import human_bytes

MAX_DEPTH = 6  # pathPatterns nest a few levels at most


@dataclass(frozen=True)
class Found:
    directory: str
    record: VolumeRecord | None
    problem: str | None = None
    empty: bool = False  # nothing in it but its record


@dataclass(frozen=True)
class Row:
    directory: str
    state: str
    namespace: str
    claim: str
    size: str
    cluster: str
    volume: str


async def list_volumes(kubeconfig: Path | None, backend_name: str) -> list[Row]:
    kube = LightClient.from_config(kubeconfig)
    pool = NFSPool(timeout=10)
    try:
        try:
            body = await kube.get(f"/apis/{GROUP}/{VERSION}/nfsbackends/{backend_name}")
        except NotFound:
            raise InvalidSpec(f"NFSBackend {backend_name} does not exist") from None
        backend = Backend.from_body(backend_name, body)
        pvs = (await kube.get("/api/v1/persistentvolumes")).get("items") or []
        here = {
            (pv["metadata"].get("annotations") or {}).get(DIRECTORY_ANNOTATION): (
                pv["metadata"]["name"],
                str((pv.get("status") or {}).get("phase", "")),
            )
            for pv in pvs
            if is_ours(pv)
        }
        cluster = str((await kube.get("/api/v1/namespaces/kube-system"))["metadata"]["uid"])
        uid, gid = backend.identity
        conn = await pool.get(backend.target, uid=uid, gid=gid)
        found = await walk(conn, backend.spec.base_directory.strip("/"), 0)
        return [_row(f, here.get(f.directory), cluster) for f in sorted(found, key=lambda f: f.directory)]
    finally:
        await pool.close()
        await kube.close()


async def walk(conn: AsyncNFS, directory: str, depth: int) -> list[Found]:
    """Every volume directory under ``directory``: those with an ownership record, and leaves without one."""
    entries = await conn.listdir(directory)
    names = {e.name for e in entries}
    if depth > 0 and RECORD_NAME in names:
        try:
            return [Found(directory, await read_record(conn, directory), empty=only_record(entries))]
        except InvalidSpec as exc:
            return [Found(directory, None, str(exc))]
    subdirs = [e for e in entries if e.is_dir and not e.name.startswith(".storage-operator")]
    if depth > 0 and (not subdirs or depth >= MAX_DEPTH):
        return [Found(directory, None, "no ownership record")]
    out: list[Found] = []
    for entry in subdirs:
        out += await walk(conn, entry.path, depth + 1)
    return out


def _row(found: Found, here: tuple[str, str] | None, cluster: str) -> Row:
    r = found.record
    pv = here[0] if here else None
    if r is None:
        return Row(found.directory, found.problem or "unknown", "", "", "", "", pv or "")
    if here is not None:
        state = "in use here" if here[1] == "Bound" else f"PV {here[1] or 'pending'} here"
    elif r.released is not None:
        state = "archived" if posixpath.basename(found.directory).startswith("archived-") else "released"
    elif r.cluster == cluster:
        state = "orphaned (no PV here)"
    else:
        state = "held by another cluster"
    return Row(
        found.directory,
        state,
        r.namespace,
        r.claim,
        human_bytes(r.size_bytes),
        "this" if r.cluster == cluster else r.cluster,
        pv or r.volume,
    )


def format_rows(rows: list[Row]) -> str:
    header = Row("DIRECTORY", "STATE", "NAMESPACE", "CLAIM", "SIZE", "CLUSTER", "VOLUME")
    table = [header, *rows]
    widths = [max(len(getattr(row, f)) for row in table) for f in Row.__dataclass_fields__]
    lines = [
        "  ".join(getattr(row, f).ljust(w) for f, w in zip(Row.__dataclass_fields__, widths, strict=True))
        for row in table
    ]
    return "\n".join(line.rstrip() for line in lines)
