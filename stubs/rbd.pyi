# Type stubs for the parts of Debian's python3-rbd (Ceph 16.2) this project uses.
from rados import Ioctx

class Error(Exception):
    errno: int | None

class OSError(Error): ...
class ImageExists(OSError): ...
class ImageNotFound(OSError): ...

class RBD:
    def list(self, ioctx: Ioctx) -> list[str]: ...
    def create(
        self,
        ioctx: Ioctx,
        name: str,
        size: int,
        order: int | None = ...,
        old_format: bool = ...,
        features: int | None = ...,
        stripe_unit: int | None = ...,
        stripe_count: int | None = ...,
        data_pool: str | None = ...,
    ) -> None: ...
    def remove(self, ioctx: Ioctx, name: str) -> None: ...
