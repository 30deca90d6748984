"""What every CSI RPC goes through (csi.rpc): secrets redacted from the logged request, and the ``rpc``
decorator's success and error paths (gRPC abort with the mapped code and the message, the metric counted)."""

from __future__ import annotations

import logging
from typing import Any, cast

import grpc
import pytest

from csi.errors import InvalidArgument, NotFoundError
from csi.metrics import CSIMetrics
from csi.proto import csi_pb2
from csi.rpc import Context, describe, redact, rpc
from storage_operator.errors import CephCommandError

SECRETS = {"userID": "admin", "userKey": "AQBzq3RlAAAAABAAm2yN+7ZVOTqpXqJeMbL5YA=="}


def test_redact_top_level_secrets() -> None:
    doc = {"name": "pvc-1", "secrets": {"userKey": "k", "userID": "u"}, "parameters": {"pool": "p"}}
    assert redact(doc) == {"name": "pvc-1", "secrets": ["userID", "userKey"], "parameters": {"pool": "p"}}


def test_redact_nested_secrets() -> None:
    doc = {
        "a": [{"secrets": {"b": "1", "a": "2"}, "keep": 1}, "text", 3],
        "b": {"c": {"secrets": {"z": "9"}, "d": [True, None]}},
        "secrets": {},
    }
    assert redact(doc) == {
        "a": [{"secrets": ["a", "b"], "keep": 1}, "text", 3],
        "b": {"c": {"secrets": ["z"], "d": [True, None]}},
        "secrets": [],
    }


def test_redact_keeps_everything_else() -> None:
    doc: dict[str, Any] = {
        "volume_id": "rbd:p:x",
        "capacity_range": {"required_bytes": "1024"},
        "volume_context": {"pool": "p", "secretsHint": "not a secret map"},
        "list": [1, [2, {"x": "y"}]],
    }
    assert redact(doc) == doc
    assert redact("plain") == "plain"
    assert redact(5) == 5
    assert redact(None) is None


def test_redact_does_not_change_its_input() -> None:
    doc = {"secrets": {"k": "v"}}
    redact(doc)
    assert doc == {"secrets": {"k": "v"}}


def create_request() -> csi_pb2.CreateVolumeRequest:
    return csi_pb2.CreateVolumeRequest(
        name="pvc-1234",
        capacity_range=csi_pb2.CapacityRange(required_bytes=1024**3),
        parameters={"pool": "replicapool", "csi.storage.k8s.io/pv/name": "pvc-1234"},
        secrets=SECRETS,
        volume_capabilities=[
            csi_pb2.VolumeCapability(
                mount=csi_pb2.VolumeCapability.MountVolume(fs_type="ext4"),
                access_mode=csi_pb2.VolumeCapability.AccessMode(mode="SINGLE_NODE_WRITER"),
            )
        ],
    )


def test_describe_has_no_secret_values() -> None:
    doc = describe(create_request())
    text = str(doc)
    for value in SECRETS.values():
        assert value not in text
    assert doc["secrets"] == ["userID", "userKey"]
    assert doc["name"] == "pvc-1234"
    assert doc["parameters"]["pool"] == "replicapool"
    assert doc["volume_capabilities"][0]["mount"]["fs_type"] == "ext4"


def test_describe_node_stage_request_has_no_secret_values() -> None:
    req = csi_pb2.NodeStageVolumeRequest(volume_id="rbd:replicapool:x", staging_target_path="/staging", secrets=SECRETS)
    text = str(describe(req))
    for value in SECRETS.values():
        assert value not in text
    assert "/staging" in text


# ---------------------------------------------------------------------------- the decorator


class AbortCalled(Exception):
    """What the fake context raises, as grpc.aio's abort() raises to end the call."""


class FakeContext:
    def __init__(self) -> None:
        self.aborts: list[tuple[grpc.StatusCode, str]] = []

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        self.aborts.append((code, details))
        raise AbortCalled(details)


