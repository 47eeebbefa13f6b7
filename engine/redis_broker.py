"""Dramatiq's Redis broker with doorbells: idle consumers wait on Redis instead of polling it.

Every call of Dramatiq's dispatch script (enqueue, fetch, ack, requeue, and the dead-worker
maintenance that may ride any of them) ends by ringing its queue's doorbell, the list
``<queue>.bell``: a token for each message the call added to the queue, and never more
tokens than messages. A consumer whose fetch found nothing waits in
``BLPOP`` on that doorbell, so an idle worker makes one round trip per wait (IDLE_WAIT_MS)
instead of polling twenty times a second, and a message sent meanwhile is fetched at once.
Redis hands a token to one waiting consumer (the one that has waited longest); the fetch
that follows takes the tokens of the other messages it takes, so a token stands for a
message no woken consumer is coming for. The work queue's consumer sends its next wait in
the same write as its fetch, so a message reaching an idle worker costs one round trip.
A token can still go astray (its consumer dies before fetching, or another consumer's
fetch took its message first): waits end within IDLE_WAIT_MS anyway.

Dramatiq's semantics stay: a fetch moves messages to the worker's unacknowledged set, which
maintenance puts back on the queue once the worker's heartbeat (any script call) is
``heartbeat_timeout`` old, so no wait lasts longer than a third of it; delayed messages live
in the delay queue's hash until moved. Acknowledgements wait for the consumer's next fetch
and go to Redis in its write: a message whose worker dies before then runs again, which
every actor allows (engine/actors.py). Once the traffic stops, that fetch comes when the
consumer's wait ends: within ACK_WAIT_MS if it had messages in flight when the wait began,
else (the wait sent with the fetch that brought the message) within IDLE_WAIT_MS.
"""

from __future__ import annotations

import threading
import weakref
from time import monotonic
from typing import Any

import dramatiq
import redis
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer, _scripts
from dramatiq.common import current_millis, dq_name, q_name
from dramatiq.errors import ConnectionClosed
from redis.connection import Connection
from redis.exceptions import NoScriptError, ResponseError

# The longest wait of a consumer with nothing in flight: it then fetches anyway (a
# heartbeat, and a message whose doorbell token went astray).
IDLE_WAIT_MS = 5_000
# The longest wait of a consumer with messages in flight or acknowledgements to send.
ACK_WAIT_MS = 1_000
# Waits of a stopping worker's consumers, which should see soon that they are stopped.
STOPPING_WAIT_MS = 50

_RING = """
end
local queue = KEYS[1] .. ":" .. ARGV[3]
local bell = queue .. ".bell"
local before = redis.call("llen", queue)
local result = dispatch()
local after = redis.call("llen", queue)
if ARGV[1] == "fetch" then
    -- the tokens of the messages taken, but for the one this consumer was woken by
    local spare = #result - (tonumber(ARGV[10] or "0") or 0)
    if spare > 0 then
        redis.call("ltrim", bell, spare, -1)
    end
end
if after > before then
    local tokens = {}
    for i = 1, after - before do
        tokens[#tokens + 1] = "1"
        if #tokens == 1000 or i == after - before then
            redis.call("rpush", bell, unpack(tokens))
            tokens = {}
        end
    end
end
if after == 0 then
    redis.call("del", bell)
elseif redis.call("llen", bell) > after then
    redis.call("ltrim", bell, 0, after - 1)
end
return result
"""
# Dramatiq's script as a function, followed by the doorbell's update.
DISPATCH = "local function dispatch()\n" + _scripts["dispatch"].decode() + _RING


class FetchedMessage(MessageProxy):
    """A message with the moment (``time.monotonic``) its consumer fetched it from Redis:
    at that moment Redis held it (engine.worker.SkipForgotten)."""

    def __init__(self, message: dramatiq.Message[Any], fetched_at: float) -> None:
        super().__init__(message)
        self.fetched_at = fetched_at


