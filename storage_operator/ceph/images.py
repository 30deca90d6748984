"""RBD images in a pool, through librbd (python3-rbd) on a client's connection (blocking I/O).

The operator needs only the list (images block a pool's deletion); the CSI driver creates, resizes,
snapshots, copies and removes them. Every librbd error becomes a CephCommandError with its errno, so
callers decide by errno (ENOENT, EEXIST, EBUSY, ENOTEMPTY) and never import rbd.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import rbd

from storage_operator.ceph.client import CephClient
from storage_operator.errors import CephCommandError


@dataclass(frozen=True)
class ImageSnapshot:
    name: str
    size: int
    created: datetime


@dataclass(frozen=True)
class ImageInfo:
    name: str
    size: int
    snapshots: tuple[ImageSnapshot, ...]
    watchers: tuple[str, ...]  # client addresses that have the image open (mapped, mounted)
    data_pool: str | None = None


@contextlib.contextmanager
def _rbd_errors(operation: str) -> Iterator[None]:
    try:
        yield
    except rbd.Error as exc:
        raise CephCommandError(operation, exc.errno or 0, str(exc)) from exc


def list_images(client: CephClient, pool: str) -> list[str]:
    """Names of the RBD images in ``pool`` (empty when it has none or is not an RBD pool)."""
    with client.ioctx(pool) as ctx, _rbd_errors("rbd ls"):
        return sorted(str(name) for name in rbd.RBD().list(ctx))


def create_image(
    client: CephClient,
    pool: str,
    name: str,
    size: int,
    *,
    features: str | None = None,
    data_pool: str | None = None,
    exist_ok: bool = True,
) -> None:
    """Create ``name``; ``features`` as `rbd` spells them ("layering,exclusive-lock"), default librbd's."""
    with client.ioctx(pool) as ctx, _rbd_errors("rbd create"):
        api = rbd.RBD()
        bits = api.features_from_string(features) if features else None
        try:
            api.create(ctx, name, size, old_format=False, features=bits, data_pool=data_pool)
        except rbd.ImageExists:
            if not exist_ok:
                raise


def image_info(client: CephClient, pool: str, name: str) -> ImageInfo:
    """Size, snapshots and watchers; CephCommandError ENOENT when there is no such image."""
    with client.ioctx(pool) as ctx, _rbd_errors("rbd info"), rbd.Image(ctx, name, read_only=True) as image:
        snaps = tuple(
            ImageSnapshot(
                name=str(s["name"]),
                size=int(s["size"]),
                created=_utc(image.get_snap_timestamp(s["id"])),
            )
            for s in image.list_snaps()
        )
        watchers = tuple(str(w.get("addr", "")) for w in image.watchers_list())
        pool_id = image.data_pool_id()
        data_pool = None
        if pool_id >= 0 and pool_id != ctx.get_pool_id():
            data_pool = client.pool_name(pool_id)
        return ImageInfo(name=name, size=int(image.size()), snapshots=snaps, watchers=watchers, data_pool=data_pool)


def resize_image(client: CephClient, pool: str, name: str, size: int) -> None:
    """Grow (never shrink) ``name`` to ``size`` bytes."""
    with client.ioctx(pool) as ctx, _rbd_errors("rbd resize"), rbd.Image(ctx, name) as image:
        if image.size() < size:
            image.resize(size)


def create_snapshot(client: CephClient, pool: str, name: str, snap: str) -> None:
    with (
        client.ioctx(pool) as ctx,
        _rbd_errors("rbd snap create"),
        rbd.Image(ctx, name) as image,
        contextlib.suppress(rbd.ImageExists),
    ):
        image.create_snap(snap)


def remove_snapshot(client: CephClient, pool: str, name: str, snap: str) -> None:
    """Remove ``snap`` of ``name``; nothing to do when either is gone."""
    with (
        client.ioctx(pool) as ctx,
        _rbd_errors("rbd snap rm"),
        contextlib.suppress(rbd.ImageNotFound),
        rbd.Image(ctx, name) as image,
    ):
        image.remove_snap(snap)


def copy_image(
    client: CephClient,
    pool: str,
    source: str,
    snap: str,
    target: str,
    *,
    features: str | None = None,
    data_pool: str | None = None,
) -> None:
    """A full, independent copy of ``source@snap`` as ``target``, never half-done under its final name.

    The data goes to ``target``'s temporary name first and is renamed when complete: a crash mid-copy
    leaves only the temporary image, which the next attempt removes and starts again.
    """
    partial = f"{target}.partial"
    with client.ioctx(pool) as ctx, _rbd_errors("rbd copy"):
        api = rbd.RBD()
        if target in api.list(ctx):
            return
        with contextlib.suppress(rbd.ImageNotFound):
            api.remove(ctx, partial)
        bits = api.features_from_string(features) if features else 0
        with rbd.Image(ctx, source, snapshot=snap, read_only=True) as image:
            image.copy(ctx, partial, features=bits, data_pool=data_pool)
        api.rename(ctx, partial, target)


def remove_image(client: CephClient, pool: str, name: str) -> None:
    """Remove ``name`` (gone already is fine); EBUSY while open somewhere, ENOTEMPTY with snapshots."""
    with client.ioctx(pool) as ctx, _rbd_errors("rbd rm"):
        try:
            rbd.RBD().remove(ctx, name)
        except rbd.ImageNotFound:
            return
        except rbd.ImageHasSnapshots as exc:
            raise CephCommandError("rbd rm", errno.ENOTEMPTY, f"image {pool}/{name} has snapshots") from exc


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
