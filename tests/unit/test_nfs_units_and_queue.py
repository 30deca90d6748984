"""Small pure parts the NFS provisioner stands on: quantities, its work queue, the API client's rate limiter
and the bodies of the Events it posts on claims and volumes."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest

from storage_operator.controllers.nfs.queue import WorkQueue
from storage_operator.kube.core_events import COMPONENT, MAX_MESSAGE, event_body
from storage_operator.kube.light import RateLimiter
from storage_operator.reconcile.units import format_quantity, human_bytes, parse_quantity

T = TypeVar("T")
Ki, Mi, Gi, Ti = 2**10, 2**20, 2**30, 2**40
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), timeout=5)

    return asyncio.run(bounded())


# ---------------------------------------------------------------- quantities


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("100", 100),
        ("1Ki", Ki),
        ("1Mi", Mi),
        ("1Gi", Gi),
        ("10Gi", 10 * Gi),
        ("1Ti", Ti),
        ("1Pi", 2**50),
        ("1Ei", 2**60),
        ("1k", 1000),
        ("1M", 10**6),
        ("500M", 500 * 10**6),
        ("1G", 10**9),
        ("1T", 10**12),
        ("1P", 10**15),
        ("1E", 10**18),  # exa, not an exponent
        ("1.5Gi", 3 * Gi // 2),
        ("0.5Ki", 512),
        ("1.0001Ki", 1025),  # 1024.1024 rounded up
        ("0.1", 1),  # fractions of a byte round up
        ("1.5", 2),
        ("0.001k", 1),
        ("1e3", 1000),
        ("1.5e3", 1500),
        ("1e9", 10**9),
        ("1e-3", 1),
        ("2.5e-1Ki", 256),
        (" 2Gi ", 2 * Gi),
        ("0Gi", 0),
    ],
)
def test_parse_quantity(text: str, value: int) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "Gi", "1Gb", "1GB", "1K", "1KiB", "1 2", "1..5Gi", "Gi1", "0x10", "1i"])
def test_parse_quantity_refuses_text_that_is_no_quantity(text: str) -> None:
    with pytest.raises(ValueError, match="not a quantity") as info:
        parse_quantity(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("text", ["-1", "-1Gi", "-0.5", "inf", "Infinity", "NaN", "-inf"])
def test_parse_quantity_refuses_negative_and_infinite(text: str) -> None:
    with pytest.raises(ValueError, match="not a quantity") as info:
        parse_quantity(text)
    assert repr(text) in str(info.value)


def test_parse_quantity_refuses_a_huge_exponent_with_value_error() -> None:
    with pytest.raises(ValueError, match="1e999999999"):
        parse_quantity("1e999999999")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (1, "1"),
        (1000, "1000"),
        (1023, "1023"),
        (Ki, "1Ki"),
        (1536, "1536"),
        (3 * Mi // 2, "1536Ki"),
        (Gi, "1Gi"),
        (10 * Gi, "10Gi"),
        (1536 * Mi, "1536Mi"),
        (3 * Ti, "3Ti"),
        (2**50, "1Pi"),
        (2**60, "1Ei"),
        (2**70, "1024Ei"),
        (10**9, "1000000000"),
    ],
)
def test_format_quantity(value: int, text: str) -> None:
    assert format_quantity(value) == text


@pytest.mark.parametrize("value", [0, 1, 999, Ki, 3 * Gi // 2, 10**9, 10**12 + 1, 7 * Ti, 2**63 - 1])
def test_format_then_parse_is_exact(value: int) -> None:
    assert parse_quantity(format_quantity(value)) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (100 * Mi, "100 MiB"), (2**70, "1024 EiB")],
)
def test_human_bytes(value: int, text: str) -> None:
    assert human_bytes(value) == text


# ---------------------------------------------------------------- WorkQueue


async def next_key(queue: WorkQueue[str], timeout: float = 1.0) -> str:
    return await asyncio.wait_for(queue.get(), timeout)


async def nothing_ready(queue: WorkQueue[str], wait: float = 0.03) -> bool:
    try:
        key = await asyncio.wait_for(queue.get(), wait)
    except TimeoutError:
        return True
    queue.done(key)
    return False


def test_queue_hands_out_keys_in_order_and_each_waiting_key_once() -> None:
    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue()
        for key in ("c", "a", "c", "b", "a", "c"):
            queue.add(key)
        assert len(queue) == 3
        assert [await next_key(queue) for _ in range(3)] == ["c", "a", "b"]
        assert len(queue) == 0
        assert await nothing_ready(queue)

    run(scenario)


def test_queue_a_key_changed_while_handled_is_handed_out_again_after_done() -> None:
    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("a")
        assert await next_key(queue) == "a"
        queue.add("a")
        queue.add("a")
        assert len(queue) == 1  # waiting once
        assert await nothing_ready(queue)  # never to a second worker while the first handles it
        queue.add("b")
        assert await next_key(queue) == "b"  # other keys are not held up
        queue.done("b")
        queue.done("a")
        assert await next_key(queue) == "a"
        queue.done("a")
        assert len(queue) == 0
        assert await nothing_ready(queue)

    run(scenario)


def test_queue_done_without_a_change_does_not_hand_the_key_out_again() -> None:
    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("a")
        queue.done(await next_key(queue))
        assert await nothing_ready(queue)

    run(scenario)


def test_queue_two_workers_never_hold_the_same_key() -> None:
    async def scenario() -> list[str]:
        queue: WorkQueue[str] = WorkQueue()
        holding: set[str] = set()
        handled: list[str] = []

        async def worker() -> None:
            while True:
                key = await queue.get()
                assert key not in holding
                holding.add(key)
                await asyncio.sleep(0.005)
                handled.append(key)
                holding.discard(key)
                queue.done(key)

        workers = [asyncio.create_task(worker()) for _ in range(2)]
        for _ in range(5):
            queue.add("a")
            await asyncio.sleep(0.002)
        await asyncio.sleep(0.05)
        for task in workers:
            task.cancel()
        outcomes = await asyncio.gather(*workers, return_exceptions=True)
        assert all(isinstance(o, asyncio.CancelledError) for o in outcomes), outcomes  # no worker failed
        return handled

    handled = run(scenario)
    assert 2 <= len(handled) <= 5
    assert set(handled) == {"a"}


def test_queue_add_after_delays() -> None:
    async def scenario() -> float:
        queue: WorkQueue[str] = WorkQueue()
        start = time.monotonic()
        queue.add_after("a", 0.05)
        assert queue.pending_later("a")
        assert len(queue) == 0
        assert await nothing_ready(queue, 0.01)
        assert await next_key(queue) == "a"
        assert not queue.pending_later("a")
        return time.monotonic() - start

    assert run(scenario) >= 0.04


@pytest.mark.parametrize("delays", [(10.0, 0.02), (0.02, 10.0)])
def test_queue_add_after_the_earlier_time_wins(delays: tuple[float, float]) -> None:
    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue()
        for delay in delays:
            queue.add_after("a", delay)
        assert await next_key(queue, 0.5) == "a"
        assert not queue.pending_later("a")
        queue.done("a")
        assert await nothing_ready(queue, 0.05)  # the later time was dropped, not kept as a second add
        queue.close()

    run(scenario)


@pytest.mark.parametrize("delay", [0.0, -1.0])
def test_queue_add_after_without_delay_adds_now(delay: float) -> None:
    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue()
        queue.add_after("a", delay)
        assert len(queue) == 1
        assert not queue.pending_later("a")
        assert await next_key(queue, 0.1) == "a"

    run(scenario)


def test_queue_add_cancels_a_pending_delayed_add() -> None:
    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue()
        queue.add_after("a", 0.03)
        queue.add("a")
        assert not queue.pending_later("a")
        assert await next_key(queue) == "a"
        queue.done("a")
        await asyncio.sleep(0.06)
        assert len(queue) == 0
        assert await nothing_ready(queue)

    run(scenario)


def test_queue_close_cancels_delayed_adds() -> None:
    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue()
        queue.add_after("a", 0.02)
        queue.add_after("b", 0.02)
        queue.close()
        assert not queue.pending_later("a")
        await asyncio.sleep(0.05)
        assert len(queue) == 0

    run(scenario)


def test_queue_delayed_add_of_a_key_being_handled_waits_for_done() -> None:
    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("a")
        assert await next_key(queue) == "a"
        queue.add_after("a", 0.01)
        await asyncio.sleep(0.03)
        assert len(queue) == 1
        assert await nothing_ready(queue)
        queue.done("a")
        assert await next_key(queue) == "a"

    run(scenario)


def test_queue_keys_may_be_tuples() -> None:
    async def scenario() -> tuple[str, str]:
        queue: WorkQueue[tuple[str, str]] = WorkQueue()
        queue.add(("ns", "name"))
        queue.add(("ns", "name"))
        assert len(queue) == 1
        return await asyncio.wait_for(queue.get(), 1)

    assert run(scenario) == ("ns", "name")


# ---------------------------------------------------------------- RateLimiter


def test_rate_limiter_bursts_then_paces() -> None:
    async def scenario() -> tuple[float, float]:
        limiter = RateLimiter(qps=20, burst=5)
        start = time.monotonic()
        for _ in range(5):
            await limiter.take()
        burst = time.monotonic() - start
        for _ in range(4):
            await limiter.take()
        return burst, time.monotonic() - start

    burst, total = run(scenario)
    assert burst < 0.1  # the burst needs no waiting
    assert 0.15 <= total < 0.8  # four more at 20 a second: about 0.2 s


def test_rate_limiter_concurrent_callers_share_the_rate() -> None:
    async def scenario() -> float:
        limiter = RateLimiter(qps=50, burst=2)
        start = time.monotonic()
        await asyncio.gather(*(limiter.take() for _ in range(7)))
        return time.monotonic() - start

    elapsed = run(scenario)
    assert 0.07 <= elapsed < 0.6  # five beyond the burst at 50 a second: about 0.1 s


def test_rate_limiter_idle_time_refills_no_more_than_the_burst() -> None:
    async def scenario() -> float:
        limiter = RateLimiter(qps=10, burst=2)
        await limiter.take()
        await limiter.take()
        await asyncio.sleep(0.3)  # three tokens' worth of time, but the bucket holds two
        start = time.monotonic()
        for _ in range(3):
            await limiter.take()
        return time.monotonic() - start

    elapsed = run(scenario)
    assert 0.07 <= elapsed < 0.5  # the third waits about 0.1 s


def test_rate_limiter_burst_is_at_least_one() -> None:
    assert RateLimiter(qps=5, burst=0).burst == 1
    assert RateLimiter(qps=5, burst=-3).burst == 1

    async def scenario() -> float:
        limiter = RateLimiter(qps=20, burst=0)
        start = time.monotonic()
        await limiter.take()
        first = time.monotonic() - start
        assert first < 0.04
        await limiter.take()
        return time.monotonic() - start

    assert 0.03 <= run(scenario) < 0.5  # the second waits about 0.05 s


# ---------------------------------------------------------------- Event bodies

NOW = datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
CLAIM: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": "data", "namespace": "team-a", "uid": "u-1", "resourceVersion": "42"},
}


def body(involved: dict[str, Any], message: str = "made it", now: datetime = NOW) -> dict[str, Any]:
    return event_body(
        involved, type_="Normal", reason="ProvisioningSucceeded", message=message, instance="op-1", now=now
    )


def test_event_body_of_a_claim() -> None:
    got = body(CLAIM)
    assert got["apiVersion"] == "v1"
    assert got["kind"] == "Event"
    assert got["metadata"]["namespace"] == "team-a"
    assert got["metadata"]["name"].startswith("data.")
    assert got["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "name": "data",
        "namespace": "team-a",
        "uid": "u-1",
        "resourceVersion": "42",
    }
    assert (got["type"], got["reason"], got["message"], got["count"]) == (
        "Normal",
        "ProvisioningSucceeded",
        "made it",
        1,
    )
    assert got["firstTimestamp"] == got["lastTimestamp"] == "2024-02-03T04:05:06Z"
    assert got["source"] == {"component": COMPONENT}
    assert (got["reportingComponent"], got["reportingInstance"]) == (COMPONENT, "op-1")


def test_event_body_of_a_cluster_scoped_object_goes_to_default() -> None:
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pvc-u-1", "uid": "u-2"}}
    got = body(pv)
    assert got["metadata"]["namespace"] == "default"
    assert got["involvedObject"]["namespace"] is None
    assert got["involvedObject"]["kind"] == "PersistentVolume"


def test_event_body_without_metadata_still_has_a_name() -> None:
    got = body({"kind": "PersistentVolume"})
    assert got["metadata"]["name"].startswith("object.")
    assert got["metadata"]["namespace"] == "default"
    assert got["involvedObject"]["apiVersion"] == "v1"


@pytest.mark.parametrize("length", [1, 63, 200, 201, 253])
def test_event_name_is_bounded_and_valid(length: int) -> None:
    name = "a" * length
    got = body({"kind": "PersistentVolume", "metadata": {"name": name}})["metadata"]["name"]
    assert len(got) <= 253
    assert got.startswith(name[:200] + ".")
    assert DNS_SUBDOMAIN.fullmatch(got)


@pytest.mark.parametrize(("length", "kept"), [(0, 0), (10, 10), (MAX_MESSAGE, MAX_MESSAGE), (5000, MAX_MESSAGE)])
def test_event_message_is_truncated(length: int, kept: int) -> None:
    message = "x" * length
    assert body(CLAIM, message)["message"] == "x" * kept
    assert MAX_MESSAGE == 1024


def test_event_names_are_unique() -> None:
    names = {body(CLAIM)["metadata"]["name"] for _ in range(2000)}
    assert len(names) == 2000


def test_event_timestamps_keep_other_offsets() -> None:
    east = timezone(timedelta(hours=2))
    got = body(CLAIM, now=datetime(2024, 2, 3, 6, 5, 6, tzinfo=east))
    assert got["firstTimestamp"] == "2024-02-03T06:05:06+02:00"