class DoorbellBroker(RedisBroker):
    """The Redis broker whose dispatch script rings doorbells and whose consumers wait on
    them (:class:`DoorbellConsumer`)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)  # type: ignore[no-untyped-call]
        self.scripts["dispatch"] = self.client.register_script(DISPATCH)
        self.stopping = False
        self._consumers: weakref.WeakSet[DoorbellConsumer] = weakref.WeakSet()

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 0) -> DoorbellConsumer:
        consumer = DoorbellConsumer(self, queue_name, prefetch)
        self._consumers.add(consumer)
        return consumer

    def longest_wait(self, busy: bool) -> float:
        """Seconds a consumer may wait on its doorbell (``busy``: with messages in flight)."""
        wait = STOPPING_WAIT_MS if self.stopping else ACK_WAIT_MS if busy else IDLE_WAIT_MS
        return min(wait, int(self.heartbeat_timeout) / 3) / 1000

    def wake_consumers(self) -> None:
        """A stopping worker: end its consumers' waits now (Dramatiq stops a consumer
        between two messages), and keep their later waits short."""
        self.stopping = True
        with self.client.pipeline(transaction=False) as pipe:
            for consumer in list(self._consumers):
                pipe.rpush(consumer.wake_key, "1")
                pipe.pexpire(consumer.wake_key, IDLE_WAIT_MS)
            pipe.execute()

    def maintain(self) -> None:
        """Put dead workers' unacknowledged messages back on their queues now. Dispatch
        calls do it by chance (``maintenance_chance``), and idle consumers make few."""
        dispatch = self.scripts["dispatch"]
        with self.client.pipeline(transaction=False) as pipe:
            for queue_name in sorted(self.queues | self.delay_queues):
                args = dispatch_args(self, "fetch", queue_name, 0, maintenance=1)
                dispatch(keys=[self.namespace], args=args, client=pipe)
            pipe.execute()


def dispatch_args(
    broker: RedisBroker, command: str, queue_name: str, *args: Any, maintenance: int | None = None
) -> list[Any]:
    """The arguments of the dispatch script, as the broker's own ``do_<command>`` passes."""
    if maintenance is None:
        maintenance = broker._should_do_maintenance(command)
    return [
        command,
        current_millis(),
        queue_name,
        broker.broker_id,
        broker.heartbeat_timeout,
        broker.dead_message_ttl,
        maintenance,
        broker._max_unpack_size(),  # type: ignore[no-untyped-call]
        *args,
    ]


class DoorbellConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer on a connection of its own: it fetches, and when its
    queue is empty waits on the doorbell; acknowledgements go with the next fetch.
    Messages come as :class:`FetchedMessage`."""

    def __init__(self, broker: DoorbellBroker, queue_name: str, prefetch: int) -> None:
        super().__init__(broker, queue_name, prefetch, 0)  # type: ignore[no-untyped-call]
        self.broker: DoorbellBroker = broker
        self.wake_key = f"{broker.namespace}:__wake__.{broker.broker_id}.{queue_name}"
        self._bell = f"{broker.namespace}:{queue_name}.bell"
        # A delay queue's messages wait for their eta in this process: no wait outlasts it.
        self._is_delay_queue = queue_name == dq_name(q_name(queue_name))
        self._acks: list[str] = []
        self._acks_lock = threading.Lock()  # also guards _etas
        self._acked = threading.Event()
        self._etas: dict[str, int] = {}
        self._fetched_at = 0.0
        self._connection: Connection | None = None
        self._waiting = False  # a BLPOP sent on the connection awaits its reply
        self._woken = 0  # 1: the last wait took a doorbell token, the next fetch's
        self._found_none = False

    def ack(self, message: MessageProxy) -> None:
        with self._acks_lock:
            self._acks.append(message.options["redis_message_id"])
            self._etas.pop(message.message_id, None)
        self.queued_message_ids.discard(message.message_id)
        self._acked.set()

    def nack(self, message: MessageProxy) -> None:
        with self._acks_lock:
            self._etas.pop(message.message_id, None)
        super().nack(message)  # type: ignore[no-untyped-call]

    def __next__(self) -> FetchedMessage | None:
        """The next message, or None after a wait (Dramatiq's consumer thread then moves
        the delayed messages that are due and sees whether it should stop)."""
        try:
            if not self.message_cache:
                if self._waiting:
                    self._await_bell()
                elif self._found_none:
                    self._wait()
                self.message_cache = self._fetch()
            while self.message_cache:
                data = self.message_cache.pop(0)
                if data is None:
                    continue
                message = dramatiq.Message.decode(data)
                self.queued_message_ids.add(message.message_id)
                if "eta" in message.options:
                    with self._acks_lock:
                        self._etas[message.message_id] = message.options["eta"]
                return FetchedMessage(message, self._fetched_at)
            return None
        except redis.ConnectionError as exc:
            self._drop_connection()
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]

    def close(self) -> None:
        """Send the acknowledgements still waiting (a stopping worker); unsent, their
        messages are delivered again, which every actor allows."""
        try:
            self._drop_connection()  # a wait's reply is not worth waiting for
            if self._acks:
                self._fetch(wanted=0)
        except redis.RedisError:
            pass
        finally:
            self._drop_connection()

    def _wait_seconds(self) -> float:
        wait = self.broker.longest_wait(busy=bool(self.queued_message_ids or self._acks))
        with self._acks_lock:  # acknowledgements come from the worker threads
            due = min(self._etas.values(), default=None)
        return wait if due is None else min(wait, (due - current_millis()) / 1000)

    def _wait(self) -> None:
        """After an empty fetch: on the doorbell, or, with no room for another message,
        until one in flight is acknowledged."""
        wait = self._wait_seconds()
        if wait <= 0:
            return
        if self.prefetch > self.outstanding_message_count:
            self._send([self._bell_command(wait)])
            self._waiting = True
            self._await_bell()
        else:
            self._acked.wait(wait)

    def _bell_command(self, wait: float) -> tuple[Any, ...]:
        return ("BLPOP", self._bell, self.wake_key, f"{max(wait, 0.001):.3f}")

    def _await_bell(self) -> None:
        assert self._connection is not None
        self._waiting = False
        reply = self._read(self._connection)  # [key, token], or None once the wait is over
        self._woken = int(isinstance(reply, list) and reply[0] == self._bell.encode())

    def _fetch(self, wanted: int | None = None) -> list[bytes]:
        """Up to the prefetch allowance of messages, with the acknowledgements waiting.

        The work queue's consumer sends its next wait with it, keeping room for what that
        brings. The script takes the tokens of the messages taken, but for the one that
        woke this consumer, so no other consumer wakes for them.
        """
        if wanted is None:
            wanted = max(self.prefetch - self.outstanding_message_count, 0)
        then_wait = not self._is_delay_queue and wanted >= 2
        commands: list[tuple[Any, ...]] = []
        self._acked.clear()
        with self._acks_lock:
            acks, self._acks = self._acks, []
        for ack in acks:
            commands.append(self._evalsha("ack", ack))
        commands.append(self._evalsha("fetch", wanted - then_wait, self._woken))
        self._woken = 0
        if then_wait:
            commands.append(self._bell_command(self._wait_seconds()))
        connection = self._send(commands)
        self._waiting = then_wait
        replies = [self._read(connection) for _ in range(len(acks) + 1)]
        self._fetched_at = monotonic()
        unsent = [ack for ack, reply in zip(acks, replies, strict=False) if _is_error(reply)]
        if unsent:
            with self._acks_lock:
                self._acks[:0] = unsent
        fetched = replies[-1]
        if any(isinstance(reply, NoScriptError) for reply in replies):
            self.broker.client.script_load(DISPATCH)  # a restarted Redis: sent again next time
            fetched = []
        elif isinstance(fetched, ResponseError):
            raise fetched
        self._found_none = not fetched
        return list(fetched)

    def _evalsha(self, command: str, *args: Any) -> tuple[Any, ...]:
        sha = self.broker.scripts["dispatch"].sha
        namespace = self.broker.namespace
        arguments = dispatch_args(self.broker, command, self.queue_name, *args)
        return ("EVALSHA", sha, 1, namespace, *arguments)

    def _send(self, commands: list[tuple[Any, ...]]) -> Connection:
        """Write the commands in one go (one round trip) on this consumer's connection."""
        if self._connection is None:
            self._connection = self.broker.client.connection_pool.get_connection()
        self._connection.send_packed_command(self._connection.pack_commands(commands))
        return self._connection

    @staticmethod
    def _read(connection: Connection) -> Any:
        """The next reply; an error reply is returned (the replies after it are still to
        be read), a broken connection raises."""
        try:
            return connection.read_response()  # type: ignore[no-untyped-call]
        except ResponseError as exc:
            return exc

    def _drop_connection(self) -> None:
        """Give the connection back closed: a reply still due on it must not reach the
        next user."""
        connection, self._connection = self._connection, None
        self._waiting = False
        if connection is not None:
            connection.disconnect()  # type: ignore[no-untyped-call]
            self.broker.client.connection_pool.release(connection)


def _is_error(reply: Any) -> bool:
    return isinstance(reply, ResponseError)