class FakeServicer:
    def __init__(self, error: Exception | None = None) -> None:
        self.metrics = CSIMetrics("x")
        self.error = error
        self.calls = 0

    @rpc
    async def CreateVolume(
        self, request: csi_pb2.CreateVolumeRequest, context: Context
    ) -> csi_pb2.CreateVolumeResponse:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return csi_pb2.CreateVolumeResponse(volume=csi_pb2.Volume(volume_id="rbd:replicapool:x"))

    @rpc
    async def Probe(self, request: csi_pb2.ProbeRequest, context: Context) -> csi_pb2.ProbeResponse:
        return csi_pb2.ProbeResponse()


def count(servicer: FakeServicer, method: str, code: str) -> float | None:
    return servicer.metrics.registry.get_sample_value(
        "csi_operations_total", {"driver": "x", "method": method, "code": code}
    )


@pytest.mark.asyncio
async def test_success_returns_the_response_and_counts_ok() -> None:
    servicer = FakeServicer()
    context = FakeContext()
    response = await servicer.CreateVolume(create_request(), cast(Context, context))
    assert response.volume.volume_id == "rbd:replicapool:x"
    assert servicer.calls == 1
    assert context.aborts == []
    assert count(servicer, "CreateVolume", "OK") == 1.0
    await servicer.CreateVolume(create_request(), cast(Context, context))
    assert count(servicer, "CreateVolume", "OK") == 2.0
    duration = servicer.metrics.registry.get_sample_value(
        "csi_operation_duration_seconds_count", {"driver": "x", "method": "CreateVolume"}
    )
    assert duration == 2.0


@pytest.mark.asyncio
async def test_not_found_aborts_with_the_code_and_message() -> None:
    servicer = FakeServicer(NotFoundError("volume rbd:replicapool:x does not exist"))
    context = FakeContext()
    with pytest.raises(AbortCalled):
        await servicer.CreateVolume(create_request(), cast(Context, context))
    assert context.aborts == [(grpc.StatusCode.NOT_FOUND, "volume rbd:replicapool:x does not exist")]
    assert count(servicer, "CreateVolume", "NOT_FOUND") == 1.0
    assert count(servicer, "CreateVolume", "OK") is None


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("error", "code", "details"),
    [
        pytest.param(
            InvalidArgument("name is required"), grpc.StatusCode.INVALID_ARGUMENT, "name is required", id="csi"
        ),
        pytest.param(
            CephCommandError("fs subvolume create", 17, "exists"),
            grpc.StatusCode.ALREADY_EXISTS,
            "ceph command 'fs subvolume create' failed with errno 17: exists",
            id="ceph-errno",
        ),
        pytest.param(RuntimeError("boom"), grpc.StatusCode.INTERNAL, "boom", id="unexpected"),
        pytest.param(TimeoutError(), grpc.StatusCode.DEADLINE_EXCEEDED, "TimeoutError", id="no-message"),
    ],
)
async def test_errors_abort_with_their_code(error: Exception, code: grpc.StatusCode, details: str) -> None:
    servicer = FakeServicer(error)
    context = FakeContext()
    with pytest.raises(AbortCalled):
        await servicer.CreateVolume(create_request(), cast(Context, context))
    assert context.aborts == [(code, details)]
    assert count(servicer, "CreateVolume", code.name) == 1.0


@pytest.mark.asyncio
async def test_logged_request_has_no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="csi.rpc")
    servicer = FakeServicer(RuntimeError("boom"))
    with pytest.raises(AbortCalled):
        await servicer.CreateVolume(create_request(), cast(Context, FakeContext()))
    assert "CreateVolume" in caplog.text
    for value in SECRETS.values():
        assert value not in caplog.text


@pytest.mark.asyncio
async def test_quiet_methods_are_counted_but_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="csi.rpc")
    servicer = FakeServicer()
    await servicer.Probe(csi_pb2.ProbeRequest(), cast(Context, FakeContext()))
    assert count(servicer, "Probe", "OK") == 1.0
    assert caplog.records == []


def test_the_decorator_keeps_the_method_name() -> None:
    assert FakeServicer.CreateVolume.__name__ == "CreateVolume"
