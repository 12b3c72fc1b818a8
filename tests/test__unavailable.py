"""A database that cannot be reached answers 503 with ``Retry-After`` and ``X-Request-ID``, not a
500 with a traceback: nothing half-written stays, the error is logged once, and the next requests
succeed. A SQL error, or an ``OSError`` of the application's own, stays a 500.

On PostgreSQL the app's sessions are really terminated (``pg_terminate_backend``) while requests
run, and a transaction whose BEGIN fails on a terminated connection gives it back to the pool;
on SQLite, a file another connection keeps locked. The driver errors of the rest are raised
from a hook, as the driver raises them."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict
from tortoise import connections
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.contrib.fastapi import RegisterTortoise
from tortoise.exceptions import DBConnectionError, OperationalError

from fastapi_viewsets import ModelViewSet, RequestIdLogFilter, action, viewset
from tests.models import Company
from tests.processes import free_port, postgres
from tests.utils import IS_POSTGRES, MODELS, copy_lifespan_state, tortoise_lifespan

DETAIL = "The database cannot be reached right now. Try again later."
TRACEBACK_WORDS = ("Traceback", "File ", "asyncpg", "sqlite", "tortoise", "Error", "pg_sleep")


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class CompanyWrite(BaseModel):
    name: str


class Pair(BaseModel):
    first: str
    second: str
    sleep: float = 0


Failure = Callable[[], Awaitable[None]]


async def no_failure() -> None:
    return None


def failing_router(failure: Failure = no_failure, retry_after: int = 5) -> APIRouter:
    """A viewset whose hooks run ``failure``: the tests make it raise a driver's error."""
    router = APIRouter(prefix="/companies")

    @viewset(router)
    class CompanyViewSet(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite
        database_retry_after = retry_after

        async def perform_create(self, obj: Company) -> Company:
            await obj.save()
            await failure()  # after the row is written, inside the transaction
            return obj

        @action(detail=False, methods=["GET"])
        async def probe(self) -> dict[str, bool]:
            await failure()
            return {"ok": True}

        @action(detail=False, methods=["GET"], url_path="bad-sql")
        async def bad_sql(self) -> None:
            await connections.get("default").execute_query("SELEC 1")

        @action(detail=False, methods=["POST"])
        async def pair(self, data: Pair) -> dict[str, bool]:
            """Two rows in one transaction, with the database sleeping between them."""
            async with self.atomic():
                await Company.create(name=data.first)
                if data.sleep:
                    # Inside the transaction, so on its connection.
                    await connections.get("default").execute_query(f"SELECT pg_sleep({data.sleep})")
                await Company.create(name=data.second)
            return {"ok": True}

        @action(detail=False, methods=["GET"])
        async def sleep(self) -> dict[str, bool]:
            await connections.get("default").execute_query("SELECT pg_sleep(20)")
            return {"ok": True}

    return router


@asynccontextmanager
async def serve_answering_500(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``tests.utils.serve``, but an unhandled error is answered 500, as a server does,
    instead of being raised into the test."""
    async with LifespanManager(copy_lifespan_state(app)) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def app_with(
    failure: Failure = no_failure, *, db_url: str | None = None, retry_after: int = 5
) -> FastAPI:
    lifespan = tortoise_lifespan(MODELS) if db_url is None else tortoise_lifespan(MODELS, db_url)
    app = FastAPI(lifespan=lifespan)
    app.include_router(failing_router(failure, retry_after))
    return app


def assert_503(response: httpx.Response, retry_after: str = "5") -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {"detail": DETAIL}
    assert response.headers["retry-after"] == retry_after
    assert response.headers["x-request-id"]
    for word in TRACEBACK_WORDS:
        assert word not in response.text, word


@contextmanager
def warnings_logged() -> Iterator[list[logging.LogRecord]]:
    """The WARNING records of the ``fastapi_viewsets`` logger, each through
    ``RequestIdLogFilter`` as an app's handler would have it."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.WARNING)
    handler.addFilter(RequestIdLogFilter())
    logger = logging.getLogger("fastapi_viewsets")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def raising(make: Callable[[], BaseException]) -> Failure:
    async def fail() -> None:
        raise make()

    return fail


async def rollback_after_loss() -> None:
    """A transaction's rollback on the connection the server terminated, as Tortoise's
    transaction raises it: the rollback's error, the loss as its context."""
    try:
        raise asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        )
    except asyncpg.exceptions.AdminShutdownError:
        raise asyncpg.exceptions.InterfaceError(  # noqa: B904
            "cannot call Transaction.rollback(): the underlying connection is closed"
        )


async def refused_connect() -> None:
    """What asyncpg raises when nothing listens where the database should be."""
    await asyncpg.connect(host="127.0.0.1", port=free_port(), user="x", timeout=5)


async def refused_pool() -> None:
    """The same, through Tortoise's client, as its pool opens its first connection."""
    client = AsyncpgDBClient(
        connection_name="down", host="127.0.0.1", port=free_port(), user="x", database="x"
    )
    await client.execute_query("SELECT 1")


def locked(message: str) -> OperationalError:
    # As Tortoise's SQLite client raises it: the sqlite3 error as its argument.
    return OperationalError(sqlite3.OperationalError(message))


UNAVAILABLE: dict[str, Failure] = {
    "terminated-mid-query": raising(
        lambda: asyncpg.exceptions.ConnectionDoesNotExistError(
            "connection was closed in the middle of operation"
        )
    ),
    "admin-shutdown": raising(
        lambda: asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        )
    ),
    "starting-up": raising(
        lambda: asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    ),
    "too-many-connections": raising(
        lambda: asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")
    ),
    "closed-connection": raising(
        lambda: asyncpg.exceptions.InterfaceError(
            "cannot call Transaction.rollback(): the underlying connection is closed"
        )
    ),
    "terminated-while-idle": raising(
        lambda: asyncpg.exceptions.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        )
    ),
    "tortoise-cannot-connect": raising(
        lambda: DBConnectionError("Can't establish connection to database x")
    ),
    "sqlite-locked": raising(lambda: locked("database is locked")),
    "connection-refused": refused_connect,
    "tortoise-pool-refused": refused_pool,
}

