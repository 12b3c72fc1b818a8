"""``RequestIdLogFilter``: the request id and the user's id on every record made in a request."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import APIRouter, BackgroundTasks, Depends, Header, Request

from fastapi_viewsets import (
    BaseStateManager,
    GenericViewSet,
    RequestIdLogFilter,
    RequestStateMiddleware,
    action,
    viewset,
)
from fastapi_viewsets.testing import request_state
from tests.models import Company, User
from tests.test_state import Person, assert_closed, serve_isolated
from tests.utils import create_app

logger = logging.getLogger("tests.state.log")


class Records(logging.Handler):
    """A handler with the filter, as the docs set it up."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(RequestIdLogFilter())
        self.setFormatter(logging.Formatter("%(request_id)s %(user_id)s %(message)s"))
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))

    def by_message(self) -> dict[str, tuple[Any, Any]]:
        return {r.getMessage(): (r.request_id, r.user_id) for r in self.records}  # type: ignore[attr-defined]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_outside_a_request_both_are_a_dash(records: Records):
    assert_closed()
    logger.info("no request")
    assert records.lines == ["- - no request"]


class PkOnly:
    pk = 11


@pytest.mark.parametrize(
    ("user", "user_id"),
    [
        (None, "-"),
        ({"id": 1, "username": "john"}, 1),
        ({"username": "john"}, "-"),
        (Person(7, "alice"), 7),
        (SimpleNamespace(id="u-9"), "u-9"),
        (PkOnly(), 11),
        (object(), "-"),
    ],
)
def test_user_id(records: Records, user: Any, user_id: Any):
    with request_state(user=user, request_id="job-1"):
        logger.info("in a state")
    assert records.by_message() == {"in a state": ("job-1", user_id)}
    assert records.lines == [f"job-1 {user_id} in a state"]


def test_the_filter_never_drops_a_record_and_works_on_loggers(records: Records):
    log_filter = RequestIdLogFilter()
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "m", None, None)
    assert log_filter.filter(record) is True
    assert (record.request_id, record.user_id) == ("-", "-")  # type: ignore[attr-defined]
    logger.addFilter(log_filter)
    try:
        with request_state(user={"id": 3}, request_id="rid") as state:
            logger.warning("on the logger")
            BaseStateManager.set_user(None)
            logger.warning("anonymous now")
            assert state.user is None
    finally:
        logger.removeFilter(log_filter)
    assert records.by_message() == {"on the logger": ("rid", 3), "anonymous now": ("rid", "-")}


def logging_app(*, middleware: bool) -> Any:
    async def authenticate(x_user: str = Header()) -> None:
        logger.info("app dependency, before the user")
        BaseStateManager.set_user(await User.get(username=x_user))
        logger.info("app dependency, after the user")

    def sync_dependency() -> None:
        assert threading.current_thread() is not threading.main_thread()
        logger.info("sync dependency")

    def sync_task() -> None:
        logger.info("background task (sync)")

    async def task() -> None:
        logger.info("background task (async)")

    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(GenericViewSet[Company]):
        model = Company

        @action(detail=False)
        async def work(self, tasks: BackgroundTasks, n: int) -> dict[str, Any]:
            await asyncio.sleep(0.001 * (n % 3))
            logger.info("viewset %s", n)
            tasks.add_task(task)
            tasks.add_task(sync_task)
            return {"n": n}

    app = create_app(router, dependencies=[Depends(authenticate), Depends(sync_dependency)])
    if middleware:

        @app.middleware("http")
        async def log_around(request: Request, call_next: Any) -> Any:
            logger.info("middleware, before")
            response = await call_next(request)
            logger.info("middleware, after")
            return response

        app.add_middleware(RequestStateMiddleware)
    return app


@pytest.mark.parametrize("middleware", [False, True], ids=["viewset-route", "middleware"])
async def test_records_made_during_a_request(records: Records, middleware: bool):
    app = logging_app(middleware=middleware)
    async with serve_isolated(app) as client:
        alice = await User.create(username="alice")
        response = await client.get("/companies/work", params={"n": 1}, headers={"x-user": "alice"})
    assert response.status_code == 200, response.text
    logger.info("after the request")
    rid = response.headers["x-request-id"]
    expected = {
        "app dependency, before the user": (rid, "-"),
        "app dependency, after the user": (rid, alice.id),
        "sync dependency": (rid, alice.id),
        "viewset 1": (rid, alice.id),
        "background task (async)": (rid, alice.id),
        "background task (sync)": (rid, alice.id),
        "after the request": ("-", "-"),
    }
    if middleware:
        expected["middleware, before"] = (rid, "-")
        expected["middleware, after"] = (rid, alice.id)
    assert records.by_message() == expected
    assert f"{rid} {alice.id} viewset 1" in records.lines


async def test_concurrent_requests_log_their_own_ids(records: Records):
    app = logging_app(middleware=True)
    async with serve_isolated(app) as client:
        users = [await User.create(username=f"user{i}") for i in range(5)]
        responses = await asyncio.gather(
            *(
                client.get(
                    "/companies/work",
                    params={"n": n},
                    headers={"x-user": users[n % 5].username},
                )
                for n in range(40)
            )
        )
    for n, response in enumerate(responses):
        assert response.status_code == 200, response.text
        rid = response.headers["x-request-id"]
        mine = [r for r in records.records if r.request_id == rid]  # type: ignore[attr-defined]
        assert len(mine) == 8
        assert f"viewset {n}" in {r.getMessage() for r in mine}
        assert {r.user_id for r in mine if "before" not in r.getMessage()} == {  # type: ignore[attr-defined]
            users[n % 5].id
        }
