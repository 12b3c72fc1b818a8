"""Throttling through real routes: 429s, the RateLimit headers, what is counted, OpenAPI.

The user comes from a router dependency that reads ``X-User``: ``"7"`` is an object whose
``id`` is 7, ``"dict:7"`` the mapping ``{"id": 7}``; no header is an anonymous request. The
throttles count in the ``memory://`` store (a fresh one per test, see ``conftest``), except in
the tests that name a Redis (``redis_url``) or a store that cannot be reached.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from pydantic import BaseModel, ConfigDict

from fastapi_viewsets import (
    AnonRateThrottle,
    BaseStateManager,
    BaseThrottle,
    ImproperlyConfigured,
    IsAuthenticated,
    ModelViewSet,
    ReadOnlyModelViewSet,
    RequestStateMiddleware,
    ScopedRateThrottle,
    SimpleRateThrottle,
    Throttled,
    UserRateThrottle,
    action,
    configure_store,
    get_store,
    viewset,
)
from fastapi_viewsets.store import Store
from fastapi_viewsets.throttling import Quota, parse_rate
from tests.conftest import REDIS_URL
from tests.models import Company
from tests.utils import copy_lifespan_state, create_app, serve

THROTTLED = "Request was throttled."
DOWN = "redis://127.0.0.1:1/0"  # nothing listens on port 1: the connection is refused


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class CompanyWrite(BaseModel):
    name: str


class Person:
    """A user object the way an app's ORM gives one: it has an ``id``."""

    def __init__(self, id: int) -> None:
        self.id = id


async def user_from_header(x_user: str | None = Header(default=None)) -> None:
    if x_user is None:
        user: Any = None
    elif x_user.startswith("dict:"):
        user = {"id": int(x_user.removeprefix("dict:"))}
    else:
        user = Person(int(x_user))
    BaseStateManager.set_user(user)


def as_user(user: int | str | None) -> dict[str, str]:
    return {"X-User": str(user)} if user is not None else {}


class CompanyViewSetBase(ModelViewSet[Company]):
    """``type()`` cannot subclass ``ModelViewSet[Company]`` directly; it can subclass this."""

    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite


def company_router(prefix: str = "/companies", **namespace: Any) -> APIRouter:
    """A router with a ModelViewSet of companies named ``CompanyViewSet``, whose class
    attributes ``namespace`` sets (``throttle_classes``, ``throttle_scope``...)."""
    router = APIRouter(prefix=prefix, dependencies=[Depends(user_from_header)])
    viewset(router)(type("CompanyViewSet", (CompanyViewSetBase,), namespace))
    return router


@asynccontextmanager
async def clients(app: FastAPI, *addresses: str) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """One client per client address (the ASGI scope's ``client``), all served by ``app``."""
    async with LifespanManager(copy_lifespan_state(app)) as manager:
        opened = []
        for address in addresses:
            transport = httpx.ASGITransport(app=manager.app, client=(address, 123))
            opened.append(httpx.AsyncClient(transport=transport, base_url="http://testserver"))
        try:
            yield tuple(opened)
        finally:
            for client in opened:
                await client.aclose()


_STATE = re.compile(r'^"(?P<policy>[^"]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')


def quota_states(response: httpx.Response) -> list[tuple[str, int, int]]:
    """The ``RateLimit`` header's items: (policy, remaining, seconds to reset)."""
    found = []
    for item in response.headers["RateLimit"].split(", "):
        match = _STATE.match(item)
        assert match is not None, response.headers["RateLimit"]
        found.append((match["policy"], int(match["r"]), int(match["t"])))
    return found


def remaining(response: httpx.Response) -> list[int]:
    return [r for _, r, _ in quota_states(response)]


def assert_quota(response: httpx.Response, policy: str, limit: int, window: int, left: int) -> None:
    """The response carries exactly one throttle's RateLimit headers, with ``left`` requests
    left and a reset within its window (and not long past the first request)."""
    assert response.headers["RateLimit-Policy"] == f'"{policy}";q={limit};w={window}'
    [(name, r, t)] = quota_states(response)
    assert (name, r) == (policy, left), response.headers["RateLimit"]
    assert window - 5 <= t <= window, response.headers["RateLimit"]


def assert_unthrottled(response: httpx.Response) -> None:
    assert "RateLimit" not in response.headers
    assert "RateLimit-Policy" not in response.headers


def assert_throttled(response: httpx.Response, *, max_wait: int) -> int:
    """A 429 with its Retry-After (returned) between 1 and ``max_wait``, and the body that says
    so."""
    assert response.status_code == 429, response.text
    wait = response.headers["Retry-After"]
    assert wait.isdigit(), wait
    seconds = int(wait)
    assert 1 <= seconds <= max_wait
    unit = "second" if seconds == 1 else "seconds"
    assert response.json() == {"detail": f"{THROTTLED} Expected available in {seconds} {unit}."}
    return seconds


def redis_keys(redis_url: str) -> list[bytes]:
    """The keys under the ``?prefix=`` of ``redis_url`` (the test's own)."""
    import redis

    prefix = dict(parse_qsl(urlsplit(redis_url).query))["prefix"]
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return list(client.scan_iter(f"{prefix}*"))
    finally:
        client.close()


def operations(app: FastAPI) -> dict[str, dict[str, Any]]:
    spec = app.openapi()
    return {op["operationId"]: op for ops in spec["paths"].values() for op in ops.values()}


# --- rates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "amount", "expiry"),
    [
        ("5/second", 5, 1),
        ("5/s", 5, 1),
        ("5/sec", 5, 1),
        ("10/minute", 10, 60),
        ("10/m", 10, 60),
        ("10/min", 10, 60),
        ("3/hour", 3, 3600),
        ("3/h", 3, 3600),
        ("1/day", 1, 86400),
        ("1/d", 1, 86400),
        ("5/minutes", 5, 60),
        ("5/seconds", 5, 1),
        ("2/days", 2, 86400),
        ("100/10 minutes", 100, 600),
        ("100/10minutes", 100, 600),
        ("20/2 hours", 20, 7200),
        (" 7 / Minute ", 7, 60),
        ("7/HOUR", 7, 3600),
    ],
)
def test_parse_rate_accepts(rate: str, amount: int, expiry: int) -> None:
    item = parse_rate(rate)
    assert item.amount == amount
    assert item.get_expiry() == expiry


@pytest.mark.parametrize(
    "rate",
    ["5/fortnight", "x/minute", "0/minute", "5", "5/0 minutes", "", "-1/minute", "5/", "/minute"],
)
def test_parse_rate_rejects_with_the_rate_and_the_form(rate: str) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        parse_rate(rate)
    message = str(info.value)
    assert repr(rate) in message
    assert "N/period" in message
    assert "second, minute, hour or day" in message


def test_parse_rate_rejects_a_count_of_periods_written_00() -> None:
    with pytest.raises(ImproperlyConfigured):
        parse_rate("5/00 minutes")


def test_a_throttle_instance_with_a_bad_rate_fails_when_it_is_made() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"'5/fortnight' is not a rate"):
        UserRateThrottle("5/fortnight")


# --- mistakes found when the viewset is registered ----------------------------------------------


class FortnightThrottle(UserRateThrottle):
    rate = "5/fortnight"


