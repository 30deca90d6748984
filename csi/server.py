"""Serve the plugin's gRPC services on a unix socket until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

import grpc

from csi.config import CSIConfig
from csi.controller import ControllerService
from csi.identity import IdentityService
from csi.node import NodeService
from csi.plugin import Plugin
from csi.proto import csi_pb2_grpc

log = logging.getLogger(__name__)
GRACE = 10.0


def build_server(plugin: Plugin) -> grpc.aio.Server:
    server = grpc.aio.server()
    csi_pb2_grpc.add_IdentityServicer_to_server(IdentityService(plugin), server)
    if plugin.config.serves_controller:
        csi_pb2_grpc.add_ControllerServicer_to_server(ControllerService(plugin), server)
    if plugin.config.serves_node:
        csi_pb2_grpc.add_NodeServicer_to_server(NodeService(plugin), server)
    return server


async def serve(config: CSIConfig) -> None:
    plugin = Plugin(config)
    path = config.socket_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a socket left by a previous run
    server = build_server(plugin)
    server.add_insecure_port(f"unix://{path}")
    if config.metrics_address:
        plugin.metrics.serve(config.metrics_address)
    old_umask = os.umask(0o077)  # only the plugin's user (and root) may talk to the socket
    try:
        await server.start()
    finally:
        os.umask(old_umask)
    log.info("%s (%s) serving on %s", config.driver_name, config.mode, config.endpoint)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
    await server.stop(GRACE)
    await plugin.close()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
