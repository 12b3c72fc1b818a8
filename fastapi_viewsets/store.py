"""The store: where counts shared by requests live, named by a URL.

Throttles keep their counts here; idempotency keys keep their answers here
(:meth:`Store.claim`, :meth:`Store.put`, :meth:`Store.get`, :meth:`Store.delete`,
:meth:`Store.delete_if`). One process
needs nothing set up; several processes, or several hosts, share a Redis::

    memory://                           this process only (the default)
    redis://127.0.0.1:6379/0            every process that names the same Redis database
    rediss://user:password@host:6380/0  Redis over TLS
    unix:///run/redis.sock?db=0         Redis on a Unix socket

The code names it, or else the environment variable ``FASTAPI_VIEWSETS_STORE`` does::

    from fastapi_viewsets import configure_store

    configure_store("redis://127.0.0.1:6379/0")    # at import time, before the first request

    FASTAPI_VIEWSETS_STORE=redis://127.0.0.1:6379/0 uvicorn app:app --workers 4

Keys are prefixed (``fastapi_viewsets`` unless ``prefix=`` or ``?prefix=`` says otherwise), so
apps may share one Redis. A Redis that cannot be reached fails fast: the connection gives up
after ``socket_connect_timeout`` (0.25 s unless the URL says otherwise) and a command after
``socket_timeout`` (0.5 s), with one retry of a broken connection; after a failure it is not
asked again for ``RETRY_AFTER_FAILURE`` seconds. Each throttle then follows its
``on_store_error`` policy.

The counting itself is the ``limits`` library's: each decision is one atomic operation in the
store (a Lua script in Redis), so a limit holds across any number of workers.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from limits import RateLimitItem, WindowStats, strategies
from limits.aio import strategies as aio_strategies
from limits.aio.storage import Storage as AsyncStorage
from limits.errors import StorageError
from limits.storage import MemoryStorage

from ._limits import hit_and_window, memory_storage
from .exceptions import ImproperlyConfigured

__all__ = (
    "ENVIRONMENT_VARIABLE",
    "RETRY_AFTER_FAILURE",
    "STRATEGIES",
    "Store",
    "Strategy",
    "configure_store",
    "get_store",
)

#: The environment variable that names the store when the code does not.
ENVIRONMENT_VARIABLE = "FASTAPI_VIEWSETS_STORE"
DEFAULT_URL = "memory://"
DEFAULT_PREFIX = "fastapi_viewsets"

#: The ``limits`` strategies a throttle may count with (see docs/throttling.md).
Strategy = Literal["moving-window", "sliding-window-counter", "fixed-window"]
#: The same strategies, as a tuple to check a setting against.
STRATEGIES: tuple[Strategy, ...] = ("moving-window", "sliding-window-counter", "fixed-window")

try:  # redis-py is the optional "redis" extra
    from redis.exceptions import RedisError

    _REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError,)
except ImportError:  # pragma: no cover - without it no store is a Redis one
    _REDIS_ERRORS = ()

#: Seconds a Redis that failed is not asked again (its throttles follow on_store_error).
RETRY_AFTER_FAILURE = 1.0

_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
# Fail fast when Redis is down or unreachable: a throttle's policy answers instead.
_REDIS_DEFAULTS = {"socket_connect_timeout": "0.25", "socket_timeout": "0.5"}


class Store:
    """A store named by ``url``: counts under keys, with a ``limits`` strategy.

    ``hit()`` counts a request, answers whether it is within the limit (one atomic
    operation) and reads what is left; ``window()`` only reads. In memory both are plain calls
    (``limits``' thread-safe in-process storage: its asyncio twin starts a task and a thread hop
    per hit, which made a throttled list of 20 serve 0.73x the unthrottled one).
    """

    def __init__(self, url: str, *, prefix: str | None = None) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        query = dict(parse_qsl(parts.query))
        in_query = query.pop("prefix", None)  # ours, not the Redis client's
        self.prefix = prefix or in_query or DEFAULT_PREFIX
        #: Whether processes share the counts (Redis), so each operation is a round trip.
        self.shared = scheme in _REDIS_SCHEMES
        if scheme == "memory":
            self.url = "memory://"
        elif self.shared:
            try:
                import redis  # noqa: F401
            except ImportError:
                raise ImproperlyConfigured(
                    f"The store {url!r} needs the Redis client, redis-py: install the package "
                    f"with its 'redis' extra, or pip install 'redis>=5.2'."
                ) from None
            # The URL as written, without our own query parameter (urlunsplit would turn
            # unix:///path into unix:/path, which the Redis client does not read).
            base = url.split("?", 1)[0]
            self.url = f"{base}?{urlencode(query)}" if query else base
            self._options = {**_REDIS_DEFAULTS, **query}
            self._check_options()
        else:
            raise ImproperlyConfigured(
                f"The store {url!r} is not a URL fastapi_viewsets knows. Use 'memory://' (one "
                f"process) or 'redis://host:port/db' (many processes), in configure_store() or "
                f"{ENVIRONMENT_VARIABLE}."
            )
        self._memory: dict[str, strategies.RateLimiter] = {}
        # Made now, not on first use: threads (each with its loop) that counted at once would
        # each make one, and lose each other's counts.
        self._memory_storage: MemoryStorage | None = None if self.shared else memory_storage()
        #: Until when (time.monotonic()) a Redis that just failed is not asked again.
        self._down_until = 0.0
        self._warned_at = -math.inf
        self._values = _MemoryValues()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        # A Redis client's connections belong to the event loop that opened them, so each
        # loop gets its own (a server has one; tests and TestClient may have many).
        self._redis: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, aio_strategies.RateLimiter]
        ] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"Store({self._safe_url()!r})"

    def _check_options(self) -> None:
        """A query parameter the Redis client does not take, or a bad value, is a mistake in the
        URL: say so now rather than fail every request. (No connection is made.)"""
        import redis.asyncio

        try:
            pool = redis.asyncio.ConnectionPool.from_url(self._client_url())
            pool.connection_class(**pool.connection_kwargs)
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"The store {self._safe_url()!r} has a query parameter the Redis client does not "
                f"take ({exc}). See redis-py's Redis.from_url() for the parameters."
            ) from None

    def _client_url(self) -> str:
        return f"{self.url.partition('?')[0]}?{urlencode(self._options)}"

    # --- failures ---------------------------------------------------------------------------

    def failed(self) -> None:
        """A request to Redis failed: answer the next ones at once, for ``RETRY_AFTER_FAILURE``
        seconds, rather than make each wait for a timeout."""
        self._down_until = time.monotonic() + RETRY_AFTER_FAILURE

    def _check_up(self) -> None:
        if self._down_until and time.monotonic() < self._down_until:
            raise StorageError(ConnectionError(f"{self!r} failed less than a second ago"))

    def should_warn(self) -> bool:
        """Whether a failure of this store should be logged now (at most once a minute)."""
        now = time.monotonic()
        if now - self._warned_at < 60:
            return False
        self._warned_at = now
        return True

    def _safe_url(self) -> str:
        base, _, query = self.url.partition("?")
        password = urlsplit(base).password
        if password:
            base = base.replace(f":{password}@", ":***@")
        pairs = parse_qsl(query)
        if any(k == "password" for k, _ in pairs):
            query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs], safe="*")
        return f"{base}?{query}" if query else base

    # --- counting ---------------------------------------------------------------------------

    async def hit(
        self, strategy: Strategy, limit: RateLimitItem, key: str
    ) -> tuple[bool, WindowStats | None]:
        """Count one request under ``key``: whether it is within ``limit`` (decided in one
        atomic operation), and what is left after it. In Redis, one round trip for the moving
        window (see ``_limits``), two for the other strategies. When the decision was made
        but the read after it failed, what is left is ``None``: the decision stands.

        Each strategy counts under keys of its own: their counts are different structures (a
        list, counters), which one Redis key cannot hold at once."""
        key = f"{strategy}:{key}"
        if not self.shared:
            if strategy == "moving-window":
                # What MovingWindowRateLimiter.hit and get_window_stats do, through limits'
                # storage API, with the key made once: 13.7 µs a request become 9.
                storage = self._memory_storage
                if storage is None:
                    storage = self._new_memory_storage()
                name = limit.key_for(key)
                expiry = limit.get_expiry()
                allowed = storage.acquire_entry(name, limit.amount, expiry)
                start, count = storage.get_moving_window(name, limit.amount, expiry)
                return allowed, WindowStats(start + expiry, limit.amount - count)
            memory = self._memory_limiter(strategy)
            return memory.hit(limit, key), memory.get_window_stats(limit, key)
        self._check_up()
        limiter = self._redis_limiter(strategy)
        try:
            if strategy == "moving-window":
                both = await hit_and_window(limiter.storage, limit, key)
                if both is not None:
                    return both
            allowed = await limiter.hit(limit, key)
        except StorageError:
            self.failed()
            raise
        try:
            return allowed, await limiter.get_window_stats(limit, key)
        except StorageError:
            return allowed, None

    async def window(self, strategy: Strategy, limit: RateLimitItem, key: str) -> WindowStats:
        """What is left of ``limit`` under ``key``: its reset time and remaining requests."""
        key = f"{strategy}:{key}"
        if not self.shared:
            return self._memory_limiter(strategy).get_window_stats(limit, key)
        return await self._redis_limiter(strategy).get_window_stats(limit, key)

    # --- values (idempotency keys) ---------------------------------------------------------

    async def claim(self, key: str, value: bytes, ttl: float) -> bytes | None:
        """Set ``key`` to ``value`` for ``ttl`` seconds unless it is set: ``None`` when this
        call set it, else the value it has. One atomic operation (in Redis, ``SET NX GET``), so
        of many processes claiming one key at once exactly one gets ``None``."""
        name = f"{self.prefix}:value:{key}"
        if not self.shared:
            return self._values.claim(name, value, ttl)
        self._check_up()
        try:
            found = await self._client().set(name, value, nx=True, get=True, px=_ms(ttl))
        except _REDIS_ERRORS as exc:
            self.failed()
            raise StorageError(exc) from exc
        return None if found is None else bytes(found)

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        """Set ``key`` to ``value`` for ``ttl`` seconds, whatever it was."""
        name = f"{self.prefix}:value:{key}"
        if not self.shared:
            self._values.put(name, value, ttl)
            return
        await self._redis_call(lambda client: client.set(name, value, px=_ms(ttl)))

    async def get(self, key: str) -> bytes | None:
        """The value of ``key``, or ``None``."""
        name = f"{self.prefix}:value:{key}"
        if not self.shared:
            return self._values.get(name)
        found = await self._redis_call(lambda client: client.get(name))
        return None if found is None else bytes(found)

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        name = f"{self.prefix}:value:{key}"
        if not self.shared:
            self._values.delete(name)
            return
        await self._redis_call(lambda client: client.delete(name))

    async def delete_if(self, key: str, value: bytes) -> bool:
        """Forget ``key`` if it still holds ``value`` (one atomic operation): whether it did."""
        name = f"{self.prefix}:value:{key}"
        if not self.shared:
            return self._values.delete_if(name, value)
        found = await self._redis_call(
            lambda client: client.eval(_DELETE_IF_SCRIPT, 1, name, value)
        )
        return bool(found)

    async def _redis_call(self, call: Callable[[Any], Awaitable[Any]]) -> Any:
        self._check_up()
        try:
            return await call(self._client())
        except _REDIS_ERRORS as exc:
            self.failed()
            raise StorageError(exc) from exc

    def _client(self) -> Any:
        """This event loop's Redis client for values (the limiters have their own)."""
        import redis.asyncio

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            for closed in [other for other in self._clients if other.is_closed()]:
                del self._clients[closed]
            client = redis.asyncio.Redis.from_url(
                self._client_url(), retry=self._retry(), decode_responses=False
            )
            self._clients[loop] = client
        return client

    async def clear(self) -> None:
        """Forget every count of this store (in Redis, the keys under its prefix): for tests."""
        if not self.shared:
            if self._memory_storage is not None:
                self._memory_storage.reset()
            self._values = _MemoryValues()
            return
        await self._redis_storage().reset()  # every key under the prefix, values included

    # --- the limiters -----------------------------------------------------------------------

    def _new_memory_storage(self) -> MemoryStorage:
        self._memory_storage = memory_storage()
        return self._memory_storage

    def _memory_limiter(self, strategy: Strategy) -> strategies.RateLimiter:
        limiter = self._memory.get(strategy)
        if limiter is None:
            storage = self._memory_storage
            if storage is None:
                storage = self._new_memory_storage()
            limiter = self._memory[strategy] = _SYNC[strategy](storage)
        return limiter

    def _redis_limiter(self, strategy: Strategy) -> aio_strategies.RateLimiter:
        loop = asyncio.get_running_loop()
        limiters = self._redis.get(loop)
        if limiters is None:
            # The clients of closed loops hold their loop (through their connections), so the
            # weak keys alone would never let them go.
            for closed in [other for other in self._redis if other.is_closed()]:
                del self._redis[closed]
            limiters = self._redis[loop] = {}
        limiter = limiters.get(strategy)
        if limiter is None:
            found = next(iter(limiters.values()), None)
            storage = found.storage if found is not None else self._new_redis_storage()
            limiter = limiters[strategy] = _ASYNC[strategy](storage)
        return limiter

    def _redis_storage(self) -> AsyncStorage:
        return self._redis_limiter("fixed-window").storage

    def _new_redis_storage(self) -> AsyncStorage:
        from limits.aio.storage import RedisStorage

        url = self._client_url()
        return RedisStorage(
            # limits spells a Unix socket "redis+unix"; a bare "unix" it takes for Valkey's.
            f"async+redis+{url}" if url.startswith("unix:") else f"async+{url}",
            implementation="redispy",
            wrap_exceptions=True,
            key_prefix=self.prefix,
            retry=self._retry(),
        )

    @staticmethod
    def _retry() -> Any:
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError

        # One retry, at once, of a broken connection (a pooled one that Redis closed is
        # replaced); none of a timeout, which would double the wait.
        return Retry(NoBackoff(), 1, supported_errors=(ConnectionError,))


