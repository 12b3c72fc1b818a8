"""Idempotency keys through real routes: a POST retried with its ``Idempotency-Key`` runs once.

The user comes from a router dependency that reads ``X-User`` (``"7"`` is an object whose ``id``
is 7, ``"dict:7"`` the mapping ``{"id": 7}``; no header is an anonymous request). Most tests
create documents, which have no unique column: a create that ran twice would make two rows.
Keys live in the ``memory://`` store (a fresh one per test, see ``conftest``); the tests that
take the ``store`` fixture run on Redis too.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    FastAPI,
    Form,
    Header,
    Request,
    Response,
    UploadFile,
)
from fastapi.responses import JSONResponse, StreamingResponse
from limits.errors import StorageError
from pydantic import BaseModel, ConfigDict
from starlette.types import Message, Receive, Scope, Send

from fastapi_viewsets import (
    APIException,
    BasePermission,
    BaseStateManager,
    BaseThrottle,
    ImproperlyConfigured,
    ModelViewSet,
    NotAuthenticated,
    PermissionDenied,
    RequestStateMiddleware,
    ServiceUnavailable,
    UserRateThrottle,
    action,
    configure_store,
    get_store,
    viewset,
)
from fastapi_viewsets.store import _MemoryValues
from tests.conftest import REDIS_URL
from tests.models import Company, Document
from tests.utils import copy_lifespan_state, create_app, serve

KEY = "Idempotency-Key"
DOWN = "redis://127.0.0.1:1/0"  # nothing listens on port 1: the connection is refused
OWN_HEADERS = ("x-request-id", "idempotent-replayed")
IN_USE = "A request with this Idempotency-Key is still being processed; retry later."
MALFORMED = "The Idempotency-Key header must hold 1 to 255 printable ASCII characters."


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str


class DocumentWrite(BaseModel):
    title: str


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


class DocumentViewSetBase(ModelViewSet[Document]):
    """``type()`` cannot subclass ``ModelViewSet[Document]`` directly; it can subclass this."""

    model = Document
    read_schema = DocumentRead
    create_schema = DocumentWrite

    @action(methods=["POST"], detail=False, status_code=201)
    async def publish(self, body: DocumentWrite, response: Response) -> DocumentRead:
        """Headers set on FastAPI's ``Response`` parameter."""
        document = await Document.create(title=body.title)
        response.headers["Location"] = f"/documents/{document.id}"
        response.headers["X-Custom"] = "published"
        return document  # type: ignore[return-value]  # an ORM object, read from attributes

    @action(methods=["POST"], detail=False, url_path="import")
    async def import_document(self, body: DocumentWrite) -> Response:
        """A response of the action's own."""
        document = await Document.create(title=body.title)
        return JSONResponse(
            {"id": document.id, "title": document.title},
            status_code=201,
            headers={"Location": f"/documents/{document.id}", "X-Custom": "imported"},
        )

    @action(methods=["POST"], detail=True)
    async def rename(self, body: DocumentWrite) -> DocumentRead:
        document = await self.get_object()
        document.title = body.title
        await document.save()
        return document  # type: ignore[return-value]

    @action(methods=["GET", "POST"], detail=True)
    async def touch(self) -> dict[str, Any]:
        document = await self.get_object()
        if self.request.method == "POST":
            document.meta = {"touched": document.meta.get("touched", 0) + 1}
            await document.save()
        return {"method": self.request.method, "touched": document.meta.get("touched", 0)}

    @action(detail=False)
    async def stats(self) -> dict[str, int]:
        return {"count": await Document.all().count()}


def document_router(name: str = "DocumentViewSet", **namespace: Any) -> APIRouter:
    """A router with a viewset of documents named ``name``, whose class attributes
    ``namespace`` sets."""
    router = APIRouter(prefix="/documents", dependencies=[Depends(user_from_header)])
    viewset(router)(type(name, (DocumentViewSetBase,), namespace))
    return router


def counting_create(calls: list[str]) -> Callable[..., Any]:
    """A ``perform_create`` that records the title of each document it saves."""

    async def perform_create(self: Any, obj: Document) -> Document:
        calls.append(obj.title)
        return await super(type(self), self).perform_create(obj)

    return perform_create


def key(value: str | bytes, **more: str) -> dict[str, Any]:
    return {KEY: value, **more}


def as_user(user: int | str) -> dict[str, str]:
    return {"X-User": str(user)}


def assert_replayed(
    first: httpx.Response, again: httpx.Response, *, own: tuple[str, ...] = OWN_HEADERS
) -> None:
    """``again`` is ``first`` replayed: the same status, bytes and headers, plus
    ``Idempotent-Replayed: true`` and a request id of its own."""
    assert "idempotent-replayed" not in first.headers
    assert again.headers.get_list("idempotent-replayed") == ["true"]
    assert again.status_code == first.status_code
    assert again.content == first.content

    def kept(response: httpx.Response) -> list[tuple[str, str]]:
        return [(k, v) for k, v in response.headers.multi_items() if k not in own]

    assert kept(again) == kept(first)
    assert len(again.headers.get_list("x-request-id")) == 1
    assert again.headers["x-request-id"] != first.headers["x-request-id"]


def assert_ran(response: httpx.Response, status: int = 201) -> None:
    assert response.status_code == status, response.text
    assert "idempotent-replayed" not in response.headers


def assert_key_reused(response: httpx.Response, value: str) -> None:
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["type"] == "idempotency_key_reused"
    assert error["loc"] == ["header", KEY]
    assert error["input"] == value
    assert error["msg"]


