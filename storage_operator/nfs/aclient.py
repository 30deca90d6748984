"""The asyncio NFS client the provisioner works through: one connection per export and identity, reused by
every concurrent operation, rebuilt after the server went away.

Every path is relative to the export (nfs-rs refuses absolute paths, ``..`` and NUL before anything is sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import nfs_rs

from storage_operator.errors import NFSError, NotFound, NotReady
from storage_operator.nfs.client import Capacity, NFSTarget, nfs_errors

log = logging.getLogger("storage_operator")
# A server whose connection failed is not dialled again sooner than this (no storm of reconnects).
RECONNECT_PAUSE = 1.0


@dataclass(frozen=True)
class Entry:
    name: str
    path: str
    is_dir: bool
    size: int


@dataclass(frozen=True)
class Owner:
    mode: int
    uid: int
    gid: int
    is_dir: bool


class AsyncNFS:
    """One connected client; every method maps nfs-rs errors onto the project's hierarchy."""

    def __init__(self, target: NFSTarget, client: nfs_rs.AsyncClient) -> None:
        self.target = target
        self._c = client
        self.broken = False

    @classmethod
    async def connect(cls, target: NFSTarget, *, uid: int, gid: int, timeout: float) -> AsyncNFS:
        with nfs_errors("connect", target.url()):
            client = await nfs_rs.AsyncClient.connect(
                target.url(),
                versions=[target.version],
                nfs_port=target.port,
                uid=uid,
                gid=gid,
                noresvport=True,  # the operator has no privilege to bind ports below 1024
                connect_timeout=timeout,
                operation_timeout=timeout,
            )
        return cls(target, client)

    async def close(self) -> None:
        with contextlib.suppress(nfs_rs.NfsError):
            await self._c.close()

    @contextlib.contextmanager
    def _op(self, operation: str, path: str) -> Iterator[None]:
        """Map errors; a connection that failed this way is replaced on its next use (see NFSPool)."""
        try:
            with nfs_errors(operation, path):
                yield
        except NotReady:
            self.broken = True
            raise

    async def mkdir_new(self, path: str, mode: int) -> bool:
        """Create ``path`` (its parents too); False when it already existed."""
        parent = posixpath.dirname(path)
        if parent:
            with self._op("mkdir", parent):
                await self._c.mkdir(parent, 0o755, parents=True, exist_ok=True)
        try:
            with self._op("mkdir", path):
                await self._c.mkdir(path, mode, exist_ok=False)
        except NFSError as exc:
            if exc.code.endswith("EXIST"):
                return False
            raise
        except FileExistsError:
            return False
        return True

    async def owner(self, path: str) -> Owner:
        with self._op("stat", path):
            st = await self._c.stat(path)
        return Owner(mode=st.mode & 0o7777, uid=st.uid, gid=st.gid, is_dir=st.type is nfs_rs.FileType.DIRECTORY)

    async def chmod(self, path: str, mode: int) -> None:
        with self._op("chmod", path):
            await self._c.chmod(path, mode)

    async def chown(self, path: str, uid: int, gid: int) -> None:
        with self._op("chown", path):
            await self._c.chown(path, uid, gid)

    async def exists(self, path: str) -> bool:
        with self._op("stat", path):
            return await self._c.exists(path)

    async def read(self, path: str, limit: int) -> bytes:
        with self._op("read", path):
            async with await self._c.open(path, "rb") as f:
                return await f.read(limit + 1)

    async def write_replace(self, path: str, data: bytes, *, mode: int = 0o644) -> None:
        """Write a small file whole: to a temporary name, then renamed over ``path`` (never half-written)."""
        temporary = posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}.tmp")
        with self._op("write", temporary):
            async with await self._c.open(temporary, "wb") as f:
                await f.write(data)
        with self._op("chmod", temporary):
            await self._c.chmod(temporary, mode)  # nfs-rs creates files 0666
        with self._op("rename", path):
            await self._c.rename(temporary, path)

    async def remove(self, path: str) -> None:
        with self._op("remove", path):
            await self._c.remove(path, missing_ok=True)

    async def rmdir(self, path: str) -> None:
        """Remove an empty directory (NFSError ...NOTEMPTY when it is not)."""
        with self._op("rmdir", path):
            await self._c.rmdir(path)

    async def remove_empty_parents(self, directory: str, base: str) -> None:
        """Remove the parents of ``directory`` up to (not including) ``base`` while they are empty.

        rmdir refuses a directory with anything in it, so a parent something else lives in stays; a claim
        racing to make a directory in a parent removed here fails once and succeeds on its retry.
        """
        parent = posixpath.dirname(directory)
        while parent != base and parent.startswith(base + "/"):
            try:
                await self.rmdir(parent)
            except (NFSError, NotFound):
                return
            parent = posixpath.dirname(parent)

    async def rename(self, source: str, destination: str) -> None:
        with self._op("rename", source):
            await self._c.rename(source, destination)

    async def listdir(self, path: str) -> list[Entry]:
        out: list[Entry] = []
        async for entry in self.scan(path):
            out.append(entry)
        return out

    async def scan(self, path: str) -> AsyncIterator[Entry]:
        with self._op("readdir", path):
            async for e in self._c.scandir(path):
                if e.name in (".", ".."):
                    continue
                yield Entry(e.name, e.path, e.info.type is nfs_rs.FileType.DIRECTORY, int(e.info.size))

    async def remove_tree(self, path: str, *, parallel: int = 16) -> int:
        """Delete ``path`` and everything in it (NFS has no recursive delete); the number of entries removed.

        A directory that vanished meanwhile counts as removed: a retry after a crash finishes the job.
        """
        try:
            entries = await self.listdir(path)
        except NotFound:
            return 0
        gate = asyncio.Semaphore(parallel)
        removed = 0

        async def one(entry: Entry) -> int:
            if entry.is_dir:
                return await self.remove_tree(entry.path, parallel=parallel)
            async with gate:
                with self._op("remove", entry.path):
                    await self._c.remove(entry.path, missing_ok=True)
            return 1

        for count in await asyncio.gather(*(one(e) for e in entries)):
            removed += count
        try:
            with self._op("rmdir", path):
                await self._c.rmdir(path)
        except NotFound:
            pass
        return removed + 1

    async def usage(self, path: str, budget: int) -> tuple[int, int, bool]:
        """Bytes of regular files under ``path``, entries looked at, and whether the walk finished within
        ``budget`` entries (a huge volume costs at most that many entries per measurement)."""
        total, seen = 0, 0
        stack = [path]
        while stack:
            current = stack.pop()
            async for entry in self.scan(current):
                seen += 1
                if entry.is_dir:
                    stack.append(entry.path)
                else:
                    total += entry.size
                if seen >= budget:
                    return total, seen, False
        return total, seen, True

    async def capacity(self) -> Capacity:
        with self._op("fs_stat", "/"):
            st = await self._c.fs_stat()
        return Capacity(st.total_bytes, st.free_bytes, st.available_bytes)


