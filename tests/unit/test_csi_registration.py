"""The node plugin's own kubelet registration (csi.registration) and /healthz (csi.metrics, csi.server.Health):
GetInfo's answer, the settings that turn registration on (both or neither, never in controller mode), a
round trip with the Registration service over a unix socket (a stale socket replaced, the kubelet's report
kept, the socket removed at the end), and /healthz's answers by Probe and registration status."""

from __future__ import annotations

import asyncio
import http.client
import logging
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIServer

import grpc
import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from csi.__main__ import main, parse_args
from csi.config import CSIConfig
from csi.metrics import NO_ANSWER, NOT_READY, CSIMetrics, health_answer
from csi.proto import pluginregistration_pb2 as pb
from csi.registration import (
    PLUGIN_TYPE,
    SERVICE,
    RegistrationService,
    Status,
    plugin_info,
    registration_problem,
)
from csi.server import Health, start_registration, stop_registration

DRIVER = "rbd.csi.storage.baremetal.io"
HOST_SOCKET = f"/var/lib/kubelet/plugins/{DRIVER}/csi.sock"

# ---------------------------------------------------------------------------- GetInfo's answer


def test_plugin_info() -> None:
    info = plugin_info(DRIVER, HOST_SOCKET)
    assert PLUGIN_TYPE == "CSIPlugin"
    assert (info.type, info.name, info.endpoint, list(info.supported_versions)) == (
        "CSIPlugin",
        DRIVER,
        HOST_SOCKET,
        ["1.0.0"],
    )


def test_registration_problem() -> None:
    assert registration_problem(None) is None  # no report yet
    assert registration_problem(Status(registered=True)) is None
    assert registration_problem(Status(registered=False, error="version 9 unsupported")) == (
        "the kubelet refused the registration: version 9 unsupported"
    )
    assert "no reason given" in (registration_problem(Status(registered=False)) or "")


# ---------------------------------------------------------------------------- settings


def node_config(**kw: object) -> CSIConfig:
    return CSIConfig.model_validate({"driver": "rbd", "mode": "node", "node_id": "n1", **kw})


def test_registration_off_by_default() -> None:
    config = node_config()
    assert (config.kubelet_registration_path, config.registration_dir, config.registration_socket) == ("", None, None)


@pytest.mark.parametrize("mode", ["node", "all"])
def test_registration_socket_is_named_after_the_driver(mode: str) -> None:
    config = node_config(mode=mode, kubelet_registration_path=HOST_SOCKET, registration_dir="/registration")
    assert config.registration_socket == Path(f"/registration/{DRIVER}-reg.sock")
    assert config.kubelet_registration_path == HOST_SOCKET


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"registration_dir": "/registration"}, id="dir-only"),
        pytest.param({"kubelet_registration_path": HOST_SOCKET}, id="path-only"),
    ],
)
def test_registration_settings_go_together(kw: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="go together"):
        node_config(**kw)


def test_registration_refused_in_controller_mode() -> None:
    with pytest.raises(ValidationError, match="not in mode controller"):
        node_config(mode="controller", kubelet_registration_path=HOST_SOCKET, registration_dir="/registration")


def test_registration_path_is_a_bare_host_path() -> None:
    with pytest.raises(ValidationError, match="no unix://") as err:
        node_config(kubelet_registration_path=f"unix://{HOST_SOCKET}", registration_dir="/registration")
    assert err.value.error_count() == 1  # not also "go together"


def test_registration_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSI_KUBELET_REGISTRATION_PATH", HOST_SOCKET)
    monkeypatch.setenv("CSI_REGISTRATION_DIR", "/registration")
    assert node_config().registration_socket == Path(f"/registration/{DRIVER}-reg.sock")
    monkeypatch.setenv("CSI_KUBELET_REGISTRATION_PATH", "")
    monkeypatch.setenv("CSI_REGISTRATION_DIR", "")  # empty is unset, not the working directory
    assert node_config().registration_socket is None


def test_registration_flags() -> None:
    args = parse_args(["--kubelet-registration-path", HOST_SOCKET, "--registration-dir", "/registration"])
    assert args == {"kubelet_registration_path": HOST_SOCKET, "registration_dir": "/registration"}


def test_main_refuses_half_a_registration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--driver", "rbd", "--mode", "node", "--node-id", "n1", "--registration-dir", "/registration"]) == 2
    assert "go together" in capsys.readouterr().err


# ---------------------------------------------------------------------------- the Registration service


async def call(socket: Path, method: str, request: pb.InfoRequest | pb.RegistrationStatus) -> bytes:
    """One call as the kubelet makes it; the raw answer."""
    async with grpc.aio.insecure_channel(f"unix://{socket}") as channel:
        rpc: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(f"/{SERVICE}/{method}")
        answer: bytes = await rpc(request.SerializeToString(), timeout=5)
        return answer


