"""The request state: one ``BaseStateManager`` store per request, shared by every part of it.

Also home of the helpers the other state test modules import: ``serve_isolated`` (a client whose
in-process server gives each request its own copy of the lifespan state, as the ASGI spec and
uvicorn do) and ``assert_closed``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import typing
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Header, HTTPException, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from fastapi_viewsets import (
    BaseStateManager,
    GenericViewSet,
    IsAdminUser,
    IsAuthenticated,
    ReadOnlyModelViewSet,
    RequestStateMiddleware,
    StateNotAvailable,
    action,
    viewset,
)
from fastapi_viewsets.exceptions import ImproperlyConfigured
from fastapi_viewsets.state import RequestStore, new_request_id
from fastapi_viewsets.testing import request_state
from tests.models import Company
from tests.utils import create_app, serve

# --- helpers shared by the state test modules -----------------------------------------------


def per_request_state(app: ASGIApp) -> ASGIApp:
    """Give each request a shallow copy of the lifespan state, as the ASGI spec asks servers to.

    asgi-lifespan's ``LifespanManager`` (used by ``tests.utils.serve``) passes the one lifespan
    dict itself to every request, so ``request.state`` would be shared by all of them.
    """

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and "state" in scope:
            scope = {**scope, "state": dict(scope["state"])}
        await app(scope, receive, send)

    return wrapped


@asynccontextmanager
async def serve_isolated(
    app: FastAPI, *, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """``tests.utils.serve`` with a spec-conforming per-request copy of the lifespan state."""
    async with LifespanManager(per_request_state(app)) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def assert_closed() -> None:
    """No state is open here: the last request's state was reset with its token."""
    assert RequestStore.current() is None
    with pytest.raises(StateNotAvailable):
        BaseStateManager.get_state()


def is_uuid4(value: str | None) -> bool:
    try:
        parsed = uuid.UUID(value) if value is not None else None
        return (
            parsed is not None
            and parsed.version == 4
            and parsed.variant == uuid.RFC_4122
            and str(parsed) == value
        )
    except ValueError:
        return False


def test_request_ids_are_distinct_random_uuid4s() -> None:
    ids = [new_request_id() for _ in range(5000)]
    assert all(is_uuid4(i) for i in ids)
    assert len(set(ids)) == len(ids)
    # Every random hex digit takes all its values: no digit is stuck.
    for position in (0, 9, 15, 21, 35):
        assert len({i[position] for i in ids}) == 16
    assert {i[19] for i in ids} == set("89ab")  # the variant digit


def test_request_ids_from_many_threads_are_all_distinct() -> None:
    ids: list[list[str]] = [[] for _ in range(8)]

    def make(out: list[str]) -> None:
        out.extend(new_request_id() for _ in range(2000))

    threads = [threading.Thread(target=make, args=(out,)) for out in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for out in ids for i in out]
    assert len(set(every)) == len(every) == 16000
    assert all(is_uuid4(i) for i in every)


