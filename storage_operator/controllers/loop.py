"""The reconcile loop every object gets: observe, compare, act, fold status; again after an interval,
when its spec changes, or (with backoff) after a failure. Level-based: each pass starts from what the
object and the cluster are now, not from what changed."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from storage_operator.controllers.errors import failure_of, reason_of, retry_after
from storage_operator.controllers.runtime import Runtime
from storage_operator.reconcile.events import Event

log = logging.getLogger("storage_operator")
Body = dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What a pass achieved: ``ok`` resets the backoff; ``recheck`` is when to look again (None: only
    when the object changes)."""

    ok: bool
    recheck: float | None
    error: BaseException | None = None


Reconcile = Callable[[Runtime, Body], Awaitable[Outcome]]


async def run_loop(rt: Runtime, kind: str, body: Mapping[str, Any], stopped: Any, reconcile: Reconcile) -> None:
    """Run until kopf stops the daemon (object deleted, paused, or the operator stepping down).

    ``body`` is kopf's live view of the object (kopf refreshes it on every watch event); ``stopped`` is
    kopf's daemon flag (truthy once set, ``await stopped.wait()``)."""
    uid = str(body["metadata"]["uid"])
    kick = rt.kick(uid)
    rt.kinds[uid] = kind
    failures = 0
    try:
        while not stopped:
            snapshot: Body = _plain(body)
            if snapshot["metadata"].get("deletionTimestamp"):
                return  # the deletion handler takes over
            rt.seen_generation[uid] = int(snapshot["metadata"].get("generation") or 0)
            kick.clear()
            started = time.monotonic()
            try:
                outcome = await reconcile(rt, snapshot)
            except Exception as exc:  # a bug must not end the loop: report it, back off, try again
                log.exception("%s %s: reconcile crashed", kind, _name(snapshot))
                outcome = Outcome(ok=False, recheck=None, error=exc)
                if failures == 0:  # once per run of failures, not on every retry
                    await rt.post(snapshot, Event.warning("InternalError", failure_of(exc)[1]))
            rt.metrics.reconcile_duration.labels(kind).observe(time.monotonic() - started)
            if outcome.ok:
                failures = 0
                rt.metrics.reconciles.labels(kind, "success").inc()
                delay = outcome.recheck
            else:
                failures += 1
                error = outcome.error or RuntimeError("unknown")
                rt.metrics.reconciles.labels(kind, "error").inc()
                rt.metrics.reconcile_errors.labels(kind, reason_of(error)).inc()
                backoff = retry_after(error, failures)
                delay = min(backoff, outcome.recheck) if outcome.recheck is not None else backoff
                log.info("%s %s: %s; retrying in %.0f s", kind, _name(snapshot), error, delay)
            await _wait(stopped, kick, delay)
    finally:
        rt.kicks.pop(uid, None)
        rt.kinds.pop(uid, None)


async def _wait(stopped: Any, kick: asyncio.Event, delay: float | None) -> None:
    """Until the delay passes, the object's spec changes (kick), or the daemon is stopped."""
    kicked = asyncio.ensure_future(kick.wait())
    halted = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait({kicked, halted}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (kicked, halted):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def note_change(rt: Runtime, body: Mapping[str, Any]) -> None:
    """Wake an object's loop when its spec changed (a new generation) or its deletion began."""
    meta = body.get("metadata", {})
    uid = meta.get("uid")
    if not uid:
        return
    generation = int(meta.get("generation") or 0)
    if meta.get("deletionTimestamp") or rt.seen_generation.get(uid, generation) != generation:
        event = rt.kicks.get(uid)
        if event is not None:
            event.set()


def _plain(body: Mapping[str, Any]) -> Body:
    """A deep, plain copy of kopf's live body: it must not change under a reconcile."""
    return copy.deepcopy(dict(body))


def _name(body: Body) -> str:
    meta = body["metadata"]
    return f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))
