"""/metrics, /healthz and /readyz on a port of their own (aiohttp, already a dependency of kopf), for
every long-running process of the project (operator, node agent)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

Probe = Callable[[], tuple[bool, str]]


class Exposes(Protocol):
    def exposition(self) -> tuple[bytes, str]: ...


async def serve(host: str, port: int, metrics: Exposes, *, healthy: Probe, ready: Probe) -> web.AppRunner:
    """Start serving; the caller stops it with ``await runner.cleanup()``."""

    async def get_metrics(_request: web.Request) -> web.Response:
        body, content_type = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    def probe(check: Probe) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(_request: web.Request) -> web.Response:
            ok, detail = check()
            return web.Response(status=200 if ok else 503, text=detail + "\n")

        return handler

    app = web.Application()
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/healthz", probe(healthy))
    app.router.add_get("/readyz", probe(ready))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
