"""A blocking connection to a Ceph cluster through librados (python3-rados); RBD images are in images.py.

Every call here blocks its thread; the operator never calls them on its event loop but through
``storage_operator.ceph.session``, which runs them on a bounded thread pool per cluster.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import rados

from storage_operator.ceph.command import Command, build_command, parse_reply
from storage_operator.ceph.connection import (
    ConnectionSpec,
    build_rados_conf,
    classify_connect_error,
    validate,
)
from storage_operator.errors import CephCommandError, CephUnavailable, NotReady

DEFAULT_TIMEOUT = 30


class CephClient:
    """Connects on ``__enter__`` (or ``connect()``); ``run``/``mon_command``/``mgr_command`` return parsed JSON."""

    def __init__(
        self, *, conffile: Path, keyring: Path, name: str = "client.admin", timeout: int = DEFAULT_TIMEOUT
    ) -> None:
        """A client of the lab's own cluster, configured from its ceph.conf and keyring files."""
        self._timeout = timeout
        self._spec: ConnectionSpec | None = None
        self._rados = rados.Rados(
            conffile=str(conffile),
            name=name,
            conf={
                "keyring": str(keyring),
                "rados_osd_op_timeout": str(timeout),
                "rados_mon_op_timeout": str(timeout),
            },
        )

    @classmethod
    def for_spec(cls, spec: ConnectionSpec) -> CephClient:
        """A client configured in memory only: monitors and key from ``spec``, no file read or written."""
        validate(spec)
        self = cls.__new__(cls)
        self._timeout = spec.connect_timeout
        self._spec = spec
        self._rados = rados.Rados(name=spec.entity, conf=build_rados_conf(spec))
        return self

    def connect(self) -> None:
        try:
            self._rados.connect(timeout=self._timeout)
        except rados.Error as exc:
            with contextlib.suppress(rados.Error):
                self._rados.shutdown()
            if self._spec is not None:
                raise classify_connect_error(self._spec, exc.errno or 0, str(exc)) from exc
            raise NotReady(f"cannot connect to the Ceph monitors: {exc}") from exc
        if self._spec is not None and self._spec.expected_fsid:
            fsid = self.fsid
            if fsid != self._spec.expected_fsid:
                self.shutdown()
                raise CephUnavailable(
                    "FsidMismatch",
                    f"the monitors at {', '.join(self._spec.mon_hosts)} belong to cluster {fsid}, "
                    f"not to the expected {self._spec.expected_fsid}",
                )

    def shutdown(self) -> None:
        with contextlib.suppress(rados.Error):
            self._rados.shutdown()

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        self.shutdown()

    @property
    def fsid(self) -> str:
        return self._rados.get_fsid()

    def pool_name(self, pool_id: int) -> str:
        try:
            return str(self._rados.pool_reverse_lookup(pool_id))
        except rados.Error as exc:
            raise CephCommandError("pool_reverse_lookup", exc.errno or 0, str(exc)) from exc

    def run(self, command: Command) -> Any:
        send = self._rados.mgr_command if command.target == "mgr" else self._rados.mon_command
        ret, out, status = self._call(send, command.prefix, command.to_json(), command.inbuf)
        return parse_reply(command.prefix, ret, out, status, ok_errnos=command.ok_errnos, text=command.text)

    def mon_command(self, prefix: str, *, inbuf: bytes = b"", **args: object) -> Any:
        ret, out, status = self._call(self._rados.mon_command, prefix, build_command(prefix, **args), inbuf)
        return parse_reply(prefix, ret, out, status)

    def mgr_command(self, prefix: str, *, inbuf: bytes = b"", **args: object) -> Any:
        ret, out, status = self._call(self._rados.mgr_command, prefix, build_command(prefix, **args), inbuf)
        return parse_reply(prefix, ret, out, status)

    def _call(self, fn: Any, prefix: str, body: str, inbuf: bytes) -> tuple[int, bytes, str]:
        # librados ignores the binding's per-call timeout argument; rados_mon_op_timeout bounds mon
        # commands, and the session bounds everything from the outside.
        try:
            ret, out, status = fn(body, inbuf, timeout=self._timeout)
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
