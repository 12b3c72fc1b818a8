"""A throttle's decision and its headers in one round trip to Redis: the one module that reads
private names of the ``limits`` library.

``limits`` answers "may this request pass?" (``hit``) and "what is left?"
(``get_window_stats``) with one Lua script each, so two round trips. A throttle needs both on
every request, for its ``RateLimit`` headers. For the moving window (the default strategy) in
Redis through redis-py, :func:`hit_and_window` sends both of limits' scripts in one pipeline:
Redis runs them in order, the atomic decision first, so the read sees this request counted.
Measured: a throttled list of 20 with the two round trips served 0.53x the unthrottled list,
with one pipeline XXX.

Private names read, as limits 5.1 to 5.8 define them (``CHECKED``): ``RedisStorage.bridge``; the
redis-py bridge's ``get_connection()``, ``prefixed_key()``, ``lua_acquire_moving_window`` and
``lua_moving_window`` (redis-py ``Script`` objects: their ``sha``); and the scripts' arguments,
as the bridge's ``acquire_entry()`` and ``get_moving_window()`` pass them. With another release,
strategy or client, :func:`hit_and_window` answers ``None`` and the store takes limits' public
API: slower, never wrong.
"""

from __future__ import annotations

import time
from typing import Any

import limits
from limits import RateLimitItem, WindowStats
from limits.errors import StorageError

__all__ = ("CHECKED", "hit_and_window")

#: The ``limits`` releases (major.minor) whose private names this module was checked against.
CHECKED = frozenset({"5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "5.7", "5.8"})

_VERSION_CHECKED = ".".join(str(limits.__version__).split(".")[:2]) in CHECKED


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
) -> tuple[bool, WindowStats] | None:
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
        start, count = await storage.get_moving_window(limit.key_for(key), limit.amount, expiry)
    elif entries:
        start, count = float(entries[0]), int(entries[1])
    else:
        start, count = now, 0
    return bool(acquired), WindowStats(start + expiry, limit.amount - count)
