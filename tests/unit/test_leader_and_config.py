"""Leader election's pure decision, the operator's settings (environment), and how errors become reasons
and retry delays."""

from __future__ import annotations

import os
import socket
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from storage_operator.config import OperatorConfig
from storage_operator.controllers.errors import RETRY_MAX, failure_of, reason_of, retry_after
from storage_operator.errors import (
    CephCommandError,
    CephUnavailable,
    Conflict,
    InvalidSpec,
    KubeAPIError,
    NotFound,
    NotReady,
)
from storage_operator.kube.lease import Decision, LeaseRecord, decide
from tests.unit.ceph_world import NOW

ENV_ALIASES = ("POD_NAMESPACE", "POD_NAME", "KUBECONFIG")

# ---------------------------------------------------------------------------- leader election


def lease(holder: str | None, duration: int = 15) -> LeaseRecord:
    return LeaseRecord(
        holder=holder,
        duration_seconds=duration,
        acquire_time=NOW,
        renew_time=NOW,
        transitions=2,
        resource_version="4711",
    )


@pytest.mark.parametrize(
    ("record", "seen_since", "now", "decision"),
    [
        (None, 0.0, 100.0, "create"),
        (lease("me"), 0.0, 100.0, "renew"),
        (lease("me"), 99.0, 100.0, "renew"),
        (lease(""), 99.0, 100.0, "take"),
        (lease(None), 99.0, 100.0, "take"),
        (lease("other"), 95.0, 100.0, "wait"),
        (lease("other"), 85.0, 100.0, "wait"),  # exactly the duration: not yet expired
        (lease("other"), 84.0, 100.0, "take"),
        (lease("other"), 0.0, 100.0, "take"),
        (lease("other", duration=60), 50.0, 100.0, "wait"),
        (lease("other", duration=60), 39.0, 100.0, "take"),
    ],
    ids=[
        "no-lease",
        "mine",
        "mine-just-seen",
        "released",
        "no-holder",
        "other-fresh",
        "other-at-duration",
        "other-expired",
        "other-long-gone",
        "other-long-lease",
        "other-long-lease-expired",
    ],
)
def test_decide(record: LeaseRecord | None, seen_since: float, now: float, decision: Decision) -> None:
    assert decide(record, me="me", seen_since=seen_since, now=now) == decision


def test_lease_version_changes_with_holder_and_renewal() -> None:
    record = lease("other")
    assert record.version == ("other", NOW)
    renewed = LeaseRecord("other", 15, NOW, datetime(2026, 11, 27, 0, 0, 5, tzinfo=NOW.tzinfo), 2, "4712")
    assert renewed.version != record.version


