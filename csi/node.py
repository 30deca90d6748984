"""The CSI Node service: stage (mount or map once per node), publish (bind into the pod), stats, expand."""

from __future__ import annotations

from csi.backends.node import NodeBackend
from csi.plugin import Plugin
from csi.proto import csi_pb2, csi_pb2_grpc
from csi.rpc import Context, rpc

RPC = csi_pb2.NodeServiceCapability.RPC
CAPABILITIES = (RPC.STAGE_UNSTAGE_VOLUME, RPC.GET_VOLUME_STATS, RPC.EXPAND_VOLUME, RPC.VOLUME_CONDITION)


class NodeService(csi_pb2_grpc.NodeServicer):
    def __init__(self, plugin: Plugin) -> None:
        if plugin.node is None:
            raise ValueError("the node service needs a plugin in node mode")
        self.plugin = plugin
        self.metrics = plugin.metrics
        self.node: NodeBackend = plugin.node

    @rpc
    async def NodeGetCapabilities(
        self, request: csi_pb2.NodeGetCapabilitiesRequest, context: Context
    ) -> csi_pb2.NodeGetCapabilitiesResponse:
        return csi_pb2.NodeGetCapabilitiesResponse(
            capabilities=[csi_pb2.NodeServiceCapability(rpc=RPC(type=t)) for t in CAPABILITIES]
        )

    @rpc
    async def NodeGetInfo(self, request: csi_pb2.NodeGetInfoRequest, context: Context) -> csi_pb2.NodeGetInfoResponse:
        # No topology: every node reaches the Ceph cluster. No attach limit: mounts and mappers, not slots.
        return csi_pb2.NodeGetInfoResponse(node_id=self.plugin.config.node_id, max_volumes_per_node=0)

    @rpc
    async def NodeStageVolume(
        self, request: csi_pb2.NodeStageVolumeRequest, context: Context
    ) -> csi_pb2.NodeStageVolumeResponse:
        await self.node.stage(request)
        return csi_pb2.NodeStageVolumeResponse()

    @rpc
    async def NodeUnstageVolume(
        self, request: csi_pb2.NodeUnstageVolumeRequest, context: Context
    ) -> csi_pb2.NodeUnstageVolumeResponse:
        await self.node.unstage(request.volume_id, request.staging_target_path)
        return csi_pb2.NodeUnstageVolumeResponse()

    @rpc
    async def NodePublishVolume(
        self, request: csi_pb2.NodePublishVolumeRequest, context: Context
    ) -> csi_pb2.NodePublishVolumeResponse:
        await self.node.publish(request)
        return csi_pb2.NodePublishVolumeResponse()

    @rpc
    async def NodeUnpublishVolume(
        self, request: csi_pb2.NodeUnpublishVolumeRequest, context: Context
    ) -> csi_pb2.NodeUnpublishVolumeResponse:
        await self.node.unpublish(request.volume_id, request.target_path)
        return csi_pb2.NodeUnpublishVolumeResponse()

    @rpc
    async def NodeGetVolumeStats(
        self, request: csi_pb2.NodeGetVolumeStatsRequest, context: Context
    ) -> csi_pb2.NodeGetVolumeStatsResponse:
        return await self.node.stats(request.volume_id, request.volume_path)

    @rpc
    async def NodeExpandVolume(
        self, request: csi_pb2.NodeExpandVolumeRequest, context: Context
    ) -> csi_pb2.NodeExpandVolumeResponse:
        return csi_pb2.NodeExpandVolumeResponse(capacity_bytes=await self.node.expand(request))
