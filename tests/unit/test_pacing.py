"""The pacer lets sends through as early as the platform's limits allow, on a fake clock."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable
from typing import TypeVar

import pytest

from engine.pacing import CATCH_UP, LIMITS, SLACK, Lane, Pacer, is_group, minimum_seconds

T = TypeVar("T")


class FakeClock:
    """Simulated time: it jumps to the next wake-up once every task is waiting, so
    sleeping costs nothing and concurrent waiters see one consistent clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self._wakeups: list[tuple[float, int, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._wakeups, (self.now + seconds, id(future), future))
        await future

    async def run(self, work: Awaitable[T]) -> T:
        """Run ``work``, moving time forward whenever it and its tasks all wait."""
        task = asyncio.ensure_future(work)
        while not task.done():
            for _ in range(50):  # let every runnable task reach its next wait
                await asyncio.sleep(0)
            if self._wakeups and not task.done():
                self.now, _, future = heapq.heappop(self._wakeups)
                future.set_result(None)
        return task.result()


def pacer_and_clock() -> tuple[Pacer, FakeClock]:
    clock = FakeClock()
    return Pacer(clock=clock, sleep=clock.sleep), clock


async def send_times(pacer: Pacer, clock: FakeClock, lanes: list[Lane]) -> list[float]:
    """When each send was let through, sends started in this order."""
    times: list[float] = [-1.0] * len(lanes)

    async def one(index: int, lane: Lane) -> None:
        await pacer.acquire(lane)
        times[index] = clock()

    async def every() -> None:
        await asyncio.gather(*(one(i, lane) for i, lane in enumerate(lanes)))

    await clock.run(every())
    return times


def max_in_window(times: list[float], seconds: float) -> int:
    return max(sum(1 for t in times if start <= t < start + seconds) for start in times)


async def test_a_bot_sends_30_per_second_across_chats_evenly() -> None:
    pacer, clock = pacer_and_clock()
    lanes = [Lane.of("telegram_bot", 1, f"-100{i}") for i in range(95)]

    times = sorted(await send_times(pacer, clock, lanes))

    gap = (1.0 + SLACK) / 30  # spread over the window, not 30 at once then a pause
    assert times == pytest.approx([i * gap for i in range(95)])
    assert max_in_window(times, 1.0) <= 30


async def test_a_send_woken_a_little_late_does_not_delay_the_next() -> None:
    pacer, clock = pacer_and_clock()
    lanes = [Lane.of("telegram_bot", 1, f"-100{i}") for i in range(5)]
    gap = (1.0 + SLACK) / 30

    await pacer.acquire(lanes[0])
    clock.now = gap + CATCH_UP / 2  # woken a little late: the next slot stays where it was
    times = sorted(await send_times(pacer, clock, lanes[1:]))

    assert times == pytest.approx([gap + CATCH_UP / 2, 2 * gap, 3 * gap, 4 * gap])


async def test_a_long_pause_is_not_made_up_in_a_burst() -> None:
    pacer, clock = pacer_and_clock()
    lanes = [Lane.of("telegram_bot", 1, f"-100{i}") for i in range(4)]
    gap = (1.0 + SLACK) / 30

    await pacer.acquire(lanes[0])
    clock.now = 5.0
    times = sorted(await send_times(pacer, clock, lanes[1:]))

    assert times == pytest.approx([5.0, 5.0 - CATCH_UP + gap, 5.0 - CATCH_UP + 2 * gap])


async def test_a_group_gets_20_per_minute_while_other_chats_go_on() -> None:
    pacer, clock = pacer_and_clock()
    group = Lane.of("telegram_bot", 1, "-1001")
    others = [Lane.of("telegram_bot", 1, f"-200{i}") for i in range(5)]

    times = await send_times(pacer, clock, [group] * 21 + others)

    group_times, other_times = sorted(times[:21]), times[21:]
    assert group_times[19] < 1.0
    assert group_times[20] == pytest.approx(60.0 + SLACK)  # the 21st waits for the window
    assert max(other_times) < 1.0  # not held up behind it


async def test_private_chats_get_one_per_second() -> None:
    pacer, clock = pacer_and_clock()
    person = Lane.of("telegram_bot", 1, "42")

    times = await send_times(pacer, clock, [person] * 3)

    assert times == pytest.approx([0.0, 1.0 + SLACK, 2 * (1.0 + SLACK)])


async def test_connections_are_paced_apart() -> None:
    pacer, clock = pacer_and_clock()
    lanes = [Lane.of("telegram_bot", bot, f"-100{i}") for i in range(60) for bot in (1, 2)]

    times = await send_times(pacer, clock, lanes)

    assert max(times) == pytest.approx(59 * (1.0 + SLACK) / 30)  # 60 each, side by side


async def test_a_429_blocks_the_chat_for_retry_after_and_others_go_on() -> None:
    pacer, clock = pacer_and_clock()
    busy, other = Lane.of("discord_bot", 1, "500"), Lane.of("discord_bot", 1, "600")
    pacer.block(busy, 7.0)

    times = await send_times(pacer, clock, [busy, other])

    assert sorted(times) == [0.0, 7.0]


async def test_an_account_flood_wait_blocks_the_whole_account() -> None:
    pacer, clock = pacer_and_clock()
    one, two = Lane.of("telegram_user", 3, "-1001"), Lane.of("telegram_user", 3, "-1002")
    pacer.block(one, 12.0)

    times = await send_times(pacer, clock, [two])

    assert times == [12.0]


async def test_whatsapp_sends_one_every_two_seconds() -> None:
    pacer, clock = pacer_and_clock()
    lanes = [Lane.of("whatsapp_user", 4, f"{i}@g.us") for i in range(3)]

    times = await send_times(pacer, clock, lanes)

    assert times == pytest.approx([0.0, 2.0 + SLACK, 2 * (2.0 + SLACK)])


def test_groups_are_told_from_people() -> None:
    assert is_group("telegram_bot", "-1001234")
    assert not is_group("telegram_bot", "1234")
    assert is_group("whatsapp_user", "120363025246125486@g.us")
    assert not is_group("whatsapp_user", "4915112345678@s.whatsapp.net")
    assert is_group("discord_bot", "98765")


def test_minimum_time_is_set_by_the_slowest_connection() -> None:
    sends = {("telegram_bot", 1): 10_000, ("telegram_bot", 2): 3_000, ("discord_bot", 3): 500}

    assert minimum_seconds(sends) == pytest.approx(10_000 / 30)
    assert LIMITS["discord_bot"].connection.rate == 50
