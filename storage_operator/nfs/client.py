"""A thin, typed wrapper over nfs-rs with errors mapped onto the project's hierarchy."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import nfs_rs

from storage_operator.errors import NFSError, NotFound, NotReady


@dataclass(frozen=True)
class NFSTarget:
    """Where an export is: ``nfs://server:port/export`` over NFS ``version``."""

    server: str
    export: str
    port: int = 2049
    version: str = "4.1"

    def url(self) -> str:
        return f"nfs://{self.server}/{self.export.strip('/')}"


@dataclass(frozen=True)
class Capacity:
    total_bytes: int
    free_bytes: int
    available_bytes: int


@contextlib.contextmanager
def nfs_errors(operation: str, path: str) -> Iterator[None]:
    try:
        yield
    except nfs_rs.NfsNotFoundError as exc:
        raise NotFound(f"{path!r} does not exist on the export") from exc
    except (
        nfs_rs.NfsConnectionError,
        nfs_rs.NfsTimeoutError,
        nfs_rs.NfsClientClosedError,
        nfs_rs.NfsRpcError,  # the transport broke under a call
        nfs_rs.NfsStateLostError,  # the server restarted and forgot our session: connect again
        nfs_rs.NfsRetryableError,
        nfs_rs.NfsMountError,
    ) as exc:
        raise NotReady(f"NFS server unreachable during {operation} {path!r}: {exc}", delay=2) from exc
    except nfs_rs.NfsError as exc:
        raise NFSError(operation, path, exc.code_name or type(exc).__name__, str(exc)) from exc


class NFSClient:
    """Connects on ``__enter__`` as uid/gid 0 (the export must not squash root to chown)."""

    def __init__(self, target: NFSTarget, *, timeout: float = 10.0) -> None:
        self._target = target
        self._timeout = timeout
        self._client: nfs_rs.Client | None = None

    def __enter__(self) -> Self:
        with nfs_errors("connect", self._target.url()):
            self._client = nfs_rs.Client.connect(
                self._target.url(),
                versions=[self._target.version],
                nfs_port=self._target.port,
                uid=0,
                gid=0,
                connect_timeout=self._timeout,
                operation_timeout=self._timeout,
            )
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def _c(self) -> nfs_rs.Client:
        if self._client is None:
            raise NFSError("use", self._target.url(), "CLOSED", "client is not connected")
        return self._client

    def mkdir(self, path: str, mode: int = 0o755, *, exist_ok: bool = True) -> None:
        with nfs_errors("mkdir", path):
            self._c.mkdir(path, mode, exist_ok=exist_ok)

    def rmdir(self, path: str) -> None:
        with nfs_errors("rmdir", path):
            self._c.rmdir(path)

    def exists(self, path: str) -> bool:
        with nfs_errors("stat", path):
            return self._c.exists(path)

    def capacity(self) -> Capacity:
        with nfs_errors("fs_stat", "/"):
            st = self._c.fs_stat()
        return Capacity(st.total_bytes, st.free_bytes, st.available_bytes)
