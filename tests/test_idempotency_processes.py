"""Cross-process: an ``Idempotency-Key`` holds across two uvicorn processes that share one Redis.

The tests start two real ``uvicorn`` processes serving tests/idempotency_server.py, on two
ports, as two hosts behind a load balancer: both claim keys in the same Redis (the
``module_redis_url`` fixture's; for the outage tests, a ``redis-server`` of the module's own,
served by two more processes) and write to the same database (a scratch PostgreSQL database
when ``TORTOISE_TEST_DB`` names PostgreSQL, else a SQLite file; see tests/processes.py). A
request and its retries go to both processes in turn, as a load balancer would send them. The
app's writes sleep 0.3 s before they save, so that requests sent at once overlap; rows are
counted in the database (``GET /count``).

What they prove, which no in-process test can:

- of 20 requests sent at once with one key, split between the processes, exactly one runs:
  one row; every other answer is the kept one (the same bytes, ``Idempotent-Replayed: true``)
  or a 409 with ``Retry-After``; and once it is answered, a retry on either process gets the
  kept answer, for ``create`` as for a POST ``@action``;
- keys belong to their user: two users with one key make two rows;
- a key sent with another request, to the other process, answers 422 and runs nothing;
- a 5xx (an exception, or a 503 the action raised) releases the key for both processes: the
  retry on the other process runs;
- when Redis is down, a request with a key answers 503 with ``Retry-After`` and runs nothing;
  once Redis is back the key works; a claim a hung Redis ran late is withdrawn.

Redis is needed: without it (or without ``redis-server`` for the outage tests), the tests skip,
and fail instead when the environment variable ``CI`` is set.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from fastapi_viewsets.idempotency import RETRY_AFTER_RUNNING, RETRY_AFTER_STORE_ERROR
from fastapi_viewsets.store import RETRY_AFTER_FAILURE
from tests.processes import RedisServer, Server, free_port, redis_server_path, serving

APP = "tests.idempotency_server:app"
REQUESTS = 20
REPLAYED = "idempotent-replayed"
# Headers each request gets of its own: uvicorn's, and the library's request id.
OWN_HEADERS = frozenset({"date", "server", "x-request-id", REPLAYED})


@pytest.fixture(scope="module")
def servers(
    module_redis_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Server]]:
    """Two uvicorn processes claiming keys in the ``module_redis_url`` fixture's Redis, for all
    the tests of this module (each uses keys and names of its own).

    The store's timeouts are raised from 0.25 s (connecting) and 0.5 s (a command): 20
    requests at once open many connections, which on a loaded machine can take longer, and a
    timeout is a 503, which these tests are not about (the outage tests keep the defaults)."""
    with serving(
        APP,
        f"{module_redis_url}&socket_connect_timeout=5&socket_timeout=5",
        database_url,
        tmp_path_factory.mktemp("idempotency-logs"),
        env={"IDEMPOTENCY_MARKERS": str(tmp_path_factory.mktemp("idempotency-markers"))},
    ) as found:
        yield found


# --- requests -------------------------------------------------------------------------------


def unique(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


async def post(
    client: httpx.AsyncClient,
    server: Server,
    path: str,
    body: dict[str, object],
    key: str | None,
    user: str | None = "alice",
) -> httpx.Response:
    headers = {}
    if key is not None:
        headers["Idempotency-Key"] = key
    if user is not None:
        headers["X-User"] = user
    return await client.post(f"{server.url}{path}", json=body, headers=headers)


async def count(client: httpx.AsyncClient, server: Server, name: str) -> int:
    response = await client.get(f"{server.url}/count", params={"name": name})
    assert response.status_code == 200, response.text
    found = response.json()["count"]
    assert isinstance(found, int)
    return found


def kept_headers(response: httpx.Response) -> list[tuple[str, str]]:
    """The headers an answer is kept with, in order: all but the request's own."""
    return [
        (name.decode("latin-1").lower(), value.decode("latin-1"))
        for name, value in response.headers.raw
        if name.decode("latin-1").lower() not in OWN_HEADERS
    ]