class NFSPool:
    """Connections by (export, identity), made on first use and replaced when broken."""

    def __init__(self, *, timeout: float = 10.0) -> None:
        self._timeout = timeout
        self._clients: dict[tuple[NFSTarget, int, int], AsyncNFS] = {}
        self._locks: dict[tuple[NFSTarget, int, int], asyncio.Lock] = {}
        self._failed_at: dict[tuple[NFSTarget, int, int], tuple[float, NotReady]] = {}

    async def get(self, target: NFSTarget, *, uid: int = 0, gid: int = 0) -> AsyncNFS:
        key = (target, uid, gid)
        found = self._clients.get(key)
        if found is not None and not found.broken:
            return found
        async with self._locks.setdefault(key, asyncio.Lock()):
            found = self._clients.get(key)
            if found is not None and not found.broken:
                return found
            if found is not None:
                self._clients.pop(key, None)
                await found.close()
            now = asyncio.get_running_loop().time()
            failed = self._failed_at.get(key)
            if failed is not None and now - failed[0] < RECONNECT_PAUSE:
                raise failed[1]
            try:
                client = await AsyncNFS.connect(target, uid=uid, gid=gid, timeout=self._timeout)
            except NotReady as exc:
                self._failed_at[key] = (now, exc)
                raise
            self._failed_at.pop(key, None)
            self._clients[key] = client
            return client

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for c in clients:
            await c.close()