STILL_500: dict[str, Failure] = {
    "asyncpg-misuse": raising(
        lambda: asyncpg.exceptions.InterfaceError(
            "cannot perform operation: another operation is in progress"
        )
    ),
    "asyncpg-bug": raising(
        lambda: asyncpg.exceptions.InternalClientError("got result for unknown protocol state 3")
    ),
    "syntax-error": raising(
        lambda: asyncpg.exceptions.PostgresSyntaxError('syntax error at or near "SELEC"')
    ),
    "statement-timeout": raising(
        lambda: asyncpg.exceptions.QueryCanceledError(
            "canceling statement due to statement timeout"
        )
    ),
    "sqlite-no-table": raising(lambda: locked("no such table: t_missing")),
    "apps-own-file-error": raising(lambda: FileNotFoundError(2, "No such file", "/missing")),
    "apps-own-refused": raising(lambda: ConnectionRefusedError(111, "Connection refused")),
    "apps-own-timeout": raising(lambda: TimeoutError()),
}


# --- which errors are a 503 -------------------------------------------------------------------


@pytest.mark.parametrize("failure", UNAVAILABLE.values(), ids=UNAVAILABLE.keys())
async def test_a_database_that_cannot_be_reached_is_a_503_with_retry_after(
    failure: Failure,
) -> None:
    async with serve_answering_500(app_with(failure)) as client:
        response = await client.get("/companies/probe")
    assert_503(response)


@pytest.mark.parametrize("failure", STILL_500.values(), ids=STILL_500.keys())
async def test_other_errors_stay_500(failure: Failure) -> None:
    async with serve_answering_500(app_with(failure)) as client:
        response = await client.get("/companies/probe")
    assert response.status_code == 500


async def test_a_sql_error_from_the_database_stays_500() -> None:
    async with serve_answering_500(app_with()) as client:
        response = await client.get("/companies/bad-sql")
        assert response.status_code == 500
        # Nothing is broken for the next request.
        assert (await client.get("/companies")).status_code == 200


async def test_a_write_that_fails_writes_nothing_and_the_next_one_succeeds() -> None:
    failures = [UNAVAILABLE["terminated-mid-query"]]

    async def once() -> None:
        if failures:
            await failures.pop()()

    async with serve_answering_500(app_with(once)) as client:
        refused = await client.post("/companies", json={"name": "acme"})
        assert_503(refused)
        # perform_create had saved the row before the error: rolled back with it.
        assert await Company.filter(name="acme").count() == 0
        created = await client.post("/companies", json={"name": "acme"})
        assert created.status_code == 201, created.text
        assert (await client.get("/companies")).json() == [created.json()]