def assert_replay_of(replay: httpx.Response, first: httpx.Response) -> None:
    """``replay`` is ``first`` kept: the same status, headers and bytes, marked replayed."""
    assert replay.status_code == first.status_code, replay.text
    assert replay.headers.get(REPLAYED) == "true", replay.headers
    assert replay.content == first.content
    assert kept_headers(replay) == kept_headers(first)


def assert_not_replayed(response: httpx.Response) -> None:
    assert REPLAYED not in response.headers, response.headers


async def a_queue(client: httpx.AsyncClient, server: Server) -> int:
    """The id of a new queue to copy (created without a key)."""
    response = await post(client, server, "/queues", {"name": unique("source")}, None)
    assert response.status_code == 201, response.text
    found = response.json()["id"]
    assert isinstance(found, int)
    return found


async def route_for(client: httpx.AsyncClient, server: Server, route: str) -> str:
    """The path of ``create`` or of the ``copy`` @action."""
    if route == "create":
        return "/queues"
    return f"/queues/{await a_queue(client, server)}/copy"


# --- one Redis, two processes ---------------------------------------------------------------


@pytest.mark.parametrize("route", ["create", "action"])
async def test_concurrent_requests_with_one_key_run_once_across_two_processes(
    servers: list[Server], route: str
) -> None:
    key, name = unique("key"), unique("burst")
    async with httpx.AsyncClient(timeout=10) as client:
        path = await route_for(client, servers[0], route)
        found = await asyncio.gather(
            *(post(client, servers[i % 2], path, {"name": name}, key) for i in range(REQUESTS))
        )

        statuses = Counter(r.status_code for r in found)
        assert set(statuses) <= {201, 409}, [(r.status_code, r.text) for r in found]
        # The write sleeps 0.3 s: the others arrive while it runs.
        assert statuses[409] >= 1, statuses
        created = [r for r in found if r.status_code == 201]
        first = [r for r in created if REPLAYED not in r.headers]
        assert len(first) == 1, [r.headers for r in created]
        (first_answer,) = first
        assert first_answer.json()["name"] == name
        if route == "create":
            assert first_answer.headers["etag"].startswith('"')
        for replay in created:
            if replay is not first_answer:
                assert_replay_of(replay, first_answer)
        assert len({(r.content, r.headers.get("etag")) for r in created}) == 1
        for refused in (r for r in found if r.status_code == 409):
            assert refused.headers["Retry-After"] == str(RETRY_AFTER_RUNNING)
            assert_not_replayed(refused)
            assert "still being processed" in refused.json()["detail"]

        assert await count(client, servers[0], name) == 1

        # Answered: a retry on either process gets the kept answer.
        retries = await asyncio.gather(
            *(post(client, server, path, {"name": name}, key) for server in servers * 2)
        )
        for retry in retries:
            assert_replay_of(retry, first_answer)
        assert await count(client, servers[1], name) == 1


async def test_two_users_with_one_key_across_two_processes_make_two_rows(
    servers: list[Server],
) -> None:
    key, name = unique("key"), unique("users")
    async with httpx.AsyncClient(timeout=10) as client:
        alice, bob = await asyncio.gather(
            post(client, servers[0], "/queues", {"name": name}, key, user="alice"),
            post(client, servers[1], "/queues", {"name": name}, key, user="bob"),
        )
        for answer in (alice, bob):
            assert answer.status_code == 201, answer.text
            assert_not_replayed(answer)
        assert alice.json()["id"] != bob.json()["id"]
        assert await count(client, servers[0], name) == 2

        # Each retry, on the other process, gets its own user's answer.
        alice_again, bob_again = await asyncio.gather(
            post(client, servers[1], "/queues", {"name": name}, key, user="alice"),
            post(client, servers[0], "/queues", {"name": name}, key, user="bob"),
        )
        assert_replay_of(alice_again, alice)
        assert_replay_of(bob_again, bob)

        # Anonymous requests: the key is the client address's, the same for both processes.
        anonymous = await post(client, servers[0], "/queues", {"name": name}, key, user=None)
        assert anonymous.status_code == 201, anonymous.text
        assert_not_replayed(anonymous)
        assert anonymous.json()["id"] not in {alice.json()["id"], bob.json()["id"]}
        again = await post(client, servers[1], "/queues", {"name": name}, key, user=None)
        assert_replay_of(again, anonymous)

        assert await count(client, servers[1], name) == 3


