"""Serve the plugin's gRPC services on a unix socket until SIGTERM/SIGINT; on a node, also the kubelet's
Registration service (csi.registration) on a second socket, and /healthz beside /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path
from typing import Protocol
from wsgiref.simple_server import WSGIServer

import grpc

from csi.config import CSIConfig
from csi.controller import ControllerService
from csi.identity import IdentityService
from csi.metrics import health_answer
from csi.node import NodeService
from csi.plugin import Plugin
from csi.proto import csi_pb2_grpc
from csi.registration import RegistrationService, registration_handler

log = logging.getLogger(__name__)
GRACE = 10.0
# How long /healthz waits for Probe: what the livenessprobe sidecar's --probe-timeout was, within the
# liveness probe's own timeout.
HEALTH_TIMEOUT = 3.0


class Probes(Protocol):
    async def probe(self) -> bool: ...


class Health:
    """/healthz, called in a thread of the metrics server: the plugin's own Probe, run on the plugin's event
    loop (its answer is cached for a moment there), and, when the plugin registers itself, the kubelet's
    registration status."""

    def __init__(
        self,
        plugin: Probes,
        loop: asyncio.AbstractEventLoop,
        registration: RegistrationService | None = None,
        timeout: float = HEALTH_TIMEOUT,
    ) -> None:
        self.plugin = plugin
        self.loop = loop
        self.registration = registration
        self.timeout = timeout

    def __call__(self) -> tuple[int, str]:
        problem = self.registration.problem() if self.registration is not None else None
        # A refused registration is answer enough: no need to wait for Ceph.
        return health_answer(None if problem else self.probe(), problem)

    def probe(self) -> bool | None:
        """Probe's answer, or None when it gave none within the timeout or the loop is gone (stopping)."""
        coro = self.plugin.probe()
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError:  # the loop is closed
            coro.close()
            return None
        try:
            # On a timeout the probe runs on; its answer is cached for the next check.
            return future.result(self.timeout)
        except Exception as exc:
            log.warning("/healthz: Probe gave no answer: %s", str(exc) or type(exc).__name__)
            return None


def build_server(plugin: Plugin) -> grpc.aio.Server:
    server = grpc.aio.server()
    csi_pb2_grpc.add_IdentityServicer_to_server(IdentityService(plugin), server)
    if plugin.config.serves_controller:
        csi_pb2_grpc.add_ControllerServicer_to_server(ControllerService(plugin), server)
    if plugin.config.serves_node:
        csi_pb2_grpc.add_NodeServicer_to_server(NodeService(plugin), server)
    return server


async def start_registration(service: RegistrationService) -> grpc.aio.Server:
    """Serve the kubelet's Registration service on ``service.socket``."""
    socket = service.socket
    socket.parent.mkdir(parents=True, exist_ok=True)
    # A socket left by a previous run: binding would fail on it.
    socket.unlink(missing_ok=True)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((registration_handler(service),))
    server.add_insecure_port(f"unix://{socket}")
    await server.start()
    log.info("registration socket for the kubelet at %s", socket)
    return server


async def stop_registration(server: grpc.aio.Server, socket: Path) -> None:
    # The socket's removal tells the kubelet the plugin is gone (as node-driver-registrar does on SIGTERM).
    await server.stop(GRACE)
    socket.unlink(missing_ok=True)


async def serve(config: CSIConfig) -> None:
    plugin = Plugin(config)
    path = config.socket_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a socket left by a previous run
    server = build_server(plugin)
    server.add_insecure_port(f"unix://{path}")
    registration: RegistrationService | None = None
    if config.registration_socket is not None:
        registration = RegistrationService(
            config.driver_name, config.kubelet_registration_path, config.registration_socket
        )
    registration_server: grpc.aio.Server | None = None
    http: WSGIServer | None = None
    try:
        old_umask = os.umask(0o077)  # only the plugin's user (and root: the kubelet) may talk to the sockets
        try:
            await server.start()
            # After the CSI socket serves: once registered, the kubelet calls the plugin there at once.
            if registration is not None:
                registration_server = await start_registration(registration)
        finally:
            os.umask(old_umask)
        if config.metrics_address:
            http = plugin.metrics.serve(
                config.metrics_address, Health(plugin, asyncio.get_running_loop(), registration)
            )
        log.info("%s (%s) serving on %s", config.driver_name, config.mode, config.endpoint)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("stopping")
    finally:
        # Registration first: the kubelet forgets the driver before its CSI socket goes.
        if registration is not None and registration_server is not None:
            await stop_registration(registration_server, registration.socket)
        if http is not None:
            await asyncio.to_thread(http.shutdown)  # waits for its serving loop's next poll
            http.server_close()
        await server.stop(GRACE)
        await plugin.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
