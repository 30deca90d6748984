"""Key/value maps stored in RADOS objects (omap), in a pool's namespace: blocking I/O on a client's connection.

The CSI driver keeps its journal here (which request name became which volume), so the mapping lives in
the same cluster as the volumes and survives any restart of the driver.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import rados

from storage_operator.ceph.client import CephClient
from storage_operator.errors import CephCommandError

# One read returns at most this many pairs; listing pages through larger maps.
PAGE = 1000


def omap_get(client: CephClient, pool: str, namespace: str, obj: str, keys: Iterable[str]) -> dict[str, bytes]:
    """The values of ``keys`` that exist (a missing object holds no keys)."""
    wanted = tuple(keys)
    if not wanted:
        return {}
    with client.ioctx(pool) as ctx:
        ctx.set_namespace(namespace)
        try:
            with rados.ReadOpCtx() as op:
                pairs, _ret = ctx.get_omap_vals_by_keys(op, wanted)
                ctx.operate_read_op(op, obj)
                return {str(k): bytes(v) for k, v in pairs}
        except rados.ObjectNotFound:
            return {}
        except rados.Error as exc:
            raise CephCommandError(f"omap get {obj}", exc.errno or 0, str(exc)) from exc


def omap_list(client: CephClient, pool: str, namespace: str, obj: str, prefix: str = "") -> dict[str, bytes]:
    """Every pair whose key starts with ``prefix``, in key order."""
    found: dict[str, bytes] = {}
    after = ""
    with client.ioctx(pool) as ctx:
        ctx.set_namespace(namespace)
        while True:
            try:
                with rados.ReadOpCtx() as op:
                    pairs, _ret = ctx.get_omap_vals(op, after, prefix, PAGE)
                    ctx.operate_read_op(op, obj)
                    page = [(str(k), bytes(v)) for k, v in pairs]
            except rados.ObjectNotFound:
                return found
            except rados.Error as exc:
                raise CephCommandError(f"omap list {obj}", exc.errno or 0, str(exc)) from exc
            found.update(page)
            if len(page) < PAGE:
                return found
            after = page[-1][0]


def omap_update(
    client: CephClient,
    pool: str,
    namespace: str,
    obj: str,
    *,
    put: Mapping[str, bytes] | None = None,
    remove: Iterable[str] = (),
) -> None:
    """Set and remove keys in one atomic write (the object is created when missing)."""
    put = dict(put or {})
    gone = tuple(remove)
    if not put and not gone:
        return
    with client.ioctx(pool) as ctx:
        ctx.set_namespace(namespace)
        try:
            with rados.WriteOpCtx() as op:
                if gone:
                    ctx.remove_omap_keys(op, gone)
                if put:
                    ctx.set_omap(op, tuple(put), tuple(put.values()))
                ctx.operate_write_op(op, obj)
        except rados.ObjectNotFound:
            if put:
                raise CephCommandError(f"omap update {obj}", 2, "object vanished during the write") from None
            # Removing keys from an object that does not exist: they are gone already.
        except rados.Error as exc:
            raise CephCommandError(f"omap update {obj}", exc.errno or 0, str(exc)) from exc
