"""A connection to a Ceph cluster through librados (python3-rados)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import rados

from storage_operator.ceph.command import build_command, parse_reply
from storage_operator.errors import CephCommandError, NotReady

DEFAULT_TIMEOUT = 30


class CephClient:
    """Connects on ``__enter__``; ``mon_command``/``mgr_command`` return parsed JSON."""

    def __init__(
        self, *, conffile: Path, keyring: Path, name: str = "client.admin", timeout: int = DEFAULT_TIMEOUT
    ) -> None:
        self._timeout = timeout
        self._rados = rados.Rados(
            conffile=str(conffile),
            name=name,
            conf={
                "keyring": str(keyring),
                "rados_osd_op_timeout": str(timeout),
                "rados_mon_op_timeout": str(timeout),
            },
        )

    def __enter__(self) -> Self:
        try:
            self._rados.connect(timeout=self._timeout)
        except rados.Error as exc:
            raise NotReady(f"cannot connect to the Ceph monitors: {exc}") from exc
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        self._rados.shutdown()

    @property
    def fsid(self) -> str:
        return self._rados.get_fsid()

    def mon_command(self, prefix: str, *, inbuf: bytes = b"", **args: object) -> Any:
        ret, out, status = self._run(self._rados.mon_command, prefix, inbuf, args)
        return parse_reply(prefix, ret, out, status)

    def mgr_command(self, prefix: str, *, inbuf: bytes = b"", **args: object) -> Any:
        ret, out, status = self._run(self._rados.mgr_command, prefix, inbuf, args)
        return parse_reply(prefix, ret, out, status)

    def _run(self, fn: Any, prefix: str, inbuf: bytes, args: dict[str, object]) -> tuple[int, bytes, str]:
        try:
            ret, out, status = fn(build_command(prefix, **args), inbuf, timeout=self._timeout)
        except rados.Error as exc:
            raise CephCommandError(prefix, exc.errno or 0, str(exc)) from exc
        return int(ret), bytes(out), str(status)

    @contextlib.contextmanager
    def ioctx(self, pool: str) -> Iterator[rados.Ioctx]:
        try:
            ctx = self._rados.open_ioctx(pool)
        except rados.ObjectNotFound as exc:
            raise CephCommandError("open_ioctx", 2, f"pool {pool!r} does not exist") from exc
        try:
            yield ctx
        finally:
            ctx.close()