_FORK_SCRIPT = """
import os
from fastapi_viewsets.state import new_request_id

new_request_id()  # ids are made in batches: the parent now holds some it has not used
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, "\\n".join(new_request_id() for _ in range(100)).encode())
    os._exit(0)
os.close(write)
with os.fdopen(read) as pipe:
    child = pipe.read().split("\\n")
os.waitpid(pid, 0)
parent = [new_request_id() for _ in range(100)]
print(len(child), len(set(child) & set(parent)))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_worker_makes_other_request_ids_than_its_parent() -> None:
    # In a fresh interpreter: forking this one, with its threads, is unsafe.
    done = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["100", "0"]  # 100 ids from the child, none the parent's


@dataclass
class Person:
    id: int
    username: str
    is_admin: bool = False


ALICE = Person(1, "alice")
ROOT = Person(2, "root", is_admin=True)
PEOPLE = {p.username: p for p in (ALICE, ROOT)}


class CustomStateManager(BaseStateManager[Person]):
    """A subclass, as users write them: properties and methods over the one store."""

    @property
    def username(self) -> str | None:
        return self.user.username if self.user else None

    def remember(self, event: str) -> None:
        self.set("events", [*self.get("events", []), event])


# --- the API outside a request ----------------------------------------------------------------


@pytest.mark.parametrize("cls", [BaseStateManager, CustomStateManager])
def test_get_state_outside_a_request_says_how_to_get_one(cls: type[BaseStateManager[Any]]):
    assert RequestStore.current() is None
    with pytest.raises(StateNotAvailable) as info:
        cls.get_state()
    message = str(info.value)
    assert f"{cls.__name__}.get_state()" in message
    assert "RequestStateMiddleware" in message
    assert "request_state(" in message
    with pytest.raises(StateNotAvailable):
        cls.set_user(ALICE)


def test_state_not_available_is_a_runtime_error():
    assert issubclass(StateNotAvailable, RuntimeError)


def test_custom_data_methods():
    with request_state(user=ALICE, action="list", request_id="rid-1") as state:
        assert state.get("missing") is None
        assert state.get("missing", "fallback") == "fallback"
        assert not state.has("k")
        state.set("k", {"theme": "dark"})
        state.set("none", None)
        assert state.has("k")
        assert state.has("none")  # a key set to None is there
        assert state.get("none", "fallback") is None
        assert state.get("k") == {"theme": "dark"}
        state.set("k", 2)
        assert state.get("k") == 2
        state.remove("k")
        state.remove("k")  # removing twice is not an error
        assert not state.has("k")
        state.set("a", 1)
        state.set("b", 2)
        state.clear()
        assert not state.has("a")
        assert not state.has("b")
        assert not state.has("none")
        # clear() keeps the request's identity
        assert state.user is ALICE
        assert state.action == "list"
        assert state.request_id == "rid-1"
        assert state.request is None


def test_built_in_properties_and_set_user():
    with request_state() as state:
        assert state.user is None
        assert state.request is None
        assert state.action is None
        assert is_uuid4(state.request_id)
        BaseStateManager.set_user(ALICE)
        assert state.user is ALICE
        state.user = ROOT
        assert BaseStateManager.get_state().user is ROOT
        CustomStateManager.set_user(None)
        assert state.user is None


def test_request_ids_are_fresh_uuid4s():
    ids = set()
    for _ in range(50):
        with request_state() as state:
            assert is_uuid4(state.request_id)
            ids.add(state.request_id)
    assert len(ids) == 50


def test_subclass_views_share_one_store():
    with request_state(data={"k": 1}) as base:
        assert BaseStateManager.get_state() is base  # one view per class and store
        custom = CustomStateManager.get_state()
        assert isinstance(custom, CustomStateManager)
        assert CustomStateManager.get_state() is custom
        assert custom is not base
        assert custom.get("k") == 1
        CustomStateManager.set_user(ALICE)
        assert base.user is ALICE
        assert custom.username == "alice"
        custom.remember("a")
        base.set("events", [*base.get("events"), "b"])
        assert custom.get("events") == ["a", "b"]
        assert custom.request_id == base.request_id


def test_a_viewset_made_outside_a_route_views_the_open_state():
    class CompanyViewSet(GenericViewSet[Company]):
        model = Company
        state_class = CustomStateManager

    with pytest.raises(StateNotAvailable):
        _ = CompanyViewSet().state
    with request_state(user=ALICE) as base:
        view = CompanyViewSet()
        assert isinstance(view.state, CustomStateManager)
        assert view.state is CustomStateManager.get_state()
        assert view.user is ALICE
        assert view.state.request_id == base.request_id
        view.state = base  # an assigned state is kept, as any attribute
        assert view.state is base


def test_state_is_generic_in_the_user_type():
    assert typing.get_args(CustomStateManager.__orig_bases__[0]) == (Person,)  # type: ignore[attr-defined]
    with request_state(user=ALICE):
        state = BaseStateManager[Person].get_state()
        assert type(state) is BaseStateManager
        assert state.user is ALICE


def test_repr():
    with request_state(user=ALICE, action="list", request_id="rid", data={"b": 1, "a": 2}) as s:
        assert repr(s) == (
            "<BaseStateManager request_id='rid' action='list' "
            "user=Person(id=1, username='alice', is_admin=False) keys=['a', 'b']>"
        )


# --- fastapi_viewsets.testing.request_state -------------------------------------------------


def test_request_state_sync_nests_and_restores():
    assert_closed()
    with request_state(user=ALICE, data={"tenant": 7}) as outer:
        assert BaseStateManager.get_state() is outer
        with request_state(user=ROOT, action="retrieve") as inner:
            assert BaseStateManager.get_state() is inner
            assert inner.user is ROOT
            assert not inner.has("tenant")
            assert inner.request_id != outer.request_id
        assert BaseStateManager.get_state() is outer
        assert outer.user is ALICE
        assert outer.get("tenant") == 7
        assert outer.action is None
    assert_closed()


async def test_request_state_async_nests_and_restores():
    assert_closed()
    async with request_state(user=ALICE) as outer:
        async with request_state(user=ROOT) as inner:
            assert BaseStateManager.get_state() is inner
            with request_state() as innermost:
                assert BaseStateManager.get_state().user is None
                assert innermost.user is None
            assert BaseStateManager.get_state() is inner
        assert BaseStateManager.get_state() is outer
    assert_closed()


def test_request_state_with_state_class():
    with request_state(user=ALICE, state_class=CustomStateManager) as state:
        assert isinstance(state, CustomStateManager)
        assert state is CustomStateManager.get_state()
        assert state.username == "alice"
        assert BaseStateManager.get_state().user is ALICE
    assert_closed()


def test_request_state_is_reentrant_and_copies_its_data():
    data = {"k": 1}
    helper = request_state(data=data, request_id="job-1")
    with helper as first:
        first.set("k", 2)
        with helper as again:
            assert again is first
            assert BaseStateManager.get_state().request_id == "job-1"
        assert BaseStateManager.get_state() is first
    assert_closed()
    assert data == {"k": 1}  # the mapping passed in is not the store


def test_request_state_restores_after_an_exception():
    with pytest.raises(ZeroDivisionError), request_state(user=ALICE):
        1 / 0  # noqa: B018
    assert_closed()


async def test_request_state_async_restores_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        async with request_state(user=ALICE):
            1 / 0  # noqa: B018
    assert_closed()


# --- RequestStore and new_request_id ---------------------------------------------------------


def test_request_store_without_scope():
    store = RequestStore(data={"a": 1})
    assert store.request is None
    assert store.data == {"a": 1}
    assert is_uuid4(store.request_id)
    assert RequestStore().data == {}


def test_request_store_binds_to_the_scope_state():
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "headers": []}
    store = RequestStore.from_scope(scope)  # no receive: a Request without a body stream
    assert store.data is scope["state"]
    request = store.request
    assert request is not None
    assert request.scope is scope
    assert store.request is request  # made once
    replacement = type(request)(scope)
    store.request = replacement
    assert store.request is replacement


async def test_request_store_with_receive_and_an_existing_state_dict():
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"payload", "more_body": False}

    lifespan_copy = {"pool": "p"}
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"X-Request-ID", b"abc.DEF_1-2")],  # header names are matched in any case
        "state": lifespan_copy,
    }
    store = RequestStore.from_scope(scope, receive)
    assert store.request_id == "abc.DEF_1-2"
    assert store.data is lifespan_copy
    assert store.request is not None
    assert await store.request.body() == b"payload"


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("abc", True),
        ("A" * 128, True),
        ("0123456789.abc_DEF-xyz", True),
        ("550e8400-e29b-41d4-a716-446655440000", True),
        ("-", True),
        (None, False),
        ("", False),
        ("A" * 129, False),
        ("a b", False),
        (" abc", False),
        ("abc\n", False),
        ("abc\r\nSet-Cookie: x=1", False),
        ("abc\x00", False),
        ("abc/../x", False),
        ("a;b", False),
        ("a,b", False),
        ("a:b", False),
        ("<script>", False),
        ("idé", False),
        ("\u0661\u0662\u0663", False),  # Arabic-Indic digits are not [0-9]
        ("\uff46\uff55\uff4c\uff4c", False),  # fullwidth letters are not [A-Za-z]
    ],
)
def test_new_request_id(incoming: str | None, kept: bool):
    result = new_request_id(incoming)
    if kept:
        assert result == incoming
    else:
        assert is_uuid4(result)
        assert result != incoming


# --- one state per request, seen by every part of it -----------------------------------------


class Probe:
    """What each part of the requests saw: (where, store, thread)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, RequestStore | None, int]] = []

    def record(self, where: str) -> None:
        store = RequestStore.current()
        nonce = store.data.get("nonce", "?") if store is not None else "?"
        self.seen.append((where, nonce, store, threading.get_ident()))


