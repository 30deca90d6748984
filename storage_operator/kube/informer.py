"""List-and-watch caches of core objects (client-go's informer, in small): a dict of every object by
``namespace/name``, kept current by a watch, and a callback for each change.

A watch that ends is resumed from the last resourceVersion seen (bookmarks keep it fresh); one that is
too old (410 Gone) or fails is replaced by a fresh list, whose differences from the cache are delivered
as changes too, so a consumer never misses a deletion that happened while it was not watching.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from storage_operator.errors import KubeAPIError, StorageError
from storage_operator.kube.light import LightClient

log = logging.getLogger("storage_operator")
Body = dict[str, Any]
# (key, old, new): new None on deletion, old None on creation.
OnChange = Callable[[str, Body | None, Body | None], None]
WATCH_SECONDS = 300
PAGE = 500


def key_of(obj: Body) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else str(meta["name"])


class Informer:
    def __init__(self, client: LightClient, path: str, on_change: OnChange, *, name: str) -> None:
        self.client = client
        self.path = path
        self.on_change = on_change
        self.name = name
        self.cache: dict[str, Body] = {}
        self.synced = asyncio.Event()
        self._version = ""

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                await self._list()
                failures = 0
                await self._watch()
            except asyncio.CancelledError:
                raise
            except StorageError as exc:
                if isinstance(exc, KubeAPIError) and exc.status == 410:
                    continue  # the version we resume from is compacted away: relist at once
                failures += 1
                delay = min(0.5 * 2**failures, 10.0)
                log.warning("watch of %s failed (%s); listing again in %.1f s", self.name, exc, delay)
                await asyncio.sleep(delay)

    async def _list(self) -> None:
        items: dict[str, Body] = {}
        token = ""
        while True:
            sep = "&" if "?" in self.path else "?"
            page = await self.client.get(f"{self.path}{sep}limit={PAGE}" + (f"&continue={token}" if token else ""))
            kind = str(page.get("kind", "")).removesuffix("List")
            for item in page.get("items") or []:
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", page.get("apiVersion"))
                items[key_of(item)] = item
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                self._version = str((page.get("metadata") or {}).get("resourceVersion") or "")
                break
        old = self.cache
        self.cache = items
        for key in old.keys() - items.keys():
            self.on_change(key, old[key], None)
        for key, obj in items.items():
            before = old.get(key)
            if before is None or _version(before) != _version(obj):
                self.on_change(key, before, obj)
        self.synced.set()

    async def _watch(self) -> None:
        while True:
            async for event in self.client.watch(
                self.path, resource_version=self._version, timeout_seconds=WATCH_SECONDS
            ):
                kind = event.get("type")
                obj = event.get("object") or {}
                if kind == "ERROR":
                    raise KubeAPIError(int(obj.get("code") or 0), str(obj.get("reason")), str(obj.get("message")))
                version = _version(obj)
                if version:
                    self._version = version
                if kind == "BOOKMARK":
                    continue
                key = key_of(obj)
                before = self.cache.get(key)
                if kind == "DELETED":
                    self.cache.pop(key, None)
                    self.on_change(key, before, None)
                else:
                    self.cache[key] = obj
                    self.on_change(key, before, obj)


def _version(obj: Body) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")
