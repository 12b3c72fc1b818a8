"""Throttles: DRF's throttle classes, counted in the store and exact across processes.

A viewset lists its throttles as DRF's do; each request is counted after its permissions pass::

    class BurstRate(UserRateThrottle):
        scope = "burst"          # names the counts and the RateLimit policy
        rate = "60/minute"

    class CompanyViewSet(ModelViewSet[Company]):
        throttle_classes = [BurstRate, AnonRateThrottle("10/minute")]

        @action(methods=["POST"], detail=True, throttle_classes=[UserRateThrottle("5/hour")])
        async def export(self) -> ExportRead: ...

A rate is ``"N/period"``: ``second``, ``minute``, ``hour`` or ``day`` (or ``s``, ``m``, ``h``,
``d``), with an optional count of periods (``"100/10 minutes"``). A bad rate raises
:class:`~fastapi_viewsets.exceptions.ImproperlyConfigured` (a class's when the viewset is
registered, an instance's where it is made).

A refused request is a 429 with ``Retry-After``; every answer of a request a throttle counts
carries the IETF ``RateLimit-Policy`` and ``RateLimit`` headers::

    RateLimit-Policy: "burst";q=60;w=60
    RateLimit: "burst";r=59;t=60

Counts live in the store (``memory://`` unless ``configure_store()`` or
``FASTAPI_VIEWSETS_STORE`` names a Redis): each decision is one atomic operation of the
``limits`` library, so 4 workers on 3 hosts sharing one Redis let exactly ``N`` requests through.
"""

from __future__ import annotations

import copy
import logging
import math
import re
import time
from collections.abc import Awaitable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple, TypeAlias

from limits import (
    RateLimitItem,
    RateLimitItemPerDay,
    RateLimitItemPerHour,
    RateLimitItemPerMinute,
    RateLimitItemPerSecond,
)
from limits.errors import StorageError

from .exceptions import ImproperlyConfigured, ServiceUnavailable
from .state import is_anonymous, user_ident
from .store import STRATEGIES, Store, Strategy, get_store

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = (
    "AnonRateThrottle",
    "BaseThrottle",
    "Quota",
    "ScopedRateThrottle",
    "SimpleRateThrottle",
    "ThrottleLike",
    "UserRateThrottle",
    "parse_rate",
    "rate_limit_headers",
)

logger = logging.getLogger("fastapi_viewsets.throttling")

_PERIODS: dict[str, type[RateLimitItem]] = {}
for _names, _period in (
    (("s", "sec", "secs", "second", "seconds"), RateLimitItemPerSecond),
    (("m", "min", "mins", "minute", "minutes"), RateLimitItemPerMinute),
    (("h", "hr", "hrs", "hour", "hours"), RateLimitItemPerHour),
    (("d", "day", "days"), RateLimitItemPerDay),
):
    _PERIODS.update(dict.fromkeys(_names, _period))
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")


@lru_cache(maxsize=256)
def parse_rate(rate: str) -> RateLimitItem:
    """``"5/minute"`` as a ``limits`` item; :class:`ImproperlyConfigured` when it is not a rate."""
    match = _RATE.match(rate.lower()) if isinstance(rate, str) else None
    period = _PERIODS.get(match.group(3)) if match else None
    if match is None or period is None or int(match.group(1)) < 1 or int(match.group(2) or 1) < 1:
        raise ImproperlyConfigured(
            f"{rate!r} is not a rate. Write 'N/period' with N a whole number of requests and a "
            f"period of second, minute, hour or day (s, m, h, d), like '100/hour' or "
            f"'20/10 minutes'."
        )
    return period(int(match.group(1)), int(match.group(2) or 1))


class Quota(NamedTuple):
    """What a throttle's ``RateLimit`` headers say about one request."""

    #: The policy's name (the throttle's scope).
    policy: str
    #: Requests allowed in a window, and the window in seconds.
    limit: int
    window: int
    #: Requests left, and seconds until a request is sure to be allowed again.
    remaining: int
    reset: float


_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")


def check_policy_name(name: str) -> None:
    """A scope names a ``RateLimit`` policy, a header's quoted string: printable ASCII only."""
    if not isinstance(name, str) or not _PRINTABLE.match(name):
        raise ImproperlyConfigured(
            f"The throttle scope {name!r} names the RateLimit policy in response headers, "
            f"which take printable ASCII only. Choose a scope like 'uploads'."
        )


@lru_cache(maxsize=256)
def _sf_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rate_limit_headers(quotas: Sequence[Quota]) -> list[tuple[str, str]]:
    """The ``RateLimit-Policy`` and ``RateLimit`` headers of ``quotas``
    (draft-ietf-httpapi-ratelimit-headers), named in lower case as ASGI asks."""
    if not quotas:
        return []
    policies = ", ".join(_policy_item(q.policy, q.limit, q.window) for q in quotas)
    states = ", ".join(
        f"{_sf_string(q.policy)};r={q.remaining};t={max(0, math.ceil(q.reset))}" for q in quotas
    )
    return [("ratelimit-policy", policies), ("ratelimit", states)]