class ProbeMiddleware:
    """A pure ASGI middleware that looks at the state before and after the app."""

    def __init__(self, app: ASGIApp, probe: Probe) -> None:
        self.app = app
        self.probe = probe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state = BaseStateManager.get_state()
            state.set("nonce", dict(scope["headers"])[b"x-nonce"].decode())
            self.probe.record("asgi middleware, before")
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.probe.record("asgi middleware, after")


def deep_in_the_call_stack(probe: Probe) -> BaseStateManager[Any]:
    probe.record("deep function")
    return BaseStateManager.get_state()


def sharing_app(probe: Probe, *, middleware: bool) -> FastAPI:
    main_thread = threading.get_ident()

    async def app_dependency(request: Request) -> None:
        state = BaseStateManager.get_state()
        # Opened before the first dependency, with the action and the response's request id.
        assert state.action == "share"
        assert state.request is not None
        assert state.request.url.path == request.url.path
        state.set("nonce", request.headers["x-nonce"])
        state.set("first_request_id", state.request_id)
        BaseStateManager.set_user(PEOPLE[request.headers["x-user"]])
        probe.record("app dependency (async)")

    def app_sync_dependency() -> None:
        assert threading.get_ident() != main_thread
        probe.record("app dependency (sync, thread pool)")
        BaseStateManager.get_state().set("from_thread", threading.get_ident())

    async def router_dependency() -> None:
        probe.record("router dependency (async)")

    def router_sync_dependency() -> None:
        probe.record("router dependency (sync, thread pool)")

    async def route_dependency() -> None:
        probe.record("route dependency (async)")

    def route_sync_dependency() -> None:
        probe.record("route dependency (sync, thread pool)")

    async def yield_dependency() -> AsyncIterator[None]:
        probe.record("yield dependency, setup")
        yield
        probe.record("yield dependency, teardown")

    async def background_task() -> None:
        probe.record("background task (async)")

    def sync_background_task() -> None:
        assert threading.get_ident() != main_thread
        probe.record("background task (sync, thread pool)")

    router = APIRouter(
        prefix="/companies",
        dependencies=[Depends(router_dependency), Depends(router_sync_dependency)],
    )

    @viewset(router)
    class CompanyViewSet(GenericViewSet[Company]):
        model = Company

        @action(
            methods=["POST"],
            detail=False,
            dependencies=[Depends(route_dependency), Depends(route_sync_dependency)],
        )
        async def share(
            self, tasks: BackgroundTasks, _: None = Depends(yield_dependency)
        ) -> dict[str, Any]:
            probe.record("viewset action")
            state = BaseStateManager.get_state()
            assert self.state is state
            assert deep_in_the_call_stack(probe) is state
            assert self.user is state.user
            assert self.request is state.request
            assert self.action == state.action == "share"
            tasks.add_task(background_task)
            tasks.add_task(sync_background_task)
            return {
                "user": self.user.username,
                "nonce": state.get("nonce"),
                "request_id": state.request_id,
                "first_request_id": state.get("first_request_id"),
                "thread_wrote": state.has("from_thread"),
            }

    app = create_app(router, dependencies=[Depends(app_dependency), Depends(app_sync_dependency)])
    if middleware:
        app.add_middleware(ProbeMiddleware, probe=probe)
        app.add_middleware(RequestStateMiddleware)
    return app