@asynccontextmanager
async def clients(
    app: Any, *addresses: str, raise_app_exceptions: bool = True
) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """One client per client address (the ASGI scope's ``client``), all served by ``app``; with
    ``raise_app_exceptions=False`` an exception in the app is a 500 answer."""
    async with LifespanManager(copy_lifespan_state(app)) as manager:
        opened = []
        for address in addresses:
            transport = httpx.ASGITransport(
                app=manager.app, client=(address, 123), raise_app_exceptions=raise_app_exceptions
            )
            opened.append(httpx.AsyncClient(transport=transport, base_url="http://testserver"))
        try:
            yield tuple(opened)
        finally:
            for client in opened:
                await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    """Run the test with keys in ``memory://``, then in a Redis of its own prefix; the URL."""
    if request.param == "redis":
        url = str(request.getfixturevalue("redis_url"))
        configure_store(url)
        return url
    return "memory://"


def kept_in_redis(url: str) -> int:
    """How many idempotency values the Redis of ``url`` holds under the URL's prefix."""
    import redis

    prefix = dict(parse_qsl(urlsplit(url).query))["prefix"]
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return len(list(client.scan_iter(f"{prefix}:value:idempotency:*")))
    finally:
        client.close()


def operations(app: FastAPI) -> dict[str, dict[str, Any]]:
    spec = app.openapi()
    return {op["operationId"]: op for ops in spec["paths"].values() for op in ops.values()}


def key_parameter(operation: dict[str, Any]) -> dict[str, Any] | None:
    found = [p for p in operation.get("parameters", []) if p["name"] == KEY]
    assert len(found) <= 1
    return found[0] if found else None


def success(operation: dict[str, Any]) -> dict[str, Any]:
    [code] = [c for c in operation["responses"] if c.startswith("2")]
    answer: dict[str, Any] = operation["responses"][code]
    return answer


# --- replay -----------------------------------------------------------------------------------


async def test_a_create_retried_with_its_key_gets_the_same_bytes_and_runs_once(store: str) -> None:
    calls: list[str] = []
    router = document_router(perform_create=counting_create(calls))
    async with serve(create_app(router)) as client:
        first = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_ran(first)
        assert first.headers["ETag"]
        again = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        third = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_replayed(first, again)
        assert_replayed(first, third)
        assert again.headers["ETag"] == first.headers["ETag"]
        assert again.json() == {"id": first.json()["id"], "title": "a"}
        assert await Document.all().count() == 1
        assert calls == ["a"]
    if store != "memory://":
        assert kept_in_redis(store) == 1


async def test_requests_without_a_key_run_every_time() -> None:
    calls: list[str] = []
    async with serve(create_app(document_router(perform_create=counting_create(calls)))) as client:
        first = await client.post("/documents", json={"title": "a"})
        second = await client.post("/documents", json={"title": "a"})
        assert_ran(first)
        assert_ran(second)
        assert first.json()["id"] != second.json()["id"]
        assert await Document.all().count() == 2
        assert calls == ["a", "a"]


@pytest.mark.parametrize(
    ("path", "custom"), [("/documents/publish", "published"), ("/documents/import", "imported")]
)
async def test_a_post_action_replays_its_status_location_and_custom_headers(
    path: str, custom: str
) -> None:
    async with serve(create_app(document_router())) as client:
        first = await client.post(path, json={"title": "a"}, headers=key("k1"))
        assert_ran(first)
        document_id = first.json()["id"]
        assert first.headers["Location"] == f"/documents/{document_id}"
        assert first.headers["X-Custom"] == custom
        again = await client.post(path, json={"title": "a"}, headers=key("k1"))
        assert_replayed(first, again)
        assert again.headers["Location"] == f"/documents/{document_id}"
        assert again.headers["content-type"] == "application/json"
        assert await Document.all().count() == 1


@pytest.mark.parametrize("middleware", [False, True], ids=["route", "middleware"])
async def test_a_replay_carries_the_request_id_the_retry_sent(middleware: bool) -> None:
    app = create_app(document_router())
    if middleware:
        app.add_middleware(RequestStateMiddleware)
    async with serve(app) as client:
        first = await client.post(
            "/documents", json={"title": "a"}, headers=key("k1", **{"X-Request-ID": "first-1"})
        )
        again = await client.post(
            "/documents", json={"title": "a"}, headers=key("k1", **{"X-Request-ID": "retry-1"})
        )
    assert first.headers.get_list("x-request-id") == ["first-1"]
    assert again.headers.get_list("x-request-id") == ["retry-1"]
    assert_replayed(first, again)


async def test_a_replay_carries_its_own_ratelimit_headers() -> None:
    class Burst(UserRateThrottle):
        rate = "10/minute"

    async with serve(create_app(document_router(throttle_classes=[Burst]))) as client:
        headers = key("k1", **as_user(1))
        first = await client.post("/documents", json={"title": "a"}, headers=headers)
        again = await client.post("/documents", json={"title": "a"}, headers=headers)
        assert await Document.all().count() == 1
    [counted_first] = first.headers.get_list("RateLimit")
    [counted_again] = again.headers.get_list("RateLimit")
    assert counted_first.startswith('"user";r=9;')
    assert counted_again.startswith('"user";r=8;')
    assert_replayed(first, again, own=(*OWN_HEADERS, "ratelimit"))


