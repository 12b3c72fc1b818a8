"""Hundreds of concurrent requests from many users: each one sees only its own state.

The handlers await at random points, so requests interleave everywhere: in dependencies (async
and sync, in the thread pool), in the viewset, deep in the call stack and in background tasks.
Run through the ASGI app in process, and through a real uvicorn server over TCP.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Header, Request

from fastapi_viewsets import (
    BaseStateManager,
    GenericViewSet,
    IsAuthenticated,
    RequestStateMiddleware,
    action,
    viewset,
)
from tests.models import Company, User
from tests.test_state import assert_closed, is_uuid4, serve_isolated
from tests.utils import create_app, serve

USERS = 25
PER_USER = 21  # 525 requests
RNG = random.Random(20240601)


async def pause() -> None:
    await asyncio.sleep(RNG.random() * 0.004)


class TenantState(BaseStateManager[User]):
    @property
    def username(self) -> str | None:
        return self.user.username if self.user else None


async def deep_in_the_call_stack() -> dict[str, Any]:
    await pause()
    state = TenantState.get_state()
    await pause()
    return {"user": state.username, "nonce": state.get("nonce"), "request_id": state.request_id}


class InFlight:
    """How many requests were between their first dependency and their answer at once."""

    def __init__(self) -> None:
        self.now = self.peak = 0

    def enter(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        self.now -= 1


class Background(list[tuple[str, Any, str]]):
    """What the background tasks saw; ``settled()`` waits until all of them ran."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.done = asyncio.Event()
        self.in_flight = InFlight()

    def append(self, item: tuple[str, Any, str]) -> None:
        super().append(item)
        if len(self) >= self.expected:
            self.done.set()

    async def settled(self) -> None:
        async with asyncio.timeout(10):
            await self.done.wait()


def concurrent_app(background: Background, *, middleware: bool) -> FastAPI:
    async def authenticate(
        request: Request, authorization: str = Header(), x_nonce: str = Header()
    ) -> None:
        state = BaseStateManager.get_state()
        background.in_flight.enter()
        await pause()
        user = await User.get(username=authorization.removeprefix("Bearer "))
        await pause()
        BaseStateManager.set_user(user)
        state.set("nonce", x_nonce)
        await pause()
        request.state.nonce_via_request_state = x_nonce

    def in_a_worker_thread(x_nonce: str = Header()) -> None:
        state = BaseStateManager.get_state()
        if state.get("nonce") == x_nonce:
            state.set("thread_saw", state.user.username)

    async def remember(nonce: str) -> None:
        await pause()
        state = TenantState.get_state()
        background.append((nonce, state.username, state.request_id))

    async def answer(request: Request, tasks: BackgroundTasks) -> dict[str, Any]:
        state = TenantState.get_state()
        await pause()
        deep = await deep_in_the_call_stack()
        await pause()
        tasks.add_task(remember, state.get("nonce"))
        background.in_flight.leave()
        return {
            "user": state.username,
            "nonce": state.get("nonce"),
            "via_request_state": request.state.nonce_via_request_state,
            "thread_saw": state.get("thread_saw"),
            "request_id": state.request_id,
            "deep": deep,
        }

    router = APIRouter(prefix="/companies", dependencies=[Depends(in_a_worker_thread)])

    @viewset(router)
    class CompanyViewSet(GenericViewSet[Company]):
        model = Company
        state_class = TenantState
        permission_classes = (IsAuthenticated,)

        @action(detail=False)
        async def whoami(self, tasks: BackgroundTasks) -> dict[str, Any]:
            assert self.state is TenantState.get_state()
            await pause()
            assert self.user is self.state.user
            return await answer(self.request, tasks)

    app = create_app(router, dependencies=[Depends(authenticate)])

    @app.get("/plain/whoami", dependencies=[Depends(in_a_worker_thread)])
    async def plain_whoami(request: Request, tasks: BackgroundTasks) -> dict[str, Any]:
        return await answer(request, tasks)

    if middleware:
        app.add_middleware(RequestStateMiddleware)
    return app


def plan(*, middleware: bool) -> list[dict[str, Any]]:
    requests = []
    for n in range(USERS * PER_USER):
        user = f"user{n % USERS:02d}"
        headers = {"authorization": f"Bearer {user}", "x-nonce": f"nonce-{n}"}
        if n % 3 == 0:
            headers["x-request-id"] = f"client-{n}"
        path = "/plain/whoami" if middleware and n % 2 else "/companies/whoami"
        requests.append({"user": user, "nonce": f"nonce-{n}", "headers": headers, "path": path})
    return requests


async def create_users() -> None:
    await User.bulk_create([User(username=f"user{i:02d}") for i in range(USERS)])


async def fire(client: httpx.AsyncClient, requests: list[dict[str, Any]]) -> list[httpx.Response]:
    async with asyncio.timeout(120):
        return await asyncio.gather(
            *(client.get(r["path"], headers=r["headers"]) for r in requests)
        )


def check(
    requests: list[dict[str, Any]],
    responses: list[httpx.Response],
    background: Background,
    *,
    min_peak: int,
) -> None:
    assert len(requests) >= 500
    # the requests really overlapped: this many were inside the app at the same time
    assert background.in_flight.peak >= min_peak
    ids = set()
    for sent, response in zip(requests, responses, strict=True):
        assert response.status_code == 200, response.text
        request_id = response.headers["x-request-id"]
        if "x-request-id" in sent["headers"]:
            assert request_id == sent["headers"]["x-request-id"]
        else:
            assert is_uuid4(request_id)
        ids.add(request_id)
        assert response.json() == {
            "user": sent["user"],
            "nonce": sent["nonce"],
            "via_request_state": sent["nonce"],
            "thread_saw": sent["user"],
            "request_id": request_id,
            "deep": {"user": sent["user"], "nonce": sent["nonce"], "request_id": request_id},
        }
    assert len(ids) == len(requests)
    expected = {
        (r["nonce"], r["user"], resp.headers["x-request-id"])
        for r, resp in zip(requests, responses, strict=True)
    }
    assert set(background) == expected
    assert len(background) == len(requests)


@pytest.mark.parametrize("middleware", [False, True], ids=["viewset-route", "middleware"])
async def test_concurrent_requests_through_the_asgi_app(middleware: bool):
    requests = plan(middleware=middleware)
    background = Background(len(requests))
    app = concurrent_app(background, middleware=middleware)
    async with serve_isolated(app) as client:
        await create_users()
        responses = await fire(client, requests)
    assert_closed()
    check(requests, responses, background, min_peak=400)


async def test_concurrent_requests_through_serve():
    requests = plan(middleware=False)
    background = Background(len(requests))
    app = concurrent_app(background, middleware=False)
    async with serve(app) as client:
        await create_users()
        responses = await fire(client, requests)
    check(requests, responses, background, min_peak=400)


@asynccontextmanager
async def run_uvicorn(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1, in a task; stop it at the end."""
    # IPPROTO_TCP, as uvicorn's own sockets: asyncio only sets TCP_NODELAY on such sockets.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False, ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(15):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


@pytest.mark.parametrize("middleware", [False, True], ids=["viewset-route", "middleware"])
async def test_concurrent_requests_through_uvicorn(middleware: bool):
    requests = plan(middleware=middleware)
    background = Background(len(requests))
    app = concurrent_app(background, middleware=middleware)
    async with run_uvicorn(app) as base_url:
        await create_users()
        # one connection per request: all of them in flight at once
        limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
            responses = await fire(client, requests)
        await background.settled()
    assert_closed()
    check(requests, responses, background, min_peak=200)