@pytest.mark.parametrize("middleware", [False, True], ids=["viewset-route", "middleware"])
async def test_one_state_is_shared_by_every_part_of_a_request(middleware: bool):
    probe = Probe()
    app = sharing_app(probe, middleware=middleware)
    async with serve_isolated(app) as client:
        first = await client.post("/companies/share", headers={"x-user": "alice", "x-nonce": "1"})
        assert_closed()
        second = await client.post("/companies/share", headers={"x-user": "root", "x-nonce": "2"})
        assert_closed()

    for response, user, nonce in ((first, "alice", "1"), (second, "root", "2")):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["user"] == user
        assert body["nonce"] == nonce
        assert body["thread_wrote"] is True
        assert body["request_id"] == body["first_request_id"] == response.headers["x-request-id"]
        assert is_uuid4(body["request_id"])
    assert first.json()["request_id"] != second.json()["request_id"]

    expected = [
        "app dependency (async)",
        "app dependency (sync, thread pool)",
        "router dependency (async)",
        "router dependency (sync, thread pool)",
        "route dependency (async)",
        "route dependency (sync, thread pool)",
        "yield dependency, setup",
        "viewset action",
        "deep function",
        "yield dependency, teardown",
        "background task (async)",
        "background task (sync, thread pool)",
    ]
    if middleware:
        expected = ["asgi middleware, before", *expected, "asgi middleware, after"]
    for nonce in ("1", "2"):
        seen = [entry for entry in probe.seen if entry[1] == nonce]
        assert sorted(where for where, *_ in seen) == sorted(expected)
        stores = {id(store) for _, _, store, _ in seen}
        assert len(stores) == 1, seen
        assert seen[0][2] is not None
        threads = {thread for where, _, _, thread in seen if "thread pool" in where}
        assert threading.get_ident() not in threads
    first_store = next(s for _, n, s, _ in probe.seen if n == "1")
    second_store = next(s for _, n, s, _ in probe.seen if n == "2")
    assert first_store is not second_store