class TokenBucketThrottle(UserRateThrottle):
    rate = "5/minute"
    strategy = "token-bucket"  # type: ignore[assignment]


class IgnoreErrorsThrottle(UserRateThrottle):
    rate = "5/minute"
    on_store_error = "ignore"  # type: ignore[assignment]


class ContactsOnly(ScopedRateThrottle):
    rates = {"contacts": "5/minute"}


class OftenContacts(ScopedRateThrottle):
    rates = {"contacts": "often"}


class NotAThrottle:
    def allow_request(self, request: Any, view: Any) -> bool:
        return True


def _with_action(**action_kwargs: Any) -> dict[str, Any]:
    async def export(self: Any) -> dict[str, str]:
        return {}

    return {"export": action(methods=["POST"], detail=True, **action_kwargs)(export)}


REGISTRATION_MISTAKES = [
    pytest.param(
        {"throttle_classes": [FortnightThrottle]},
        "CompanyViewSet.list",
        "'5/fortnight' is not a rate",
        id="bad-rate",
    ),
    pytest.param(
        {"throttle_classes": [AnonRateThrottle]},
        "CompanyViewSet.list",
        "AnonRateThrottle has no rate for the scope 'anon'",
        id="anon-without-rate",
    ),
    pytest.param(
        {"throttle_classes": [UserRateThrottle]},
        "CompanyViewSet.list",
        "UserRateThrottle has no rate for the scope 'user'",
        id="user-without-rate",
    ),
    pytest.param(
        {"throttle_classes": [ContactsOnly], "throttle_scope": "uploads"},
        "CompanyViewSet.list",
        "ContactsOnly has no rate for the scope 'uploads'",
        id="scope-without-rate",
    ),
    pytest.param(
        {"throttle_classes": [OftenContacts], "throttle_scope": "contacts"},
        "CompanyViewSet.list",
        "'often' is not a rate",
        id="scoped-bad-rate",
    ),
    pytest.param(
        {"throttle_classes": [NotAThrottle]},
        "CompanyViewSet.list",
        "is not a throttle",
        id="not-a-throttle",
    ),
    pytest.param(
        {"throttle_classes": [IsAuthenticated]},
        "CompanyViewSet.list",
        "is not a throttle",
        id="a-permission",
    ),
    pytest.param(
        {"throttle_classes": [TokenBucketThrottle]},
        "CompanyViewSet.list",
        "TokenBucketThrottle.strategy is 'token-bucket'",
        id="bad-strategy",
    ),
    pytest.param(
        {"throttle_classes": [IgnoreErrorsThrottle]},
        "CompanyViewSet.list",
        "IgnoreErrorsThrottle.on_store_error is 'ignore'",
        id="bad-on-store-error",
    ),
    pytest.param(
        _with_action(throttle_classes=[FortnightThrottle]),
        "CompanyViewSet.export",
        "'5/fortnight' is not a rate",
        id="action-bad-rate",
    ),
    pytest.param(
        {"throttle_classes": [ContactsOnly], **_with_action(throttle_scope="uploads")},
        "CompanyViewSet.export",
        "ContactsOnly has no rate for the scope 'uploads'",
        id="action-scope-without-rate",
    ),
]


@pytest.mark.parametrize(("namespace", "where", "mistake"), REGISTRATION_MISTAKES)
def test_registration_refuses_a_misconfigured_throttle(
    namespace: dict[str, Any], where: str, mistake: str
) -> None:
    router = APIRouter(prefix="/companies")
    cls = type("CompanyViewSet", (CompanyViewSetBase,), namespace)
    with pytest.raises(ImproperlyConfigured) as info:
        viewset(router)(cls)
    message = str(info.value)
    assert message.startswith(f"{where}: "), message
    assert mistake in message
    assert router.routes == []


def test_the_scope_error_names_the_fix() -> None:
    router = APIRouter(prefix="/companies")
    cls = type(
        "CompanyViewSet",
        (CompanyViewSetBase,),
        {"throttle_classes": [ContactsOnly], "throttle_scope": "uploads"},
    )
    with pytest.raises(ImproperlyConfigured, match=r"rates = \{'uploads': '100/hour'\}"):
        viewset(router)(cls)


def test_registration_refuses_a_rate_string_in_throttle_classes() -> None:
    router = APIRouter(prefix="/companies")
    cls = type("CompanyViewSet", (CompanyViewSetBase,), {"throttle_classes": ["5/minute"]})
    with pytest.raises(ImproperlyConfigured):
        viewset(router)(cls)


def test_registration_refuses_a_throttle_that_is_not_in_a_list() -> None:
    router = APIRouter(prefix="/companies")
    namespace = {"throttle_classes": UserRateThrottle("5/minute")}
    cls = type("CompanyViewSet", (CompanyViewSetBase,), namespace)
    with pytest.raises(ImproperlyConfigured):
        viewset(router)(cls)


# --- 429 and the RateLimit headers ---------------------------------------------------------------


