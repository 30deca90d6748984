"""What every RPC gets: a log line without secrets, a metric, and one mapping of errors to gRPC codes."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from csi.metrics import CSIMetrics
from csi.status import code_for

log = logging.getLogger("csi.rpc")
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)
SECRET_FIELDS = frozenset({"secrets"})
# What every handler receives besides its request (grpc.aio types it by request and response).
Context = grpc.aio.ServicerContext[Any, Any]


class HasMetrics(Protocol):
    metrics: CSIMetrics


def redact(doc: Any) -> Any:
    """``doc`` with every ``secrets`` map replaced by its key names only (values never reach a log)."""
    if isinstance(doc, dict):
        return {k: (sorted(v) if k in SECRET_FIELDS and isinstance(v, dict) else redact(v)) for k, v in doc.items()}
    if isinstance(doc, list):
        return [redact(v) for v in doc]
    return doc


def describe(request: Message) -> dict[str, Any]:
    doc: dict[str, Any] = MessageToDict(request, preserving_proto_field_name=True)
    return redact(doc)  # type: ignore[no-any-return]


Handler = Callable[[Any, Req, Context], Awaitable[Resp]]


def rpc(fn: Handler[Req, Resp]) -> Handler[Req, Resp]:
    method = fn.__name__

    @functools.wraps(fn)
    async def serve(self: HasMetrics, request: Req, context: Context) -> Resp:
        started = time.monotonic()
        code = "OK"
        quiet = method in ("Probe", "NodeGetCapabilities", "ControllerGetCapabilities", "GetPluginInfo")
        if not quiet:
            log.info("%s %s", method, describe(request))
        try:
            response = await fn(self, request, context)
        except Exception as exc:
            code = code_for(exc)
            if code == "INTERNAL":
                log.error("%s failed: %s", method, exc, exc_info=True)
            else:
                log.warning("%s: %s %s", method, code, exc)
            self.metrics.observe(method, code, time.monotonic() - started)
            await context.abort(grpc.StatusCode[code], str(exc) or type(exc).__name__)
            raise  # abort raises; this line only satisfies the type checker
        self.metrics.observe(method, code, time.monotonic() - started)
        if not quiet:
            log.info("%s done in %.3f s", method, time.monotonic() - started)
        return response

    return serve
