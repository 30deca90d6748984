"""Per-volume operation locks of the CSI plugin (csi.locks.OperationLocks): a second hold of a busy key is
refused at once with ABORTED, keys are released after the block (also when it raises), several keys are
taken all or none, empty keys are ignored."""

from __future__ import annotations

import asyncio

import pytest

from csi.errors import Aborted
from csi.locks import OperationLocks


class Boom(Exception):
    pass


async def take(locks: OperationLocks, *keys: str) -> None:
    """Hold ``keys`` for a moment; fails the test if they were granted."""
    async with locks.hold(*keys):
        pytest.fail(f"{keys} were taken although one is busy")


@pytest.mark.asyncio
async def test_second_hold_is_aborted_at_once() -> None:
    locks = OperationLocks()
    async with locks.hold("vol-1"):
        assert locks.busy("vol-1")
        with pytest.raises(Aborted, match="an operation on vol-1 is already in progress; retry later"):
            await asyncio.wait_for(take(locks, "vol-1"), 1)  # refused, not queued
        assert locks.busy("vol-1")  # the refused hold did not release the first one
    assert not locks.busy("vol-1")


@pytest.mark.asyncio
async def test_other_keys_are_independent() -> None:
    locks = OperationLocks()
    async with locks.hold("vol-1"), locks.hold("vol-2"):
        assert locks.busy("vol-1")
        assert locks.busy("vol-2")
    assert not locks.busy("vol-1")
    assert not locks.busy("vol-2")


@pytest.mark.asyncio
async def test_released_after_the_block() -> None:
    locks = OperationLocks()
    async with locks.hold("vol-1", "name-1"):
        pass
    assert not locks.busy("vol-1")
    assert not locks.busy("name-1")
    async with locks.hold("vol-1", "name-1"):  # can be taken again
        assert locks.busy("name-1")


@pytest.mark.asyncio
async def test_released_when_the_block_raises() -> None:
    locks = OperationLocks()
    with pytest.raises(Boom):
        async with locks.hold("vol-1", "name-1"):
            raise Boom
    assert not locks.busy("vol-1")
    assert not locks.busy("name-1")


@pytest.mark.asyncio
async def test_released_when_the_task_is_cancelled() -> None:
    locks = OperationLocks()
    entered = asyncio.Event()

    async def hold_forever() -> None:
        async with locks.hold("vol-1"):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(hold_forever())
    await asyncio.wait_for(entered.wait(), 1)
    assert locks.busy("vol-1")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not locks.busy("vol-1")


@pytest.mark.asyncio
async def test_several_keys_all_or_none() -> None:
    locks = OperationLocks()
    async with locks.hold("name-2"):
        with pytest.raises(Aborted, match="name-2"):
            await take(locks, "vol-1", "name-2", "vol-3")
        # Neither the keys before nor after the busy one were kept.
        assert not locks.busy("vol-1")
        assert not locks.busy("vol-3")
        assert locks.busy("name-2")
    assert not locks.busy("name-2")


@pytest.mark.asyncio
async def test_a_refused_hold_does_not_release_anothers_keys() -> None:
    locks = OperationLocks()
    async with locks.hold("vol-1", "name-1"):
        with pytest.raises(Aborted, match="name-1"):
            await take(locks, "vol-2", "name-1")
        assert locks.busy("vol-1")
        assert locks.busy("name-1")
        assert not locks.busy("vol-2")


@pytest.mark.asyncio
async def test_empty_keys_ignored() -> None:
    locks = OperationLocks()
    async with locks.hold("", "vol-1", ""):
        assert not locks.busy("")
        async with locks.hold(""):  # an empty key never conflicts
            assert locks.busy("vol-1")
    async with locks.hold():
        pass
    assert not locks.busy("vol-1")


@pytest.mark.asyncio
async def test_a_key_repeated_in_one_hold() -> None:
    locks = OperationLocks()
    async with locks.hold("vol-1", "vol-1"):
        assert locks.busy("vol-1")
    assert not locks.busy("vol-1")
