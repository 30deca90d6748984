"""Leader election for the operator's replicas: only the holder of the Lease runs the controllers.

A candidate polls the Lease every retry period and takes it once it has expired; the leader renews it
every retry period and steps down if it could not renew for ``renew_deadline`` seconds (it may be cut
off from the API server, and another replica may be about to take over). On a clean shutdown the
leader releases the Lease so a standby takes over at once instead of after ``lease_duration``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from storage_operator.config import OperatorConfig
from storage_operator.controllers.runtime import Runtime
from storage_operator.errors import Conflict, KubeAPIError, NotFound, StorageError
from storage_operator.kube.lease import LeaseRecord, LeaseStore, decide

log = logging.getLogger("storage_operator.leader")


class LeaderElector:
    def __init__(self, rt: Runtime, config: OperatorConfig) -> None:
        self.rt = rt
        self.me = config.identity
        self.duration = config.lease_duration
        self.renew_deadline = config.renew_deadline
        self.retry = config.retry_period
        self.store = LeaseStore(rt.api, namespace=config.namespace, name=config.lease_name)
        self._record: LeaseRecord | None = None
        self._seen_version: tuple[Any, ...] | None = None
        self._seen_since = time.monotonic()
        self.is_leader = False

    def _observe(self, record: LeaseRecord | None) -> None:
        version = record.version if record else None
        if version != self._seen_version:
            self._seen_version = version
            self._seen_since = time.monotonic()
        self._record = record

    async def _try(self) -> bool:
        """One attempt to become (or stay) leader."""
        try:
            record = await self.rt.kube(self.store.read)
            self._observe(record)
            action = decide(record, me=self.me, seen_since=self._seen_since, now=time.monotonic())
            if action == "wait":
                return False
            if action == "create":
                record = await self.rt.kube(self.store.create, self.me, self.duration)
            else:
                assert record is not None  # noqa: S101 (decide creates only without a record)
                record = await self.rt.kube(
                    self.store.write, record, holder=self.me, duration=self.duration, taking=action == "take"
                )
                if action == "take":
                    log.info("took over the lease from %s", record.holder if record else "nobody")
        except (Conflict, NotFound):
            return False  # someone else wrote it first; look again next period
        except (KubeAPIError, StorageError, OSError) as exc:
            log.warning("lease %s/%s: %s", self.store.namespace, self.store.name, exc)
            return False
        self._observe(record)
        return True

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this replica leads (True) or ``stop`` is set (False)."""
        announced = False
        while not stop.is_set():
            if await self._try():
                log.info("%s leads (lease %s/%s)", self.me, self.store.namespace, self.store.name)
                self.is_leader = True
                return True
            if not announced and self._record is not None:
                log.info("standing by: %s holds the lease", self._record.holder)
                announced = True
            await _sleep_or_stop(stop, self.retry)
        return False

    async def hold(self, stop: asyncio.Event) -> bool:
        """Renew until ``stop`` (returns True) or until renewal fails past the deadline (returns False)."""
        last_ok = time.monotonic()
        while not stop.is_set():
            await _sleep_or_stop(stop, self.retry)
            if stop.is_set():
                break
            if await self._try():
                last_ok = time.monotonic()
            elif time.monotonic() - last_ok > self.renew_deadline:
                log.error("could not renew the lease for %d s: stepping down", self.renew_deadline)
                self.is_leader = False
                return False
        return True

    async def release(self) -> None:
        """Give the lease up so a standby takes over at once."""
        if not self.is_leader or self._record is None:
            return
        self.is_leader = False
        try:
            await self.rt.kube(self.store.write, self._record, holder=None, duration=1, taking=False)
            log.info("released the lease")
        except StorageError as exc:
            log.warning("could not release the lease (it expires on its own): %s", exc)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
