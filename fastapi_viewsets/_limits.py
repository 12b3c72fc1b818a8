"""The one module that reads private names of the ``limits`` library: a throttle's decision and
its headers in one round trip to Redis, and in-process counts without a timer thread.

``limits`` answers "may this request pass?" (``hit``) and "what is left?"
(``get_window_stats``) with one Lua script each, so two round trips. A throttle needs both on
every request, for its ``RateLimit`` headers. For the moving window (the default strategy) in
Redis through redis-py, :func:`hit_and_window` sends both of limits' scripts in one pipeline:
Redis runs them in order, the atomic decision first, so the read sees this request counted.
Measured on a list of 20 (``benchmarks``, workload ``throttle_redis``): two round trips served
0.53x to 0.59x the unthrottled list, one pipeline 0.65x, against 0.77x for the same list with one
Redis ``PING`` per request.

limits' in-process ``MemoryStorage`` drops expired entries in a timer thread that it starts
again every 10 ms while requests come; starting threads and sharing the GIL with them cost a
throttled list of 20 about 10 % of its CPU. :class:`MemoryStorage` drops them in the calling
thread instead, at most once a second. (Expired entries are only memory: every decision and
every read compares timestamps itself.)

Private names read, as limits 5.1 to 5.8 define them (``CHECKED``): ``MemoryStorage``'s
``__schedule_expiry`` and ``__expire_events``; ``RedisStorage.bridge``; the redis-py bridge's
``get_connection()``, ``prefixed_key()``, ``lua_acquire_moving_window`` and
``lua_moving_window`` (redis-py ``Script`` objects: their ``sha``); and the scripts' arguments,
as the bridge's ``acquire_entry()`` and ``get_moving_window()`` pass them. On another release,
limits' own ``MemoryStorage`` is used, and :func:`hit_and_window` answers ``None`` so that the
store takes limits' public API (as it does for other strategies and clients): slower, never
wrong.
"""

from __future__ import annotations

import time
from typing import Any

import limits
import limits.storage
from limits import RateLimitItem, WindowStats
from limits.errors import StorageError

__all__ = ("CHECKED", "MemoryStorage", "hit_and_window", "memory_storage")

#: The ``limits`` releases (major.minor) whose private names this module was checked against.
CHECKED = frozenset({"5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "5.7", "5.8"})

_VERSION_CHECKED = ".".join(str(limits.__version__).split(".")[:2]) in CHECKED


class MemoryStorage(limits.storage.MemoryStorage):
    """limits' in-process storage, its expired entries dropped in the calling thread at most
    once a second rather than by a timer thread started every 10 ms."""

    _next_expiry = 0.0

    # limits' MemoryStorage calls self.__schedule_expiry() before each count: the name mangled.
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now >= self._next_expiry:
            self._next_expiry = now + 1.0
            getattr(self, "_MemoryStorage__expire_events")()  # noqa: B009 - a mangled name


def memory_storage() -> limits.storage.MemoryStorage:
    """An in-process storage: :class:`MemoryStorage` on a checked release, else limits' own."""
    return MemoryStorage() if _VERSION_CHECKED else limits.storage.MemoryStorage()


def _scripts(storage: Any) -> tuple[Any, Any, Any] | None:
    """The bridge and its two moving-window scripts, when they are what this module knows."""
    bridge = getattr(storage, "bridge", None)
    if not _VERSION_CHECKED or type(bridge).__name__ != "RedispyBridge":
        return None
    acquire = getattr(bridge, "lua_acquire_moving_window", None)
    window = getattr(bridge, "lua_moving_window", None)
    if getattr(acquire, "sha", None) is None or getattr(window, "sha", None) is None:
        return None
    return bridge, acquire, window


async def hit_and_window(
    storage: Any, limit: RateLimitItem, key: str
) -> tuple[bool, WindowStats | None] | None:
    """Count a request under ``key`` with the moving window and read what is left, in one round
    trip; ``None`` when this cannot be done here (the caller then uses the public API).

    A script Redis does not know (after a restart, or before limits' first call loads it)
    also answers ``None`` when the decision did not run; limits' own call then loads it.
    """
    found = _scripts(storage)
    if found is None:
        return None
    bridge, acquire, window = found
    from redis.exceptions import NoScriptError, RedisError

    name = bridge.prefixed_key(limit.key_for(key))
    expiry = limit.get_expiry()
    now = time.time()
    pipe = bridge.get_connection().pipeline(transaction=False)
    pipe.evalsha(acquire.sha, 1, name, now, limit.amount, expiry, 1)
    pipe.evalsha(window.sha, 1, name, now - expiry, limit.amount)
    try:
        acquired, entries = await pipe.execute(raise_on_error=False)
    except RedisError as exc:
        raise StorageError(exc) from exc
    if isinstance(acquired, NoScriptError):
        return None
    if isinstance(acquired, Exception):
        raise StorageError(acquired)
    if isinstance(entries, Exception):
        # Counted, but not read: read it as limits does (which loads a missing script).
        try:
            start, count = await storage.get_moving_window(limit.key_for(key), limit.amount, expiry)
        except (RedisError, StorageError):
            return bool(acquired), None
    elif entries:
        start, count = float(entries[0]), int(entries[1])
    else:
        start, count = now, 0
    return bool(acquired), WindowStats(start + expiry, limit.amount - count)
