"""Cross-process: throttles hold across two uvicorn processes that share one Redis.

Every test here starts two real ``uvicorn`` processes serving tests/throttle_server.py, on two
ports, as two hosts behind a load balancer: both count in the same Redis (the ``redis_url``
fixture's, or a ``redis-server`` a test starts itself) and read the same database (a scratch
PostgreSQL database when ``TORTOISE_TEST_DB`` names PostgreSQL, else a SQLite file). Requests
are sent concurrently and split evenly between the two ports.

What they prove, which no in-process test can:

- a limit of 5 lets exactly 5 of 20 concurrent requests through in total, not 5 per process
  (``UserRateThrottle``, ``AnonRateThrottle``, ``ScopedRateThrottle``), while other users,
  other scopes and unthrottled routes are not counted;
- the ``RateLimit`` headers the two processes send are consistent with one shared count;
- when Redis dies (or hangs), a throttle with ``on_store_error = "allow"`` lets requests through
  quickly without ``RateLimit`` headers, one with ``"refuse"`` answers 503 with
  ``Retry-After``, never a 500; and counting resumes when Redis is back.

Redis is needed: without it (or without ``redis-server`` for the tests that start their own),
the tests skip, and fail instead when the environment variable ``CI`` is set.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from fastapi_viewsets.store import RETRY_AFTER_FAILURE
from tests.utils import DB_URL, IS_POSTGRES

ROOT = Path(__file__).resolve().parent.parent
APP = "tests.throttle_server:app"
LIMIT = 5
REQUESTS = 20
STARTUP_TIMEOUT = 20.0
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One uvicorn process serving the throttle app."""

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


@contextmanager
def serving(store_url: str, db_url: str, logs: Path, count: int = 2) -> Iterator[list[Server]]:
    """``count`` uvicorn processes counting in ``store_url``; the first creates the tables."""
    servers: list[Server] = []
    try:
        for i in range(count):
            port = free_port()
            log = logs / f"uvicorn-{port}.log"
            env = {
                **os.environ,
                "FASTAPI_VIEWSETS_STORE": store_url,
                "THROTTLE_DB_URL": db_url,
                "THROTTLE_GENERATE_SCHEMAS": "1" if i == 0 else "0",
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
                ),
            }
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        APP,
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--log-level",
                        "warning",
                    ],
                    env=env,
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            servers.append(Server(port, process, log))
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


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The database both processes read: a scratch PostgreSQL database on the server
    ``TORTOISE_TEST_DB`` names (dropped afterwards), else a SQLite file."""
    if not IS_POSTGRES:
        yield f"sqlite://{tmp_path_factory.mktemp('throttle-db') / 'db.sqlite3'}"
        return
    name = f"fvt_{uuid.uuid4().hex}"
    admin = _asyncpg_url(DB_URL, "postgres")
    postgres(admin, f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(DB_URL)._replace(path=f"/{name}"))
    finally:
        postgres(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def servers(redis_url: str, database_url: str, tmp_path: Path) -> Iterator[list[Server]]:
    """Two uvicorn processes counting in the ``redis_url`` fixture's Redis (prefix included)."""
    with serving(redis_url, database_url, tmp_path) as found:
        yield found


# --- requests -------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: httpx.Headers
    body: object
    seconds: float
    user: str | None
    path: str

    @property
    def remaining(self) -> dict[str, int]:
        """The ``RateLimit`` header's ``r`` by policy."""
        return {
            policy: int(r)
            for policy, r in re.findall(r'"([^"]*)";r=(\d+)', self.headers.get("RateLimit", ""))
        }


async def fetch(
    client: httpx.AsyncClient, server: Server, path: str, user: str | None = None
) -> Answer:
    headers = {"X-User": user} if user is not None else {}
    started = time.perf_counter()
    response = await client.get(f"{server.url}{path}", headers=headers)
    seconds = time.perf_counter() - started
    return Answer(response.status_code, response.headers, response.json(), seconds, user, path)