async def test_a_retry_with_the_same_idempotency_key_runs_again() -> None:
    failures = [UNAVAILABLE["terminated-mid-query"]]

    async def once() -> None:
        if failures:
            await failures.pop()()

    key = {"Idempotency-Key": "4a3c1e4e-3f6b-4a55-9d1e-0a7f2b6c9d10"}
    async with serve_answering_500(app_with(once)) as client:
        assert_503(await client.post("/companies", json={"name": "acme"}, headers=key))
        # A 5xx answer is not kept: the retry runs, and this time writes.
        retried = await client.post("/companies", json={"name": "acme"}, headers=key)
        assert retried.status_code == 201, retried.text
        assert "idempotent-replayed" not in retried.headers
        assert await Company.filter(name="acme").count() == 1


async def test_retry_after_is_the_viewsets_database_retry_after() -> None:
    app = app_with(UNAVAILABLE["admin-shutdown"], retry_after=30)
    async with serve_answering_500(app) as client:
        response = await client.get("/companies/probe")
    assert_503(response, retry_after="30")


async def test_the_503_is_logged_once_at_warning_with_the_request_id() -> None:
    with warnings_logged() as records:
        async with serve_answering_500(app_with(rollback_after_loss)) as client:
            response = await client.get("/companies/probe", headers={"X-Request-ID": "req-42"})
    assert_503(response)
    assert response.headers["x-request-id"] == "req-42"
    assert len(records) == 1
    (record,) = records
    assert record.levelno == logging.WARNING
    assert record.request_id == "req-42"  # type: ignore[attr-defined]
    message = record.getMessage()
    assert "req-42" in message
    # The loss itself, not the rollback that failed after it.
    assert "AdminShutdownError: terminating connection due to administrator command" in message
    assert record.exc_info is None


async def test_the_apps_own_routes_keep_their_500() -> None:
    app = app_with()

    @app.get("/own")
    async def own() -> None:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    async with serve_answering_500(app) as client:
        assert (await client.get("/own")).status_code == 500


# --- SQLite: a file another connection keeps locked -----------------------------------------


@pytest.mark.skipif(IS_POSTGRES, reason="a SQLite file's write lock; PostgreSQL has none such")
async def test_sqlite_locked_by_another_process_is_503_until_the_lock_is_released(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite3"
    app = app_with(db_url=f"sqlite://{path}?busy_timeout=100")
    async with serve_answering_500(app) as client:
        assert (await client.post("/companies", json={"name": "before"})).status_code == 201
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process's write transaction
            refused = await client.post("/companies/pair", json={"first": "a", "second": "b"})
            assert_503(refused)
            assert (await client.post("/companies", json={"name": "c"})).status_code == 503
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert (await client.post("/companies", json={"name": "after"})).status_code == 201
        names = [c["name"] for c in (await client.get("/companies")).json()]
    assert names == ["before", "after"]


# --- PostgreSQL: the app's sessions terminated under load -----------------------------------


TERMINATE = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
SLEEPING = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND state = 'active' AND query LIKE 'SELECT pg_sleep(%'"
)


async def until_sleeping(admin: asyncpg.Connection, count: int) -> None:
    """Until ``count`` of the app's requests are held in ``pg_sleep``."""
    while True:
        if await admin.fetchval(SLEEPING) >= count:
            return
        await asyncio.sleep(0.02)


def asyncpg_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