async def test_the_fourth_request_of_three_a_minute_is_429() -> None:
    router = company_router(throttle_classes=[UserRateThrottle("3/minute")])
    async with serve(create_app(router)) as client:
        answers = [await client.get("/companies", headers=as_user(1)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    for answer, left in zip(answers, [2, 1, 0, 0], strict=True):
        assert_quota(answer, "user", 3, 60, left)
        assert answer.headers["X-Request-ID"]
    assert_throttled(answers[3], max_wait=60)


async def test_every_answer_of_a_throttled_route_carries_the_headers_errors_too() -> None:
    router = company_router(throttle_classes=[UserRateThrottle("3/minute")])
    async with serve(create_app(router)) as client:
        company = await Company.create(name="acme")
        ok = await client.get(f"/companies/{company.id}", headers=as_user(1))
        missing = await client.get("/companies/999999", headers=as_user(1))
        invalid = await client.post("/companies", json={}, headers=as_user(1))
        refused = await client.post("/companies", json={"name": "initech"}, headers=as_user(1))
        assert await Company.filter(name="initech").count() == 0
    assert [ok.status_code, missing.status_code, invalid.status_code] == [200, 404, 422]
    assert missing.json() == {"detail": "No company matches the given query."}
    assert_throttled(refused, max_wait=60)
    for answer, left in zip([ok, missing, invalid, refused], [2, 1, 0, 0], strict=True):
        assert_quota(answer, "user", 3, 60, left)
        assert answer.headers["X-Request-ID"]


async def test_retry_after_counts_down_from_the_oldest_request() -> None:
    router = company_router(throttle_classes=[UserRateThrottle("1/minute")])
    async with serve(create_app(router)) as client:
        assert (await client.get("/companies", headers=as_user(1))).status_code == 200
        refused = await client.get("/companies", headers=as_user(1))
    wait = assert_throttled(refused, max_wait=60)
    assert wait >= 55
    [(_, _, reset)] = quota_states(refused)
    assert abs(reset - wait) <= 1


@pytest.mark.parametrize("form", ["instance", "class"])
async def test_throttle_instances_and_classes_count_alike(form: str) -> None:
    class ThreeAMinute(UserRateThrottle):
        rate = "3/minute"

    throttle = ThreeAMinute if form == "class" else UserRateThrottle("3/minute")
    router = company_router(throttle_classes=[throttle])
    async with serve(create_app(router)) as client:
        answers = [await client.get("/companies", headers=as_user(1)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [remaining(a) for a in answers] == [[2], [1], [0], [0]]


async def test_throttle_classes_assigned_after_registration_are_counted() -> None:
    router = APIRouter(prefix="/companies", dependencies=[Depends(user_from_header)])

    @viewset(router)
    class CompanyViewSet(CompanyViewSetBase):
        pass

    async with serve(create_app(router)) as client:
        assert_unthrottled(await client.get("/companies", headers=as_user(1)))
        CompanyViewSet.throttle_classes = (UserRateThrottle("1/minute"),)
        first = await client.get("/companies", headers=as_user(1))
        second = await client.get("/companies", headers=as_user(1))
    assert_quota(first, "user", 1, 60, 0)
    assert_throttled(second, max_wait=60)


async def test_the_headers_are_added_behind_request_state_middleware() -> None:
    router = company_router(throttle_classes=[UserRateThrottle("1/minute")])
    app = create_app(router)
    app.add_middleware(RequestStateMiddleware)
    async with serve(app) as client:
        first = await client.get("/companies", headers={**as_user(1), "X-Request-ID": "abc-1"})
        second = await client.get("/companies", headers=as_user(1))
    assert first.status_code == 200
    assert first.headers["X-Request-ID"] == "abc-1"
    assert_quota(first, "user", 1, 60, 0)
    assert_throttled(second, max_wait=60)
    assert_quota(second, "user", 1, 60, 0)


@pytest.mark.parametrize(
    ("rate", "policy"),
    [
        ("5/second", '"user";q=5;w=1'),
        ("100/10 minutes", '"user";q=100;w=600'),
        ("20/2 hours", '"user";q=20;w=7200'),
        ("1000/day", '"user";q=1000;w=86400'),
    ],
)
async def test_the_policy_header_states_the_rate(rate: str, policy: str) -> None:
    router = company_router(throttle_classes=[UserRateThrottle(rate)])
    async with serve(create_app(router)) as client:
        answer = await client.get("/companies", headers=as_user(1))
    assert answer.headers["RateLimit-Policy"] == policy
    [(_, left, reset)] = quota_states(answer)
    assert left == parse_rate(rate).amount - 1
    assert 0 < reset <= parse_rate(rate).get_expiry()


async def test_a_policy_name_is_a_quoted_string() -> None:
    class EveryoneAtOnce(SimpleRateThrottle):  # no scope: the policy is the class's name
        rate = "2/minute"

        def get_cache_key(self, request: Any, view: Any) -> str:
            return "everyone"

    quoted = UserRateThrottle("3/minute", scope='say "hi"')
    router = company_router(throttle_classes=[EveryoneAtOnce, quoted])
    async with serve(create_app(router)) as client:
        answer = await client.get("/companies", headers=as_user(1))
    assert answer.headers["RateLimit-Policy"] == (
        '"EveryoneAtOnce";q=2;w=60, "say \\"hi\\"";q=3;w=60'
    )
    assert answer.headers["RateLimit"].startswith('"EveryoneAtOnce";r=1;t=')
    assert '"say \\"hi\\"";r=2;t=' in answer.headers["RateLimit"]


async def test_concurrent_requests_let_exactly_the_limit_through() -> None:
    router = company_router(throttle_classes=[UserRateThrottle("3/minute")])
    async with serve(create_app(router)) as client:
        answers = await asyncio.gather(
            *(client.get("/companies", headers=as_user(1)) for _ in range(12))
        )
    assert sorted(a.status_code for a in answers) == [200] * 3 + [429] * 9
    assert sorted(r for a in answers for r in remaining(a)) == [0] * 10 + [1, 2]


# --- who is counted -------------------------------------------------------------------------------


async def test_each_user_has_a_quota_of_their_own() -> None:
    router = company_router(throttle_classes=[UserRateThrottle("2/minute")])
    async with serve(create_app(router)) as client:
        for left in (1, 0):
            assert remaining(await client.get("/companies", headers=as_user(1))) == [left]
        assert_throttled(await client.get("/companies", headers=as_user(1)), max_wait=60)
        other = await client.get("/companies", headers=as_user(2))
        anonymous = await client.get("/companies")
        assert_throttled(await client.get("/companies", headers=as_user(1)), max_wait=60)
    assert other.status_code == 200
    assert_quota(other, "user", 2, 60, 1)
    assert anonymous.status_code == 200
    assert_quota(anonymous, "user", 2, 60, 1)


async def test_a_user_object_and_a_dict_user_are_counted_by_id() -> None:
    router = company_router(throttle_classes=[UserRateThrottle("3/minute")])
    async with serve(create_app(router)) as client:
        by_object = await client.get("/companies", headers=as_user(5))
        by_dict = await client.get("/companies", headers=as_user("dict:5"))
        other_dict = await client.get("/companies", headers=as_user("dict:6"))
        last = await client.get("/companies", headers=as_user("dict:5"))
        refused = await client.get("/companies", headers=as_user(5))
    assert [by_object.status_code, by_dict.status_code, other_dict.status_code] == [200] * 3
    assert remaining(by_object) == [2]
    assert remaining(by_dict) == [1]  # the same id as the object: the same count
    assert remaining(other_dict) == [2]
    assert remaining(last) == [0]
    assert_throttled(refused, max_wait=60)


async def test_anonymous_requests_are_counted_by_client_address() -> None:
    router = company_router(throttle_classes=[UserRateThrottle("2/minute")])
    async with clients(create_app(router), "127.0.0.1", "1.2.3.4") as (local, remote):
        assert remaining(await local.get("/companies")) == [1]
        assert remaining(await local.get("/companies")) == [0]
        assert_throttled(await local.get("/companies"), max_wait=60)
        from_elsewhere = await remote.get("/companies")
        assert from_elsewhere.status_code == 200
        assert remaining(from_elsewhere) == [1]
        # A user behind the throttled address has a quota of their own.
        assert remaining(await local.get("/companies", headers=as_user(1))) == [1]


async def test_anon_rate_throttle_counts_only_anonymous_requests() -> None:
    router = company_router(throttle_classes=[AnonRateThrottle("2/minute")])
    async with clients(create_app(router), "127.0.0.1", "1.2.3.4") as (local, remote):
        answers = [await local.get("/companies") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert_quota(answers[0], "anon", 2, 60, 1)
        assert_throttled(answers[2], max_wait=60)
        for _ in range(4):
            with_user = await local.get("/companies", headers=as_user(1))
            assert with_user.status_code == 200
            assert_unthrottled(with_user)
        assert_quota(await remote.get("/companies"), "anon", 2, 60, 1)
        assert_throttled(await local.get("/companies"), max_wait=60)


async def test_the_client_address_is_not_taken_from_x_forwarded_for() -> None:
    router = company_router(throttle_classes=[AnonRateThrottle("2/minute")])
    async with serve(create_app(router)) as client:
        answers = [
            await client.get("/companies", headers={"X-Forwarded-For": f"10.0.0.{n}"})
            for n in range(3)
        ]
    assert [a.status_code for a in answers] == [200, 200, 429]


async def test_anon_and_user_throttles_together() -> None:
    """DRF's usual pair: anonymous requests count against both, users only against theirs."""
    router = company_router(
        throttle_classes=[AnonRateThrottle("2/minute"), UserRateThrottle("5/minute")]
    )
    async with serve(create_app(router)) as client:
        anonymous = [await client.get("/companies") for _ in range(3)]
        user = await client.get("/companies", headers=as_user(1))
    assert [a.status_code for a in anonymous] == [200, 200, 429]
    assert anonymous[0].headers["RateLimit-Policy"] == '"anon";q=2;w=60, "user";q=5;w=60'
    assert [remaining(a) for a in anonymous] == [[1, 4], [0, 3], [0, 2]]
    assert user.status_code == 200
    assert_quota(user, "user", 5, 60, 4)


async def test_the_same_throttle_on_two_viewsets_is_one_quota() -> None:
    """As DRF's UserRateThrottle: the key is the scope and the user, not the view."""
    companies = company_router(throttle_classes=[UserRateThrottle("3/minute")])
    firms = APIRouter(prefix="/firms", dependencies=[Depends(user_from_header)])

    @viewset(firms, basename="firm")
    class FirmViewSet(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        throttle_classes = [UserRateThrottle("3/minute")]

    async with serve(create_app(companies, firms)) as client:
        answers = [
            await client.get("/companies", headers=as_user(1)),
            await client.get("/firms", headers=as_user(1)),
            await client.get("/companies", headers=as_user(1)),
            await client.get("/firms", headers=as_user(1)),
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [remaining(a) for a in answers] == [[2], [1], [0], [0]]


async def test_unthrottled_routes_of_the_app_are_not_counted() -> None:
    throttled = company_router(throttle_classes=[UserRateThrottle("2/minute")])
    open_router = APIRouter(prefix="/open", dependencies=[Depends(user_from_header)])

    @viewset(open_router)
    class OpenViewSet(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead

    app = create_app(throttled, open_router)

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    async with serve(app) as client:
        for _ in range(4):
            for path in ("/open", "/open/999999", "/ping"):
                answer = await client.get(path, headers=as_user(1))
                assert answer.status_code in (200, 404)
                assert_unthrottled(answer)
        first = await client.get("/companies", headers=as_user(1))
    assert first.status_code == 200
    assert_quota(first, "user", 2, 60, 1)


# --- per action -----------------------------------------------------------------------------------


async def test_get_throttles_may_throttle_one_action() -> None:
    router = APIRouter(prefix="/companies", dependencies=[Depends(user_from_header)])

    @viewset(router)
    class CompanyViewSet(CompanyViewSetBase):
        def get_throttles(self) -> list[BaseThrottle]:
            if self.action == "create":
                return [UserRateThrottle("1/minute", scope="writes")]
            return []

    app = create_app(router)
    async with serve(app) as client:
        for _ in range(3):
            listed = await client.get("/companies", headers=as_user(1))
            assert listed.status_code == 200
            assert_unthrottled(listed)
        created = await client.post("/companies", json={"name": "a"}, headers=as_user(1))
        refused = await client.post("/companies", json={"name": "b"}, headers=as_user(1))
        assert [c.name for c in await Company.all()] == ["a"]
    assert created.status_code == 201
    assert_quota(created, "writes", 1, 60, 0)
    assert_throttled(refused, max_wait=60)
    documented = {op_id for op_id, op in operations(app).items() if "429" in op["responses"]}
    assert documented == {"company_create"}


async def test_an_action_may_replace_or_turn_off_the_viewsets_throttles() -> None:
    router = APIRouter(prefix="/companies", dependencies=[Depends(user_from_header)])

    @viewset(router)
    class CompanyViewSet(CompanyViewSetBase):
        throttle_classes = [UserRateThrottle("1/minute")]

        @action(detail=False, throttle_classes=[UserRateThrottle("3/minute", scope="stats")])
        async def stats(self) -> dict[str, int]:
            return {"count": await Company.all().count()}

        @action(detail=False, throttle_classes=[])
        async def health(self) -> dict[str, bool]:
            return {"ok": True}

    async with serve(create_app(router)) as client:
        assert_quota(await client.get("/companies", headers=as_user(1)), "user", 1, 60, 0)
        assert_throttled(await client.get("/companies", headers=as_user(1)), max_wait=60)
        stats = [await client.get("/companies/stats", headers=as_user(1)) for _ in range(4)]
        health = [await client.get("/companies/health", headers=as_user(1)) for _ in range(5)]
    assert [s.status_code for s in stats] == [200, 200, 200, 429]
    for answer, left in zip(stats, [2, 1, 0, 0], strict=True):
        assert_quota(answer, "stats", 3, 60, left)
    assert stats[0].json() == {"count": 0}
    for answer in health:
        assert answer.status_code == 200
        assert answer.json() == {"ok": True}
        assert_unthrottled(answer)


class Scoped(ScopedRateThrottle):
    rates = {"contacts": "2/minute", "uploads": "1/minute"}


async def test_scoped_throttle_counts_each_scope_apart() -> None:
    router = APIRouter(prefix="/companies", dependencies=[Depends(user_from_header)])

    @viewset(router)
    class CompanyViewSet(CompanyViewSetBase):
        throttle_classes = [Scoped]
        throttle_scope = "contacts"

        @action(methods=["POST"], detail=False, throttle_scope="uploads")
        async def upload(self) -> dict[str, bool]:
            return {"uploaded": True}

    async with serve(create_app(router)) as client:
        listed = [await client.get("/companies", headers=as_user(1)) for _ in range(3)]
        uploads = [await client.post("/companies/upload", headers=as_user(1)) for _ in range(2)]
        other_user = await client.get("/companies", headers=as_user(2))
    assert [a.status_code for a in listed] == [200, 200, 429]
    assert [remaining(a) for a in listed] == [[1], [0], [0]]
    assert_quota(listed[0], "contacts", 2, 60, 1)
    assert [a.status_code for a in uploads] == [200, 429]
    assert_quota(uploads[0], "uploads", 1, 60, 0)
    assert uploads[0].json() == {"uploaded": True}
    assert_throttled(uploads[1], max_wait=60)
    assert_quota(other_user, "contacts", 2, 60, 1)


async def test_scoped_throttle_leaves_a_viewset_without_a_scope_alone() -> None:
    router = company_router(throttle_classes=[Scoped])
    async with serve(create_app(router)) as client:
        for _ in range(5):
            answer = await client.get("/companies", headers=as_user(1))
            assert answer.status_code == 200
            assert_unthrottled(answer)


async def test_scoped_throttle_with_a_rate_of_its_own() -> None:
    router = company_router(
        throttle_classes=[ScopedRateThrottle("1/minute")], throttle_scope="reports"
    )
    async with serve(create_app(router)) as client:
        first = await client.get("/companies", headers=as_user(1))
        second = await client.get("/companies", headers=as_user(1))
    assert_quota(first, "reports", 1, 60, 0)
    assert_throttled(second, max_wait=60)


# --- windows and strategies -----------------------------------------------------------------------


async def test_a_request_passes_again_once_the_window_has_moved() -> None:
    router = company_router(throttle_classes=[UserRateThrottle("2/second")])
    async with serve(create_app(router)) as client:
        answers = [await client.get("/companies", headers=as_user(1)) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert_throttled(answers[2], max_wait=1)
        assert answers[2].json() == {"detail": f"{THROTTLED} Expected available in 1 second."}
        assert answers[2].headers["RateLimit-Policy"] == '"user";q=2;w=1'
        await asyncio.sleep(1.1)
        again = await client.get("/companies", headers=as_user(1))
    assert again.status_code == 200
    assert remaining(again) == [1]


class SlidingWindowCounter(UserRateThrottle):
    rate = "3/day"
    strategy = "sliding-window-counter"


class FixedWindow(UserRateThrottle):
    rate = "3/day"
    strategy = "fixed-window"


class MovingWindow(UserRateThrottle):
    rate = "3/day"


@pytest.mark.parametrize("throttle", [MovingWindow, SlidingWindowCounter, FixedWindow])
async def test_each_strategy_enforces_its_limit(throttle: type[UserRateThrottle]) -> None:
    router = company_router(throttle_classes=[throttle])
    async with serve(create_app(router)) as client:
        answers = [await client.get("/companies", headers=as_user(1)) for _ in range(5)]
        other = await client.get("/companies", headers=as_user(2))
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert [remaining(a) for a in answers] == [[2], [1], [0], [0], [0]]
    for answer in answers:
        assert answer.headers["RateLimit-Policy"] == '"user";q=3;w=86400'
    assert_throttled(answers[3], max_wait=86400)
    assert other.status_code == 200
    assert remaining(other) == [2]


# --- several throttles: DRF's semantics -----------------------------------------------------------


async def test_the_longest_wait_of_the_refusing_throttles_is_the_retry_after() -> None:
    per_minute = UserRateThrottle("1/minute", scope="minute")
    per_hour = UserRateThrottle("1/hour", scope="hour")
    router = company_router(throttle_classes=[per_minute, per_hour])
    async with serve(create_app(router)) as client:
        first = await client.get("/companies", headers=as_user(1))
        refused = await client.get("/companies", headers=as_user(1))
    assert first.status_code == 200
    assert first.headers["RateLimit-Policy"] == '"minute";q=1;w=60, "hour";q=1;w=3600'
    wait = assert_throttled(refused, max_wait=3600)
    assert wait > 3500
    assert refused.headers["RateLimit-Policy"] == '"minute";q=1;w=60, "hour";q=1;w=3600'
    assert [(p, r) for p, r, _ in quota_states(refused)] == [("minute", 0), ("hour", 0)]


async def test_one_refusing_throttle_refuses_and_the_others_still_count() -> None:
    burst = UserRateThrottle("1/minute", scope="burst")
    sustained = UserRateThrottle("5/hour", scope="sustained")
    router = company_router(throttle_classes=[burst, sustained])
    async with serve(create_app(router)) as client:
        answers = [await client.get("/companies", headers=as_user(1)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 429, 429]
    wait = assert_throttled(answers[1], max_wait=60)
    assert wait >= 55  # the burst's wait, not the hour's (that one allows)
    assert [remaining(a) for a in answers] == [[0, 4], [0, 3], [0, 2]]
    for answer in answers:
        assert answer.headers["RateLimit-Policy"] == ('"burst";q=1;w=60, "sustained";q=5;w=3600')


# --- throttles of one's own -----------------------------------------------------------------------


class Gate(BaseThrottle):
    """A sync throttle whose answer the test sets."""

    open = True

    def allow_request(self, request: Any, view: Any) -> bool:
        return type(self).open

    def wait(self) -> float:
        return 7


class AsyncHeaderGate(BaseThrottle):
    """An async throttle: lets through requests that say ``X-Pass: yes``."""

    async def allow_request(self, request: Request, view: Any) -> bool:
        return request.headers.get("x-pass") == "yes"

    async def wait(self) -> float:
        return 2.2


class NoWait(BaseThrottle):
    def allow_request(self, request: Any, view: Any) -> bool:
        return False


async def test_a_sync_throttle_of_ones_own() -> None:
    Gate.open = True
    router = company_router(throttle_classes=[Gate])
    try:
        async with serve(create_app(router)) as client:
            passed = await client.get("/companies")
            Gate.open = False
            refused = await client.get("/companies")
    finally:
        Gate.open = True
    assert passed.status_code == 200
    assert_unthrottled(passed)  # no quota(): no RateLimit headers
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "7"
    assert refused.json() == {"detail": f"{THROTTLED} Expected available in 7 seconds."}
    assert_unthrottled(refused)


async def test_an_async_throttle_of_ones_own() -> None:
    router = company_router(throttle_classes=[AsyncHeaderGate()])
    async with serve(create_app(router)) as client:
        passed = await client.get("/companies", headers={"X-Pass": "yes"})
        refused = await client.get("/companies")
    assert passed.status_code == 200
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "3"  # 2.2 s, rounded up
    assert refused.json() == {"detail": f"{THROTTLED} Expected available in 3 seconds."}


async def test_a_refusal_without_a_wait_has_no_retry_after() -> None:
    router = company_router(throttle_classes=[NoWait])
    async with serve(create_app(router)) as client:
        refused = await client.get("/companies")
    assert refused.status_code == 429
    assert "Retry-After" not in refused.headers
    assert refused.json() == {"detail": THROTTLED}


async def test_a_refusal_without_a_wait_takes_the_known_wait_of_another() -> None:
    Gate.open = False
    try:
        router = company_router(throttle_classes=[NoWait, Gate])
        async with serve(create_app(router)) as client:
            refused = await client.get("/companies")
    finally:
        Gate.open = True
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "7"


class Tally(BaseThrottle):
    """A throttle of one's own that reports its quota (sync ``quota()``)."""

    def allow_request(self, request: Any, view: Any) -> bool:
        return True

    def quota(self) -> Quota:
        return Quota(policy="tally", limit=10, window=30, remaining=4, reset=12.2)


class LateTally(Tally):
    """Another, whose quota is read in its (async) allow_request."""

    async def allow_request(self, request: Any, view: Any) -> bool:
        await asyncio.sleep(0)
        self._quota = Quota(policy="late", limit=8, window=60, remaining=8, reset=0.0)
        return True

    def quota(self) -> Quota:
        return self._quota


async def test_a_throttle_of_ones_own_may_report_its_quota() -> None:
    router = company_router(throttle_classes=[Tally, LateTally])
    async with serve(create_app(router)) as client:
        answer = await client.get("/companies")
    assert answer.status_code == 200
    assert answer.headers["RateLimit-Policy"] == '"tally";q=10;w=30, "late";q=8;w=60'
    assert answer.headers["RateLimit"] == '"tally";r=4;t=13, "late";r=8;t=0'


async def test_throttled_may_be_overridden_on_the_viewset() -> None:
    router = APIRouter(prefix="/companies", dependencies=[Depends(user_from_header)])
    seen: list[float | None] = []

    @viewset(router)
    class CompanyViewSet(CompanyViewSetBase):
        throttle_classes = [UserRateThrottle("1/minute")]

        def throttled(self, request: Any, wait: float | None) -> None:
            seen.append(wait)
            raise Throttled(wait, detail=f"Easy, {self.user.id}: one a minute.")

    async with serve(create_app(router)) as client:
        await client.get("/companies", headers=as_user(1))
        refused = await client.get("/companies", headers=as_user(1))
    assert refused.status_code == 429
    assert refused.json() == {"detail": "Easy, 1: one a minute."}
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    [wait] = seen
    assert wait is not None
    assert 55 < wait <= 60
    assert_quota(refused, "user", 1, 60, 0)


async def test_check_throttles_may_be_overridden() -> None:
    router = APIRouter(prefix="/companies", dependencies=[Depends(user_from_header)])

    @viewset(router)
    class CompanyViewSet(CompanyViewSetBase):
        throttle_classes = [UserRateThrottle("1/minute")]

        async def check_throttles(self) -> None:
            if self.user is not None and self.user.id == 1:  # user 1 is never throttled
                return
            await super().check_throttles()

    async with serve(create_app(router)) as client:
        for _ in range(3):
            exempt = await client.get("/companies", headers=as_user(1))
            assert exempt.status_code == 200
            assert_unthrottled(exempt)
        assert_quota(await client.get("/companies", headers=as_user(2)), "user", 1, 60, 0)
        assert_throttled(await client.get("/companies", headers=as_user(2)), max_wait=60)


# --- permissions come first -----------------------------------------------------------------------


class EveryoneTogether(SimpleRateThrottle):
    """Counts every request under one key, whoever sends it."""

    scope = "everyone"
    rate = "3/minute"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return "everyone"


async def test_a_request_refused_by_permissions_is_not_counted() -> None:
    router = company_router(
        permission_classes=[IsAuthenticated], throttle_classes=[EveryoneTogether]
    )
    async with serve(create_app(router)) as client:
        for _ in range(5):
            refused = await client.get("/companies")
            assert refused.status_code == 401
            assert refused.json() == {"detail": "Authentication credentials were not provided."}
            assert_unthrottled(refused)
        first = await client.get("/companies", headers=as_user(1))
    assert first.status_code == 200
    assert_quota(first, "everyone", 3, 60, 2)


# --- OpenAPI --------------------------------------------------------------------------------------

RATE_LIMIT_HEADERS = {"RateLimit", "RateLimit-Policy"}


def assert_documents_throttling(operation: dict[str, Any], success: str) -> None:
    responses = operation["responses"]
    refused = responses["429"]
    assert refused["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert set(refused["headers"]) == {"Retry-After"} | RATE_LIMIT_HEADERS
    assert refused["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    # Reads also name their ETag (fastapi_viewsets.conditional).
    assert (
        set(responses[success]["headers"]) - {"ETag", "Idempotent-Replayed", "Location"}
        == RATE_LIMIT_HEADERS
    )
    assert "content" in responses[success] or success == "204"


def throttle_503(responses: dict[str, Any]) -> bool:
    """Whether ``responses`` document the 503 of a throttle that refuses when its store is down
    (a create documents another 503: its idempotency keys' store)."""
    return "throttles" in responses.get("503", {}).get("description", "")


def assert_documents_no_throttling(operation: dict[str, Any]) -> None:
    responses = operation["responses"]
    assert "429" not in responses
    assert not throttle_503(responses)
    for response in responses.values():
        assert not RATE_LIMIT_HEADERS & set(response.get("headers", {}))


SUCCESS = {
    "company_list": "200",
    "company_create": "201",
    "company_retrieve": "200",
    "company_update": "200",
    "company_partial_update": "200",
    "company_destroy": "204",
}


async def test_openapi_documents_429_and_the_headers_of_throttled_operations() -> None:
    throttled = company_router(throttle_classes=[UserRateThrottle("3/minute")])
    open_router = APIRouter(prefix="/open")

    @viewset(open_router, basename="open")
    class OpenViewSet(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead

    app = create_app(throttled, open_router)

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    found = operations(app)
    for operation_id, success in SUCCESS.items():
        assert_documents_throttling(found[operation_id], success)
        assert not throttle_503(found[operation_id]["responses"])
    assert found["company_list"]["responses"]["200"]["content"]["application/json"]["schema"]
    spec = app.openapi()
    assert spec["components"]["schemas"]["ErrorResponse"]["properties"] == {
        "detail": {"title": "Detail", "type": "string"}
    }
    for operation_id in ("open_list", "open_retrieve", "ping_ping_get"):
        assert_documents_no_throttling(found[operation_id])


async def test_openapi_documents_503_where_a_throttle_refuses_when_the_store_is_down() -> None:
    class Strict(UserRateThrottle):
        rate = "3/minute"
        on_store_error = "refuse"

    app = create_app(company_router(throttle_classes=[Strict]))
    for operation_id, operation in operations(app).items():
        assert_documents_throttling(operation, SUCCESS[operation_id])
        unavailable = operation["responses"]["503"]
        assert unavailable["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }
        assert set(unavailable["headers"]) == {"Retry-After"}


async def test_openapi_documents_only_the_throttled_action() -> None:
    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(CompanyViewSetBase):
        @action(methods=["POST"], detail=True, throttle_classes=[UserRateThrottle("5/hour")])
        async def export(self) -> CompanyRead:
            return CompanyRead.model_validate(await self.get_object())

        @action(detail=False)
        async def stats(self) -> dict[str, int]:
            return {}

    found = operations(create_app(router))
    assert_documents_throttling(found["company_export"], "200")
    for operation_id, operation in found.items():
        if operation_id != "company_export":
            assert_documents_no_throttling(operation)


async def test_openapi_leaves_out_an_action_whose_throttles_are_turned_off() -> None:
    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(CompanyViewSetBase):
        throttle_classes = [UserRateThrottle("5/hour")]

        @action(detail=False, throttle_classes=[])
        async def health(self) -> dict[str, bool]:
            return {"ok": True}

    found = operations(create_app(router))
    assert_documents_no_throttling(found["company_health"])
    assert_documents_throttling(found["company_list"], "200")


async def test_openapi_documents_a_get_throttles_that_needs_the_request() -> None:
    router = APIRouter(prefix="/companies", dependencies=[Depends(user_from_header)])

    @viewset(router)
    class CompanyViewSet(CompanyViewSetBase):
        def get_throttles(self) -> list[BaseThrottle]:
            if self.request.method == "GET":
                return []
            return [UserRateThrottle("1/minute")]

    app = create_app(router)
    for operation_id, operation in operations(app).items():
        assert_documents_throttling(operation, SUCCESS[operation_id])
    async with serve(app) as client:
        assert_unthrottled(await client.get("/companies", headers=as_user(1)))
        assert_quota(
            await client.post("/companies", json={"name": "a"}, headers=as_user(1)),
            "user",
            1,
            60,
            0,
        )


async def test_openapi_leaves_out_actions_a_scoped_throttle_does_not_throttle() -> None:
    router = APIRouter(prefix="/companies", dependencies=[Depends(user_from_header)])

    @viewset(router)
    class CompanyViewSet(CompanyViewSetBase):
        throttle_classes = [Scoped]

        @action(methods=["POST"], detail=False, throttle_scope="uploads")
        async def upload(self) -> dict[str, bool]:
            return {"uploaded": True}

    app = create_app(router)
    async with serve(app) as client:
        for _ in range(3):  # what the schema should follow: list is never throttled
            assert_unthrottled(await client.get("/companies", headers=as_user(1)))
    found = operations(app)
    assert_documents_throttling(found["company_upload"], "200")
    assert_documents_no_throttling(found["company_list"])


# --- a store that cannot be reached ---------------------------------------------------------------


class DownAllowing(UserRateThrottle):
    rate = "1/minute"
    store = Store(DOWN)


class DownRefusing(UserRateThrottle):
    rate = "1/minute"
    store = Store(DOWN)
    on_store_error = "refuse"


@pytest.fixture
def fresh_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """New stores for the throttles that count in a store that is down: each store logs its
    warning at most once a minute, and is not asked again for a second after it failed."""
    monkeypatch.setattr(DownAllowing, "store", Store(DOWN))
    monkeypatch.setattr(DownRefusing, "store", Store(DOWN))


def store_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "fastapi_viewsets.throttling"]


async def test_a_store_that_cannot_be_reached_lets_requests_through_and_warns_once(
    fresh_warning: None, caplog: pytest.LogCaptureFixture
) -> None:
    router = company_router(throttle_classes=[DownAllowing])
    caplog.set_level(logging.WARNING, logger="fastapi_viewsets.throttling")
    async with serve(create_app(router)) as client:
        started = time.monotonic()
        first = await client.get("/companies", headers=as_user(1))
        elapsed = time.monotonic() - started
        later = [await client.get("/companies", headers=as_user(1)) for _ in range(3)]
    assert elapsed < 1.5
    for answer in [first, *later]:
        assert answer.status_code == 200
        assert_unthrottled(answer)
        assert answer.headers["X-Request-ID"]
    [warning] = store_warnings(caplog)
    assert warning.levelno == logging.WARNING
    message = warning.getMessage()
    assert "DownAllowing let a request through" in message
    assert "redis://127.0.0.1:1/0" in message


async def test_the_store_warning_repeats_after_a_minute(
    fresh_warning: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = company_router(throttle_classes=[DownAllowing])
    caplog.set_level(logging.WARNING, logger="fastapi_viewsets.throttling")
    async with serve(create_app(router)) as client:
        await client.get("/companies", headers=as_user(1))
        assert len(store_warnings(caplog)) == 1
        # As if the warning had been logged 61 seconds ago.
        monkeypatch.setattr(DownAllowing.store, "_warned_at", time.monotonic() - 61)
        await client.get("/companies", headers=as_user(1))
        await client.get("/companies", headers=as_user(1))
    assert len(store_warnings(caplog)) == 2


async def test_the_store_warning_does_not_show_its_password(
    fresh_warning: None, caplog: pytest.LogCaptureFixture
) -> None:
    class Secret(UserRateThrottle):
        rate = "1/minute"
        store = Store("redis://:hunter2@127.0.0.1:1/0")

    router = company_router(throttle_classes=[Secret])
    caplog.set_level(logging.WARNING, logger="fastapi_viewsets.throttling")
    async with serve(create_app(router)) as client:
        assert (await client.get("/companies", headers=as_user(1))).status_code == 200
    [warning] = store_warnings(caplog)
    assert "redis://:***@127.0.0.1:1/0" in warning.getMessage()
    assert "hunter2" not in caplog.text


async def test_a_throttle_may_refuse_while_its_store_cannot_be_reached(
    fresh_warning: None, caplog: pytest.LogCaptureFixture
) -> None:
    router = company_router(throttle_classes=[DownRefusing])
    caplog.set_level(logging.WARNING, logger="fastapi_viewsets.throttling")
    async with serve(create_app(router)) as client:
        started = time.monotonic()
        refused = await client.get("/companies", headers=as_user(1))
        elapsed = time.monotonic() - started
    assert elapsed < 1.5
    assert refused.status_code == 503
    assert refused.json() == {
        "detail": "The rate limit cannot be checked right now; retry shortly."
    }
    assert refused.headers["Retry-After"] == "5"
    assert refused.headers["X-Request-ID"]
    assert_unthrottled(refused)
    assert store_warnings(caplog) == []


async def test_store_error_retry_after_is_the_503s_retry_after() -> None:
    class Patient(DownRefusing):
        store_error_retry_after = 30

    router = company_router(throttle_classes=[Patient])
    async with serve(create_app(router)) as client:
        refused = await client.get("/companies", headers=as_user(1))
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "30"


async def test_a_configured_store_that_cannot_be_reached_lets_requests_through(
    fresh_warning: None, caplog: pytest.LogCaptureFixture
) -> None:
    configure_store(DOWN)
    router = company_router(throttle_classes=[UserRateThrottle("1/minute")])
    caplog.set_level(logging.WARNING, logger="fastapi_viewsets.throttling")
    async with serve(create_app(router)) as client:
        answers = [await client.get("/companies", headers=as_user(1)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len(store_warnings(caplog)) == 1


# --- Redis ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["configure_store", "throttle-store"])
async def test_three_a_minute_counted_in_redis(redis_url: str, how: str) -> None:
    if how == "configure_store":
        configure_store(redis_url)
        throttle: Any = UserRateThrottle("3/minute")
    else:

        class InRedis(UserRateThrottle):
            rate = "3/minute"
            store = Store(redis_url)

        throttle = InRedis

    router = company_router(throttle_classes=[throttle])
    async with serve(create_app(router)) as client:
        company = await Company.create(name="acme")
        answers = [
            await client.get("/companies", headers=as_user(1)),
            await client.get(f"/companies/{company.id}", headers=as_user(1)),
            await client.get("/companies/999999", headers=as_user(1)),
            await client.get("/companies", headers=as_user(1)),
        ]
        other = await client.get("/companies", headers=as_user(2))
    assert [a.status_code for a in answers] == [200, 200, 404, 429]
    for answer, left in zip(answers, [2, 1, 0, 0], strict=True):
        assert_quota(answer, "user", 3, 60, left)
        assert answer.headers["X-Request-ID"]
    assert_throttled(answers[3], max_wait=60)
    assert_quota(other, "user", 3, 60, 2)
    assert redis_keys(redis_url)  # counted in Redis, under the test's prefix
    if how == "throttle-store":  # and not in the configured memory store
        stats = await get_store().window("moving-window", parse_rate("3/minute"), "user:user-1")
        assert stats.remaining == 3


async def test_two_apps_share_their_counts_in_one_redis(redis_url: str) -> None:
    def app_with_its_own_store() -> FastAPI:
        class InRedis(UserRateThrottle):
            rate = "3/minute"
            store = Store(redis_url)  # a store, and a connection, of its own

        return create_app(company_router(throttle_classes=[InRedis]))

    first_app, second_app = app_with_its_own_store(), app_with_its_own_store()
    async with serve(first_app) as client:
        first = [await client.get("/companies", headers=as_user(1)) for _ in range(2)]
    async with serve(second_app) as client:
        second = [await client.get("/companies", headers=as_user(1)) for _ in range(2)]
        other = await client.get("/companies", headers=as_user(2))
    assert [a.status_code for a in first + second] == [200, 200, 200, 429]
    assert [remaining(a) for a in first + second] == [[2], [1], [0], [0]]
    assert_throttled(second[1], max_wait=60)
    assert_quota(other, "user", 3, 60, 2)


async def test_two_throttles_in_redis_one_refusing(redis_url: str) -> None:
    configure_store(redis_url)
    burst = UserRateThrottle("1/minute", scope="burst")
    sustained = UserRateThrottle("5/hour", scope="sustained")
    router = company_router(throttle_classes=[burst, sustained])
    async with serve(create_app(router)) as client:
        answers = [await client.get("/companies", headers=as_user(1)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 429, 429]
    assert [remaining(a) for a in answers] == [[0, 4], [0, 3], [0, 2]]
    assert_throttled(answers[1], max_wait=60)


async def test_concurrent_requests_let_exactly_the_limit_through_redis(redis_url: str) -> None:
    configure_store(redis_url)
    router = company_router(throttle_classes=[UserRateThrottle("3/minute")])
    async with serve(create_app(router)) as client:
        answers = await asyncio.gather(
            *(client.get("/companies", headers=as_user(1)) for _ in range(12))
        )
    assert sorted(a.status_code for a in answers) == [200] * 3 + [429] * 9
    for answer in answers:
        [(_, left, _)] = quota_states(answer)
        assert left <= 2


async def test_a_refused_request_stays_refused_when_the_read_after_it_fails(
    redis_url: str, fresh_warning: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fixed window decides and reads in two round trips; the read fails every time.
    async def read_fails(*args: Any) -> Any:
        raise StorageError(ConnectionError("Connection reset by peer"))

    monkeypatch.setattr(FixedWindowRateLimiter, "get_window_stats", read_fails)

    class Flaky(UserRateThrottle):
        rate = "1/minute"
        strategy = "fixed-window"
        store = Store(redis_url)

    router = company_router(throttle_classes=[Flaky])
    async with serve(create_app(router)) as client:
        first = await client.get("/companies", headers=as_user(1))
        second = await client.get("/companies", headers=as_user(1))
    assert first.status_code == 200  # counted in Redis; only its headers are lost
    assert_unthrottled(first)
    assert second.status_code == 429
    assert second.headers["Retry-After"] == "60"  # the window's length, the longest wait


# --- found in review -------------------------------------------------------------------------


class Badge:
    """A user that has no ``id`` (a token's claims, say), or says it is not authenticated."""

    def __init__(self, name: str, authenticated: bool = True) -> None:
        self.name = name
        self.is_authenticated = authenticated


async def badge_from_header(x_badge: str | None = Header(default=None)) -> None:
    if x_badge is not None:
        name, _, state = x_badge.partition(":")
        BaseStateManager.set_user(Badge(name, authenticated=state != "anonymous"))


async def test_users_without_an_id_are_counted_by_address_not_together() -> None:
    router = APIRouter(prefix="/companies", dependencies=[Depends(badge_from_header)])
    viewset(router)(
        type(
            "CompanyViewSet",
            (CompanyViewSetBase,),
            {"throttle_classes": [UserRateThrottle("2/minute")]},
        )
    )
    async with clients(create_app(router), "10.0.0.1", "10.0.0.2") as (alice, bob):
        for _ in range(2):
            assert (await alice.get("/companies", headers={"X-Badge": "alice"})).status_code == 200
        assert (await alice.get("/companies", headers={"X-Badge": "alice"})).status_code == 429
        # bob has no id either, but another address: his own count.
        assert (await bob.get("/companies", headers={"X-Badge": "bob"})).status_code == 200


async def test_a_user_that_is_not_authenticated_is_anonymous() -> None:
    router = APIRouter(prefix="/companies", dependencies=[Depends(badge_from_header)])
    viewset(router)(
        type(
            "CompanyViewSet",
            (CompanyViewSetBase,),
            {"throttle_classes": [AnonRateThrottle("1/minute")]},
        )
    )
    async with serve(create_app(router)) as client:
        guest = {"X-Badge": "guest:anonymous"}
        assert (await client.get("/companies", headers=guest)).status_code == 200
        assert (await client.get("/companies", headers=guest)).status_code == 429
        # An authenticated user is not counted by AnonRateThrottle.
        member = await client.get("/companies", headers={"X-Badge": "member"})
        assert member.status_code == 200
        assert "RateLimit" not in member.headers


def test_a_scope_outside_printable_ascii_is_refused_at_registration() -> None:
    router = APIRouter(prefix="/companies")
    cls = type(
        "CompanyViewSet",
        (CompanyViewSetBase,),
        {"throttle_classes": [UserRateThrottle("5/minute", scope="上传")]},
    )
    with pytest.raises(ImproperlyConfigured, match=r"^CompanyViewSet.list: .*printable ASCII"):
        viewset(router)(cls)
    assert router.routes == []


def test_two_throttles_of_one_policy_name_are_refused_at_registration() -> None:
    router = APIRouter(prefix="/companies")
    throttles = [UserRateThrottle("60/minute"), UserRateThrottle("1000/day")]
    cls = type("CompanyViewSet", (CompanyViewSetBase,), {"throttle_classes": throttles})
    with pytest.raises(ImproperlyConfigured, match=r"both name the RateLimit policy 'user'"):
        viewset(router)(cls)
    assert router.routes == []


def test_a_store_environment_variable_that_is_wrong_is_refused_at_registration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi_viewsets import store

    monkeypatch.setattr(store, "_store", None)
    monkeypatch.setenv("FASTAPI_VIEWSETS_STORE", "memcached://127.0.0.1:11211")
    router = APIRouter(prefix="/companies")
    cls = type(
        "CompanyViewSet",
        (CompanyViewSetBase,),
        {"throttle_classes": [UserRateThrottle("5/minute")]},
    )
    with pytest.raises(
        ImproperlyConfigured, match=r"^CompanyViewSet.list: .*FASTAPI_VIEWSETS_STORE"
    ):
        viewset(router)(cls)


async def test_rate_limit_header_names_are_lower_case_on_the_wire() -> None:
    router = company_router(throttle_classes=[UserRateThrottle("5/minute")])
    app = create_app(router)
    started: list[list[tuple[bytes, bytes]]] = []

    async def record(scope: Any, receive: Any, send: Any) -> None:
        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                started.append(list(message["headers"]))
            await send(message)

        await app(scope, receive, sending)

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=record)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert manager.app is not None
            await client.get("/companies", headers=as_user(1))
    names = [name for name, _ in started[0]]
    assert b"ratelimit-policy" in names
    assert b"ratelimit" in names
    assert all(name == name.lower() for name in names)


def test_an_endless_wait_is_a_429_without_retry_after() -> None:
    refused = Throttled(float("inf"))
    assert refused.status_code == 429
    assert refused.headers is None
    assert refused.detail == THROTTLED


async def test_a_store_that_failed_is_not_asked_again_for_a_second(
    fresh_warning: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DownAllowing.store
    assert store is not None
    attempts: list[int] = []
    connect = store._redis_limiter

    def counting(strategy: Any) -> Any:
        attempts.append(1)
        return connect(strategy)

    monkeypatch.setattr(store, "_redis_limiter", counting)
    router = company_router(throttle_classes=[DownAllowing])
    async with serve(create_app(router)) as client:
        for _ in range(5):
            assert (await client.get("/companies", headers=as_user(1))).status_code == 200
    assert len(attempts) == 1