async def test_a_key_sent_with_another_request_to_the_other_process_is_refused(
    servers: list[Server],
) -> None:
    key, name, other = unique("key"), unique("reused"), unique("other")
    async with httpx.AsyncClient(timeout=10) as client:
        running = asyncio.create_task(post(client, servers[0], "/queues", {"name": name}, key))
        await asyncio.sleep(0.1)  # the first has claimed the key and sleeps in its write
        while_running = await post(client, servers[1], "/queues", {"name": other}, key)
        assert not running.done()
        first = await running
        assert first.status_code == 201, first.text

        copy_path = f"/queues/{first.json()['id']}/copy"
        after = await asyncio.gather(
            post(client, servers[1], "/queues", {"name": other}, key),
            post(client, servers[1], "/queues", {"name": name, "is_public": False}, key),
            post(client, servers[0], "/queues", {"name": other}, key),
            post(client, servers[1], copy_path, {"name": name}, key),
        )
        for refused in [while_running, *after]:
            assert refused.status_code == 422, refused.text
            assert_not_replayed(refused)
            (error,) = refused.json()["detail"]
            assert error["type"] == "idempotency_key_reused"
            assert error["loc"] == ["header", "Idempotency-Key"]

        # Nothing ran for them; the key still answers its own request, on either process.
        assert await count(client, servers[0], other) == 0
        assert await count(client, servers[0], name) == 1
        for server in servers:
            assert_replay_of(await post(client, server, "/queues", {"name": name}, key), first)


@pytest.mark.parametrize("route", ["create", "action"])
@pytest.mark.parametrize(
    ("label", "status"), [("fail-once", 500), ("unavailable-once", 503)], ids=["500", "503"]
)
async def test_a_5xx_on_one_process_releases_the_key_for_the_other(
    servers: list[Server], route: str, label: str, status: int
) -> None:
    key, name = unique("key"), unique(label)
    # A connection per request: uvicorn closes the one an exception escaped on, which the client
    # would otherwise pick up again for the next request.
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=10, limits=no_reuse) as client:
        path = await route_for(client, servers[0], route)
        failed = await post(client, servers[0], path, {"name": name}, key)
        assert failed.status_code == status, failed.text
        assert_not_replayed(failed)
        assert await count(client, servers[0], name) == 0

        # The retry on the other process runs (it is not the 5xx replayed, nor a 409).
        retried = await post(client, servers[1], path, {"name": name}, key)
        assert retried.status_code == 201, retried.text
        assert_not_replayed(retried)
        assert retried.json()["name"] == name
        assert await count(client, servers[1], name) == 1

        # And that answer is kept for both.
        again = await post(client, servers[0], path, {"name": name}, key)
        assert_replay_of(again, retried)
        assert await count(client, servers[0], name) == 1


# --- Redis goes away ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def module_own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A ``redis-server`` of this module's own, on a free port, started; killed afterwards."""
    server = RedisServer(redis_server_path(), free_port(), tmp_path_factory.mktemp("redis"))
    try:
        yield server.start()
    finally:
        server.kill()


@pytest.fixture(scope="module")
def outage_servers(
    module_own_redis: RedisServer, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Server]]:
    """Two uvicorn processes claiming keys in ``module_own_redis``."""
    with serving(
        APP,
        module_own_redis.store_url(),
        database_url,
        tmp_path_factory.mktemp("outage-logs"),
        env={"IDEMPOTENCY_MARKERS": str(tmp_path_factory.mktemp("outage-markers"))},
    ) as found:
        yield found