@lru_cache(maxsize=256)
def _policy_item(policy: str, limit: int, window: int) -> str:
    # The same few policies answer every request.
    return f"{_sf_string(policy)};q={limit};w={window}"


class BaseThrottle:
    """A throttle: ``allow_request`` answers whether a request may go on; ``def`` or
    ``async def``."""

    def allow_request(self, request: Request, view: Any) -> bool | Awaitable[bool]:
        """Whether ``request`` may go on; a refused request is answered 429."""
        raise NotImplementedError(f"{type(self).__name__}.allow_request() must be written")

    def wait(self) -> float | Awaitable[float | None] | None:
        """Seconds until a refused request may be retried (its ``Retry-After``), if known."""
        return None

    def get_ident(self, request: Request) -> str:
        """The client's address, from the ASGI scope (behind a proxy, what uvicorn's
        ``--proxy-headers`` and ``--forwarded-allow-ips`` make it)."""
        client = request.client
        return client.host if client is not None else "unknown"

    def quota(self) -> Quota | None:
        """The ``RateLimit`` headers' values after ``allow_request``; ``None`` for none."""
        return None

    def check(self, view: Any) -> None:
        """Raise :class:`ImproperlyConfigured` for a mistake that ``view`` (an instance that
        knows only its action) shows; called once per action when the viewset is registered."""

    def applies_to(self, view: Any) -> bool:
        """Whether this throttle may refuse requests to ``view``'s action (an instance that
        knows only its action): OpenAPI documents a 429 only where one may."""
        return True


#: What ``throttle_classes`` holds: throttle classes, or instances copied for each request
#: (``copy.copy``: a list or dict an instance holds is shared by its copies).
ThrottleLike: TypeAlias = "type[BaseThrottle] | BaseThrottle"


def instantiate(throttles: Sequence[ThrottleLike]) -> list[BaseThrottle]:
    """This request's throttles: a new instance of each class, a copy of each instance."""
    return [copy.copy(t) if isinstance(t, BaseThrottle) else t() for t in throttles]