# Compare and delete in one step: a value another request has claimed since is left alone.
_DELETE_IF_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class _MemoryValues:
    """The values of a ``memory://`` store: a dict with expiry times, under a lock (threads
    with loops of their own may share a store)."""

    #: Seconds between sweeps of the expired values no one asked for again.
    SWEEP_EVERY = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[bytes, float]] = {}
        self._next_sweep = time.monotonic() + self.SWEEP_EVERY

    def _sweep(self, now: float) -> None:
        # Each value is dropped when read after it expires; most never are (a key's answer is
        # rarely asked for again), so without a sweep a long-lived process would keep them all.
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.SWEEP_EVERY
        for name in [n for n, (_, until) in self._items.items() if until <= now]:
            del self._items[name]

    def _live(self, name: str, now: float) -> bytes | None:
        found = self._items.get(name)
        if found is None:
            return None
        if found[1] <= now:
            del self._items[name]
            return None
        return found[0]

    def claim(self, name: str, value: bytes, ttl: float) -> bytes | None:
        with self._lock:
            now = time.monotonic()
            self._sweep(now)
            found = self._live(name, now)
            if found is None:
                self._items[name] = (value, now + ttl)
            return found

    def put(self, name: str, value: bytes, ttl: float) -> None:
        with self._lock:
            now = time.monotonic()
            self._sweep(now)
            self._items[name] = (value, now + ttl)

    def get(self, name: str) -> bytes | None:
        with self._lock:
            return self._live(name, time.monotonic())

    def delete(self, name: str) -> None:
        with self._lock:
            self._items.pop(name, None)

    def delete_if(self, name: str, value: bytes) -> bool:
        with self._lock:
            if self._live(name, time.monotonic()) != value:
                return False
            del self._items[name]
            return True


_SYNC: dict[str, type[strategies.RateLimiter]] = {
    "moving-window": strategies.MovingWindowRateLimiter,
    "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter,
    "fixed-window": strategies.FixedWindowRateLimiter,
}
_ASYNC: dict[str, type[aio_strategies.RateLimiter]] = {
    "moving-window": aio_strategies.MovingWindowRateLimiter,
    "sliding-window-counter": aio_strategies.SlidingWindowCounterRateLimiter,
    "fixed-window": aio_strategies.FixedWindowRateLimiter,
}


_store: Store | None = None


def configure_store(url: str | None = None, *, prefix: str | None = None) -> Store:
    """Name the store that throttles count in; ``None`` reads ``FASTAPI_VIEWSETS_STORE`` again
    (``memory://`` when it is not set). Call it before the first request."""
    global _store
    _store = Store(url or os.environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_URL, prefix=prefix)
    return _store


def get_store() -> Store:
    """The store set by :func:`configure_store`, else the one ``FASTAPI_VIEWSETS_STORE`` names."""
    return _store if _store is not None else configure_store()
