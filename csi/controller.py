"""The CSI Controller service: volumes and snapshots in Ceph (no attach step: ControllerPublish is absent)."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from csi import validate
from csi.backends.service import SnapshotOut, VolumeOut
from csi.params import digest
from csi.plugin import Plugin
from csi.proto import csi_pb2, csi_pb2_grpc
from csi.rpc import Context, rpc

RPC = csi_pb2.ControllerServiceCapability.RPC
CAPABILITIES = (
    RPC.CREATE_DELETE_VOLUME,
    RPC.LIST_VOLUMES,
    RPC.GET_CAPACITY,
    RPC.CREATE_DELETE_SNAPSHOT,
    RPC.LIST_SNAPSHOTS,
    RPC.GET_SNAPSHOT,
    RPC.CLONE_VOLUME,
    RPC.EXPAND_VOLUME,
)


def volume_message(v: VolumeOut) -> csi_pb2.Volume:
    msg = csi_pb2.Volume(volume_id=v.volume_id, capacity_bytes=v.size, volume_context=v.context)
    kind, _, source_id = v.source.partition(":")
    if kind == "snapshot":
        msg.content_source.snapshot.snapshot_id = source_id
    elif kind == "volume":
        msg.content_source.volume.volume_id = source_id
    return msg


def snapshot_message(s: SnapshotOut) -> csi_pb2.Snapshot:
    created = Timestamp()
    created.FromDatetime(s.created)
    return csi_pb2.Snapshot(
        snapshot_id=s.snapshot_id,
        source_volume_id=s.volume_id,
        size_bytes=s.size,
        creation_time=created,
        ready_to_use=s.ready,
    )


class ControllerService(csi_pb2_grpc.ControllerServicer):
    def __init__(self, plugin: Plugin) -> None:
        self.plugin = plugin
        self.metrics = plugin.metrics
        self.service = plugin.service

    @rpc
    async def ControllerGetCapabilities(
        self, request: csi_pb2.ControllerGetCapabilitiesRequest, context: Context
    ) -> csi_pb2.ControllerGetCapabilitiesResponse:
        return csi_pb2.ControllerGetCapabilitiesResponse(
            capabilities=[csi_pb2.ControllerServiceCapability(rpc=RPC(type=t)) for t in CAPABILITIES]
        )

    @rpc
    async def CreateVolume(
        self, request: csi_pb2.CreateVolumeRequest, context: Context
    ) -> csi_pb2.CreateVolumeResponse:
        return csi_pb2.CreateVolumeResponse(volume=volume_message(await self.service.create_volume(request)))

    @rpc
    async def DeleteVolume(
        self, request: csi_pb2.DeleteVolumeRequest, context: Context
    ) -> csi_pb2.DeleteVolumeResponse:
        await self.service.delete_volume(request.volume_id, request.secrets)
        return csi_pb2.DeleteVolumeResponse()

    @rpc
    async def ControllerExpandVolume(
        self, request: csi_pb2.ControllerExpandVolumeRequest, context: Context
    ) -> csi_pb2.ControllerExpandVolumeResponse:
        validate.require(request.volume_id, "volume_id")
        if request.HasField("volume_capability"):
            validate.check_capability(self.plugin.store.kind, request.volume_capability)
        capacity = request.capacity_range if request.HasField("capacity_range") else None
        size, node = await self.service.expand_volume(request.volume_id, capacity, request.secrets)
        # A block volume has no file system to grow, but its device on the node must learn the new size.
        return csi_pb2.ControllerExpandVolumeResponse(capacity_bytes=size, node_expansion_required=node)

    @rpc
    async def ValidateVolumeCapabilities(
        self, request: csi_pb2.ValidateVolumeCapabilitiesRequest, context: Context
    ) -> csi_pb2.ValidateVolumeCapabilitiesResponse:
        validate.require(request.volume_id, "volume_id")
        validate.require(request.volume_capabilities, "volume_capabilities")
        _ref, _observed, record = await self.service.observe(request.volume_id, request.secrets)
        kind = self.plugin.store.kind
        for cap in request.volume_capabilities:
            reason = validate.unsupported(kind, cap)
            if reason:
                return csi_pb2.ValidateVolumeCapabilitiesResponse(message=reason)
        if (
            request.parameters
            and record is not None
            and digest(self.plugin.store.parse(request.parameters)) != record.params
        ):
            return csi_pb2.ValidateVolumeCapabilitiesResponse(message="the volume was created with other parameters")
        confirmed = csi_pb2.ValidateVolumeCapabilitiesResponse.Confirmed(
            volume_context=request.volume_context,
            volume_capabilities=request.volume_capabilities,
            parameters=request.parameters,
        )
        return csi_pb2.ValidateVolumeCapabilitiesResponse(confirmed=confirmed)

    @rpc
    async def ListVolumes(self, request: csi_pb2.ListVolumesRequest, context: Context) -> csi_pb2.ListVolumesResponse:
        page = await self.service.list_volumes(request.max_entries, request.starting_token)
        return csi_pb2.ListVolumesResponse(
            entries=[csi_pb2.ListVolumesResponse.Entry(volume=volume_message(v)) for v in page.entries],
            next_token=page.next_token,
        )

    @rpc
    async def GetCapacity(self, request: csi_pb2.GetCapacityRequest, context: Context) -> csi_pb2.GetCapacityResponse:
        for cap in request.volume_capabilities:
            if validate.unsupported(self.plugin.store.kind, cap):
                return csi_pb2.GetCapacityResponse(available_capacity=0)
        return csi_pb2.GetCapacityResponse(available_capacity=await self.service.capacity(request.parameters))

    @rpc
    async def CreateSnapshot(
        self, request: csi_pb2.CreateSnapshotRequest, context: Context
    ) -> csi_pb2.CreateSnapshotResponse:
        return csi_pb2.CreateSnapshotResponse(snapshot=snapshot_message(await self.service.create_snapshot(request)))

    @rpc
    async def DeleteSnapshot(
        self, request: csi_pb2.DeleteSnapshotRequest, context: Context
    ) -> csi_pb2.DeleteSnapshotResponse:
        await self.service.delete_snapshot(request.snapshot_id, request.secrets)
        return csi_pb2.DeleteSnapshotResponse()

    @rpc
    async def ListSnapshots(
        self, request: csi_pb2.ListSnapshotsRequest, context: Context
    ) -> csi_pb2.ListSnapshotsResponse:
        page = await self.service.list_snapshots(request)
        return csi_pb2.ListSnapshotsResponse(
            entries=[csi_pb2.ListSnapshotsResponse.Entry(snapshot=snapshot_message(s)) for s in page.entries],
            next_token=page.next_token,
        )

    @rpc
    async def GetSnapshot(self, request: csi_pb2.GetSnapshotRequest, context: Context) -> csi_pb2.GetSnapshotResponse:
        snap = await self.service.get_snapshot(request.snapshot_id, request.secrets)
        return csi_pb2.GetSnapshotResponse(snapshot=snapshot_message(snap))