@pytest.fixture
def outage(
    module_own_redis: RedisServer, outage_servers: list[Server]
) -> Iterator[tuple[RedisServer, list[Server]]]:
    """The Redis a test may kill or stop, and the two processes that use it; the Redis is left
    running for the next test whatever this one did to it."""
    yield module_own_redis, outage_servers
    if module_own_redis.process is None:
        module_own_redis.start()
        time.sleep(RETRY_AFTER_FAILURE + 0.2)
    else:
        module_own_redis.signal(signal.SIGCONT)


def assert_store_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_STORE_ERROR)
    assert_not_replayed(answer)
    assert answer.json()["detail"].startswith("Idempotency keys cannot be checked")


async def test_redis_killed_then_restarted_under_two_processes(
    outage: tuple[RedisServer, list[Server]],
) -> None:
    redis, pair = outage
    async with httpx.AsyncClient(timeout=10) as client:
        before, name, key = unique("before"), unique("outage"), unique("key")
        kept = await post(client, pair[0], "/queues", {"name": before}, key)
        assert kept.status_code == 201, kept.text

        redis.kill()

        loop = asyncio.get_running_loop()
        started = loop.time()
        refused = await asyncio.gather(
            *(post(client, pair[i % 2], "/queues", {"name": name}, key) for i in range(6)),
            *(post(client, server, "/queues", {"name": before}, key) for server in pair),
        )
        seconds = loop.time() - started
        for answer in refused:
            assert_store_unavailable(answer)
        # Refused at once: nothing ran (the write alone sleeps).
        assert seconds < 2, seconds
        assert await count(client, pair[0], name) == 0
        assert await count(client, pair[1], before) == 1

        # Without a key nothing is asked of the store: the request runs.
        unkeyed = await post(client, pair[1], "/queues", {"name": name}, None)
        assert unkeyed.status_code == 201, unkeyed.text
        assert await count(client, pair[0], name) == 1

        # Redis back on the same port (empty: it persists nothing), once the second in which
        # a store that failed is not asked again has passed: the key works.
        redis.start()
        await asyncio.sleep(RETRY_AFTER_FAILURE + 0.2)
        first = await post(client, pair[1], "/queues", {"name": name}, key)
        assert first.status_code == 201, first.text
        assert_not_replayed(first)
        replay = await post(client, pair[0], "/queues", {"name": name}, key)
        assert_replay_of(replay, first)
        assert await count(client, pair[0], name) == 2
    for server in pair:
        assert "Traceback" not in server.output(), server.output()


async def test_a_key_refused_while_redis_hung_works_once_redis_answers(
    outage: tuple[RedisServer, list[Server]],
) -> None:
    """A Redis that stops answering (SIGSTOP: connections stay open, nothing comes back): a
    request with a key answers 503 within the store's timeouts and runs nothing; once Redis
    answers again, the retry the 503 asked for (after its ``Retry-After``) runs. Redis ran the
    claim it had queued when it woke; the process that sent it withdraws it."""
    redis, pair = outage
    async with httpx.AsyncClient(timeout=10) as client:
        name, key = unique("hung"), unique("key")
        warm = await post(client, pair[0], "/queues", {"name": unique("warm")}, unique("key"))
        assert warm.status_code == 201, warm.text

        redis.signal(signal.SIGSTOP)
        try:
            refused = await post(client, pair[0], "/queues", {"name": name}, key)
        finally:
            redis.signal(signal.SIGCONT)
        assert_store_unavailable(refused)
        assert await count(client, pair[0], name) == 0

        await asyncio.sleep(int(refused.headers["Retry-After"]))
        retried = await post(client, pair[1], "/queues", {"name": name}, key)
        assert retried.status_code == 201, retried.text
        assert await count(client, pair[0], name) == 1
