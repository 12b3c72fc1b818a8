"""``fastapi_viewsets.store``: the store named by a URL, and its counting in memory and Redis.

The Redis tests use the ``redis_url`` fixture (a key prefix of the test's own); they skip when
Redis is down, and fail under CI.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from urllib.parse import parse_qsl, urlsplit

import pytest
from limits.errors import StorageError

from fastapi_viewsets import configure_store, get_store
from fastapi_viewsets import store as store_module
from fastapi_viewsets.exceptions import ImproperlyConfigured
from fastapi_viewsets.store import (
    DEFAULT_PREFIX,
    ENVIRONMENT_VARIABLE,
    STRATEGIES,
    Store,
    Strategy,
)
from fastapi_viewsets.throttling import parse_rate
from tests.conftest import REDIS_URL

DOWN = "redis://127.0.0.1:1/0"  # nothing listens on port 1: the connection is refused


def prefix_of(redis_url: str) -> str:
    return dict(parse_qsl(urlsplit(redis_url).query))["prefix"]


def redis_keys(pattern: str) -> list[bytes]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return list(client.scan_iter(pattern))
    finally:
        client.close()


@pytest.fixture
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)


# --- URLs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shared", "kept"),
    [
        ("memory://", False, "memory://"),
        ("MEMORY://", False, "memory://"),
        ("redis://127.0.0.1:6379/0", True, "redis://127.0.0.1:6379/0"),
        ("redis://cache.internal:6380/3", True, "redis://cache.internal:6380/3"),
        ("redis://localhost", True, "redis://localhost"),
        ("rediss://user@cache.internal:6380/0", True, "rediss://user@cache.internal:6380/0"),
        ("unix:///run/redis.sock?db=2", True, "unix:///run/redis.sock?db=2"),
        ("redis://127.0.0.1:6379/0?socket_timeout=2", True, None),
    ],
)
def test_a_store_is_named_by_a_url(url: str, shared: bool, kept: str | None) -> None:
    store = Store(url)
    assert store.shared is shared
    assert store.prefix == DEFAULT_PREFIX == "fastapi_viewsets"
    if kept is not None:
        assert store.url == kept
        assert repr(store) == f"Store({kept!r})"


def test_a_redis_urls_query_is_kept_for_the_client() -> None:
    store = Store("redis://127.0.0.1:6379/0?socket_timeout=2&db=3")
    assert dict(parse_qsl(urlsplit(store.url).query)) == {"socket_timeout": "2", "db": "3"}


@pytest.mark.parametrize("url", ["memory://?prefix=myapp", "redis://127.0.0.1:6379/0?prefix=myapp"])
def test_the_prefix_is_read_from_the_url(url: str) -> None:
    store = Store(url)
    assert store.prefix == "myapp"
    assert "prefix" not in store.url  # it names the keys; it is no option of the client


@pytest.mark.parametrize(
    "url", ["memory://?prefix=from_url", "redis://127.0.0.1:6379/0?prefix=from_url"]
)
def test_the_prefix_argument_wins_over_the_url(url: str) -> None:
    assert Store(url, prefix="from_code").prefix == "from_code"
    assert Store("redis://127.0.0.1:6379/0", prefix="from_code").prefix == "from_code"


@pytest.mark.parametrize(
    "url", ["memcached://127.0.0.1:11211", "http://x", "", "127.0.0.1:6379", "mongodb://h/db"]
)
def test_an_unknown_url_is_refused_naming_where_stores_are_named(url: str) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        Store(url)
    message = str(info.value)
    assert repr(url) in message
    assert "FASTAPI_VIEWSETS_STORE" in message
    assert "configure_store()" in message
    assert "memory://" in message
    assert "redis://host:port/db" in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:secret@host/0", "redis://:***@host/0"),
        ("rediss://admin:secret@host:6380/1", "rediss://admin:***@host:6380/1"),
        ("redis://secret:secret@host/0", "redis://secret:***@host/0"),
    ],
)
def test_repr_hides_the_password(url: str, shown: str) -> None:
    store = Store(url)
    assert repr(store) == f"Store({shown!r})"
    assert str(store) == repr(store)
    assert store.url == url  # the client still gets it


def test_repr_hides_a_password_given_in_the_query() -> None:
    assert "secret" not in repr(Store("redis://host:6379/0?password=secret"))


# --- configure_store() and get_store() ------------------------------------------------------------


def test_configure_store_names_the_store_that_get_store_gives() -> None:
    store = configure_store("redis://127.0.0.1:6379/5", prefix="myapp")
    assert get_store() is store
    assert get_store() is get_store()
    assert (store.url, store.prefix, store.shared) == ("redis://127.0.0.1:6379/5", "myapp", True)
    assert configure_store("memory://") is get_store() is not store


def test_configure_store_without_a_url_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "redis://cache.internal:6379/2?prefix=from_env")
    store = configure_store()
    assert (store.url, store.prefix, store.shared) == (
        "redis://cache.internal:6379/2",
        "from_env",
        True,
    )
    assert get_store() is store
    assert configure_store(prefix="from_code").prefix == "from_code"


def test_configure_store_without_a_url_or_environment_is_memory(no_environment: None) -> None:
    configure_store("redis://127.0.0.1:6379/0")
    store = configure_store()
    assert (store.url, store.shared, store.prefix) == ("memory://", False, DEFAULT_PREFIX)


def test_get_store_before_configure_store_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store_module, "_store", None)
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "redis://cache.internal:6379/1")
    store = get_store()
    assert store.url == "redis://cache.internal:6379/1"
    assert get_store() is store


def test_get_store_before_configure_store_without_environment_is_memory(
    monkeypatch: pytest.MonkeyPatch, no_environment: None
) -> None:
    monkeypatch.setattr(store_module, "_store", None)
    assert get_store().url == "memory://"


def test_a_bad_environment_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "memcached://127.0.0.1")
    with pytest.raises(ImproperlyConfigured, match="FASTAPI_VIEWSETS_STORE"):
        configure_store()


# --- counting -------------------------------------------------------------------------------------


async def check_counting(store: Store, strategy: Strategy) -> None:
    """Three a day under one key: three hits pass, the fourth does not; other keys are apart;
    clear() forgets everything."""
    limit = parse_rate("3/day")
    key = f"k-{uuid.uuid4().hex}"
    other = f"{key}-other"
    fresh = await store.window(strategy, limit, key)
    assert fresh.remaining == 3
    found = []
    for _ in range(4):
        allowed = (await store.hit(strategy, limit, key))[0]
        found.append((allowed, (await store.window(strategy, limit, key)).remaining))
    assert found == [(True, 2), (True, 1), (True, 0), (False, 0)]
    stats = await store.window(strategy, limit, key)
    assert time.time() < stats.reset_time <= time.time() + 86400 + 1
    assert (await store.hit(strategy, limit, other))[0] is True
    assert (await store.window(strategy, limit, other)).remaining == 2
    # Another limit under the same key is counted apart.
    assert (await store.hit(strategy, parse_rate("5/day"), key))[0] is True
    await store.clear()
    assert (await store.window(strategy, limit, key)).remaining == 3
    assert (await store.window(strategy, limit, other)).remaining == 3
    assert (await store.hit(strategy, limit, key))[0] is True
    assert (await store.window(strategy, limit, key)).remaining == 2


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_memory_counts_and_clears(strategy: Strategy) -> None:
    await check_counting(Store("memory://"), strategy)


async def test_memory_counts_are_the_stores_own() -> None:
    limit = parse_rate("1/minute")
    first, second = Store("memory://"), Store("memory://")
    assert (await first.hit("moving-window", limit, "k"))[0] is True
    assert (await first.hit("moving-window", limit, "k"))[0] is False
    assert (await second.hit("moving-window", limit, "k"))[0] is True


async def test_clearing_an_unused_memory_store_is_harmless() -> None:
    store = Store("memory://")
    await store.clear()
    assert (await store.hit("fixed-window", parse_rate("1/minute"), "k"))[0] is True


async def test_a_moving_window_lets_requests_through_again_when_it_moves() -> None:
    store = Store("memory://")
    limit = parse_rate("2/second")
    assert [(await store.hit("moving-window", limit, "k"))[0] for _ in range(3)] == [
        True,
        True,
        False,
    ]
    await asyncio.sleep(1.1)
    assert (await store.hit("moving-window", limit, "k"))[0] is True


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_redis_counts_and_clears(redis_url: str, strategy: Strategy) -> None:
    await check_counting(Store(redis_url), strategy)


async def test_redis_keys_are_under_the_prefix(redis_url: str) -> None:
    prefix = prefix_of(redis_url)
    store = Store(redis_url)
    assert store.prefix == prefix
    assert (await store.hit("moving-window", parse_rate("3/minute"), "who"))[0] is True
    keys = redis_keys(f"{prefix}*")
    assert keys
    assert all(k.startswith(f"{prefix}:".encode()) for k in keys)
    await store.clear()
    assert redis_keys(f"{prefix}*") == []


async def test_redis_counts_are_shared_by_stores_of_one_url(redis_url: str) -> None:
    limit = parse_rate("2/minute")
    first, second = Store(redis_url), Store(redis_url)
    assert (await first.hit("moving-window", limit, "k"))[0] is True
    assert (await second.window("moving-window", limit, "k")).remaining == 1
    assert (await second.hit("moving-window", limit, "k"))[0] is True
    assert (await first.hit("moving-window", limit, "k"))[0] is False


async def test_clearing_a_redis_store_keeps_other_prefixes(redis_url: str) -> None:
    limit = parse_rate("2/minute")
    mine = Store(redis_url)
    # A prefix that starts with the other: clear() must not take it for its own.
    theirs = Store(f"{REDIS_URL}?prefix={prefix_of(redis_url)}_theirs")
    assert (await mine.hit("moving-window", limit, "k"))[0] is True
    assert (await theirs.hit("moving-window", limit, "k"))[0] is True
    await mine.clear()
    assert (await mine.window("moving-window", limit, "k")).remaining == 2
    assert (await theirs.window("moving-window", limit, "k")).remaining == 1


async def test_a_redis_url_with_a_prefix_and_the_prefix_argument_counts(redis_url: str) -> None:
    store = Store(redis_url, prefix=f"{prefix_of(redis_url)}_code")
    assert (await store.hit("moving-window", parse_rate("2/minute"), "k"))[0] is True
    assert redis_keys(f"{prefix_of(redis_url)}_code:*")


def test_a_redis_store_serves_one_event_loop_after_another(redis_url: str) -> None:
    """Each loop opens connections of its own (asyncio.run closes its loop; a test client and a
    server may each have one)."""
    store = Store(redis_url)
    limit = parse_rate("3/minute")

    async def hit() -> tuple[bool, int]:
        allowed = (await store.hit("moving-window", limit, "k"))[0]
        return allowed, (await store.window("moving-window", limit, "k")).remaining

    assert asyncio.run(hit()) == (True, 2)
    assert asyncio.run(hit()) == (True, 1)

    async def both() -> list[tuple[bool, int]]:
        return [await hit(), await hit()]

    assert asyncio.run(both()) == [(True, 0), (False, 0)]


# --- a Redis that cannot be reached ---------------------------------------------------------------


@pytest.mark.parametrize("operation", ["hit", "window", "clear"])
async def test_a_redis_that_is_down_raises_storage_error_fast(operation: str) -> None:
    store = Store(DOWN)
    limit = parse_rate("3/minute")
    calls = {
        "hit": lambda: store.hit("moving-window", limit, "k"),
        "window": lambda: store.window("fixed-window", limit, "k"),
        "clear": store.clear,
    }
    started = time.monotonic()
    with pytest.raises(StorageError):
        await calls[operation]()
    assert time.monotonic() - started < 2


async def test_a_redis_that_does_not_answer_raises_storage_error_fast() -> None:
    """A host that never answers (a blackholed address) fails after the connect timeout."""
    store = Store("redis://10.255.255.1:6379/0")
    started = time.monotonic()
    with pytest.raises(StorageError):
        (await store.hit("moving-window", parse_rate("3/minute"), "k"))[0]
    assert time.monotonic() - started < 2


async def test_a_redis_that_is_down_may_come_back(redis_url: str) -> None:
    """The store is the same object before and after: a failed hit does not break it."""
    store = Store(DOWN)
    with pytest.raises(StorageError):
        (await store.hit("moving-window", parse_rate("3/minute"), "k"))[0]
    up = Store(redis_url)
    assert (await up.hit("moving-window", parse_rate("3/minute"), "k"))[0] is True


async def test_a_unix_socket_store_that_is_down_raises_storage_error() -> None:
    store = Store(f"unix:///tmp/no-redis-{uuid.uuid4().hex}.sock?db=0")
    with pytest.raises(StorageError):
        (await store.hit("moving-window", parse_rate("3/minute"), "k"))[0]


# --- found in review -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["foo=bar", "socket_timeout=abc", "ssl_cert_reqs=none"], ids=["unknown", "bad", "tls"]
)
def test_a_redis_url_with_a_parameter_the_client_does_not_take_is_refused(query: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="query parameter the Redis client does not"):
        Store(f"redis://127.0.0.1:6379/0?{query}")


def test_threads_counting_at_once_in_a_new_memory_store_share_one_count() -> None:
    store = Store("memory://")
    limit = parse_rate("50/minute")
    barrier = threading.Barrier(8)
    passed: list[bool] = []

    def worker() -> None:
        async def hits() -> None:
            barrier.wait()
            for _ in range(30):
                passed.append((await store.hit("moving-window", limit, "k"))[0])

        asyncio.run(hits())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert passed.count(True) == 50


def test_the_redis_clients_of_closed_loops_are_let_go(redis_url: str) -> None:
    store = Store(redis_url)
    for _ in range(5):
        asyncio.run(store.hit("moving-window", parse_rate("100/minute"), "k"))
    assert len(store._redis) == 1  # only the last loop's, until another loop asks


# --- values: what idempotency keys keep ---------------------------------------------------------


async def check_values(store: Store) -> None:
    key = f"v-{uuid.uuid4().hex}"
    assert await store.get(key) is None
    assert await store.claim(key, b"running", ttl=60) is None  # this call set it
    assert await store.claim(key, b"other", ttl=60) == b"running"  # set already: its value
    await store.put(key, b"answer", ttl=60)
    assert await store.get(key) == b"answer"
    await store.delete(key)
    assert await store.get(key) is None
    short = f"{key}-short"
    assert await store.claim(short, b"x", ttl=0.05) is None
    await asyncio.sleep(0.1)
    assert await store.get(short) is None  # expired
    assert await store.claim(short, b"y", ttl=60) is None
    # delete_if forgets only the value it is given: a later claim of the key stays.
    assert await store.delete_if(short, b"x") is False
    assert await store.get(short) == b"y"
    assert await store.delete_if(short, b"y") is True
    assert await store.get(short) is None
    assert await store.delete_if(short, b"y") is False


async def test_memory_values_claim_put_get_delete_and_expire() -> None:
    await check_values(Store("memory://"))


async def test_redis_values_claim_put_get_delete_and_expire(redis_url: str) -> None:
    await check_values(Store(redis_url))


async def test_of_concurrent_claims_of_one_key_exactly_one_wins(redis_url: str) -> None:
    key = f"k-{uuid.uuid4().hex}"
    for store in (Store("memory://"), Store(redis_url)):
        found = await asyncio.gather(*(store.claim(key, f"{i}".encode(), 60) for i in range(20)))
        assert found.count(None) == 1
        winner = next(str(i).encode() for i, f in enumerate(found) if f is None)
        assert all(f == winner for f in found if f is not None)


async def test_values_of_a_store_that_is_down_raise_storage_error() -> None:
    store = Store("redis://127.0.0.1:1/0")
    with pytest.raises(StorageError):
        await store.claim("k", b"v", 60)
    with pytest.raises(StorageError):  # answered at once: the store failed less than 1 s ago
        await store.get("k")


def test_memory_values_no_one_reads_again_are_swept_once_expired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(store_module.time, "monotonic", lambda: now[0])
    values = store_module._MemoryValues()
    for n in range(100):
        values.put(f"short-{n}", b"x", 1)
    values.put("long", b"kept", 3600)
    assert len(values._items) == 101
    now[0] += values.SWEEP_EVERY + 1
    values.claim("new", b"y", 10)  # a write past the sweep time sweeps
    assert set(values._items) == {"long", "new"}
    assert values.get("long") == b"kept"