async def burst(servers: list[Server], *groups: tuple[str, str | None, int]) -> list[list[Answer]]:
    """All the requests of ``groups`` (path, user, how many) at once, each group split evenly
    across ``servers``; the answers by group."""
    async with httpx.AsyncClient(timeout=10) as client:
        calls = [
            [fetch(client, servers[i % len(servers)], path, user) for i in range(n)]
            for path, user, n in groups
        ]
        flat = await asyncio.gather(*(call for group in calls for call in group))
    answers_by_group, start = [], 0
    for _, _, n in groups:
        answers_by_group.append(list(flat[start : start + n]))
        start += n
    return answers_by_group


def statuses(found: list[Answer]) -> Counter[int]:
    return Counter(a.status for a in found)


def assert_throttled(found: list[Answer], policy: str) -> None:
    """Exactly ``LIMIT`` passed; each answer has the ``RateLimit`` headers of ``policy``, and
    each refusal is a 429 with ``Retry-After``."""
    assert statuses(found) == {200: LIMIT, 429: len(found) - LIMIT}, statuses(found)
    for answer in found:
        assert answer.headers["RateLimit-Policy"] == f'"{policy}";q={LIMIT};w=60'
        assert set(answer.remaining) == {policy}, answer.headers
        if answer.status == 429:
            assert 1 <= int(answer.headers["Retry-After"]) <= 60
            assert answer.remaining == {policy: 0}
            assert isinstance(answer.body, dict)
            assert answer.body["detail"].startswith("Request was throttled.")


# --- one Redis, two processes ---------------------------------------------------------------


async def test_a_user_gets_exactly_the_limit_across_two_processes(servers: list[Server]) -> None:
    alice, bob, free = await burst(
        servers,
        ("/user-limited", "alice", REQUESTS),
        ("/user-limited", "bob", 4),
        ("/free", "alice", 6),
    )

    # 10 requests reached each process: counted apart, each would have let 5 through.
    assert_throttled(alice, "user")
    assert statuses(bob) == {200: 4}
    assert all(set(a.remaining) == {"user"} for a in bob)
    assert statuses(free) == {200: 6}
    assert not any("RateLimit" in a.headers or "RateLimit-Policy" in a.headers for a in free)


async def test_anonymous_clients_get_exactly_the_limit_across_two_processes(
    servers: list[Server],
) -> None:
    anonymous, signed_in = await burst(
        servers, ("/anon-limited", None, REQUESTS), ("/anon-limited", "alice", 4)
    )

    assert_throttled(anonymous, "anon")
    # AnonRateThrottle counts no request with a user, and so says nothing about it.
    assert statuses(signed_in) == {200: 4}
    assert not any("RateLimit" in a.headers for a in signed_in)


async def test_a_scope_gets_exactly_its_limit_and_is_counted_apart(servers: list[Server]) -> None:
    (reports,) = await burst(servers, ("/scoped", "carol", REQUESTS))
    assert_throttled(reports, "reports")

    # The same user, on either process: the user throttle has its own count.
    (first,) = await burst(servers[:1], ("/user-limited", "carol", 1))
    (second,) = await burst(servers[1:], ("/user-limited", "carol", 1))
    assert [(a.status, a.remaining) for a in first + second] == [
        (200, {"user": 4}),
        (200, {"user": 3}),
    ]
    (scoped_again,) = await burst(servers, ("/scoped", "carol", 2))
    assert statuses(scoped_again) == {429: 2}


async def test_the_remaining_counts_of_the_passes_agree_with_one_shared_count(
    servers: list[Server],
) -> None:
    (found,) = await burst(servers, ("/user-limited", "dave", REQUESTS))
    passed = [a for a in found if a.status == 200]
    assert len(passed) == LIMIT
    remaining = sorted(a.remaining["user"] for a in passed)

    # What is left is read from Redis after the hit, while the action runs, so a pass may see
    # the hits that came after it, on either process: r is not always distinct. What holds:
    # every r is in 0..4, the last of the 5 hits reads 0, and no more than LIMIT - m passes
    # see m or more left (the k-th hit reads at most LIMIT - k).
    assert all(0 <= r < LIMIT for r in remaining), remaining
    assert remaining[0] == 0, remaining
    assert all(r <= i for i, r in enumerate(remaining)), remaining