async def test_sync_dependency_sets_the_user_for_the_viewset():
    def sync_authenticate(x_user: str = Header()) -> None:
        BaseStateManager.set_user(PEOPLE[x_user])  # in a worker thread, on a copied context
        BaseStateManager.get_state().set("thread", threading.get_ident())

    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(GenericViewSet[Company]):
        model = Company
        permission_classes = (IsAdminUser,)

        @action(detail=False)
        async def me(self) -> dict[str, Any]:
            return {"user": self.user.username, "thread": self.state.get("thread")}

    app = create_app(router, dependencies=[Depends(sync_authenticate)])
    async with serve_isolated(app) as client:
        response = await client.get("/companies/me", headers={"x-user": "root"})
        refused = await client.get("/companies/me", headers={"x-user": "alice"})
    assert response.status_code == 200, response.text
    assert response.json()["user"] == "root"
    assert response.json()["thread"] != threading.get_ident()
    assert refused.status_code == 403


async def test_tasks_started_by_a_request_share_its_state():
    router = APIRouter(prefix="/companies")

    async def look() -> tuple[RequestStore | None, Any]:
        await asyncio.sleep(0)
        return RequestStore.current(), BaseStateManager.get_state().user

    @viewset(router)
    class CompanyViewSet(GenericViewSet[Company]):
        model = Company

        @action(detail=False)
        async def fan_out(self) -> dict[str, Any]:
            self.state.user = ALICE
            seen = await asyncio.gather(look(), look(), asyncio.create_task(look()))
            store = RequestStore.current()
            return {
                "same": all(s is store for s, _ in seen),
                "users": [u.username for _, u in seen],
            }

    async with serve_isolated(create_app(router)) as client:
        response = await client.get("/companies/fan-out")
    assert response.json() == {"same": True, "users": ["alice"] * 3}
    assert_closed()


