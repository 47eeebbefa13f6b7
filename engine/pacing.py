"""Send as fast as each platform allows, and no faster: per-platform limits and a pacer.

The limits live in one table, :data:`LIMITS`, per connector kind: how many messages one
connection (a bot or an account) may send in a window, and how many one chat may receive.
The pacer keeps, for every key (a connection, or a connection and a chat), the times of
its last sends (a sliding window) and lets a send through at the earliest moment every
window it falls in allows. A platform that still answers "too many requests, retry after
N s" blocks the key it named for N s (:meth:`Pacer.block`); the caller tries again.

Windows are measured when a send leaves here, but enforced where it arrives: a send held
up on the way arrives late, and the next one may arrive early. ``SLACK`` widens every
window a little so that jitter does not turn into 429s, which cost far more (a second or
more of waiting) than the slack does. For the same reason a connection's sends are spread
evenly over its window rather than let out in bursts of a whole window at once: a burst
arrives spread by the way, the next one bunched, and the platform counts a window too many.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# Seconds added to every window (see the module docstring).
SLACK = 0.04
# How far behind its timeline an even window may fall and still catch up: a send woken a
# few milliseconds late (a busy event loop) does not push back all the later ones. Larger
# catch-ups pack sends against the window's edge, where jitter on the way turns into 429s.
CATCH_UP = 0.01


@dataclass(frozen=True)
class Limit:
    """At most ``count`` sends in any ``seconds`` long window."""

    count: int
    seconds: float

    @property
    def rate(self) -> float:
        """Sends per second the limit allows in the long run."""
        return self.count / self.seconds


@dataclass(frozen=True)
class PlatformLimits:
    connection: Limit  # everything one bot or account sends
    group: Limit  # what one group or channel receives from it
    private: Limit  # what one person receives from it (a direct chat)
    # A 429 stops the whole connection (account flood waits), not only the chat it named.
    whole_connection_on_429: bool = False


LIMITS: dict[str, PlatformLimits] = {
    # Bot API FAQ: about 30 messages/s overall, 20/min per group, about 1/s per private chat.
    "telegram_bot": PlatformLimits(Limit(30, 1.0), Limit(20, 60.0), Limit(1, 1.0)),
    # Accounts are not meant for mass sending: Telegram answers FLOOD_WAIT for the account.
    "telegram_user": PlatformLimits(
        Limit(1, 1.0), Limit(20, 60.0), Limit(1, 1.0), whole_connection_on_429=True
    ),
    # Discord: 50 requests/s per bot (global), about 5 messages per 5 s per channel.
    "discord_bot": PlatformLimits(Limit(50, 1.0), Limit(5, 5.0), Limit(5, 5.0)),
    # WhatsApp bans accounts that send in bursts: one message every 2 s per account.
    "whatsapp_user": PlatformLimits(
        Limit(1, 2.0), Limit(1, 2.0), Limit(1, 2.0), whole_connection_on_429=True
    ),
}
# A connector kind missing above is paced like an account: slowly.
CAUTIOUS = LIMITS["whatsapp_user"]


def limits_of(kind: str) -> PlatformLimits:
    return LIMITS.get(kind, CAUTIOUS)


def is_group(kind: str, chat_id: str) -> bool:
    """Whether a chat is a group or channel rather than one person (Telegram ids: groups
    and channels are negative; WhatsApp: group JIDs end in @g.us; Discord: channels)."""
    if kind.startswith("telegram"):
        return chat_id.startswith("-")
    if kind == "whatsapp_user":
        return chat_id.endswith("@g.us")
    return True


Key = tuple[str, ...]


@dataclass(frozen=True)
class Lane:
    """Where one send goes: the keys it counts against, each with its limit."""

    connection: Key
    chat: Key
    connection_limit: Limit
    chat_limit: Limit
    whole_connection_on_429: bool

    @classmethod
    def of(cls, kind: str, connection: int | None, chat_id: str) -> Lane:
        limits = limits_of(kind)
        group = is_group(kind, chat_id)
        return cls(
            connection=(kind, str(connection)),
            chat=(kind, str(connection), chat_id),
            connection_limit=limits.connection,
            chat_limit=limits.group if group else limits.private,
            whole_connection_on_429=limits.whole_connection_on_429,
        )


class _Window:
    """The recent sends of one key, and until when a 429 blocks it. An ``even`` window also
    hands out its sends on a timeline of equal slots; a send that left late (the event loop
    was busy) does not push the timeline back, the next ones catch up within the window."""

    __slots__ = ("limit", "sent", "blocked_until", "lock", "gap", "next_slot")

    def __init__(self, limit: Limit, *, even: bool = False) -> None:
        self.limit = limit
        self.sent: deque[float] = deque(maxlen=limit.count)
        self.blocked_until = 0.0
        self.lock = asyncio.Lock()
        self.gap = (limit.seconds + SLACK) / limit.count if even else 0.0
        self.next_slot = 0.0

    def ready_at(self) -> float:
        """The earliest time one more send fits the window (and no block holds)."""
        full = len(self.sent) == self.limit.count
        window_end = self.sent[0] + self.limit.seconds + SLACK if full else 0.0
        return max(window_end, self.next_slot, self.blocked_until)

    def take(self, now: float) -> None:
        self.sent.append(now)
        if self.gap:
            self.next_slot = max(self.next_slot, now - CATCH_UP) + self.gap


class Pacer:
    """Waits, per lane, until a send fits every window it falls in; one pacer per job.

    Waiters of one chat queue behind that chat's lock, and only a send whose chat is
    ready queues for the connection, so a chat at its limit never holds up the others.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._windows: dict[Key, _Window] = {}

    def _window(self, key: Key, limit: Limit, *, even: bool = False) -> _Window:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(limit, even=even)
        return window

    async def acquire(self, lane: Lane) -> None:
        """Return once a send on ``lane`` is allowed, counting it as sent now."""
        chat = self._window(lane.chat, lane.chat_limit)
        connection = self._window(lane.connection, lane.connection_limit, even=True)
        async with chat.lock:
            while True:
                await self._wait_for(chat)
                async with connection.lock:
                    await self._wait_for(connection)
                    if chat.ready_at() <= self._clock():  # a 429 may have blocked it meanwhile
                        now = self._clock()
                        chat.take(now)
                        connection.take(now)
                        return

    async def _wait_for(self, window: _Window) -> None:
        while (wait := window.ready_at() - self._clock()) > 0:
            await self._sleep(wait)

    def block(self, lane: Lane, seconds: float) -> None:
        """The platform said "retry after ``seconds``": no send on the chat (or the whole
        connection, for a global or account-wide limit) before then."""
        until = self._clock() + seconds
        keys = [(lane.chat, lane.chat_limit)]
        if lane.whole_connection_on_429:
            keys.append((lane.connection, lane.connection_limit))
        for key, limit in keys:
            window = self._window(key, limit, even=key == lane.connection)
            window.blocked_until = max(window.blocked_until, until)

    def block_connection(self, lane: Lane, seconds: float) -> None:
        """Hold every send of the connection (a global limit, an outage) for ``seconds``."""
        window = self._window(lane.connection, lane.connection_limit, even=True)
        window.blocked_until = max(window.blocked_until, self._clock() + seconds)


def minimum_seconds(sends: dict[tuple[str, int | None], int]) -> float:
    """The least time the limits allow for these sends per (kind, connection), one per
    chat, connections in parallel: what a benchmark compares its wall time with."""
    return max(
        (count / limits_of(kind).connection.rate for (kind, _), count in sends.items()),
        default=0.0,
    )