@pytest.mark.skipif(
    not IS_POSTGRES,
    reason="terminating the app's sessions needs PostgreSQL (pg_terminate_backend): set "
    "TORTOISE_TEST_DB to a PostgreSQL URL",
)
async def test_terminated_sessions_answer_503_and_the_next_requests_succeed(
    database_url: str,
) -> None:
    # A database of the test's own: terminating its sessions touches no one else's.
    app = FastAPI(lifespan=own_tables(database_url))
    app.include_router(failing_router())
    admin = await asyncpg.connect(asyncpg_url(database_url))
    try:
        with warnings_logged() as records:
            async with serve_answering_500(app) as client:
                for i in range(3):
                    created = await client.post("/companies", json={"name": f"before-{i}"})
                    assert created.status_code == 201

                sleeping = asyncio.ensure_future(client.get("/companies/sleep"))
                half = asyncio.ensure_future(
                    client.post(
                        "/companies/pair", json={"first": "half-1", "second": "half-2", "sleep": 20}
                    )
                )
                await asyncio.wait_for(until_sleeping(admin, 2), 10)
                burst = [
                    asyncio.ensure_future(
                        client.post("/companies", json={"name": f"burst-{i}"})
                        if i % 2
                        else client.get("/companies")
                    )
                    for i in range(12)
                ]
                await asyncio.sleep(0)  # the burst's requests are on their way
                terminated = await admin.fetch(TERMINATE)
                assert len(terminated) >= 2
                answers = await asyncio.wait_for(asyncio.gather(sleeping, half, *burst), 15)

                # The requests held in the database lost their sessions: 503s.
                assert_503(answers[0])
                assert_503(answers[1])
                # The burst: each answered, or refused in the same way; never a 500.
                for answer in answers[2:]:
                    if answer.status_code == 503:
                        assert_503(answer)
                    else:
                        assert answer.status_code in (200, 201), answer.text

                # The next requests succeed, on new sessions.
                listed = await client.get("/companies")
                assert listed.status_code == 200, listed.text
                created = await client.post("/companies", json={"name": "after"})
                assert created.status_code == 201, created.text
                retrieved = await client.get(f"/companies/{created.json()['id']}")
                assert retrieved.status_code == 200, retrieved.text
                paired = await client.post(
                    "/companies/pair", json={"first": "whole-1", "second": "whole-2"}
                )
                assert paired.status_code == 200, paired.text

                names = {c["name"] for c in (await client.get("/companies")).json()}
    finally:
        await admin.close()

    # The pair that lost its session in the middle left neither of its rows.
    assert not names & {"half-1", "half-2"}
    assert {"before-0", "before-1", "before-2", "after", "whole-1", "whole-2"} <= names
    for i, answer in enumerate(answers[2:]):
        if answer.status_code == 201:
            assert f"burst-{i}" in names
    # One warning a 503, naming its request.
    refused = [a.headers["x-request-id"] for a in answers if a.status_code == 503]
    assert sorted(r.request_id for r in records) == sorted(refused)  # type: ignore[attr-defined]


@pytest.mark.skipif(
    not IS_POSTGRES,
    reason="terminating the app's sessions needs PostgreSQL (pg_terminate_backend): set "
    "TORTOISE_TEST_DB to a PostgreSQL URL",
)
async def test_a_transaction_that_cannot_begin_gives_its_connection_back(
    database_url: str,
) -> None:
    # A pool of one connection: one that a failed BEGIN kept would leave none for the next
    # request, which would wait forever.
    app = FastAPI(lifespan=own_tables(f"{database_url}?minsize=1&maxsize=1"))
    app.include_router(failing_router())
    async with serve_answering_500(app) as client:
        assert (await client.get("/companies")).status_code == 200
        for i in range(3):
            # Terminated while the app's loop is blocked; one turn of the loop then reads the
            # server's goodbye but not yet the end of the stream, so the pooled connection is
            # still taken for the transaction, whose BEGIN fails.
            terminate_blocking(database_url)
            await asyncio.sleep(0)
            refused = await client.post(
                "/companies/pair", json={"first": f"begun-{i}", "second": f"never-{i}"}
            )
            assert_503(refused)
            listed = await asyncio.wait_for(client.get("/companies"), 5)
            assert listed.status_code == 200, listed.text
            assert not {c["name"] for c in listed.json()} & {f"begun-{i}", f"never-{i}"}
        paired = await client.post("/companies/pair", json={"first": "one", "second": "two"})
        assert paired.status_code == 200, paired.text


def terminate_blocking(db_url: str) -> None:
    """Terminate the app's sessions from another thread, the test's loop standing still."""
    thread = threading.Thread(target=postgres, args=(asyncpg_url(db_url), TERMINATE))
    thread.start()
    thread.join()


def own_tables(db_url: str) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with RegisterTortoise(
            app, db_url=db_url, modules={"models": list(MODELS)}, generate_schemas=True
        ):
            yield

    return lifespan
