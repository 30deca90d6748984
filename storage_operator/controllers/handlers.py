"""The kopf handlers of every kind, registered on a fresh registry per leadership term.

Thin on purpose: each kind gets a daemon running its reconcile loop, a watch hook that wakes the loop
when the spec changes, and a deletion handler (kopf keeps a finalizer while one exists). Objects
annotated ``storage.baremetal.io/paused: "true"`` match none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from storage_operator.api.meta import GROUP, PAUSED_ANNOTATION, VERSION
from storage_operator.api.v1alpha1 import kind_named
from storage_operator.controllers import clusters, filesystems, osd_removal, pools
from storage_operator.controllers.errors import to_kopf
from storage_operator.controllers.loop import Reconcile, note_change, run_loop
from storage_operator.controllers.nfs import backends
from storage_operator.controllers.runtime import Body, Runtime
from storage_operator.errors import StorageError

Delete = Callable[[Runtime, Body], Awaitable[None]]
CONTROLLERS: tuple[tuple[str, Reconcile, Delete], ...] = (
    (clusters.KIND, clusters.reconcile, clusters.delete),
    (pools.KIND, pools.reconcile, pools.delete),
    (filesystems.KIND, filesystems.reconcile, filesystems.delete),
    (backends.KIND, backends.reconcile, backends.delete),
)
# A daemon being stopped (deletion, pause, stepping down) gets this long to finish its pass.
STOP_GRACE = 30.0


def not_paused(annotations: kopf.Annotations, **_: Any) -> bool:
    return str(annotations.get(PAUSED_ANNOTATION, "")).lower() != "true"


def register(registry: kopf.OperatorRegistry, rt: Runtime) -> None:
    for kind, reconcile, delete in CONTROLLERS:
        _register_kind(registry, rt, kind, reconcile, delete)

    # A node's disks changed: managed clusters look again at what their storage selection picks.
    @kopf.on.event(GROUP, VERSION, kind_named("DiskInventory").plural, registry=registry)
    async def inventory_changed(**_: Any) -> None:
        rt.kick_kind(clusters.KIND)

    # A CephOSD's deletion removes its OSD safely; its cluster's loop advances it otherwise (no loop of its own).
    @kopf.on.delete(GROUP, VERSION, kind_named("CephOSD").plural, registry=registry, when=not_paused)
    async def osd_deleted(body: kopf.Body, **_: Any) -> None:
        try:
            await osd_removal.remove(rt, dict(body))
        except StorageError as exc:
            raise to_kopf(exc) from exc

    # An agent reported a CephOSD prepared (or failed): its cluster starts the OSD without waiting.
    @kopf.on.field(GROUP, VERSION, kind_named("CephOSD").plural, field="status.phase", registry=registry)
    async def osd_phase_changed(**_: Any) -> None:
        rt.kick_kind(clusters.KIND)


def _register_kind(
    registry: kopf.OperatorRegistry, rt: Runtime, kind: str, reconcile: Reconcile, delete: Delete
) -> None:
    plural = kind_named(kind).plural

    @kopf.daemon(GROUP, VERSION, plural, registry=registry, when=not_paused, cancellation_timeout=STOP_GRACE)
    async def loop(body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
        await run_loop(rt, kind, body, stopped, reconcile)

    # async: kopf runs sync handlers on threads, and the loop's wake-up event belongs to the event loop.
    @kopf.on.event(GROUP, VERSION, plural, registry=registry)
    async def changed(body: kopf.Body, **_: Any) -> None:
        note_change(rt, body)

    @kopf.on.delete(GROUP, VERSION, plural, registry=registry, when=not_paused)
    async def deleted(body: kopf.Body, **_: Any) -> None:
        plain = dict(body)
        try:
            await delete(rt, plain)
        except StorageError as exc:
            raise to_kopf(exc) from exc
        finally:
            rt.forget(str(plain["metadata"]["uid"]))