# ---------------------------------------------------------------------------- OperatorConfig


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No operator setting inherited from the environment the tests run in."""
    for name in list(os.environ):
        if name.startswith("STORAGE_OPERATOR_") or name in ENV_ALIASES:
            monkeypatch.delenv(name)
    return monkeypatch


def test_config_defaults(clean_env: pytest.MonkeyPatch) -> None:
    config = OperatorConfig()
    assert config.namespace == "storage-system"
    assert config.identity == f"{socket.gethostname()}-{os.getpid()}"
    assert config.kubeconfig is None
    assert (config.http_host, config.http_port) == ("0.0.0.0", 8080)  # noqa: S104
    assert config.lease_name == "storage-operator"
    assert (config.lease_duration, config.renew_deadline, config.retry_period) == (15, 10, 2.0)
    assert (config.ceph_workers, config.ceph_connect_timeout, config.ceph_op_timeout, config.kube_workers) == (
        8,
        10,
        15,
        8,
    )
    assert (config.log_level, config.log_format) == ("INFO", "text")


def test_config_from_prefixed_environment(clean_env: pytest.MonkeyPatch) -> None:
    for name, value in {
        "STORAGE_OPERATOR_NAMESPACE": "ops",
        "STORAGE_OPERATOR_IDENTITY": "replica-1",
        "STORAGE_OPERATOR_KUBECONFIG": "/etc/kube/config",
        "STORAGE_OPERATOR_HTTP_PORT": "9090",
        "STORAGE_OPERATOR_LEASE_NAME": "so-leader",
        "STORAGE_OPERATOR_LEASE_DURATION": "30",
        "STORAGE_OPERATOR_RENEW_DEADLINE": "20",
        "STORAGE_OPERATOR_RETRY_PERIOD": "0.5",
        "STORAGE_OPERATOR_CEPH_WORKERS": "16",
        "STORAGE_OPERATOR_LOG_LEVEL": "DEBUG",
        "STORAGE_OPERATOR_LOG_FORMAT": "json",
    }.items():
        clean_env.setenv(name, value)
    config = OperatorConfig()
    assert (config.namespace, config.identity, config.kubeconfig) == ("ops", "replica-1", Path("/etc/kube/config"))
    assert (config.http_port, config.lease_name, config.ceph_workers) == (9090, "so-leader", 16)
    assert (config.lease_duration, config.renew_deadline, config.retry_period) == (30, 20, 0.5)
    assert (config.log_level, config.log_format) == ("DEBUG", "json")


def test_config_from_the_pod_and_kubectl_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("POD_NAMESPACE", "storage")
    clean_env.setenv("POD_NAME", "storage-operator-7d9c-x2")
    clean_env.setenv("KUBECONFIG", "/home/me/.kube/config")
    config = OperatorConfig()
    assert (config.namespace, config.identity, config.kubeconfig) == (
        "storage",
        "storage-operator-7d9c-x2",
        Path("/home/me/.kube/config"),
    )


def test_config_prefixed_variable_wins_over_its_alias(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("STORAGE_OPERATOR_NAMESPACE", "ops")
    clean_env.setenv("POD_NAMESPACE", "storage")
    clean_env.setenv("STORAGE_OPERATOR_KUBECONFIG", "/a")
    clean_env.setenv("KUBECONFIG", "/b")
    config = OperatorConfig()
    assert (config.namespace, config.kubeconfig) == ("ops", Path("/a"))


def test_config_by_field_name(clean_env: pytest.MonkeyPatch) -> None:
    config = OperatorConfig(namespace="ns", identity="me", lease_duration=20, renew_deadline=15, retry_period=1)
    assert (config.namespace, config.identity, config.lease_duration) == ("ns", "me", 20)


def test_config_is_frozen(clean_env: pytest.MonkeyPatch) -> None:
    config = OperatorConfig()
    with pytest.raises(ValidationError, match="frozen"):
        config.namespace = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("lease_duration", "renew_deadline", "retry_period", "valid"),
    [
        (15, 10, 2.0, True),
        (3, 2, 1.0, True),
        (15, 10, 9.5, True),
        (10, 10, 2.0, False),
        (10, 15, 2.0, False),
        (15, 10, 10.0, False),
        (15, 10, 12.0, False),
        (2, 1, 1.0, False),
    ],
)
def test_config_leader_timing_must_be_ordered(
    clean_env: pytest.MonkeyPatch, lease_duration: int, renew_deadline: int, retry_period: float, valid: bool
) -> None:
    def make() -> OperatorConfig:
        return OperatorConfig(lease_duration=lease_duration, renew_deadline=renew_deadline, retry_period=retry_period)

    if valid:
        assert make().lease_duration == lease_duration
        return
    with pytest.raises(ValidationError, match=r"retry_period < renew_deadline < lease_duration"):
        make()


def test_config_leader_timing_from_the_environment_is_checked(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("STORAGE_OPERATOR_RENEW_DEADLINE", "20")
    with pytest.raises(ValueError, match=r"retry_period < renew_deadline < lease_duration"):
        OperatorConfig()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STORAGE_OPERATOR_HTTP_PORT", "0"),
        ("STORAGE_OPERATOR_HTTP_PORT", "65536"),
        ("STORAGE_OPERATOR_CEPH_WORKERS", "0"),
        ("STORAGE_OPERATOR_KUBE_WORKERS", "65"),
        ("STORAGE_OPERATOR_RETRY_PERIOD", "0"),
        ("STORAGE_OPERATOR_LOG_LEVEL", "TRACE"),
        ("STORAGE_OPERATOR_LOG_FORMAT", "xml"),
        ("STORAGE_OPERATOR_CEPH_OP_TIMEOUT", "soon"),
    ],
)
def test_config_rejects_values_out_of_range(clean_env: pytest.MonkeyPatch, name: str, value: str) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ValidationError):
        OperatorConfig()


# ---------------------------------------------------------------------------- controllers/errors


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (CephUnavailable("Unreachable", "no monitor answers"), "Unreachable"),
        (CephUnavailable("AuthenticationFailed", "bad key"), "AuthenticationFailed"),
        (CephCommandError("osd pool create", 22, "bad"), "CephCommandFailed"),
        (NotReady("cluster not connected yet"), "NotReady"),
        (InvalidSpec("no"), "InvalidSpec"),
        (KubeAPIError(409, "Conflict", "changed"), "KubernetesAPIError"),
        (Conflict("changed under us"), "InternalError"),
        (NotFound("gone"), "InternalError"),
        (RuntimeError("boom"), "InternalError"),
        (KeyError("spec"), "InternalError"),
    ],
)
def test_reason_of(exc: BaseException, reason: str) -> None:
    assert reason_of(exc) == reason


def test_failure_of_says_what_happened_without_a_traceback() -> None:
    assert failure_of(CephUnavailable("Unreachable", "no monitor answers")) == ("Unreachable", "no monitor answers")
    assert failure_of(CephCommandError("osd pool create", 22, "bad pg_num")) == (
        "CephCommandFailed",
        "ceph command 'osd pool create' failed with errno 22: bad pg_num",
    )
    assert failure_of(ValueError("boom")) == ("InternalError", "internal error: ValueError: boom")


@pytest.mark.parametrize(
    ("attempt", "delay"),
    [(0, 1.0), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 16.0), (6, 32.0), (7, 60.0), (8, 60.0), (100, 60.0)],
)
def test_retry_after_doubles_up_to_a_minute(attempt: int, delay: float) -> None:
    assert retry_after(CephCommandError("status", 110, "timed out"), attempt) == delay
    assert retry_after(RuntimeError("bug"), attempt) == delay


@pytest.mark.parametrize("attempt", [1025, 5000])
def test_retry_after_stays_capped_after_many_failures(attempt: int) -> None:
    assert retry_after(CephUnavailable("Unreachable", "down"), attempt) == RETRY_MAX


@pytest.mark.parametrize("attempt", [1, 5, 5000])
def test_retry_after_not_ready_uses_its_own_delay(attempt: int) -> None:
    assert retry_after(NotReady("waiting for the cluster", delay=7.5), attempt) == 7.5
    assert retry_after(NotReady("waiting"), attempt) == 5.0
