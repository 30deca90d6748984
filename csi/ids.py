"""Volume and snapshot IDs: everything needed to find the object again, with no lookup (pure).

    cephfs:<fs name>:<uuid>                 subvolume csi-vol-<uuid> in group "csi" of that file system
    rbd:<pool>:<uuid>                       image csi-vol-<uuid> in that pool
    cephfs:<fs name>:<uuid>:<snap uuid>     snapshot csi-snap-<snap uuid> of that subvolume
    rbd:<pool>:<uuid>:<snap uuid>           snapshot csi-snap-<snap uuid> of that image

DeleteVolume and the node calls carry only the ID, so it names the place; the UUID is minted once per
request name and kept in the journal (csi.journal), so a retried CreateVolume finds the same volume.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Literal

Kind = Literal["cephfs", "rbd"]
KINDS: tuple[Kind, ...] = ("cephfs", "rbd")
VOLUME_PREFIX = "csi-vol-"
SNAPSHOT_PREFIX = "csi-snap-"
# A place (file system or pool name) as Ceph allows it, minus the separator.
LOCATION = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_VOLUME_ID = re.compile(rf"^(cephfs|rbd):([A-Za-z0-9_.\-]{{1,100}}):({_UUID})$")
_SNAPSHOT_ID = re.compile(rf"^(cephfs|rbd):([A-Za-z0-9_.\-]{{1,100}}):({_UUID}):({_UUID})$")


@dataclass(frozen=True)
class VolumeRef:
    kind: Kind
    location: str  # file system (cephfs) or pool (rbd)
    uuid: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.location}:{self.uuid}"

    @property
    def name(self) -> str:
        """The subvolume's or image's name in Ceph."""
        return f"{VOLUME_PREFIX}{self.uuid}"


@dataclass(frozen=True)
class SnapshotRef:
    volume: VolumeRef
    uuid: str

    @property
    def id(self) -> str:
        return f"{self.volume.id}:{self.uuid}"

    @property
    def name(self) -> str:
        return f"{SNAPSHOT_PREFIX}{self.uuid}"


# Volume UUIDs derive from the request name: a crash between creating a volume and recording it in
# the journal leaves a volume the retry of the same name finds again, so the two can run at once.
VOLUME_NAMESPACE = uuid.UUID("5d1c9c2e-3a8f-4b8e-9a57-7f0b6b1f2c41")


def new_uuid() -> str:
    return str(uuid.uuid4())


def volume_uuid(kind: str, location: str, name: str) -> str:
    return str(uuid.uuid5(VOLUME_NAMESPACE, f"{kind}:{location}:{name}"))


def parse_volume_id(value: str, kind: Kind | None = None) -> VolumeRef | None:
    """The volume an ID names, or None when it is not one of ours (of this driver's kind)."""
    m = _VOLUME_ID.fullmatch(value or "")
    if m is None or (kind is not None and m.group(1) != kind):
        return None
    return VolumeRef(kind=m.group(1), location=m.group(2), uuid=m.group(3))  # type: ignore[arg-type]


def parse_snapshot_id(value: str, kind: Kind | None = None) -> SnapshotRef | None:
    m = _SNAPSHOT_ID.fullmatch(value or "")
    if m is None or (kind is not None and m.group(1) != kind):
        return None
    volume = VolumeRef(kind=m.group(1), location=m.group(2), uuid=m.group(3))  # type: ignore[arg-type]
    return SnapshotRef(volume=volume, uuid=m.group(4))


def uuid_of_name(name: str, prefix: str = VOLUME_PREFIX) -> str | None:
    """The UUID in a subvolume's/image's/snapshot's name, None for names that are not ours."""
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix) :]
    return rest if re.fullmatch(_UUID, rest) else None
