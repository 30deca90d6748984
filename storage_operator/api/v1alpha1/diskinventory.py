"""DiskInventory: every block device of one node and whether it may become an OSD (written by the agent)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from storage_operator.api.meta import DNS_SUBDOMAIN, APIModel, CommonStatus

DeviceType = Literal["disk", "part", "loop", "lvm", "raid", "crypt", "mpath", "rom", "other"]


class UnavailableReason(APIModel):
    code: str = Field(
        max_length=64,
        pattern=r"^[A-Z][A-Za-z]*$",
        description="Machine-readable, e.g. HasFilesystem, Mounted, HasPartitions, ReadOnly, TooSmall.",
    )
    message: str = Field(max_length=1024, description="For humans, e.g. 'ext4 filesystem signature at offset 1080'.")


class Signature(APIModel):
    """Something written on the device that says it is in use (found by read-only probing)."""

    type: str = Field(max_length=64, description="ext4, xfs, swap, gpt, PMBR, LVM2_member, ceph_bluestore, ...")
    offset: int = Field(ge=0, description="Byte offset of the signature on the device.")
    uuid: str | None = Field(None, max_length=128)
    label: str | None = Field(None, max_length=256)


class Device(APIModel):
    name: str = Field(max_length=128, description="Kernel name, e.g. sdb, nvme0n1, loop3.")
    path: str = Field(max_length=256, description="/dev path.")
    by_id: list[str] = Field(default_factory=list, max_length=32, description="/dev/disk/by-id links.")
    by_path: list[str] = Field(default_factory=list, max_length=32, description="/dev/disk/by-path links.")
    size_bytes: int = Field(ge=0)
    logical_sector_size: int | None = Field(None, ge=0)
    physical_sector_size: int | None = Field(None, ge=0)
    type: DeviceType
    rotational: bool | None = None
    read_only: bool = False
    removable: bool = False
    vendor: str | None = Field(None, max_length=256)
    model: str | None = Field(None, max_length=256)
    serial: str | None = Field(None, max_length=256)
    wwn: str | None = Field(None, max_length=256)
    backing_file: str | None = Field(None, max_length=4096, description="For a loop device: the file behind it.")
    filesystem: str | None = Field(None, max_length=64, description="Signature found on it (ext4, LVM2_member, ...).")
    signatures: list[Signature] = Field(default_factory=list, max_length=32, description="Every signature found.")
    partitions: list[str] = Field(default_factory=list, max_length=128, description="Its partitions' kernel names.")
    holders: list[str] = Field(default_factory=list, max_length=32, description="Devices built on it (dm, md).")
    mountpoints: list[str] = Field(
        default_factory=list, max_length=32, description="Where it, its partitions or its holders are mounted."
    )
    available: bool = Field(description="Free to become an OSD.")
    reasons: list[UnavailableReason] = Field(
        default_factory=list, max_length=16, description="Why it is not available (empty when it is)."
    )


class DiskInventorySpec(APIModel):
    node_name: str = Field(max_length=253, pattern=DNS_SUBDOMAIN, description="The node this inventory describes.")


class DiskInventoryStatus(CommonStatus):
    phase: Literal["Scanning", "Ready", "Error"] | None = None
    devices: list[Device] = Field(
        default_factory=list,
        max_length=1024,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    device_count: int = Field(0, ge=0)
    available_count: int = Field(0, ge=0)
    last_scan: datetime | None = None
    agent_version: str | None = None
    scan_seconds: float | None = Field(None, ge=0, description="How long the scan that produced this took.")