async def test_every_strategy_counts_exactly_across_two_processes(servers: list[Server]) -> None:
    fixed, sliding = await burst(
        servers, ("/fixed-window", "hana", REQUESTS), ("/sliding-window", "hana", REQUESTS)
    )
    assert_throttled(fixed, "fixed")
    assert_throttled(sliding, "sliding")


async def test_one_scope_and_rate_counted_with_two_strategies(servers: list[Server]) -> None:
    """``/user-limited`` (moving window) and ``/user-fixed`` (fixed window) both throttle the
    scope ``user`` at 5/minute. Each strategy keeps its own count, in Redis as in memory: their
    keys name the strategy, as one Redis key cannot be both a list and a counter."""
    (moving,) = await burst(servers, ("/user-limited", "gina", 1))
    assert statuses(moving) == {200: 1}

    (fixed,) = await burst(servers, ("/user-fixed", "gina", REQUESTS))
    assert 500 not in statuses(fixed)
    assert_throttled(fixed, "user")


# --- Redis goes away ------------------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A ``redis-server`` of this test's own, on a free port, started; killed afterwards."""
    server = RedisServer(redis_server_path(), free_port(), tmp_path)
    try:
        yield server.start()
    finally:
        server.kill()


def store_url(redis: RedisServer) -> str:
    return f"redis://127.0.0.1:{redis.port}/0?prefix=fvt_{uuid.uuid4().hex[:12]}"


async def test_redis_killed_then_restarted_under_two_processes(
    own_redis: RedisServer, database_url: str, tmp_path: Path
) -> None:
    with serving(store_url(own_redis), database_url, tmp_path) as pair:
        # Counting, across both processes.
        (counted,) = await burst(pair, ("/allow", "erin", LIMIT + 1))
        assert_throttled(counted, "allow")

        own_redis.kill()

        allowed, refused, free = await burst(
            pair, ("/allow", "erin", 10), ("/refuse", "erin", 4), ("/free", "erin", 2)
        )
        # "allow": through, uncounted, quickly; never a 500.
        assert statuses(allowed) == {200: 10}
        assert not any("RateLimit" in a.headers for a in allowed)
        assert max(a.seconds for a in allowed) < 2, [a.seconds for a in allowed]
        # "refuse": 503 with Retry-After and a detail, as quickly.
        assert statuses(refused) == {503: 4}
        for answer in refused:
            assert answer.headers["Retry-After"] == "5"
            assert isinstance(answer.body, dict)
            assert isinstance(answer.body["detail"], str)
            assert answer.body["detail"]
            assert "RateLimit" not in answer.headers
            assert answer.seconds < 2
        assert statuses(free) == {200: 2}
        # Each process logs that it let requests through uncounted.
        for server in pair:
            assert "cannot be reached" in server.output(), server.output()

        # Redis back on the same port (empty: it persists nothing): counting resumes once the
        # second in which a store that failed is not asked again has passed.
        own_redis.start()
        await asyncio.sleep(RETRY_AFTER_FAILURE + 0.2)
        (resumed,) = await burst(pair, ("/allow", "erin", REQUESTS))
        assert_throttled(resumed, "allow")
        (resumed,) = await burst(pair, ("/refuse", "erin", REQUESTS))
        assert_throttled(resumed, "refuse")


async def test_a_hung_redis_is_given_up_on_within_the_timeouts(
    own_redis: RedisServer, database_url: str, tmp_path: Path
) -> None:
    """A Redis that stops answering (SIGSTOP: connections stay open, nothing comes back) is
    given up on after the store's socket timeouts, not a request's lifetime."""
    with serving(store_url(own_redis), database_url, tmp_path) as pair:
        (counted,) = await burst(pair, ("/allow", "frank", 2))
        assert statuses(counted) == {200: 2}

        own_redis.signal(signal.SIGSTOP)
        try:
            allowed, refused = await burst(pair, ("/allow", "frank", 6), ("/refuse", "frank", 4))
        finally:
            own_redis.signal(signal.SIGCONT)
        assert statuses(allowed) == {200: 6}
        assert not any("RateLimit" in a.headers for a in allowed)
        assert statuses(refused) == {503: 4}
        seconds = [round(a.seconds, 2) for a in allowed + refused]
        assert max(seconds) < 2, seconds