async def test_a_retry_sent_as_the_first_answer_leaves_is_replayed() -> None:
    """The answer is kept before its last byte is sent: a client that has it finds it kept."""
    app = create_app(document_router())
    retries: list[httpx.Response] = []
    holder: list[httpx.AsyncClient] = []
    posts = 0

    async def watching(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal posts
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        posts += 1
        first = posts == 1

        async def send_after_a_retry(message: Message) -> None:
            if first and message["type"] == "http.response.body" and not message.get("more_body"):
                retries.append(
                    await holder[0].post("/documents", json={"title": "a"}, headers=key("k1"))
                )
            await send(message)

        await app(scope, receive, send_after_a_retry)

    async with LifespanManager(copy_lifespan_state(watching)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            holder.append(client)
            first = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
            assert await Document.all().count() == 1
    assert_ran(first)
    [retry] = retries
    assert_replayed(first, retry)


# --- whose keys -------------------------------------------------------------------------------


async def test_keys_belong_to_the_user(store: str) -> None:
    calls: list[str] = []
    async with serve(create_app(document_router(perform_create=counting_create(calls)))) as client:
        one = await client.post("/documents", json={"title": "one"}, headers=key("k", **as_user(1)))
        two = await client.post("/documents", json={"title": "two"}, headers=key("k", **as_user(2)))
        assert_ran(one)
        assert_ran(two)
        # The same user, whether an object or a mapping that has its id, gets its own answer.
        again = await client.post(
            "/documents", json={"title": "one"}, headers=key("k", **as_user(1))
        )
        as_mapping = await client.post(
            "/documents", json={"title": "one"}, headers=key("k", **as_user("dict:1"))
        )
        other = await client.post(
            "/documents", json={"title": "two"}, headers=key("k", **as_user(1))
        )
        anonymous = await client.post("/documents", json={"title": "one"}, headers=key("k"))
        assert_replayed(one, again)
        assert_replayed(one, as_mapping)
        assert_key_reused(other, "k")
        assert_ran(anonymous)
        assert calls == ["one", "two", "one"]
        assert await Document.all().count() == 3


async def test_anonymous_keys_belong_to_the_client_address() -> None:
    calls: list[str] = []
    app = create_app(document_router(perform_create=counting_create(calls)))
    async with clients(app, "10.0.0.1", "10.0.0.2") as (first_host, second_host):
        one = await first_host.post("/documents", json={"title": "one"}, headers=key("k"))
        two = await second_host.post("/documents", json={"title": "two"}, headers=key("k"))
        assert_ran(one)
        assert_ran(two)
        assert_replayed(
            one, await first_host.post("/documents", json={"title": "one"}, headers=key("k"))
        )
        assert_replayed(
            two, await second_host.post("/documents", json={"title": "two"}, headers=key("k"))
        )
        # A user at the first address has keys of its own.
        user = await first_host.post(
            "/documents", json={"title": "one"}, headers=key("k", **as_user(1))
        )
        assert_ran(user)
        assert calls == ["one", "two", "one"]


# --- another request under a key --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/documents", {"title": "b"}),
        ("/documents?draft=1", {"title": "a"}),
        ("/documents/publish", {"title": "a"}),
    ],
    ids=["body", "query", "path"],
)
async def test_the_key_of_another_request_is_422_and_nothing_runs(
    store: str, path: str, body: dict[str, str]
) -> None:
    calls: list[str] = []
    async with serve(create_app(document_router(perform_create=counting_create(calls)))) as client:
        first = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_ran(first)
        reused = await client.post(path, json=body, headers=key("k1"))
        assert_key_reused(reused, "k1")
        assert "idempotent-replayed" not in reused.headers
        # The key still holds the first answer.
        again = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_replayed(first, again)
        assert await Document.all().count() == 1
        assert calls == ["a"]


async def test_a_key_sent_to_a_detail_action_is_not_the_same_request_as_another_row() -> None:
    async with serve(create_app(document_router())) as client:
        first_doc = await Document.create(title="first")
        second_doc = await Document.create(title="second")
        renamed = await client.post(
            f"/documents/{first_doc.id}/rename", json={"title": "x"}, headers=key("k1")
        )
        assert_ran(renamed, 200)
        other_row = await client.post(
            f"/documents/{second_doc.id}/rename", json={"title": "x"}, headers=key("k1")
        )
        assert_key_reused(other_row, "k1")
        await second_doc.refresh_from_db()
        assert second_doc.title == "second"


# --- in flight --------------------------------------------------------------------------------


async def test_a_retry_while_the_first_runs_is_409_with_retry_after(store: str) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    calls: list[str] = []

    async def perform_create(self: Any, obj: Document) -> Document:
        calls.append(obj.title)
        entered.set()
        await release.wait()
        return await super(type(self), self).perform_create(obj)

    async with serve(create_app(document_router(perform_create=perform_create))) as client:
        running = asyncio.create_task(
            client.post("/documents", json={"title": "a"}, headers=key("k1"))
        )
        await asyncio.wait_for(entered.wait(), 5)
        busy = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        other = await client.post("/documents", json={"title": "b"}, headers=key("k1"))
        release.set()
        first = await asyncio.wait_for(running, 5)
        again = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert await Document.all().count() == 1
    assert busy.status_code == 409, busy.text
    assert busy.json() == {"detail": IN_USE}
    assert busy.headers["Retry-After"] == "1"
    assert "idempotent-replayed" not in busy.headers
    assert_key_reused(other, "k1")
    assert_ran(first)
    assert_replayed(first, again)
    assert calls == ["a"]


