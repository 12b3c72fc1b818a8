"""A small HTTP/1.1 load generator on asyncio streams, for ``--mode uvicorn``.

:meth:`HttpTarget.run_slice` opens ``connections`` keep-alive connections to a server on the
loopback interface (before the clock starts), then each connection sends one request, reads the
whole response (``Content-Length`` or chunked), records its latency and sends the next, until the
slice's time is up. The request numbers come from one shared counter, so every request of a slice
is different where the workload makes them different (PATCH values, ticket titles). The server's
CPU time over the slice is read from ``/proc/<pid>/stat`` (10 ms ticks). A slice is
bounded: it stops at its deadline, and a server that stops answering fails it after 60 s more.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import Iterator

from .results import SliceResult
from .util import deadline
from .workloads import Request, Workload

__all__ = ("HttpTarget", "read_response")

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Read one response: its status, its body, and whether the connection stays open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length: int | None = None
    chunked = False
    keep_alive = True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep_alive = b"close" not in value.lower()
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    elif length is not None:
        body = await reader.readexactly(length)
    else:
        body = await reader.read()
        keep_alive = False
    return status, body, keep_alive


class HttpTarget:
    """An app behind a server listening on ``host:port`` (a loopback address)."""

    def __init__(
        self, name: str, host: str, port: int, connections: int, pid: int | None = None
    ) -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the load generator only talks to loopback addresses")
        self.name = name
        self.host = host
        self.port = port
        self.connections = connections
        self.pid = pid
        self._host_header = f"Host: {host}:{port}\r\n".encode()

    def encode(self, request: Request) -> bytes:
        target = f"{request.path}?{request.query}" if request.query else request.path
        head = [
            f"{request.method} {target} HTTP/1.1\r\n".encode(),
            self._host_header,
            b"User-Agent: fastapi-viewsets-benchmarks\r\nAccept: */*\r\n",
        ]
        for name, value in request.headers:
            head.append(f"{name}: {value}\r\n".encode())
        if request.body:
            length = len(request.body)
            head.append(f"Content-Type: application/json\r\nContent-Length: {length}\r\n".encode())
        head.append(b"\r\n")
        return b"".join(head) + request.body

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)

    @staticmethod
    async def _close(writer: asyncio.StreamWriter) -> None:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    async def call(self, request: Request) -> tuple[int, bytes]:
        reader, writer = await self._open()
        try:
            writer.write(self.encode(request))
            await writer.drain()
            status, body, _ = await read_response(reader)
        finally:
            await self._close(writer)
        return status, body

    async def run_slice(
        self, workload: Workload, app_index: int, first: int, seconds: float
    ) -> SliceResult:
        streams = [await self._open() for _ in range(self.connections)]
        counter: Iterator[int] = itertools.count(first)
        latencies: list[int] = []
        failures: list[str] = []
        clock = time.perf_counter_ns
        cpu_start = self.server_cpu()
        start = clock()
        stop_at = start + int(seconds * 1e9)
        expected = workload.status

        async def worker(slot: int) -> None:
            reader, writer = streams[slot]
            while True:
                payload = self.encode(workload.build(next(counter), app_index))
                t0 = clock()
                writer.write(payload)
                status, body, keep_alive = await read_response(reader)
                t1 = clock()
                latencies.append(t1 - t0)
                if status != expected:
                    failures.append(f"{status} {body[:300].decode(errors='replace')}")
                if not keep_alive:
                    await self._close(writer)
                    reader, writer = streams[slot] = await self._open()
                if t1 >= stop_at:
                    return

        try:
            with deadline(seconds + 60, f"a slice of {workload.name}"):
                await asyncio.gather(*(worker(slot) for slot in range(self.connections)))
            elapsed = (clock() - start) / 1e9
            cpu_end = self.server_cpu()
        finally:
            for _, writer in streams:
                await self._close(writer)
        first_error = failures[0] if failures else None
        cpu = cpu_end - cpu_start if cpu_start is not None and cpu_end is not None else None
        return SliceResult(latencies, elapsed, len(failures), first_error, next(counter), cpu)

    def server_cpu(self) -> float | None:
        """CPU seconds the server process has used (``/proc/<pid>/stat``; ``None`` elsewhere)."""
        if self.pid is None:
            return None
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            return None
        # utime and stime are fields 14 and 15 of the file, 12 and 13 after the ")".
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
