"""Async access to one Ceph cluster: blocking librados calls on a bounded thread pool of its own.

Why a pool per cluster: a monitor that hangs ties up threads; with one shared pool it would stall every
other cluster's reconciles too. Why a bound: a hung call keeps its thread until librados gives up, and
new calls must fail fast ("Busy") rather than queue behind it without end. Every call is also bounded by
an asyncio timeout, so a reconcile never waits longer than that, whatever the thread does.

The connection is opened lazily and rebuilt after an error that means it is no longer trusted (a timeout,
a closed connection); librados itself follows a monitor that restarts or moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from storage_operator.ceph.client import CephClient
from storage_operator.ceph.command import Command
from storage_operator.ceph.connection import CONNECTION_ERRNOS, ConnectionSpec
from storage_operator.errors import CephCommandError, CephUnavailable

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_WORKERS = 8
# After the cluster failed to answer (no connection, a timeout), calls fail at once with the same reason
# for this long instead of each waiting out its own timeout: threads do not pile up behind a dead monitor.
FAIL_FAST = 5.0


@dataclass
class _Handle:
    """One librados connection and the calls using it; shut down by the last user once retired."""

    client: CephClient
    users: int = 0
    retired: bool = False


class ClusterSession:
    def __init__(self, key: str, spec: ConnectionSpec, *, workers: int = DEFAULT_WORKERS) -> None:
        self.key = key
        self.spec = spec
        self.workers = workers
        self.call_timeout = float(spec.op_timeout + 5)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"ceph-{key}")
        self._slots = asyncio.Semaphore(workers)
        self._lock = threading.Lock()
        self._connect_lock = threading.Lock()
        self._handle: _Handle | None = None
        self._closed = False
        # Serializes the few multi-step admin sequences (e.g. enabling pool deletion around one `osd pool rm`).
        self.admin_lock = asyncio.Lock()
        self._failure: tuple[float, CephUnavailable] | None = None

    # ------------------------------------------------------------------ public API
    async def call(self, command: Command, *, timeout: float | None = None) -> Any:
        return await self.run(lambda c: c.run(command), what=command.describe(), timeout=timeout)

    async def call_all(self, commands: Sequence[Command]) -> list[Any]:
        """Run commands concurrently (the mons commit them in one proposal when they can)."""
        return list(await asyncio.gather(*(self.call(c) for c in commands)))

    async def run_stages(self, stages: Iterable[Sequence[Command]]) -> list[str]:
        """Each stage's commands concurrently, stages in order; returns what was done, for Events and logs."""
        done: list[str] = []
        for stage in stages:
            if stage:
                await self.call_all(stage)
                done += [c.describe() for c in stage]
        return done

    async def run(self, fn: Callable[[CephClient], T], *, what: str, timeout: float | None = None) -> T:
        if self._closed:
            raise CephUnavailable("Closed", f"the session to {self.spec.describe()} was closed")
        self._fail_fast()
        loop = asyncio.get_running_loop()
        limit = timeout if timeout is not None else self.call_timeout
        # Waiting for a worker is bounded too: a pool full of calls that do not return means the cluster
        # does not answer. A busy but healthy cluster drains its queue well within the limit.
        try:
            await asyncio.wait_for(self._slots.acquire(), limit)
        except TimeoutError:
            raise self._failed(
                CephUnavailable(
                    "Unreachable",
                    f"{what}: all {self.workers} connections to {self.spec.describe()} are still waiting for "
                    f"answers after {limit:.0f} s; the cluster is not responding",
                )
            ) from None
        future = loop.run_in_executor(self._executor, self._in_thread, fn, what)
        future.add_done_callback(lambda _f: self._slots.release())  # the slot frees when the thread does
        try:
            result = await asyncio.wait_for(asyncio.shield(future), limit)
        except TimeoutError:
            self._retire()
            # Nobody will await it now: keep its eventual exception from being reported as never retrieved.
            future.add_done_callback(_consume)
            raise self._failed(
                CephUnavailable("Unreachable", f"{what}: no answer from {self.spec.describe()} within {limit:.0f} s")
            ) from None
        except CephUnavailable as exc:
            raise self._failed(exc) from exc.__cause__
        self._failure = None
        return result

    def _failed(self, exc: CephUnavailable) -> CephUnavailable:
        self._failure = (time.monotonic(), exc)
        return exc

    def _fail_fast(self) -> None:
        with self._lock:
            failure = self._failure
        if failure is not None and time.monotonic() - failure[0] < FAIL_FAST:
            raise CephUnavailable(failure[1].reason, str(failure[1]))

    async def close(self) -> None:
        self._closed = True
        self._retire()
        # Threads still blocked in librados finish on their own; do not wait for them here.
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ worker threads
    def _in_thread(self, fn: Callable[[CephClient], T], what: str) -> T:
        handle = self._acquire_handle()
        try:
            return fn(handle.client)
        except CephCommandError as exc:
            if exc.errno not in CONNECTION_ERRNOS:
                raise
            # librados gave up waiting for the cluster (a monitor, or the mgr for mgr commands): the cluster,
            # not the command, is the problem.
            self._retire(handle)
            raise CephUnavailable(
                "Unreachable",
                f"{what}: {self.spec.describe()} did not answer in time ({exc.detail}): a monitor or the mgr is "
                "down or busy",
            ) from exc
        finally:
            self._release_handle(handle)

    def _acquire_handle(self) -> _Handle:
        with self._connect_lock:
            with self._lock:
                if self._handle is not None and not self._handle.retired:
                    self._handle.users += 1
                    return self._handle
            # Waited behind a connect that just failed: fail the same way instead of trying again at once.
            self._fail_fast()
            client = CephClient.for_spec(self.spec)
            started = time.monotonic()
            try:
                client.connect()  # raises CephUnavailable with the reason
            except CephUnavailable as exc:
                with self._lock:
                    self._failure = (time.monotonic(), exc)
                raise
            log.info("connected to %s in %.2f s", self.spec.describe(), time.monotonic() - started)
            handle = _Handle(client, users=1)
            with self._lock:
                self._handle = handle
            return handle

    def _release_handle(self, handle: _Handle) -> None:
        with self._lock:
            handle.users -= 1
            shut = handle.retired and handle.users == 0
        if shut:
            handle.client.shutdown()

    def _retire(self, handle: _Handle | None = None) -> None:
        """Stop handing out this connection; it is shut down once its last call returns."""
        with self._lock:
            target = handle or self._handle
            if target is None or target.retired:
                return
            target.retired = True
            if self._handle is target:
                self._handle = None
            shut = target.users == 0
        if shut:
            target.client.shutdown()


def _consume(future: asyncio.Future[Any]) -> None:
    with contextlib.suppress(BaseException):
        future.exception()


class SessionRegistry:
    """One session per cluster key; a changed connection spec (monitors, key) replaces the session."""

    def __init__(self, *, workers: int = DEFAULT_WORKERS) -> None:
        self._sessions: dict[str, ClusterSession] = {}
        self._workers = workers
        self._closing: set[asyncio.Task[None]] = set()

    def get(self, key: str, spec: ConnectionSpec) -> ClusterSession:
        current = self._sessions.get(key)
        if current is not None and current.spec.fingerprint == spec.fingerprint:
            return current
        if current is not None:
            # The monitors or the key changed: the old connection goes (close() does not block).
            self._closing.add(task := asyncio.get_running_loop().create_task(current.close()))
            task.add_done_callback(self._closing.discard)
        session = ClusterSession(key, spec, workers=self._workers)
        self._sessions[key] = session
        return session

    async def drop(self, key: str) -> None:
        session = self._sessions.pop(key, None)
        if session is not None:
            await session.close()

    async def close_all(self) -> None:
        for key in list(self._sessions):
            await self.drop(key)
