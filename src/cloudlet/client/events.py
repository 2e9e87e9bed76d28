"""Realtime events over the server's websocket (`/api/v1/ws`).

`EventSession` is the asyncio core: it connects, authenticates with the client's token,
(re)subscribes every topic from the last offset seen, and yields envelopes. On a lost
connection or a 4008 close ("too slow") it reconnects with exponential backoff and jitter
and resumes, so each event arrives exactly once, or a `gap` envelope says what was lost.
A 4401 close (token missing, revoked or expired) raises `Unauthorized`.

`Events` (`client.events`) drives it for the sync `Client`, with callbacks; `AsyncEvents`
(`async_client.events`) gives `stream()`, an async iterator.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from cloudlet.client.errors import ClientError, ConnectionFailed, Unauthorized

if TYPE_CHECKING:
    from cloudlet.client.async_client import AsyncClient
    from cloudlet.client.sync_client import Client

__all__ = ["AsyncEvents", "EventSession", "Events", "SubscriptionRefused", "websocket_url"]

Envelope = dict[str, Any]
Callback = Callable[[Envelope], Any]
CLOSE_AUTH, CLOSE_SLOW = 4401, 4008


class SubscriptionRefused(ClientError):
    """The server refused to subscribe a topic (no such topic, or no access to it);
    `topic` is the topic as requested. The connection and the other topics carry on."""

    def __init__(self, detail: str, *, topic: str | None = None) -> None:
        super().__init__(detail, status_code=403, title="Subscription refused")
        self.topic = topic


def websocket_url(root: str) -> str:
    """The websocket URL for a server root URL: http→ws, https→wss, under /api/v1/ws."""
    if root.startswith("https://"):
        return "wss://" + root.removeprefix("https://") + "/api/v1/ws"
    return "ws://" + root.removeprefix("http://") + "/api/v1/ws"


class EventSession:
    """One logical subscription session, across as many connections as it takes.

    `offsets` (topic → last offset seen) is updated as events arrive and is what a
    reconnect resumes from; set `offsets[topic]` before subscribing to replay history.
    """

    def __init__(
        self, url: str, token: Callable[[], str | None], *, topics: Iterable[str] = (),
        offsets: dict[str, int] | None = None, backoff: float = 0.5,
        max_backoff: float = 30.0, open_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self._token = token
        self.topics: list[str] = list(dict.fromkeys(topics))
        self.offsets: dict[str, int] = {} if offsets is None else offsets
        self.aliases: dict[str, str] = {}  # topic as requested → canonical (project:<id>)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.open_timeout = open_timeout
        self.connection: ClientConnection | None = None
        self.connects = 0  # successful (authenticated) connections so far
        # subscribes sent and not yet answered, in order: (topic, offset sent)
        self._pending: list[tuple[str, int | None]] = []
        self._attempt = 0

    # -- topics -----------------------------------------------------------------------------

    def add(self, topic: str) -> bool:
        """Record `topic` (subscribed on the next connect); False if it already was."""
        topic = self.aliases.get(topic, topic)
        if topic in self.topics:
            return False
        self.topics.append(topic)
        return True

    def remove(self, topic: str) -> str:
        """Forget `topic`; returns its canonical name."""
        canonical = self.aliases.get(topic, topic)
        self.topics = [t for t in self.topics if t not in (topic, canonical)]
        return canonical

    async def subscribe(self, topic: str) -> None:
        if self.add(topic) and self.connection is not None:
            await self._send_subscribe(self.connection, self.aliases.get(topic, topic))

    async def unsubscribe(self, topic: str) -> None:
        canonical = self.remove(topic)
        if self.connection is not None:
            try:
                await self._send(self.connection, {"op": "unsubscribe", "topic": canonical})
            except ConnectionClosed:
                pass  # not resubscribed on reconnect

    async def _send(self, conn: ClientConnection, message: Envelope) -> None:
        await conn.send(json.dumps(message))

    async def _send_subscribe(self, conn: ClientConnection, topic: str) -> None:
        message: Envelope = {"op": "subscribe", "topic": topic}
        offset = self.offsets.get(topic)
        if offset is not None:
            message["offset"] = offset
        self._pending.append((topic, offset))
        try:
            await self._send(conn, message)
        except ConnectionClosed:
            pass  # the reconnect subscribes it

    # -- the loop ---------------------------------------------------------------------------

    def delay(self) -> float:
        """Exponential backoff with jitter: between half and all of base·2^attempt."""
        ceiling = min(self.max_backoff, self.backoff * 2 ** self._attempt)
        return ceiling * random.uniform(0.5, 1.0)

    async def messages(self) -> AsyncIterator[Envelope]:
        """Envelopes as they arrive: `event`, `gap`, `subscribed`, `error` (a refused topic,
        with `topic`) and `unsubscribed` (the server ended access, with `detail`)."""
        while True:
            try:
                conn = await connect(self.url, open_timeout=self.open_timeout, max_size=None)
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status == 401:
                    raise Unauthorized("The server refused the credentials.",
                                       status_code=401) from None
                if 400 <= status < 500 and status != 429:
                    raise ConnectionFailed(
                        f"The websocket upgrade at {self.url} was refused ({status})."
                    ) from None
            except (OSError, TimeoutError, InvalidHandshake):
                pass
            else:
                inner = self._connected(conn)
                try:
                    async for message in inner:
                        yield message
                except ConnectionClosed as exc:
                    if exc.rcvd is not None and exc.rcvd.code == CLOSE_AUTH:
                        raise Unauthorized(exc.rcvd.reason or "The token is no longer valid.",
                                           status_code=401) from None
                except (OSError, TimeoutError):
                    pass
                finally:
                    self.connection = None
                    await inner.aclose()
                    await conn.close()
            await asyncio.sleep(self.delay())
            self._attempt += 1

    async def _connected(self, conn: ClientConnection) -> AsyncIterator[Envelope]:
        token = self._token()
        if not token:
            raise Unauthorized("Listening to events needs a token.", status_code=401)
        await self._send(conn, {"op": "auth", "token": token})
        first = json.loads(await asyncio.wait_for(conn.recv(), self.open_timeout))
        if first.get("op") != "ready":
            raise Unauthorized(str(first.get("detail") or "The server refused the token."),
                               status_code=401)
        self.connection = conn
        self.connects += 1
        self._attempt = 0
        self._pending = []
        for topic in list(self.topics):
            await self._send_subscribe(conn, topic)
        async for raw in conn:
            message: Envelope = json.loads(raw)
            if (found := self._handle(message)) is not None:
                yield found

    def _handle(self, message: Envelope) -> Envelope | None:
        op = message.get("op")
        topic = message.get("topic")
        if op == "event":
            offset = message.get("offset")
            if isinstance(offset, int):
                if topic in self.offsets and offset <= self.offsets[topic]:
                    return None  # already delivered
                self.offsets[topic] = offset
            return message
        if op == "gap":
            to = message.get("to_offset")
            self.offsets[topic] = to if isinstance(to, int) else 0  # None: offsets restarted
            return message
        if op == "subscribed":
            requested, sent = self._pending.pop(0) if self._pending else (topic, None)
            self.aliases[requested] = topic
            self.topics = list(dict.fromkeys(topic if t == requested else t
                                             for t in self.topics))
            if requested != topic:
                self.offsets.pop(requested, None)
            if sent is not None:
                self.offsets[topic] = sent  # the history after it follows
            elif topic not in self.offsets:
                self.offsets[topic] = message.get("offset", 0)
            return message
        if op == "error" and topic is not None:
            self._pending = [p for p in self._pending if p[0] != topic]
            self.topics = [t for t in self.topics if t != topic]
            return message
        if op == "unsubscribed" and message.get("detail"):
            self.topics = [t for t in self.topics if t != topic]
            return message
        return None  # ping, pong, our own unsubscribes, the "too slow" note before 4008


def _refused(message: Envelope) -> SubscriptionRefused:
    topic = message.get("topic")
    return SubscriptionRefused(str(message.get("detail") or f"Cannot subscribe to {topic}."),
                               topic=None if topic is None else str(topic))


class Events:
    """`client.events`: callbacks for realtime events, on this thread or a background one.

    ```python
    client.events.on("project.updated", print)
    client.events.subscribe("project:3")
    client.events.listen(seconds=60)          # or start() … stop()
    ```

    Callbacks get the envelope dict (`topic`, `event`, `data`, `id`, `offset`, `time`).
    Names: an event name, `"*"` (every event and gap), `"gap"` (history no longer reaches
    back to the last offset seen), `"subscribed"` (a topic is live), `"error"` (a topic
    was refused; without an `"error"` callback that raises `SubscriptionRefused`) and
    `"unsubscribed"` (the server ended access to a topic).
    """

    def __init__(self, client: Client, *, backoff: float = 0.5, max_backoff: float = 30.0
                 ) -> None:
        self._client = client
        self._handlers: dict[str, list[Callback]] = defaultdict(list)
        self.session = EventSession(websocket_url(client.url), lambda: client.token,
                                    backoff=backoff, max_backoff=max_backoff)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.error: BaseException | None = None

    @property
    def offsets(self) -> dict[str, int]:
        """Topic → the last offset seen; what a reconnect resumes from."""
        return self.session.offsets

    @property
    def topics(self) -> list[str]:
        return list(self.session.topics)

    @property
    def running(self) -> bool:
        return self._loop is not None

    def on(self, name: str, callback: Callback | None = None) -> Any:
        """Call `callback(envelope)` for `name`; without a callback, a decorator."""
        if callback is None:
            def register(fn: Callback) -> Callback:
                self._handlers[name].append(fn)
                return fn
            return register
        self._handlers[name].append(callback)
        return callback

    def off(self, name: str, callback: Callback | None = None) -> None:
        """Remove one callback, or every callback for `name`."""
        if callback is None:
            self._handlers.pop(name, None)
        elif callback in self._handlers.get(name, []):
            self._handlers[name].remove(callback)

    def subscribe(self, topic: str) -> None:
        """Follow `topic` (`user:<id>`, `project:<id|gid|uuid>`), now or when listening."""
        loop = self._loop
        if loop is None:
            self.session.add(topic)  # subscribed when listening starts
        else:
            self._call(loop, self.session.subscribe, topic)

    def unsubscribe(self, topic: str) -> None:
        loop = self._loop
        if loop is None:
            self.session.remove(topic)
        else:
            self._call(loop, self.session.unsubscribe, topic)

    def _call(self, loop: asyncio.AbstractEventLoop, fn: Callable[[str], Any], topic: str
              ) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # from a callback, on the loop's own thread
            self._tasks.add(task := loop.create_task(fn(topic)))
            task.add_done_callback(self._tasks.discard)
        else:
            asyncio.run_coroutine_threadsafe(fn(topic), loop).result(10)

    def _dispatch(self, message: Envelope) -> None:
        op = message.get("op")
        name = str(message.get("event")) if op == "event" else str(op)
        if op == "error" and not self._handlers.get("error"):
            raise _refused(message)
        for callback in list(self._handlers.get(name, [])):
            callback(message)
        if op in ("event", "gap"):
            for callback in list(self._handlers.get("*", [])):
                callback(message)

    async def _run(self, seconds: float | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()

        async def consume() -> None:
            messages = self.session.messages()
            try:
                async for message in messages:
                    self._dispatch(message)
            finally:
                await messages.aclose()

        task = asyncio.create_task(consume())
        stop = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({task, stop}, timeout=seconds,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (task, stop):
                t.cancel()
            await asyncio.gather(task, stop, return_exceptions=True)
            self._loop = None
            self._stop = None
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]

    def listen(self, seconds: float | None = None) -> None:
        """Connect and call the callbacks on this thread until `seconds` pass (None: until
        `stop()` from another thread, or Ctrl-C). Raises `Unauthorized` on a bad token."""
        if self._thread is not None:
            raise RuntimeError("The events are already running on a background thread.")
        asyncio.run(self._run(seconds))

    def start(self) -> None:
        """Run `listen()` on a background thread; `stop()` ends it. An error that ends the
        thread (e.g. `Unauthorized`) is kept in `error` and raised by `stop()`."""
        if self._thread is not None:
            return
        self.error = None
        self._ready.clear()

        def main() -> None:
            try:
                asyncio.run(self._run(None))
            except BaseException as exc:  # handed to stop()
                self.error = exc
            finally:
                self._ready.set()

        self._thread = threading.Thread(target=main, name="cloudlet-events", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def stop(self, timeout: float = 10) -> None:
        """End the background thread (or a `listen()` on another thread) and wait for it."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass  # the loop already closed
        self.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the background thread ends (an error, or `stop()`) or `timeout`
        passes; True if it ended. Raises the error that ended it, if any."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
            self._thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return True


