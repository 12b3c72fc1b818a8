"""Calling an ASGI app in-process: hand-built scopes, ``await app(scope, receive, send)``.

No socket and no HTTP client library is involved, so what is timed is the app (routing,
dependencies, validation, ORM, serialisation) plus a few dict operations of this driver, the
same for every app.

- :class:`Lifespan` runs the ASGI lifespan protocol once per app (startup before the first
  request, shutdown at the end), giving requests a copy of the lifespan state as servers do.
- :class:`AsgiTarget` sends requests: :meth:`AsgiTarget.call` one at a time, and
  :meth:`AsgiTarget.run_slice` back to back for a fixed time (concurrency 1), recording each
  request's latency with ``perf_counter_ns``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from types import TracebackType
from typing import Any

from .results import SliceResult
from .util import deadline
from .workloads import Request, Workload

__all__ = ("AsgiTarget", "Lifespan")

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[Message]],
        Callable[[Message], Awaitable[None]],
    ],
    Awaitable[None],
]

_ASGI = {"version": "3.0", "spec_version": "2.4"}
_CLIENT = ("127.0.0.1", 40000)
_SERVER = ("127.0.0.1", 8000)
_BASE_HEADERS = [
    (b"host", b"bench.local"),
    (b"user-agent", b"fastapi-viewsets-benchmarks"),
    (b"accept", b"*/*"),
]


class Lifespan:
    """``async with Lifespan(app) as state:`` runs the app's startup, then its shutdown."""

    def __init__(self, app: ASGIApp, timeout: float = 30.0) -> None:
        self.app = app
        self.timeout = timeout
        self.state: dict[str, Any] = {}
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _expect(self, wanted: str) -> None:
        assert self._task is not None
        getter = asyncio.ensure_future(self._outbox.get())
        done, _ = await asyncio.wait(
            {getter, self._task}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if getter not in done:
            getter.cancel()
            if self._task in done:
                self._task.result()  # raises the app's exception, if any
                raise RuntimeError(f"the app's lifespan ended before {wanted}")
            raise TimeoutError(f"no {wanted} within {self.timeout} s")
        message = getter.result()
        if message["type"] != wanted:
            raise RuntimeError(f"lifespan: expected {wanted}, got {message!r}")

    async def __aenter__(self) -> dict[str, Any]:
        scope = {"type": "lifespan", "asgi": _ASGI, "state": self.state}

        async def run() -> None:
            await self.app(scope, self._inbox.get, self._outbox.put)

        self._task = asyncio.create_task(run())
        await self._inbox.put({"type": "lifespan.startup"})
        await self._expect("lifespan.startup.complete")
        return self.state

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._task is not None
        await self._inbox.put({"type": "lifespan.shutdown"})
        try:
            await self._expect("lifespan.shutdown.complete")
            await asyncio.wait_for(self._task, self.timeout)
        finally:
            if not self._task.done():
                self._task.cancel()


class _Exchange:
    """``receive`` and ``send`` of one request; collects the response."""

    __slots__ = ("body", "chunks", "done", "sent_body", "status")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent_body = False
        self.status = 0
        self.chunks: list[bytes] = []
        self.done: asyncio.Event | None = None

    async def receive(self) -> Message:
        if not self.sent_body:
            self.sent_body = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        # Asked again (to watch for a disconnect): answer once the response is complete.
        if self.done is None:
            self.done = asyncio.Event()
        await self.done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
        elif kind == "http.response.body":
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False) and self.done is not None:
                self.done.set()


class AsgiTarget:
    """One app, called in-process; its lifespan must be running (see :class:`Lifespan`)."""

    def __init__(self, name: str, app: ASGIApp, state: dict[str, Any]) -> None:
        self.name = name
        self.app = app
        self.state = state

    def scope(self, request: Request) -> dict[str, Any]:
        headers = _BASE_HEADERS
        if request.body:
            headers = [
                *_BASE_HEADERS,
                (b"content-type", b"application/json"),
                (b"content-length", str(len(request.body)).encode()),
            ]
        if request.headers:
            extra = [(k.lower().encode(), v.encode()) for k, v in request.headers]
            headers = [*headers, *extra]
        return {
            "type": "http",
            "asgi": _ASGI,
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            "path": request.path,
            "raw_path": request.path.encode(),
            "root_path": "",
            "query_string": request.query.encode(),
            "headers": headers,
            "client": _CLIENT,
            "server": _SERVER,
            "state": self.state.copy(),
        }

    async def call(self, request: Request) -> tuple[int, bytes]:
        exchange = _Exchange(request.body)
        await self.app(self.scope(request), exchange.receive, exchange.send)
        return exchange.status, b"".join(exchange.chunks)

    async def run_slice(
        self, workload: Workload, app_index: int, first: int, seconds: float
    ) -> SliceResult:
        """Send ``workload``'s requests ``first``, ``first + 1``... back to back for ``seconds``."""
        latencies: list[int] = []
        errors = 0
        first_error: str | None = None
        expected = workload.status
        build = workload.build
        app = self.app
        i = first
        clock = time.perf_counter_ns
        cpu_start = time.process_time()
        start = clock()
        stop_at = start + int(seconds * 1e9)
        with deadline(seconds + 60, f"a slice of {workload.name}"):
            while True:
                request = build(i, app_index)
                exchange = _Exchange(request.body)
                scope = self.scope(request)
                t0 = clock()
                await app(scope, exchange.receive, exchange.send)
                t1 = clock()
                latencies.append(t1 - t0)
                i += 1
                if exchange.status != expected:
                    errors += 1
                    if first_error is None:
                        body = b"".join(exchange.chunks)[:300].decode(errors="replace")
                        first_error = f"{exchange.status} {body}"
                if t1 >= stop_at:
                    break
        elapsed = (clock() - start) / 1e9
        cpu = time.process_time() - cpu_start
        return SliceResult(latencies, elapsed, errors, first_error, i, cpu)