async def test_a_claim_lapses_after_its_lease() -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    calls: list[str] = []

    @action(methods=["POST"], detail=False, status_code=201)
    async def slow(self: Any, body: DocumentWrite) -> DocumentRead:
        calls.append(body.title)
        if len(calls) == 1:
            entered.set()
            await release.wait()
        return await Document.create(title=body.title)  # type: ignore[return-value]

    router = document_router(slow=slow, idempotency_key_lease=0.2)
    async with serve(create_app(router)) as client:
        running = asyncio.create_task(
            client.post("/documents/slow", json={"title": "a"}, headers=key("k1"))
        )
        await asyncio.wait_for(entered.wait(), 5)
        busy = await client.post("/documents/slow", json={"title": "a"}, headers=key("k1"))
        await asyncio.sleep(0.3)
        # The first request has not answered within its lease: the key is free again.
        lapsed = await client.post("/documents/slow", json={"title": "a"}, headers=key("k1"))
        release.set()
        first = await asyncio.wait_for(running, 5)
        assert await Document.all().count() == 2
    assert busy.status_code == 409
    assert_ran(lapsed)
    assert_ran(first)
    assert calls == ["a", "a"]


# --- what is kept, what is released ------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (RuntimeError("boom"), 500),
        (APIException(), 500),
        (ServiceUnavailable("later"), 503),
    ],
    ids=["unhandled", "api-500", "api-503"],
)
async def test_a_5xx_releases_the_key_and_a_retry_runs(error: Exception, status: int) -> None:
    calls: list[str] = []

    async def perform_create(self: Any, obj: Document) -> Document:
        calls.append(obj.title)
        if len(calls) == 1:
            raise error
        return await super(type(self), self).perform_create(obj)

    app = create_app(document_router(perform_create=perform_create))
    async with clients(app, "127.0.0.1", raise_app_exceptions=False) as (client,):
        failed = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_ran(failed, status)
        assert await Document.all().count() == 0
        retried = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_ran(retried)
        again = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_replayed(retried, again)
        assert await Document.all().count() == 1
    assert calls == ["a", "a"]


