"""CephOSD: one OSD on one device of one node, created by the operator from a CephCluster's storage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from storage_operator.api.meta import (
    DEVICE_CLASS,
    DEVICE_CLASS_MAX,
    DNS_SUBDOMAIN,
    APIModel,
    CommonStatus,
    LocalObjectReference,
)


class OSDDevice(APIModel):
    path: str = Field(max_length=256, pattern=r"^/dev/[^\s]+$", description="Device path on the node, e.g. /dev/sdb.")
    stable_path: str | None = Field(
        None,
        max_length=512,
        pattern=r"^/dev/[^\s]+$",
        description="A link that survives reboots (/dev/disk/by-id/...), preferred when present.",
    )
    serial: str | None = Field(None, max_length=256, description="Serial number, to notice a swapped disk.")
    size_bytes: int | None = Field(None, ge=0, description="Size seen when the OSD was planned.")


class CephOSDSpec(APIModel):
    cluster_ref: LocalObjectReference = Field(description="The CephCluster this OSD belongs to.")
    node: str = Field(max_length=253, pattern=DNS_SUBDOMAIN, description="Node that holds the device.")
    device: OSDDevice = Field(description="The device that backs the OSD.")
    device_class: str | None = Field(
        None,
        max_length=DEVICE_CLASS_MAX,
        pattern=DEVICE_CLASS,
        description="CRUSH device class (hdd, ssd, nvme).",
    )
    object_store: Literal["bluestore"] = Field("bluestore", description="OSD back end.")


OSDPhase = Literal[
    "Pending", "Unavailable", "Preparing", "Prepared", "Running", "Down", "Removing", "Wiping", "Wiped", "Failed"
]


class CephOSDStatus(CommonStatus):
    phase: OSDPhase | None = Field(
        None,
        description="Pending (selected, waiting to be prepared), Unavailable (its device is gone or in use), "
        "Preparing (the node's agent makes its BlueStore), Prepared, Running, Down, Removing (being drained "
        "and purged after its deletion), Wiping and Wiped (its device, when the cluster's cleanupPolicy "
        "confirms it), or Failed (the message says what was found and what was written).",
    )
    osd_id: int | None = Field(None, ge=0, description="The id Ceph allocated (osd.N).")
    osd_uuid: str | None = Field(None, alias="osdUUID", description="The OSD's uuid (as in `ceph osd dump`).")
    fsid: str | None = Field(None, description="The fsid of the Ceph cluster the OSD was made for.")
    up: bool | None = Field(None, description="The OSD daemon is up in the OSD map.")
    in_: bool | None = Field(None, alias="in", description="The OSD holds data (in the OSD map).")
