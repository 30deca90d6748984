"""A small asyncio client of the Kubernetes API (aiohttp), for the node agent and the NFS provisioner.

Why not the kubernetes package: importing it costs the agent about 30 MB of memory (every model class
of the whole API), and an agent runs on every node for a handful of calls: read its Node, create and
patch its DiskInventory. This client does exactly that: JSON over HTTPS with a bearer token (a
ServiceAccount's, re-read from its file on every call so a rotated token is picked up) or a client
certificate, the API server's CA, and errors mapped onto the project's hierarchy. The operator's NFS
provisioner uses it too: a burst of claims means hundreds of concurrent writes, which asyncio does without
a thread per call, under a client-side rate limit (QPS and burst, as client-go's).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from storage_operator.errors import Conflict, KubeAPIError, NotFound, StorageError

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TIMEOUT = aiohttp.ClientTimeout(total=30, connect=5)
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Credentials:
    server: str
    ca_pem: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False

    def bearer(self) -> str | None:
        if self.token_file is not None:
            return self.token_file.read_text().strip()
        return self.token


def from_kubeconfig(path: Path) -> Credentials:
    """The current context of a kubeconfig: server, CA, and a token, token file or client cert paths."""
    doc = yaml.safe_load(path.read_text())
    context_name = doc.get("current-context")
    context = next((c["context"] for c in doc.get("contexts", []) if c["name"] == context_name), None)
    if context is None:
        raise StorageError(f"{path}: no current context")
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in doc["users"] if u["name"] == context["user"])
    base = path.parent

    def rel(value: str | None) -> Path | None:
        return None if value is None else (Path(value) if Path(value).is_absolute() else base / value)

    ca = cluster.get("certificate-authority-data")
    ca_file = rel(cluster.get("certificate-authority"))
    if (
        user.get("client-certificate-data")
        or user.get("client-key-data")
        or user.get("exec")
        or user.get("auth-provider")
    ):
        raise StorageError(f"{path}: only tokens, token files and client certificates by path are supported")
    return Credentials(
        server=str(cluster["server"]).rstrip("/"),
        ca_pem=base64.b64decode(ca).decode() if ca else (ca_file.read_text() if ca_file else None),
        token=user.get("token"),
        token_file=rel(user.get("tokenFile")),
        cert_file=rel(user.get("client-certificate")),
        key_file=rel(user.get("client-key")),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
    )


def in_cluster() -> Credentials:
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port or not (SA_DIR / "token").exists():
        raise StorageError(
            "not running in a cluster (no ServiceAccount token mounted) and no kubeconfig given: "
            "pass --kubeconfig or set KUBECONFIG"
        )
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    return Credentials(server=server, ca_pem=(SA_DIR / "ca.crt").read_text(), token_file=SA_DIR / "token")


class RateLimiter:
    """A token bucket: ``qps`` requests a second on average, bursts of up to ``burst`` (client-go's rule)."""

    def __init__(self, qps: float, burst: int) -> None:
        self.qps = qps
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.qps)
            self._stamp = now
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.qps)
                self._stamp = time.monotonic()
                self._tokens = 1.0
            self._tokens -= 1


class LightClient:
    def __init__(self, credentials: Credentials, *, limiter: RateLimiter | None = None) -> None:
        self.credentials = credentials
        self.limiter = limiter
        ctx = (
            ssl.create_default_context(cadata=credentials.ca_pem)
            if credentials.ca_pem
            else ssl.create_default_context()
        )
        if credentials.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if credentials.cert_file is not None:
            ctx.load_cert_chain(str(credentials.cert_file), str(credentials.key_file) if credentials.key_file else None)
        self._ssl = ctx
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_config(cls, kubeconfig: Path | None, *, limiter: RateLimiter | None = None) -> LightClient:
        return cls(from_kubeconfig(kubeconfig) if kubeconfig is not None else in_cluster(), limiter=limiter)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        token = self.credentials.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Enough connections for a burst of concurrent writes (aiohttp's default is 100 in all).
            self._session = aiohttp.ClientSession(timeout=TIMEOUT, connector=aiohttp.TCPConnector(limit=64))
        return self._session

    async def request(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json") -> Any:
        session = self._open()
        if self.limiter is not None:
            await self.limiter.take()
        headers = self._headers()
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            async with session.request(
                method, self.credentials.server + path, json=body, headers=headers, ssl=self._ssl
            ) as resp:
                payload = await resp.json(content_type=None) if resp.content_length != 0 else None
                if resp.status >= 400:
                    raise _error(resp.status, payload)
                return payload
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise KubeAPIError(0, "Unreachable", f"the API server did not answer: {exc}") from exc

    async def get(self, path: str) -> Any:
        return await self.request("GET", path)

    async def post(self, path: str, body: Any) -> Any:
        return await self.request("POST", path, body)

    async def merge_patch(self, path: str, body: Any) -> Any:
        return await self.request("PATCH", path, body, content_type=MERGE_PATCH)

    async def delete(self, path: str) -> Any:
        return await self.request("DELETE", path)

    async def watch(self, path: str, *, resource_version: str, timeout_seconds: int) -> AsyncIterator[dict[str, Any]]:
        """The events of a watch from ``resource_version`` until the server ends it (bookmarks included).

        Watches are long-lived reads: they take no token from the rate limiter.
        """
        session = self._open()
        sep = "&" if "?" in path else "?"
        url = (
            f"{self.credentials.server}{path}{sep}watch=1&allowWatchBookmarks=true"
            f"&resourceVersion={resource_version}&timeoutSeconds={timeout_seconds}"
        )
        timeout = aiohttp.ClientTimeout(total=None, connect=5, sock_read=timeout_seconds + 30)
        try:
            async with session.get(url, headers=self._headers(), ssl=self._ssl, timeout=timeout) as resp:
                if resp.status >= 400:
                    raise _error(resp.status, await resp.json(content_type=None))
                async for line in resp.content:
                    if line.strip():
                        yield json.loads(line)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise KubeAPIError(0, "Unreachable", f"the watch of {path} ended: {exc}") from exc


def _error(status: int, payload: Any) -> StorageError:
    message = str(payload.get("message", "")) if isinstance(payload, dict) else str(payload)
    reason = str(payload.get("reason", "")) if isinstance(payload, dict) else ""
    if status == 404:
        return NotFound(message)
    if status == 409:
        return Conflict(message)
    return KubeAPIError(status, reason, message)
