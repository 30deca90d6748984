"""The NFSBackend as the provisioner's workers use it, and the one error they raise for a claim that waits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage_operator.api.meta import status_of
from storage_operator.api.v1alpha1.nfsbackend import NFSBackendSpec, NFSBackendStatus
from storage_operator.errors import NotReady
from storage_operator.nfs.client import NFSTarget


@dataclass(frozen=True)
class Backend:
    """An NFSBackend as the provisioner uses it: where it is and as whom to speak to it."""

    name: str
    spec: NFSBackendSpec
    status: NFSBackendStatus | None

    @classmethod
    def from_body(cls, name: str, body: dict[str, Any]) -> Backend:
        return cls(name, NFSBackendSpec.model_validate(body.get("spec") or {}), status_of(body, NFSBackendStatus))

    @property
    def target(self) -> NFSTarget:
        return NFSTarget(
            server=self.spec.server, export=self.spec.export_path, port=self.spec.port, version=self.spec.version
        )

    @property
    def root_squash(self) -> bool:
        return bool(self.status and self.status.root_squash)

    @property
    def identity(self) -> tuple[int, int]:
        """uid 0 unless the export squashes root: then the configured owner (the server would map 0 anyway)."""
        if not self.root_squash:
            return 0, 0
        uid = self.spec.directory_uid if self.spec.directory_uid is not None else 65534
        gid = self.spec.directory_gid if self.spec.directory_gid is not None else uid
        return uid, gid

    @property
    def reachable(self) -> bool:
        return bool(self.status and self.status.reachable)


class Waiting(NotReady):
    """The claim cannot be served yet for a reason the user should read (full export, a held directory)."""