def body_app(*, middleware: bool) -> FastAPI:
    """A dependency and an endpoint that read the request's JSON body through the state."""

    async def read_body_through_the_state(request: Request) -> None:
        state = BaseStateManager.get_state()
        async with asyncio.timeout(1):  # the body is already consumed: without it, a deadlock
            state.set("body", await state.request.json())
        state.set("same_request", state.request is request)

    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(GenericViewSet[Company]):
        model = Company

        @action(methods=["POST"], detail=False)
        async def echo(self, payload: dict[str, Any]) -> dict[str, Any]:
            return {
                "dependency": self.state.get("body"),
                "same_request": self.state.get("same_request"),
                "action": await self.state.request.json(),
            }

    app = create_app(router, dependencies=[Depends(read_body_through_the_state)])

    @app.post("/plain/echo")
    async def plain_echo(payload: dict[str, Any]) -> dict[str, Any]:
        state = BaseStateManager.get_state()
        return {
            "dependency": state.get("body"),
            "same_request": state.get("same_request"),
            "action": await state.request.json(),
        }

    if middleware:
        app.add_middleware(RequestStateMiddleware)
    return app


@pytest.mark.parametrize(
    ("middleware", "path"),
    [
        (False, "/companies/echo"),
        (True, "/companies/echo"),
        pytest.param(
            True,
            "/plain/echo",
            marks=pytest.mark.xfail(
                strict=True,
                reason="Known limitation (documented on BaseStateManager.request): on a plain "
                "route only RequestStateMiddleware opened the state, and it cannot reach the "
                "Request FastAPI makes there; state.request is a body-less view of the scope.",
            ),
        ),
    ],
)
async def test_state_request_is_the_request_being_served(middleware: bool, path: str):
    async with serve_isolated(body_app(middleware=middleware), raise_app_exceptions=False) as c:
        response = await c.post(path, json={"a": 1})
    assert response.status_code == 200, response.text
    assert response.json() == {"dependency": {"a": 1}, "same_request": True, "action": {"a": 1}}


async def test_state_request_in_the_viewset_is_the_request_being_served():
    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(GenericViewSet[Company]):
        model = Company

        @action(methods=["POST"], detail=False)
        async def echo(self, payload: dict[str, Any]) -> dict[str, Any]:
            assert self.state.request is self.request
            return {"payload": payload, "body": await self.state.request.json()}

    async with serve_isolated(create_app(router)) as client:
        response = await client.post("/companies/echo", json={"a": 1})
    assert response.json() == {"payload": {"a": 1}, "body": {"a": 1}}


# --- state_class ------------------------------------------------------------------------------


async def test_state_class_is_a_view_over_the_one_store():
    async def authenticate(x_user: str | None = Header(None)) -> None:
        if x_user:
            BaseStateManager.set_user(PEOPLE[x_user])  # through the base class
        BaseStateManager.get_state().set("tenant", 7)

    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(GenericViewSet[Company]):
        model = Company
        state_class = CustomStateManager

        @action(detail=False)
        async def me(self) -> dict[str, Any]:
            assert isinstance(self.state, CustomStateManager)
            assert self.state is CustomStateManager.get_state()
            assert self.state is not BaseStateManager.get_state()
            self.state.remember("seen")
            return {
                "username": self.state.username,
                "user_is_shared": self.user is BaseStateManager.get_state().user,
                "tenant": self.state.get("tenant"),
                "events": BaseStateManager.get_state().get("events"),
            }

    app = create_app(router, dependencies=[Depends(authenticate)])
    async with serve_isolated(app) as client:
        alice = await client.get("/companies/me", headers={"x-user": "alice"})
        anonymous = await client.get("/companies/me")
    assert alice.json() == {
        "username": "alice",
        "user_is_shared": True,
        "tenant": 7,
        "events": ["seen"],
    }
    assert anonymous.json()["username"] is None


@pytest.mark.parametrize("wrong", [object, dict, "BaseStateManager", None])
def test_state_class_must_be_a_state_manager(wrong: Any):
    router = APIRouter(prefix="/companies")
    with pytest.raises(ImproperlyConfigured, match=r"state_class must be a subclass"):

        @viewset(router)
        class CompanyViewSet(GenericViewSet[Company]):
            model = Company
            state_class = wrong


