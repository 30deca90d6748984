"""The plugin's Prometheus metrics (every RPC counted by method and gRPC code, and timed), and the HTTP
server that serves them at /metrics and the plugin's health at /healthz."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

# A journal write is about a millisecond, a subvolume create tens, a node stage (FUSE mount, mkfs) a
# second or more, a clone or copy of a big volume minutes.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# Probe answers only ready or not; this is what it checks.
NOT_READY = "not ready: Probe failed (no Ceph monitor answers, or a tool the node plugin runs is missing)"
NO_ANSWER = "not ready: Probe gave no answer in time"

# The /healthz answer: HTTP status code and body. Called in a thread of the HTTP server.
Health = Callable[[], tuple[int, str]]


def health_answer(ready: bool | None, registration_problem: str | None = None) -> tuple[int, str]:
    """/healthz's status and body (pure). ``ready``: what Probe said, None when it gave no answer (or was
    not asked); ``registration_problem``: why the kubelet has not got the plugin registered, if so."""
    if registration_problem:
        return 503, registration_problem
    if ready is None:
        return 503, NO_ANSWER
    if not ready:
        return 503, NOT_READY
    return 200, "ok"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: a line per scrape and per liveness check would drown the plugin's own."""


def wsgi_app(registry: CollectorRegistry, health: Health | None) -> WSGIApplication:
    metrics: WSGIApplication = make_wsgi_app(registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if health is not None and environ.get("PATH_INFO") == "/healthz":
            code, body = health()
            start_response(f"{code} {HTTPStatus(code).phrase}", [("Content-Type", "text/plain; charset=utf-8")])
            return [body.encode() + b"\n"]
        return metrics(environ, start_response)

    return app


class CSIMetrics:
    def __init__(self, driver: str, registry: CollectorRegistry | None = None) -> None:
        self.driver = driver
        self.registry = registry or CollectorRegistry()
        self.operations = Counter(
            "csi_operations_total",
            "CSI calls served, by method and gRPC status code.",
            ["driver", "method", "code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "csi_operation_duration_seconds",
            "Time a CSI call took, by method.",
            ["driver", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )

    def observe(self, method: str, code: str, seconds: float) -> None:
        self.operations.labels(self.driver, method, code).inc()
        self.duration.labels(self.driver, method).observe(seconds)

    def serve(self, address: str, health: Health | None = None) -> WSGIServer:
        """Serve /metrics, and /healthz when ``health`` is given, on ``host:port`` (port 0: any free one), a
        thread per request (as prometheus_client's own server, which has no room for /healthz)."""
        host, _, port = address.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"

        class Server(ThreadingWSGIServer):
            # IPv4 or IPv6, by the address (the server class's default is IPv4 only).
            address_family = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]

        httpd = make_server(host, int(port), wsgi_app(self.registry, health), Server, handler_class=_QuietHandler)
        threading.Thread(target=httpd.serve_forever, name="metrics-http", daemon=True).start()
        return httpd
