"""Real server processes for the cross-process tests: uvicorn, Redis and a scratch database.

The ``*_processes.py`` tests start two (or more) ``uvicorn`` processes serving one app module of
the test-suite (tests/throttle_server.py, tests/idempotency_server.py), on two ports, as two
hosts behind a load balancer: they share one store (``FASTAPI_VIEWSETS_STORE``, a Redis) and
one database. What such an app module reads from its environment:

- ``FASTAPI_VIEWSETS_STORE``: the store;
- ``TEST_SERVER_DB_URL``: the database (a scratch PostgreSQL database when ``TORTOISE_TEST_DB``
  names PostgreSQL, else a SQLite file; see :func:`scratch_database`);
- ``TEST_SERVER_GENERATE_SCHEMAS``: ``1`` in the first process only, which creates the tables,
  so that two processes never race on ``CREATE TABLE``;

and it answers ``GET /health`` once its lifespan ran. A test may start a ``redis-server`` of
its own (:class:`RedisServer`) to kill it, stop it and start it again.

tests/test_example_browser.py drives a browser against one process serving the example app
(:func:`serving_example`, tests/example_server.py) on a SQLite file of its own.

The fixtures built on these (``database_url``, ``own_redis``) are in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.utils import DB_URL, IS_POSTGRES

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 20.0
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One uvicorn process serving a test app."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_until_up(
    process: subprocess.Popen[bytes], ready: Callable[[], bool], what: str, log: Path
) -> None:
    """Call ``ready()`` until it is true; fail with ``log`` when ``process`` exits first."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"{what} exited with {process.returncode} before answering:\n"
                f"{log.read_text(errors='replace')}"
            )
        if ready():
            return
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what} did not answer in {STARTUP_TIMEOUT} s:\n{log.read_text(errors='replace')}"
            )
        time.sleep(0.05)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def start_uvicorn(
    app: str, port: int, environment: Mapping[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """``python -m uvicorn app`` (``module:attribute``) on 127.0.0.1:``port`` with the
    environment ``environment``, its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                app,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=dict(environment),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _with_root_on_path(environment: Mapping[str, str]) -> dict[str, str]:
    """``environment`` with this checkout first on ``PYTHONPATH``."""
    return {
        **environment,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")])),
    }


@contextmanager
def serving(
    app: str,
    store_url: str,
    db_url: str,
    logs: Path,
    count: int = 2,
    env: Mapping[str, str] | None = None,
) -> Iterator[list[Server]]:
    """``count`` uvicorn processes serving ``app`` (``module:attribute``) with the store
    ``store_url`` and the database ``db_url``, ``env`` added to their environment; the first
    creates the tables."""
    servers: list[Server] = []
    try:
        for i in range(count):
            port = free_port()
            log = logs / f"uvicorn-{port}.log"
            environment = _with_root_on_path(
                {
                    **os.environ,
                    **(env or {}),
                    "FASTAPI_VIEWSETS_STORE": store_url,
                    "TEST_SERVER_DB_URL": db_url,
                    "TEST_SERVER_GENERATE_SCHEMAS": "1" if i == 0 else "0",
                }
            )
            servers.append(Server(port, start_uvicorn(app, port, environment, log), log))
        for server in servers:
            wait_until_up(
                server.process,
                lambda server=server: answers(f"{server.url}/health"),
                f"uvicorn on port {server.port}",
                server.log,
            )
        yield servers
    finally:
        for server in servers:
            stop(server.process)


@contextmanager
def serving_example(directory: Path) -> Iterator[Server]:
    """The example app (tests/example_server.py: ``create_app()`` with cheap password hashes) in
    a uvicorn process of its own, on a free port and a new SQLite file in ``directory``, seeded
    with the demo data; its throttle and idempotency counts in its own memory. Stopped
    afterwards."""
    port = free_port()
    log = directory / f"example-{port}.log"
    environment = {k: v for k, v in os.environ.items() if k != "FASTAPI_VIEWSETS_STORE"}
    environment["DATABASE_URL"] = f"sqlite://{directory / 'example.sqlite3'}"
    process = start_uvicorn("tests.example_server:app", port, _with_root_on_path(environment), log)
    server = Server(port, process, log)
    try:
        wait_until_up(
            process,
            lambda: answers(f"{server.url}/openapi.json"),
            f"the example app on {port}",
            log,
        )
        yield server
    finally:
        stop(process)


# --- Redis ----------------------------------------------------------------------------------


def redis_server_path() -> str:
    path = shutil.which("redis-server")
    if path is None:
        reason = "redis-server is not on PATH; install Redis to run the Redis-outage tests."
        if IN_CI:
            pytest.fail(f"CI requires redis-server: {reason}")
        pytest.skip(reason)
    return path


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A ``redis-server`` of a test's own on ``port``, persisting nothing; started, killed and
    started again on the same port by the test."""

    def __init__(self, binary: str, port: int, workdir: Path) -> None:
        self.binary, self.port, self.workdir = binary, port, workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        log = self.workdir / f"redis-{self.port}-{uuid.uuid4().hex[:6]}.log"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    str(self.workdir),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        port = self.port
        wait_until_up(self.process, lambda: redis_answers(port), f"redis-server on {port}", log)
        return self

    def kill(self) -> None:
        """SIGKILL (which also ends a stopped process), and wait for it."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(timeout=5)
            self.process = None

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def store_url(self) -> str:
        """A store URL naming this Redis, with a key prefix of its own."""
        return f"redis://127.0.0.1:{self.port}/0?prefix=fvt_{uuid.uuid4().hex[:12]}"


# --- the database ---------------------------------------------------------------------------


def _asyncpg_url(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql", path=f"/{database}", query=""))


def postgres(url: str, sql: str) -> None:
    """Run ``sql`` on a connection of its own, in an event loop of its own (the test's loop is
    not running yet, and stays the current one)."""
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()


@contextmanager
def scratch_database(directory: Path) -> Iterator[str]:
    """The URL of a database of its own for the processes of a test module: a scratch
    PostgreSQL database on the server ``TORTOISE_TEST_DB`` names (dropped afterwards), else a
    SQLite file in ``directory``."""
    if not IS_POSTGRES:
        yield f"sqlite://{directory / 'db.sqlite3'}"
        return
    name = f"fvt_{uuid.uuid4().hex}"
    admin = _asyncpg_url(DB_URL, "postgres")
    postgres(admin, f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(DB_URL)._replace(path=f"/{name}"))
    finally:
        postgres(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