class SimpleRateThrottle(BaseThrottle):
    """Counts requests by the key ``get_cache_key()`` gives, at ``rate``, in the store.

    ``strategy`` is how ``limits`` counts: ``"moving-window"`` (the default: never more than
    N requests in any window, as DRF), ``"sliding-window-counter"`` (a weighted estimate that
    keeps two counters per key, for large limits), or ``"fixed-window"``.

    ``on_store_error`` is what happens when the store cannot be reached: ``"allow"`` lets the
    request through and logs a warning (at most once a minute); ``"refuse"`` answers 503 with
    ``Retry-After: store_error_retry_after``.
    """

    #: ``"N/period"``; when ``None``, ``rates[scope]``.
    rate: ClassVar[str | None] = None
    #: Names the counts (with the client's key) and the ``RateLimit`` policy.
    scope: ClassVar[str | None] = None
    #: Rates by scope, for throttles whose scope is chosen per view.
    rates: ClassVar[dict[str, str]] = {}
    strategy: ClassVar[Strategy] = "moving-window"
    on_store_error: ClassVar[Literal["allow", "refuse"]] = "allow"
    store_error_retry_after: ClassVar[int] = 5
    #: The store to count in; ``None`` is the one ``configure_store()`` names.
    store: ClassVar[Store | None] = None

    def __init__(self, rate: str | None = None, *, scope: str | None = None) -> None:
        if rate is not None:
            self.rate = rate  # type: ignore[misc]
        if scope is not None:
            self.scope = scope  # type: ignore[misc]
        self.limit: RateLimitItem | None = self._parsed_rate() if self._has_rate() else None
        self._quota: Quota | None = None
        self._wait: float | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rate={self.rate!r}, scope={self.scope!r})"

    def _has_rate(self) -> bool:
        return self.rate is not None or self.scope is not None

    def _parsed_rate(self) -> RateLimitItem:
        return parse_rate(self.get_rate())

    def get_rate(self) -> str:
        """The rate: ``rate``, else ``rates[scope]``."""
        if self.rate is not None:
            return self.rate
        if self.scope is not None and self.scope in self.rates:
            return self.rates[self.scope]
        where = f" for the scope {self.scope!r}" if self.scope is not None else ""
        raise ImproperlyConfigured(
            f"{type(self).__name__} has no rate{where}. Set `rate = '100/hour'` on a subclass, "
            f"pass it (`{type(self).__name__}('100/hour')`), or add the scope to `rates`."
        )

    def check(self, view: Any) -> None:
        if self.limit is None:
            self.get_rate()  # raises, naming the fix
        check_policy_name(self.scope or type(self).__name__)
        self._check_settings()

    def _check_settings(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ImproperlyConfigured(
                f"{type(self).__name__}.strategy is {self.strategy!r}; use one of "
                f"{', '.join(map(repr, STRATEGIES))}."
            )
        if self.on_store_error not in ("allow", "refuse"):
            raise ImproperlyConfigured(
                f"{type(self).__name__}.on_store_error is {self.on_store_error!r}; use 'allow' "
                f"or 'refuse'."
            )

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        """The key to count ``request`` under, or ``None`` not to throttle it."""
        raise NotImplementedError(f"{type(self).__name__}.get_cache_key() must be written")

    async def allow_request(self, request: Request, view: Any) -> bool:
        if self.limit is None:
            self.limit = self._parsed_rate()
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        limit = self.limit
        store = self.store if self.store is not None else get_store()
        try:
            allowed, stats = await store.hit(self.strategy, limit, key)
        except StorageError as exc:
            return self.store_failed(store, exc)
        if stats is None:  # counted, but what is left could not be read: no headers
            if not allowed:
                self._wait = float(limit.get_expiry())  # the longest a window lasts
            return allowed
        self._quota = Quota(
            policy=self.scope or type(self).__name__,
            limit=limit.amount,
            window=limit.get_expiry(),
            remaining=max(0, stats.remaining),
            reset=max(0.0, stats.reset_time - time.time()),
        )
        if not allowed:
            self._wait = self._quota.reset
        return allowed

    def store_failed(self, store: Store, exc: Exception) -> bool:
        """The store could not be reached: follow ``on_store_error``."""
        if self.on_store_error == "refuse":
            raise ServiceUnavailable(
                "The rate limit cannot be checked right now; retry shortly.",
                headers={"Retry-After": str(self.store_error_retry_after)},
            )
        if store.should_warn():
            logger.warning(
                "%s let a request through: the store %r cannot be reached (%s). Requests are "
                "not counted until it can (this warning repeats at most once a minute).",
                type(self).__name__,
                store,
                exc,
            )
        return True

    def wait(self) -> float | None:
        return self._wait

    def quota(self) -> Quota | None:
        return self._quota


class AnonRateThrottle(SimpleRateThrottle):
    """Throttles anonymous requests, by client address; requests with a user are not counted."""

    scope = "anon"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not is_anonymous(view.user):
            return None
        return f"{self.scope}:{self.get_ident(request)}"


def _user_or_client(throttle: BaseThrottle, request: Request, view: Any) -> str:
    # A user with no id is counted by address: one shared key for all such users would let
    # one of them spend everyone's quota.
    ident = user_ident(view.user)
    return f"user-{ident}" if ident is not None else throttle.get_ident(request)


class UserRateThrottle(SimpleRateThrottle):
    """Throttles by the user's ``id`` (an attribute or a mapping key, else ``pk``); anonymous
    requests, and users with neither, by client address."""

    scope = "user"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return f"{self.scope}:{_user_or_client(self, request, view)}"


class ScopedRateThrottle(SimpleRateThrottle):
    """Throttles the actions that name a ``throttle_scope`` (on the viewset, or on one
    ``@action``), each scope at its rate in ``rates``, by user (or client address)::

        class Scoped(ScopedRateThrottle):
            rates = {"uploads": "20/day", "contacts": "1000/day"}
    """

    scope_attr: ClassVar[str] = "throttle_scope"

    def __init__(self, rate: str | None = None, *, scope: str | None = None) -> None:
        # The scope, and so the rate, is the view's: known in allow_request().
        super().__init__(rate, scope=scope)

    def _has_rate(self) -> bool:
        return self.rate is not None

    def view_scope(self, view: Any) -> str | None:
        """The action's ``throttle_scope``, else the viewset's."""
        bound = getattr(view, "bound", None)
        scope = getattr(bound, "throttle_scope", None)
        return scope if scope is not None else getattr(view, self.scope_attr, None)

    def applies_to(self, view: Any) -> bool:
        return self.view_scope(view) is not None

    def check(self, view: Any) -> None:
        self._check_settings()
        scope = self.view_scope(view)
        if scope is not None and self.rate is None and scope not in self.rates:
            raise ImproperlyConfigured(
                f"{type(self).__name__} has no rate for the scope {scope!r}. Add it: "
                f"`rates = {{{scope!r}: '100/hour'}}` on a subclass."
            )
        if scope is not None and self.rate is None:
            parse_rate(self.rates[scope])
        if scope is not None:
            check_policy_name(scope)

    async def allow_request(self, request: Request, view: Any) -> bool:
        scope = self.view_scope(view)
        if scope is None:
            return True
        self.scope = scope  # type: ignore[misc]
        if self.rate is None:
            self.limit = parse_rate(self.get_rate())
        return await super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return f"{self.scope}:{_user_or_client(self, request, view)}"