def last_status(service: RegistrationService) -> Status | None:
    # Read through a call: an assert on the attribute would narrow it for mypy across the awaits that change it.
    return service.status


@pytest.mark.asyncio
async def test_registration_round_trip(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    socket = tmp_path / "reg" / "r.sock"
    socket.parent.mkdir()
    socket.write_text("left by an earlier run")
    service = RegistrationService(DRIVER, HOST_SOCKET, socket)
    server = await start_registration(service)
    try:
        assert socket.is_socket()
        info = pb.PluginInfo.FromString(await call(socket, "GetInfo", pb.InfoRequest()))
        assert info == plugin_info(DRIVER, HOST_SOCKET)
        assert last_status(service) is None
        assert service.problem() is None

        with caplog.at_level(logging.INFO, logger="csi.registration"):
            refused = pb.RegistrationStatus(plugin_registered=False, error="driver name clash")
            assert await call(socket, "NotifyRegistrationStatus", refused) == b""  # an empty response
            assert last_status(service) == Status(registered=False, error="driver name clash")
            assert service.problem() == "the kubelet refused the registration: driver name clash"
            assert [(r.levelno, r.getMessage()) for r in caplog.records][-1] == (
                logging.ERROR,
                f"the kubelet refused to register {DRIVER}: driver name clash",
            )

            await call(socket, "NotifyRegistrationStatus", pb.RegistrationStatus(plugin_registered=True))
            assert last_status(service) == Status(registered=True)
            assert service.problem() is None
            assert caplog.records[-1].levelno == logging.INFO
    finally:
        await stop_registration(server, socket)
    assert not socket.exists()


# ---------------------------------------------------------------------------- /healthz


def test_health_answer() -> None:
    assert health_answer(True) == (200, "ok")
    assert health_answer(False) == (503, NOT_READY)
    assert health_answer(None) == (503, NO_ANSWER)
    assert health_answer(True, "the kubelet refused the registration: x") == (
        503,
        "the kubelet refused the registration: x",
    )


class FakePlugin:
    def __init__(self, ready: bool) -> None:
        self.ready = ready
        self.calls = 0
        self.release: asyncio.Event | None = None  # when set, probe waits for it

    async def probe(self) -> bool:
        self.calls += 1
        if self.release is not None:
            await self.release.wait()
        return self.ready


@pytest.mark.asyncio
@pytest.mark.parametrize(("ready", "answer"), [(True, (200, "ok")), (False, (503, NOT_READY))])
async def test_health_asks_probe_on_the_loop(ready: bool, answer: tuple[int, str]) -> None:
    plugin = FakePlugin(ready)
    health = Health(plugin, asyncio.get_running_loop())
    assert await asyncio.to_thread(health) == answer
    assert plugin.calls == 1


@pytest.mark.asyncio
async def test_health_when_probe_hangs() -> None:
    plugin = FakePlugin(True)
    plugin.release = asyncio.Event()
    health = Health(plugin, asyncio.get_running_loop(), timeout=0.05)
    assert await asyncio.to_thread(health) == (503, NO_ANSWER)
    plugin.release.set()


def test_health_when_the_loop_is_gone() -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    assert Health(FakePlugin(True), loop)() == (503, NO_ANSWER)  # and no never-awaited coroutine


@pytest.mark.asyncio
async def test_health_reports_a_refused_registration(tmp_path: Path) -> None:
    plugin = FakePlugin(True)
    service = RegistrationService(DRIVER, HOST_SOCKET, tmp_path / "r.sock")
    health = Health(plugin, asyncio.get_running_loop(), service)
    assert await asyncio.to_thread(health) == (200, "ok")  # no report yet
    service.status = Status(registered=False, error="no such version")
    assert await asyncio.to_thread(health) == (503, "the kubelet refused the registration: no such version")
    assert plugin.calls == 1  # a refused registration needs no Probe
    service.status = Status(registered=True)
    assert await asyncio.to_thread(health) == (200, "ok")


@pytest.fixture
def metrics_server() -> Iterator[tuple[WSGIServer, list[tuple[int, str]]]]:
    answers = [(200, "ok")]  # the last one is served
    httpd = CSIMetrics(DRIVER, CollectorRegistry()).serve("127.0.0.1:0", lambda: answers[-1])
    yield httpd, answers
    httpd.shutdown()
    httpd.server_close()


def get(httpd: WSGIServer, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", httpd.server_port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_healthz_over_http(metrics_server: tuple[WSGIServer, list[tuple[int, str]]]) -> None:
    httpd, answers = metrics_server
    assert get(httpd, "/healthz") == (200, "ok\n")
    answers.append((503, "the kubelet refused the registration: x"))
    assert get(httpd, "/healthz") == (503, "the kubelet refused the registration: x\n")
    status, body = get(httpd, "/metrics")
    assert status == 200
    assert "csi_operations_total" in body