# --- the bridge with Starlette's request.state ------------------------------------------------


def bridge_app(*, middleware: bool) -> FastAPI:
    async def dependency(request: Request) -> None:
        BaseStateManager.get_state().set("set_by_state", "s")
        request.state.set_by_request = "r"

    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(GenericViewSet[Company]):
        model = Company

        @action(detail=False)
        async def bridge(self) -> dict[str, Any]:
            return read_bridge(self.request, self.state)

    def read_bridge(request: Request, state: BaseStateManager[Any]) -> dict[str, Any]:
        seen = {
            "request_state_k": request.state.set_by_state,
            "state_get_k": state.get("set_by_request"),
        }
        state.set("back", "from state")
        request.state.back2 = "from request.state"
        return seen

    app = create_app(router, dependencies=[Depends(dependency)])

    @app.get("/plain")
    async def plain(request: Request) -> dict[str, Any]:
        return read_bridge(request, BaseStateManager.get_state())

    @app.middleware("http")
    async def read_after(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["x-back"] = str(getattr(request.state, "back", None))
        response.headers["x-back2"] = str(getattr(request.state, "back2", None))
        return response

    if middleware:
        app.add_middleware(RequestStateMiddleware)
    return app


@pytest.mark.parametrize(
    ("middleware", "path"),
    [(False, "/companies/bridge"), (True, "/companies/bridge"), (True, "/plain")],
)
async def test_state_and_request_state_are_one_dict(middleware: bool, path: str):
    app = bridge_app(middleware=middleware)
    async with serve_isolated(app) as client:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.json() == {"request_state_k": "s", "state_get_k": "r"}
    assert response.headers["x-back"] == "from state"
    assert response.headers["x-back2"] == "from request.state"


async def test_lifespan_state_is_in_the_custom_data_of_each_request():
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {"pool": "the pool"}

    app = FastAPI(lifespan=lifespan)

    @app.get("/clear")
    async def clear(request: Request) -> dict[str, Any]:
        state = BaseStateManager.get_state()
        before = (state.get("pool"), request.state.pool)
        state.clear()  # the request's copy of the lifespan state goes, too
        return {"before": before, "after": state.has("pool")}

    app.add_middleware(RequestStateMiddleware)
    async with serve_isolated(app) as client:
        first = await client.get("/clear")
        second = await client.get("/clear")
    assert first.json() == second.json() == {"before": ["the pool", "the pool"], "after": False}


async def test_plain_route_without_middleware_has_no_state():
    seen: list[str] = []
    app = create_app()

    @app.get("/plain")
    async def plain() -> dict[str, str]:
        try:
            BaseStateManager.get_state()
        except StateNotAvailable as exc:
            seen.append(str(exc))
        return {}

    async with serve(app) as client:
        response = await client.get("/plain")
    assert response.status_code == 200
    assert "RequestStateMiddleware" in seen[0]
    assert "x-request-id" not in response.headers


# --- lifecycle: nothing survives a request ----------------------------------------------------


def lifecycle_app(*, middleware: bool) -> FastAPI:
    async def authenticate(
        request: Request,
        x_user: str | None = Header(None),
        x_fail: str | None = Header(None),
    ) -> None:
        state = BaseStateManager.get_state()
        state.set("leftover", request.url.path)
        request.state.leftover_too = True
        if x_user:
            BaseStateManager.set_user(PEOPLE[x_user])
        if x_fail == "http":
            raise HTTPException(400, "bad header")
        if x_fail == "crash":
            raise RuntimeError("dependency crashed")

    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(ReadOnlyModelViewSet[Company]):
        model = Company

        @action(detail=False)
        async def probe(self) -> dict[str, Any]:
            return {
                "user": self.user,
                "keys": sorted(self.request.scope.get("state", {})),
                "action": self.state.action,
            }

        @action(methods=["POST"], detail=False, permission_classes=[IsAuthenticated])
        async def members(self) -> dict[str, Any]:
            return {}

        @action(methods=["POST"], detail=False, permission_classes=[IsAdminUser])
        async def admins(self) -> dict[str, Any]:
            return {}

        @action(detail=False)
        async def boom(self) -> dict[str, Any]:
            raise RuntimeError("endpoint crashed")

    app = create_app(router, dependencies=[Depends(authenticate)])
    if middleware:
        app.add_middleware(RequestStateMiddleware)
    return app


FAILURES = [
    pytest.param("POST", "/companies/members", {}, 401, id="401"),
    pytest.param("POST", "/companies/admins", {"x-user": "alice"}, 403, id="403"),
    pytest.param("GET", "/companies/424242", {"x-user": "alice"}, 404, id="404-object"),
    pytest.param("GET", "/companies/not-an-int", {"x-user": "alice"}, 422, id="422"),
    pytest.param("DELETE", "/companies/probe", {"x-user": "alice"}, 405, id="405"),
    pytest.param("GET", "/companies", {"x-user": "alice", "x-fail": "http"}, 400, id="dep-raises"),
    pytest.param("GET", "/companies", {"x-user": "alice", "x-fail": "crash"}, 500, id="dep-crash"),
    pytest.param("GET", "/companies/boom", {"x-user": "alice"}, 500, id="endpoint-500"),
    pytest.param("GET", "/nowhere", {"x-user": "alice"}, 404, id="404-path"),
    pytest.param("GET", "/companies", {"x-user": "root"}, 200, id="200"),
]


@pytest.mark.parametrize("middleware", [False, True], ids=["viewset-route", "middleware"])
@pytest.mark.parametrize(("method", "path", "headers", "status"), FAILURES)
async def test_nothing_survives_a_request(
    middleware: bool, method: str, path: str, headers: dict[str, str], status: int
):
    app = lifecycle_app(middleware=middleware)
    async with serve_isolated(app, raise_app_exceptions=False) as client:
        for _ in range(2):  # one after another in this task, as test clients do
            response = await client.request(method, path, headers=headers)
            assert response.status_code == status, response.text
            assert_closed()
            probe = await client.get("/companies/probe")
            assert_closed()
            assert probe.status_code == 200
            assert probe.json() == {
                "user": None,
                "keys": ["leftover", "leftover_too"],
                "action": "probe",
            }
            # the probe's own data, and nothing else: no user, no key from the failed request
            assert probe.headers["x-request-id"] != response.headers.get("x-request-id")
            # with the middleware every response has a request id; without, those of viewset
            # routes (an unhandled 500 is answered outside of them)
            if middleware or (status != 500 and path != "/nowhere" and status != 405):
                assert response.headers.get_list("x-request-id")


async def test_custom_data_does_not_survive_into_the_next_request_through_serve():
    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(GenericViewSet[Company]):
        model = Company

        @action(methods=["POST"], detail=False)
        async def note(self) -> None:
            self.state.set("only_the_first_request", True)

        @action(detail=False)
        async def probe(self) -> dict[str, bool]:
            return {"leaked": self.state.has("only_the_first_request")}

    async with serve(create_app(router)) as client:
        await client.post("/companies/note")
        probe = await client.get("/companies/probe")
    assert probe.json() == {"leaked": False}


async def test_the_typed_state_example_serves_each_user_their_rows() -> None:
    import importlib

    from tests.utils import tortoise_lifespan

    example = importlib.import_module("docs.examples.state_typing")
    app = example.create_app(lifespan=tortoise_lifespan([example.__name__]))
    async with serve_isolated(app) as client:
        ada = await example.User.create(username="ada")
        await example.Company.create(name="Ada's", owner=ada, is_public=False)
        await example.Company.create(name="Public", is_public=True)
        anonymous = await client.get("/companies")
        mine = await client.get("/companies", headers={"X-User": "ada"})
    assert [c["name"] for c in anonymous.json()] == ["Public"]
    assert [c["name"] for c in mine.json()] == ["Ada's"]


def test_the_typed_state_example_passes_mypy_strict() -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "docs/examples/state_typing.py"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
