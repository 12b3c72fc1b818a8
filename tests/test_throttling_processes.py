"""Cross-process: throttles hold across two uvicorn processes that share one Redis.

Every test here starts two real ``uvicorn`` processes serving tests/throttle_server.py, on two
ports, as two hosts behind a load balancer: both count in the same Redis (the ``redis_url``
fixture's, or a ``redis-server`` a test starts itself) and read the same database (a scratch
PostgreSQL database when ``TORTOISE_TEST_DB`` names PostgreSQL, else a SQLite file; the
processes and their fixtures are tests/processes.py's). Requests are sent concurrently and split
evenly between the two ports.

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
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from fastapi_viewsets.store import RETRY_AFTER_FAILURE
from tests.processes import RedisServer, Server, serving

APP = "tests.throttle_server:app"
LIMIT = 5
REQUESTS = 20


@pytest.fixture
def servers(redis_url: str, database_url: str, tmp_path: Path) -> Iterator[list[Server]]:
    """Two uvicorn processes counting in the ``redis_url`` fixture's Redis (prefix included)."""
    with serving(APP, redis_url, database_url, tmp_path) as found:
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


async def test_redis_killed_then_restarted_under_two_processes(
    own_redis: RedisServer, database_url: str, tmp_path: Path
) -> None:
    with serving(APP, own_redis.store_url(), database_url, tmp_path) as pair:
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
    with serving(APP, own_redis.store_url(), database_url, tmp_path) as pair:
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
