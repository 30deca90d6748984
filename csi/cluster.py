"""Ceph sessions for requests: credentials from the request's secrets, monitors from the driver's config.

Secrets arrive in the request (``userID``, ``userKey``, as the StorageClass's secret references give
them) and live only in memory: in a ConnectionSpec, whose repr leaves the key out, and in librados'
in-memory configuration. Calls that carry no secrets (ListVolumes, GetCapacity, Probe) use the
controller's own credentials when it has them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from csi.errors import FailedPrecondition, InvalidArgument
from storage_operator.ceph.connection import ConnectionSpec
from storage_operator.ceph.session import ClusterSession, SessionRegistry

USER_ID = "userID"
USER_KEY = "userKey"
# librados connections shared by all requests with the same credentials; calls beyond this wait.
SESSION_WORKERS = 32


@dataclass(frozen=True)
class Credentials:
    user_id: str
    key: str = field(repr=False)


def credentials_from(secrets: Mapping[str, str]) -> Credentials | None:
    """The Ceph user in a request's secrets; None when the request has none."""
    if not secrets:
        return None
    user, key = secrets.get(USER_ID, "").strip(), secrets.get(USER_KEY, "").strip()
    if not user or not key:
        missing = [k for k, v in ((USER_ID, user), (USER_KEY, key)) if not v]
        raise InvalidArgument(f"the request's secrets lack {' and '.join(missing)} (the Ceph user and its key)")
    return Credentials(user.removeprefix("client."), key)


class Clusters:
    def __init__(self, monitors: tuple[str, ...], own: Credentials | None = None) -> None:
        self.monitors = monitors
        self.own = own
        self._registry = SessionRegistry(workers=SESSION_WORKERS)

    def session(self, secrets: Mapping[str, str] | None = None) -> ClusterSession:
        creds = credentials_from(secrets or {}) or self.own
        if creds is None:
            raise InvalidArgument(
                "no Ceph credentials: the request carries no secrets (userID, userKey) and the driver has "
                "none of its own (CSI_USER_ID, CSI_USER_KEY)"
            )
        if not self.monitors:
            raise FailedPrecondition("the driver knows no Ceph monitors (CSI_MONITORS / --monitors)")
        spec = ConnectionSpec(mon_hosts=self.monitors, user_id=creds.user_id, key=creds.key)
        return self._registry.get(spec.fingerprint, spec)

    async def close(self) -> None:
        await self._registry.close_all()