async def test_a_unique_conflict_is_kept_and_replayed_after_the_row_is_gone() -> None:
    class CompanyBase(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite

    router = APIRouter(prefix="/companies")
    viewset(router)(type("CompanyViewSet", (CompanyBase,), {}))
    async with serve(create_app(router)) as client:
        existing = await Company.create(name="acme")
        conflict = await client.post("/companies", json={"name": "acme"}, headers=key("k1"))
        assert_ran(conflict, 409)
        assert conflict.json() == {"detail": "A company with this name already exists."}
        await existing.delete()
        again = await client.post("/companies", json={"name": "acme"}, headers=key("k1"))
        assert_replayed(conflict, again)
        assert await Company.all().count() == 0
        # A new key is a new request: it runs.
        fresh = await client.post("/companies", json={"name": "acme"}, headers=key("k2"))
        assert_ran(fresh)


async def test_an_api_exception_from_perform_create_is_kept() -> None:
    calls: list[str] = []

    async def perform_create(self: Any, obj: Document) -> Document:
        calls.append(obj.title)
        if len(calls) == 1:
            raise PermissionDenied("Not today.")
        return await super(type(self), self).perform_create(obj)

    async with serve(create_app(document_router(perform_create=perform_create))) as client:
        refused = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_ran(refused, 403)
        assert refused.json() == {"detail": "Not today."}
        again = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_replayed(refused, again)
        assert calls == ["a"]
        fresh = await client.post("/documents", json={"title": "a"}, headers=key("k2"))
        assert_ran(fresh)
        assert calls == ["a", "a"]


async def test_a_404_from_get_object_in_a_detail_action_is_kept() -> None:
    async with serve(create_app(document_router())) as client:
        missing = await client.post(
            "/documents/424242/rename", json={"title": "x"}, headers=key("k1")
        )
        assert_ran(missing, 404)
        await Document.create(id=424242, title="late")
        again = await client.post(
            "/documents/424242/rename", json={"title": "x"}, headers=key("k1")
        )
        assert_replayed(missing, again)
        assert (await Document.get(id=424242)).title == "late"


async def test_a_body_validation_422_is_not_kept() -> None:
    async with serve(create_app(document_router())) as client:
        invalid = await client.post("/documents", json={"name": "a"}, headers=key("k1"))
        assert invalid.status_code == 422
        assert invalid.json()["detail"][0]["loc"] == ["body", "title"]
        corrected = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_ran(corrected)
        assert await Document.all().count() == 1


@pytest.mark.parametrize(
    ("refusal", "status"),
    [(NotAuthenticated, 401), (PermissionDenied, 403), (None, 429)],
    ids=["401", "403", "429"],
)
async def test_refusals_before_the_action_are_not_kept(
    refusal: type[APIException] | None, status: int
) -> None:
    closed = [True]

    class Gate(BasePermission):
        def has_permission(self, request: Request, view: Any) -> bool:
            if closed[0] and refusal is not None:
                raise refusal()
            return True

    class GateThrottle(BaseThrottle):
        def allow_request(self, request: Request, view: Any) -> bool:
            return not (closed[0] and refusal is None)

    router = document_router(permission_classes=[Gate], throttle_classes=[GateThrottle])
    async with serve(create_app(router)) as client:
        headers = key("k1", **as_user(1))
        refused = await client.post("/documents", json={"title": "a"}, headers=headers)
        assert_ran(refused, status)
        closed[0] = False
        admitted = await client.post("/documents", json={"title": "a"}, headers=headers)
        assert_ran(admitted)
        assert await Document.all().count() == 1


# --- the header -------------------------------------------------------------------------------


#: Two spellings of one key each: a structured-field string ("abc") and the bare value.
SAME_KEYS = [
    ('"abc"', "abc"),
    ("def", '"def"'),
    ('"a\\"b"', 'a"b'),
    ("x" * 255, f'"{"x" * 255}"'),
    ("  spaced  ", "spaced"),
]
MALFORMED_KEYS: list[str | bytes] = [
    "",
    "x" * 256,
    f'"{"x" * 256}"',
    b"\xc3\xa9",
    "a\tb",
    "\x7f",
]


async def test_a_quoted_key_is_the_same_key_as_its_bare_value() -> None:
    async with serve(create_app(document_router())) as client:
        for count, (first_key, retry_key) in enumerate(SAME_KEYS, start=1):
            first = await client.post("/documents", json={"title": "a"}, headers=key(first_key))
            again = await client.post("/documents", json={"title": "a"}, headers=key(retry_key))
            assert_ran(first)
            assert_replayed(first, again)
            assert await Document.all().count() == count, first_key


async def test_a_malformed_key_is_400_and_nothing_runs() -> None:
    calls: list[str] = []
    async with serve(create_app(document_router(perform_create=counting_create(calls)))) as client:
        for value in MALFORMED_KEYS:
            created = await client.post("/documents", json={"title": "a"}, headers=key(value))
            published = await client.post(
                "/documents/publish", json={"title": "a"}, headers=key(value)
            )
            for answer in (created, published):
                assert answer.status_code == 400, (value, answer.text)
                assert answer.json() == {"detail": MALFORMED}
        assert await Document.all().count() == 0
        assert calls == []


async def test_require_idempotency_key_answers_400_without_the_header() -> None:
    router = document_router(require_idempotency_key=True)
    async with serve(create_app(router)) as client:
        document = await Document.create(title="kept")
        missing = await client.post("/documents", json={"title": "a"})
        action_missing = await client.post("/documents/publish", json={"title": "a"})
        touch_missing = await client.post(f"/documents/{document.id}/touch")
        for answer in (missing, action_missing, touch_missing):
            assert answer.status_code == 400, answer.text
            detail = answer.json()["detail"]
            assert detail.startswith("This request needs an Idempotency-Key header")
        assert await Document.all().count() == 1
        # Other methods do not need it.
        assert (await client.get(f"/documents/{document.id}/touch")).status_code == 200
        patched = await client.patch(f"/documents/{document.id}", json={"title": "b"})
        assert patched.status_code == 200
        created = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_ran(created)


async def test_an_action_may_require_the_key_alone() -> None:
    @action(methods=["POST"], detail=False, require_idempotency_key=True)
    async def strict(self: Any, body: DocumentWrite) -> dict[str, str]:
        await Document.create(title=body.title)
        return {"title": body.title}

    async with serve(create_app(document_router(strict=strict))) as client:
        missing = await client.post("/documents/strict", json={"title": "a"})
        assert missing.status_code == 400
        keyed = await client.post("/documents/strict", json={"title": "a"}, headers=key("k1"))
        assert_ran(keyed, 200)
        assert_ran(await client.post("/documents", json={"title": "b"}))
        assert_ran(await client.post("/documents/publish", json={"title": "c"}))


async def test_idempotency_keys_false_ignores_the_header() -> None:
    calls: list[str] = []
    router = document_router(idempotency_keys=False, perform_create=counting_create(calls))
    async with serve(create_app(router)) as client:
        first = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        second = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        other = await client.post("/documents", json={"title": "b"}, headers=key("k1"))
        malformed = await client.post("/documents", json={"title": "c"}, headers=key(""))
        published = await client.post("/documents/publish", json={"title": "d"}, headers=key("k"))
        republished = await client.post("/documents/publish", json={"title": "d"}, headers=key("k"))
        for answer in (first, second, other, malformed, published, republished):
            assert_ran(answer)
        assert await Document.all().count() == 6
        assert calls == ["a", "a", "b", "c"]


async def test_an_action_may_take_keys_where_the_viewset_does_not() -> None:
    @action(methods=["POST"], detail=False, status_code=201, idempotency_keys=True)
    async def keyed(self: Any, body: DocumentWrite) -> DocumentRead:
        return await Document.create(title=body.title)  # type: ignore[return-value]

    router = document_router(idempotency_keys=False, keyed=keyed)
    async with serve(create_app(router)) as client:
        first = await client.post("/documents/keyed", json={"title": "a"}, headers=key("k1"))
        again = await client.post("/documents/keyed", json={"title": "a"}, headers=key("k1"))
        assert_ran(first)
        assert_replayed(first, again)
        # The create, under the same key, ignores it.
        assert_ran(await client.post("/documents", json={"title": "a"}, headers=key("k1")))
        assert await Document.all().count() == 2


async def test_an_action_may_turn_keys_off() -> None:
    @action(methods=["POST"], detail=False, status_code=201, idempotency_keys=False)
    async def unkeyed(self: Any, body: DocumentWrite) -> DocumentRead:
        return await Document.create(title=body.title)  # type: ignore[return-value]

    async with serve(create_app(document_router(unkeyed=unkeyed))) as client:
        for _ in range(2):
            answer = await client.post("/documents/unkeyed", json={"title": "a"}, headers=key(""))
            assert_ran(answer)
        assert await Document.all().count() == 2


async def test_get_put_patch_and_delete_ignore_the_header() -> None:
    async with serve(create_app(document_router())) as client:
        document = await Document.create(title="a")
        url = f"/documents/{document.id}"
        for value in ("k1", "", "x" * 256):
            assert_ran(await client.get("/documents", headers=key(value)), 200)
            assert_ran(await client.get(url, headers=key(value)), 200)
            assert_ran(await client.get("/documents/stats", headers=key(value)), 200)
        first = await client.patch(url, json={"title": "b"}, headers=key("k1"))
        second = await client.patch(url, json={"title": "c"}, headers=key("k1"))
        replaced = await client.put(url, json={"title": "d"}, headers=key(""))
        assert_ran(first, 200)
        assert_ran(second, 200)
        assert_ran(replaced, 200)
        assert second.json()["title"] == "c"
        assert replaced.json()["title"] == "d"
        assert_ran(await client.delete(url, headers=key("k1")), 204)
        assert await Document.all().count() == 0


async def test_an_action_of_get_and_post_takes_keys_for_post_only() -> None:
    async with serve(create_app(document_router())) as client:
        document = await Document.create(title="a")
        url = f"/documents/{document.id}/touch"
        for _ in range(2):
            read = await client.get(url, headers=key("k1"))
            assert_ran(read, 200)
            assert read.json() == {"method": "GET", "touched": 0}
        assert_ran(await client.get(url, headers=key("")), 200)
        first = await client.post(url, headers=key("k1"))
        again = await client.post(url, headers=key("k1"))
        assert_ran(first, 200)
        assert first.json() == {"method": "POST", "touched": 1}
        assert_replayed(first, again)
        assert (await client.post(url, headers=key(""))).status_code == 400
        await document.refresh_from_db()
        assert document.meta == {"touched": 1}


async def test_a_streamed_answer_is_kept_whole() -> None:
    calls: list[str] = []

    @action(methods=["POST"], detail=False)
    async def export(self: Any) -> Response:
        calls.append("export")

        async def chunks() -> AsyncIterator[bytes]:
            for number in range(3):
                yield f"part {number};".encode()

        return StreamingResponse(chunks(), media_type="text/plain", headers={"X-Parts": "3"})

    async with serve(create_app(document_router(export=export))) as client:
        first = await client.post("/documents/export", headers=key("k1"))
        again = await client.post("/documents/export", headers=key("k1"))
    assert_ran(first, 200)
    assert first.content == b"part 0;part 1;part 2;"
    assert_replayed(first, again)
    assert calls == ["export"]


async def test_a_replay_runs_no_background_task() -> None:
    done: list[str] = []

    @action(methods=["POST"], detail=False, status_code=204)
    async def notify(self: Any, tasks: BackgroundTasks) -> None:
        done.append("action")
        tasks.add_task(done.append, "task")

    async with serve(create_app(document_router(notify=notify))) as client:
        first = await client.post("/documents/notify", headers=key("k1"))
        again = await client.post("/documents/notify", headers=key("k1"))
    assert_ran(first, 204)
    assert_replayed(first, again)
    assert again.content == b""
    assert done == ["action", "task"]


async def test_requests_sent_at_once_under_one_key_run_once(store: str) -> None:
    calls: list[str] = []
    async with serve(create_app(document_router(perform_create=counting_create(calls)))) as client:
        answers = await asyncio.gather(
            *(client.post("/documents", json={"title": "a"}, headers=key("k1")) for _ in range(6))
        )
        assert await Document.all().count() == 1
    assert calls == ["a"]
    [first] = [
        a for a in answers if a.status_code == 201 and "idempotent-replayed" not in a.headers
    ]
    for answer in answers:
        if answer is first:
            continue
        if answer.status_code == 409:
            assert answer.json() == {"detail": IN_USE}
        else:
            assert_replayed(first, answer)


# --- expiry and the store ---------------------------------------------------------------------


async def test_an_expired_key_runs_again(store: str) -> None:
    calls: list[str] = []
    router = document_router(idempotency_key_ttl=0.2, perform_create=counting_create(calls))
    async with serve(create_app(router)) as client:
        first = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        again = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_replayed(first, again)
        await asyncio.sleep(0.3)
        later = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_ran(later)
        assert later.json()["id"] != first.json()["id"]
        assert await Document.all().count() == 2
        assert calls == ["a", "a"]


async def test_an_unreachable_store_is_503_and_nothing_runs() -> None:
    calls: list[str] = []
    async with serve(create_app(document_router(perform_create=counting_create(calls)))) as client:
        configure_store(DOWN)
        down = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        action_down = await client.post(
            "/documents/publish", json={"title": "a"}, headers=key("k2")
        )
        for answer in (down, action_down):
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "5"
            assert "nothing was done" in answer.json()["detail"]
        assert await Document.all().count() == 0
        assert calls == []
        # A request without a key does not need the store.
        assert_ran(await client.post("/documents", json={"title": "b"}))
        configure_store("memory://")
        retried = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_ran(retried)
        assert calls == ["b", "a"]


async def test_an_answer_that_cannot_be_kept_still_goes_out(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def put(name: str, value: bytes, ttl: float) -> None:
        raise StorageError(ConnectionError("the store is gone"))

    router = document_router(idempotency_key_lease=0.2)
    async with serve(create_app(router)) as client:
        monkeypatch.setattr(get_store(), "put", put)
        with caplog.at_level(logging.ERROR, logger="fastapi_viewsets"):
            first = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert_ran(first)
        assert "could not be kept" in caplog.text
        # The claim stands until its lease lapses: a retry is told to wait, not run.
        busy = await client.post("/documents", json={"title": "a"}, headers=key("k1"))
        assert busy.status_code == 409
        assert busy.headers["Retry-After"] == "1"
        assert await Document.all().count() == 1
        await asyncio.sleep(0.3)
        assert_ran(await client.post("/documents", json={"title": "a"}, headers=key("k1")))


# --- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_documents_the_header_and_its_answers_on_create_and_post_actions() -> None:
    ops = operations(create_app(document_router()))
    for name in ("document_create", "document_publish", "document_import_document"):
        operation = ops[name]
        parameter = key_parameter(operation)
        assert parameter is not None, name
        assert parameter["in"] == "header"
        assert parameter["required"] is False
        assert parameter["schema"] == {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": "^[!-~]([ -~]*[!-~])?$",
        }
        assert "24 hours" in parameter["description"]
        responses = operation["responses"]
        assert {"400", "409", "422", "503"} <= set(responses), name
        assert "Retry-After" in responses["409"]["headers"]
        assert "Retry-After" in responses["503"]["headers"]
        assert "Idempotency-Key" in responses["422"]["description"]
        assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "ValidationErrorResponse"
        )
        assert "missing" not in responses["400"]["description"]
        assert "Idempotent-Replayed" in success(operation)["headers"], name
    assert "201" in ops["document_publish"]["responses"]
    assert "Idempotent-Replayed" in ops["document_publish"]["responses"]["201"]["headers"]
    post = ops["document_touch_post"]
    assert key_parameter(post) is not None
    assert "Idempotent-Replayed" in post["responses"]["200"]["headers"]


def test_openapi_leaves_the_header_off_reads_updates_and_deletes() -> None:
    ops = operations(create_app(document_router()))
    names = [
        "document_list",
        "document_retrieve",
        "document_update",
        "document_partial_update",
        "document_destroy",
        "document_stats",
        "document_touch_get",
    ]
    for name in names:
        operation = ops[name]
        assert key_parameter(operation) is None, name
        # A 400 of its own (a body that cannot be parsed) may be there; not the key's.
        assert "Idempotency-Key" not in str(operation["responses"].get("400", {})), name
        assert "503" not in operation["responses"], name
        assert "Idempotent-Replayed" not in success(operation).get("headers", {}), name


def test_openapi_marks_the_header_required_where_it_is() -> None:
    @action(methods=["POST"], detail=False, require_idempotency_key=True)
    async def strict(self: Any) -> dict[str, str]:
        return {}

    ops = operations(create_app(document_router(strict=strict, idempotency_key_ttl=3600)))
    strict_parameter = key_parameter(ops["document_strict"])
    create_parameter = key_parameter(ops["document_create"])
    assert strict_parameter is not None
    assert create_parameter is not None
    assert strict_parameter["required"] is True
    assert "missing" in ops["document_strict"]["responses"]["400"]["description"]
    assert create_parameter["required"] is False
    assert "1 hour" in create_parameter["description"]

    ops = operations(create_app(document_router(require_idempotency_key=True)))
    for name in ("document_create", "document_publish", "document_touch_post"):
        parameter = key_parameter(ops[name])
        assert parameter is not None
        assert parameter["required"] is True, name


def test_openapi_leaves_the_header_off_where_keys_are_off() -> None:
    @action(methods=["POST"], detail=False, idempotency_keys=True)
    async def keyed(self: Any) -> dict[str, str]:
        return {}

    ops = operations(create_app(document_router(idempotency_keys=False, keyed=keyed)))
    for name in ("document_create", "document_publish", "document_touch_post"):
        operation = ops[name]
        assert key_parameter(operation) is None, name
        # A 400 of its own (a body that cannot be parsed) may be there; not the key's.
        assert "Idempotency-Key" not in str(operation["responses"].get("400", {})), name
        assert "503" not in operation["responses"], name
        assert "Idempotent-Replayed" not in success(operation).get("headers", {}), name
    assert key_parameter(ops["document_keyed"]) is not None


# --- misconfigurations ------------------------------------------------------------------------


def probe_action(methods: list[str], **kwargs: Any) -> Any:
    @action(methods=methods, detail=False, **kwargs)
    async def probe(self: Any) -> dict[str, bool]:
        return {"ok": True}

    return probe


@pytest.mark.parametrize(
    ("namespace", "fragments"),
    [
        pytest.param(
            {"idempotency_keys": False, "require_idempotency_key": True},
            ["OrderViewSet.", "idempotency_keys = True", "require_idempotency_key = False"],
            id="required-but-off",
        ),
        pytest.param(
            {"probe": probe_action(["GET"], idempotency_keys=True)},
            ["OrderViewSet.probe", "POST", "answers GET", "Remove idempotency_keys="],
            id="keys-on-a-get-action",
        ),
        pytest.param(
            {"probe": probe_action(["GET", "PUT"], require_idempotency_key=True)},
            ["OrderViewSet.probe", "answers GET, PUT", "require_idempotency_key="],
            id="required-on-a-get-put-action",
        ),
        pytest.param(
            {"probe": probe_action(["POST"], idempotency_keys=False, require_idempotency_key=True)},
            ["OrderViewSet.probe requires an Idempotency-Key", "require_idempotency_key = False"],
            id="action-required-but-off",
        ),
        *[
            pytest.param(
                {name: value},
                [f"OrderViewSet.{name} = {value!r}", "give a number of seconds above 0"],
                id=f"{name}={value!r}",
            )
            for name in ("idempotency_key_ttl", "idempotency_key_lease")
            for value in (0, -1, 0.0, math.inf, math.nan, True, "60", None)
        ],
    ],
)
def test_a_misconfiguration_is_refused_at_registration(
    namespace: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(ImproperlyConfigured) as raised:
        document_router("OrderViewSet", **namespace)
    for fragment in fragments:
        assert fragment in str(raised.value)


async def test_an_action_may_turn_keys_off_where_the_viewset_requires_them() -> None:
    @action(methods=["POST"], detail=True, idempotency_keys=False)
    async def ping(self: Any) -> dict[str, str]:
        return {"pong": "yes"}

    router = document_router(require_idempotency_key=True, ping=ping)
    async with serve(create_app(router)) as client:
        document = await Document.create(title="a")
        assert (await client.post(f"/documents/{document.id}/ping")).status_code == 200
        assert (await client.post("/documents", json={"title": "a"})).status_code == 400


async def streamed_body(request: Request) -> bytes:
    return b"".join([chunk async for chunk in request.stream()])


async def test_a_post_action_whose_body_was_streamed_takes_keys() -> None:
    @action(methods=["POST"], detail=False)
    async def upload(self: Any, data: Annotated[bytes, Depends(streamed_body)]) -> dict[str, int]:
        await Document.create(title=f"{len(data)} bytes")
        return {"size": len(data)}

    app = create_app(document_router(upload=upload))
    async with clients(app, "127.0.0.1", raise_app_exceptions=False) as (client,):
        first = await client.post("/documents/upload", content=b"abc", headers=key("k1"))
        assert first.status_code == 200, first.text
        again = await client.post("/documents/upload", content=b"abc", headers=key("k1"))
        assert_replayed(first, again)
        assert await Document.all().count() == 1
        # The action read its body itself, so the body is not part of the fingerprint: a
        # different body under the key gets the kept answer too (docs/concurrency.md).
        other = await client.post("/documents/upload", content=b"abcd", headers=key("k1"))
        assert_replayed(first, other)
        assert await Document.all().count() == 1


async def test_a_form_body_is_part_of_the_fingerprint() -> None:
    @action(methods=["POST"], detail=False)
    async def upload(self: Any, title: Annotated[str, Form()], file: UploadFile) -> dict[str, int]:
        document = await Document.create(title=f"{title}: {len(await file.read())} bytes")
        return {"id": document.id}

    app = create_app(document_router(upload=upload))
    async with serve(app) as client:

        async def send(content: bytes, title: str = "a") -> httpx.Response:
            return await client.post(
                "/documents/upload",
                data={"title": title},
                files={"file": ("a.txt", content, "text/plain")},
                headers=key("form"),
            )

        first = await send(b"abc")
        assert first.status_code == 200, first.text
        assert_replayed(first, await send(b"abc"))
        assert (await send(b"abd")).status_code == 422  # another file
        assert (await send(b"abc", title="b")).status_code == 422  # another field
        assert await Document.all().count() == 1


async def test_the_memory_store_forgets_expired_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    # The store sweeps once a minute; here at every write.
    monkeypatch.setattr(_MemoryValues, "SWEEP_EVERY", 0.0)
    configure_store("memory://")
    router = document_router(idempotency_key_ttl=0.05)
    async with serve(create_app(router)) as client:
        for number in range(50):
            answer = await client.post("/documents", json={"title": "a"}, headers=key(f"k{number}"))
            assert_ran(answer)
        await asyncio.sleep(0.1)
        assert_ran(await client.post("/documents", json={"title": "a"}, headers=key("last")))
    # Private: how many values the store holds (all but the last have expired).
    assert len(get_store()._values._items) <= 10


# --- what review found ------------------------------------------------------------------------


async def test_a_422_of_the_librarys_own_checks_releases_the_key_for_a_corrected_body() -> None:
    async with serve(create_app(document_router())) as client:
        too_long = await client.post("/documents", json={"title": "x" * 101}, headers=key("k1"))
        assert too_long.status_code == 422  # the column holds 100: nothing was written
        corrected = await client.post("/documents", json={"title": "x"}, headers=key("k1"))
        assert_ran(corrected)
        assert await Document.all().count() == 1


async def test_a_form_the_action_parses_itself_is_compared_by_its_fields() -> None:
    @action(methods=["POST"], detail=False)
    async def upload(self: Any) -> dict[str, int]:
        form = await self.request.form()
        document = await Document.create(title=str(form["title"]))
        return {"id": document.id}

    async with serve(create_app(document_router(upload=upload))) as client:
        # httpx picks a new multipart boundary for each request: the raw bytes differ.
        send = {"data": {"title": "a"}, "files": {"f": ("a.txt", b"abc")}, "headers": key("f1")}
        first = await client.post("/documents/upload", **send)
        assert first.status_code == 200, first.text
        assert_replayed(first, await client.post("/documents/upload", **send))
        assert await Document.all().count() == 1


async def test_a_client_gone_mid_answer_keeps_the_key_claimed_and_nothing_runs_twice() -> None:
    @action(methods=["POST"], detail=False)
    async def export(self: Any) -> Response:
        await Document.create(title="exported")

        async def chunks() -> AsyncIterator[bytes]:
            yield b"part 0;"
            await asyncio.sleep(0.2)
            yield b"part 1;"

        return StreamingResponse(chunks(), media_type="text/plain")

    app = create_app(document_router(export=export))
    async with LifespanManager(copy_lifespan_state(app)) as manager:
        gone = asyncio.Event()
        started: list[int] = []

        async def receive() -> Message:
            if not started:
                started.append(1)
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                gone.set()  # the client leaves after the first chunk

        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/documents/export",
            "raw_path": b"/documents/export",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"t"), (b"idempotency-key", b"k1")],
            "client": ("127.0.0.1", 1),
            "server": ("t", 80),
            "state": {},
        }
        await manager.app(scope, receive, send)
        transport = httpx.ASGITransport(app=manager.app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            retry = await client.post("/documents/export", headers=key("k1"))
        assert retry.status_code == 409  # the first ran; its answer was not kept whole
        assert await Document.all().count() == 1


async def test_a_refused_connection_leaves_no_claim_to_withdraw() -> None:
    from fastapi_viewsets import idempotency

    configure_store("redis://127.0.0.1:1/0")  # nothing listens: refused, so nothing was sent
    async with serve(create_app(document_router())) as client:
        for n in range(5):
            refused = await client.post("/documents", json={"title": "a"}, headers=key(f"k{n}"))
            assert refused.status_code == 503
        assert idempotency._withdrawals == {}