class AsyncEvents:
    """`async_client.events`: `async for envelope in client.events.stream(topics)`."""

    def __init__(self, client: AsyncClient, *, backoff: float = 0.5,
                 max_backoff: float = 30.0) -> None:
        self._client = client
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.offsets: dict[str, int] = {}
        self.session: EventSession | None = None

    async def stream(self, topics: Iterable[str], *, offsets: dict[str, int] | None = None,
                     refused: str = "raise", control: bool = False
                     ) -> AsyncIterator[Envelope]:
        """Envelopes for `topics`: `op == "event"` and `op == "gap"` dicts, reconnecting and
        resuming on its own. `offsets` (default: `client.events.offsets`, shared across
        streams) is updated as events arrive; preset it to replay from an offset.
        `refused`: "raise" raises `SubscriptionRefused` for a refused topic, "yield" yields
        the `op == "error"` dict instead. `control`: also yield `subscribed` and
        `unsubscribed` messages."""
        if refused not in ("raise", "yield"):
            raise ValueError('refused is "raise" or "yield"')
        client = self._client
        session = EventSession(
            websocket_url(client.url), lambda: client.token, topics=topics,
            offsets=self.offsets if offsets is None else offsets,
            backoff=self.backoff, max_backoff=self.max_backoff,
        )
        self.session = session
        messages = session.messages()
        try:
            async for message in messages:
                op = message.get("op")
                if op == "error":
                    if refused == "raise":
                        raise _refused(message)
                    yield message
                elif op in ("event", "gap") or control:
                    yield message
        finally:
            await messages.aclose()
