"""RBD images in a pool, through librbd (python3-rbd) on a client's connection (blocking I/O).

The operator only needs to know which images a pool holds (they block its deletion); creating and
removing them is the CSI driver's business, and the tests'.
"""

from __future__ import annotations

import rbd

from storage_operator.ceph.client import CephClient
from storage_operator.errors import CephCommandError


def list_images(client: CephClient, pool: str) -> list[str]:
    """Names of the RBD images in ``pool`` (empty when it has none or is not an RBD pool)."""
    with client.ioctx(pool) as ctx:
        try:
            return sorted(str(name) for name in rbd.RBD().list(ctx))
        except rbd.Error as exc:
            raise CephCommandError("rbd ls", exc.errno or 0, str(exc)) from exc


def create_image(client: CephClient, pool: str, name: str, size: int) -> None:
    with client.ioctx(pool) as ctx:
        try:
            rbd.RBD().create(ctx, name, size)
        except rbd.ImageExists:
            pass
        except rbd.Error as exc:
            raise CephCommandError("rbd create", exc.errno or 0, str(exc)) from exc


def remove_image(client: CephClient, pool: str, name: str) -> None:
    with client.ioctx(pool) as ctx:
        try:
            rbd.RBD().remove(ctx, name)
        except rbd.ImageNotFound:
            pass
        except rbd.Error as exc:
            raise CephCommandError("rbd rm", exc.errno or 0, str(exc)) from exc
