"""``_limits``: the moving window's decision and what is left, in one round trip to Redis.

Its answers must be those of limits' public API, on every path: the pipeline, a script Redis
does not know yet, another strategy, another release of limits.
"""

from __future__ import annotations

import time

import limits
import pytest
import redis.asyncio
from limits.errors import StorageError

from fastapi_viewsets import _limits
from fastapi_viewsets.store import Store
from fastapi_viewsets.throttling import parse_rate


def test_the_installed_limits_release_was_checked() -> None:
    # A new limits release fails here: read _limits.py against it, then add it to CHECKED.
    assert ".".join(limits.__version__.split(".")[:2]) in _limits.CHECKED


async def test_the_pipeline_answers_what_the_public_api_answers(redis_url: str) -> None:
    store = Store(redis_url)
    limit = parse_rate("3/minute")
    storage = store._redis_limiter("moving-window").storage
    await store.hit("moving-window", limit, "warm-up")  # limits' own call loads the scripts
    piped = [await _limits.hit_and_window(storage, limit, "piped") for _ in range(5)]
    public = []
    for _ in range(5):
        limiter = store._redis_limiter("moving-window")
        allowed = await limiter.hit(limit, "public")
        public.append((allowed, await limiter.get_window_stats(limit, "public")))
    assert [p[0] for p in piped if p is not None] == [True, True, True, False, False]
    assert [p[0] for p in public] == [True, True, True, False, False]
    assert [p[1].remaining for p in piped if p is not None] == [2, 1, 0, 0, 0]
    assert [p[1].remaining for p in public] == [2, 1, 0, 0, 0]
    for (_, stats), (_, expected) in zip(piped, public, strict=True):  # type: ignore[misc]
        assert stats.reset_time == pytest.approx(expected.reset_time, abs=2)
        assert time.time() + 55 < stats.reset_time <= time.time() + 60


async def test_a_script_redis_does_not_know_is_loaded_by_limits_and_counted_once(
    redis_url: str,
) -> None:
    store = Store(redis_url)
    limit = parse_rate("5/minute")
    client = redis.asyncio.Redis.from_url(redis_url.split("?")[0])
    try:
        await client.script_flush()
    finally:
        await client.aclose()
    storage = store._redis_limiter("moving-window").storage
    # The store counts a strategy's requests under keys that name it.
    assert await _limits.hit_and_window(storage, limit, "moving-window:k") is None  # not counted
    allowed, stats = await store.hit("moving-window", limit, "k")  # loads the scripts
    assert allowed
    assert stats.remaining == 4
    piped = await _limits.hit_and_window(storage, limit, "moving-window:k")  # one round trip
    assert piped is not None
    assert piped[0] is True
    assert piped[1].remaining == 3


@pytest.mark.parametrize("strategy", ["sliding-window-counter", "fixed-window"])
async def test_other_strategies_take_the_public_api(redis_url: str, strategy: str) -> None:
    store = Store(redis_url)
    limit = parse_rate("2/minute")
    answers = [await store.hit(strategy, limit, "k") for _ in range(3)]  # type: ignore[arg-type]
    assert [a[0] for a in answers] == [True, True, False]
    assert [a[1].remaining for a in answers] == [1, 0, 0]


async def test_memory_and_unknown_storages_are_not_piped() -> None:
    store = Store("memory://")
    assert await _limits.hit_and_window(object(), parse_rate("1/second"), "k") is None
    assert await store.hit("moving-window", parse_rate("1/second"), "k") == (
        True,
        await store.window("moving-window", parse_rate("1/second"), "k"),
    )


async def test_an_unchecked_release_takes_the_public_api(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_limits, "_VERSION_CHECKED", False)
    store = Store(redis_url)
    storage = store._redis_limiter("moving-window").storage
    assert await _limits.hit_and_window(storage, parse_rate("1/minute"), "k") is None
    allowed, stats = await store.hit("moving-window", parse_rate("1/minute"), "k")
    assert allowed
    assert stats.remaining == 0


async def test_redis_down_is_a_storage_error() -> None:
    store = Store("redis://127.0.0.1:1/0")
    storage = store._redis_limiter("moving-window").storage
    with pytest.raises(StorageError):
        await _limits.hit_and_window(storage, parse_rate("1/minute"), "k")


async def test_a_throttled_request_is_one_round_trip_to_redis(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis.asyncio.connection import Connection

    sent: list[int] = []
    send = Connection.send_packed_command

    async def counting(self: Connection, command: object, check_health: bool = True) -> None:
        sent.append(1)
        await send(self, command, check_health)  # type: ignore[arg-type]

    store = Store(redis_url)
    limit = parse_rate("3/minute")
    await store.hit("moving-window", limit, "warm-up")  # loads the scripts, opens a connection
    monkeypatch.setattr(Connection, "send_packed_command", counting)
    for passes, left in ((True, 2), (True, 1), (True, 0), (False, 0)):
        sent.clear()
        allowed, stats = await store.hit("moving-window", limit, "k")
        assert (allowed, stats is not None and stats.remaining) == (passes, left)
        assert len(sent) == 1  # the decision and the read of what is left, sent together
