"""Kubelet plugin registration (pluginregistration v1): the node plugin announces its driver name and CSI
socket to the kubelet itself, as node-driver-registrar would (that sidecar's image cannot be obtained here).

The kubelet watches its plugins_registry directory; for a socket there it calls GetInfo, registers the CSI
driver at the endpoint it was told, and reports the outcome with NotifyRegistrationStatus."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from csi.proto import pluginregistration_pb2 as pb
from csi.rpc import Context

log = logging.getLogger(__name__)

# k8s.io/kubelet/pkg/apis/pluginregistration/v1: the plugin type the kubelet hands to its CSI handler.
PLUGIN_TYPE = "CSIPlugin"
# What the kubelet's CSI handler accepts (CSI 1.x) and what node-driver-registrar announces.
SUPPORTED_VERSIONS = ("1.0.0",)
# The proto's package and service: the kubelet calls /pluginregistration.Registration/GetInfo.
SERVICE = "pluginregistration.Registration"


def plugin_info(driver_name: str, endpoint: str) -> pb.PluginInfo:
    """GetInfo's answer (pure): ``endpoint`` is the CSI socket's path on the host, where the kubelet dials."""
    return pb.PluginInfo(type=PLUGIN_TYPE, name=driver_name, endpoint=endpoint, supported_versions=SUPPORTED_VERSIONS)


@dataclass(frozen=True)
class Status:
    """What the kubelet last reported."""

    registered: bool
    error: str = ""


def registration_problem(status: Status | None) -> str | None:
    """Why the kubelet has not got the plugin registered, or None (pure). No report yet is no problem: the
    kubelet may not have come across the socket yet."""
    if status is not None and not status.registered:
        return f"the kubelet refused the registration: {status.error or 'no reason given'}"
    return None


class RegistrationService:
    def __init__(self, driver_name: str, endpoint: str, socket: Path) -> None:
        self.driver_name = driver_name
        self.endpoint = endpoint
        self.socket = socket
        # Set by the handler on the event loop and read by the /healthz thread: the reference to an
        # immutable Status is replaced whole, which needs no lock.
        self.status: Status | None = None

    async def GetInfo(self, request: pb.InfoRequest, context: Context) -> pb.PluginInfo:
        log.info("the kubelet asks who we are: %s, CSI socket %s", self.driver_name, self.endpoint)
        return plugin_info(self.driver_name, self.endpoint)

    async def NotifyRegistrationStatus(
        self, request: pb.RegistrationStatus, context: Context
    ) -> pb.RegistrationStatusResponse:
        self.status = Status(request.plugin_registered, request.error)
        if request.plugin_registered:
            log.info("registered with the kubelet as %s", self.driver_name)
        else:
            log.error("the kubelet refused to register %s: %s", self.driver_name, request.error)
        return pb.RegistrationStatusResponse()

    def problem(self) -> str | None:
        return registration_problem(self.status)


def registration_handler(service: RegistrationService) -> grpc.GenericRpcHandler:
    """The Registration service's method table for a gRPC server. What the generated
    pluginregistration_pb2_grpc.add_RegistrationServicer_to_server does, but typed: that module has no
    annotations, and mypy checks it wherever it is imported."""
    methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "GetInfo": grpc.unary_unary_rpc_method_handler(
            service.GetInfo,
            request_deserializer=pb.InfoRequest.FromString,
            response_serializer=pb.PluginInfo.SerializeToString,
        ),
        "NotifyRegistrationStatus": grpc.unary_unary_rpc_method_handler(
            service.NotifyRegistrationStatus,
            request_deserializer=pb.RegistrationStatus.FromString,
            response_serializer=pb.RegistrationStatusResponse.SerializeToString,
        ),
    }
    return grpc.method_handlers_generic_handler(SERVICE, methods)
