"""The CSI Identity service: who the plugin is, what it offers, and whether it can serve now."""

from __future__ import annotations

from google.protobuf.wrappers_pb2 import BoolValue

from csi.plugin import Plugin
from csi.proto import csi_pb2, csi_pb2_grpc
from csi.rpc import Context, rpc

Service = csi_pb2.PluginCapability.Service
Expansion = csi_pb2.PluginCapability.VolumeExpansion


class IdentityService(csi_pb2_grpc.IdentityServicer):
    def __init__(self, plugin: Plugin) -> None:
        self.plugin = plugin
        self.metrics = plugin.metrics

    @rpc
    async def GetPluginInfo(
        self, request: csi_pb2.GetPluginInfoRequest, context: Context
    ) -> csi_pb2.GetPluginInfoResponse:
        return csi_pb2.GetPluginInfoResponse(
            name=self.plugin.config.driver_name,
            vendor_version=self.plugin.version,
            manifest={"mode": self.plugin.config.mode, "driver": self.plugin.config.driver},
        )

    @rpc
    async def GetPluginCapabilities(
        self, request: csi_pb2.GetPluginCapabilitiesRequest, context: Context
    ) -> csi_pb2.GetPluginCapabilitiesResponse:
        caps = [csi_pb2.PluginCapability(volume_expansion=Expansion(type=Expansion.ONLINE))]
        if self.plugin.config.serves_controller:
            caps.insert(0, csi_pb2.PluginCapability(service=Service(type=Service.CONTROLLER_SERVICE)))
        return csi_pb2.GetPluginCapabilitiesResponse(capabilities=caps)

    @rpc
    async def Probe(self, request: csi_pb2.ProbeRequest, context: Context) -> csi_pb2.ProbeResponse:
        return csi_pb2.ProbeResponse(ready=BoolValue(value=await self.plugin.probe()))
