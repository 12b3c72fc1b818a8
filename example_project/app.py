"""The application factory: database, routes, request state and logging in one place.

::

    from example_project.app import create_app

    app = create_app()                                  # $DATABASE_URL, else ./example.sqlite3
    app = create_app("postgres://app@localhost/app")    # or any Tortoise URL
    app = create_app("sqlite://:memory:", seed=False)   # an empty API, e.g. for tests

On startup the migrations the database lacks are applied (see :mod:`example_project.db`), and an
empty database gets the demo data (see :mod:`example_project.seed`): users ``alice`` /
``alice-password``, ``bob`` / ``bob-password`` and the admin ``carol`` / ``carol-password``.
Try it::

    python -m example_project
    curl localhost:8000/organisations
    TOKEN=$(curl -s localhost:8000/auth/token -d username=alice -d password=alice-password \\
            | python -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
    curl -H "Authorization: Bearer $TOKEN" localhost:8000/organisations

Every response carries an ``X-Request-ID`` header (the client's, when it sends a safe one), and
every log line of ``example_project`` names the same request id and the user::

    2025-01-01 12:00:00,000 INFO [req 3f2b... user 1] example_project.views: organisation_created
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from tortoise import Tortoise
from tortoise.contrib.fastapi import RegisterTortoise

from fastapi_viewsets import RequestIdLogFilter, RequestStateMiddleware

from . import auth, views
from .db import DEFAULT_DB_URL, MODELS, apply_migrations, database_url, tortoise_config
from .seed import seed_demo_data

__all__ = (
    "DEFAULT_DB_URL",
    "MODELS",
    "configure_logging",
    "create_app",
    "create_worker_app",
    "prepare_database",
)

LOG_FORMAT = "%(asctime)s %(levelname)s [req %(request_id)s user %(user_id)s] %(name)s: %(message)s"

log = logging.getLogger("example_project")


def configure_logging(level: int = logging.INFO) -> None:
    """Send ``example_project``'s logs to stderr with the request id and user on each line.

    Only this package's logger is touched: the host (uvicorn, pytest, your own config) keeps
    the root logger. Calling it again changes nothing.
    """
    log.setLevel(level)
    if any(isinstance(handler, _RequestLogHandler) for handler in log.handlers):
        return
    handler = _RequestLogHandler()
    # On the handler, so records of every example_project.* logger get the attributes before
    # the formatter (and any handler further up, such as pytest's caplog) reads them.
    handler.addFilter(RequestIdLogFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    log.addHandler(handler)


class _RequestLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stderr handler; its own class so configure_logging() can tell it is installed."""


def create_app(db_url: str | None = None, *, migrate: bool = True, seed: bool = True) -> FastAPI:
    """The example API on ``db_url`` (else ``$DATABASE_URL``, else ``./example.sqlite3``).

    ``migrate=False`` leaves the schema alone: for several workers, whose migrations are
    applied once before they start (``tortoise -c example_project.db.TORTOISE_ORM migrate``).
    """
    url = database_url(db_url)
    configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        auth.warn_if_development_key()
        async with RegisterTortoise(app, config=tortoise_config(url)):
            if migrate:
                await apply_migrations()
            if seed:
                await seed_demo_data()
            yield

    # FastAPIOffline: FastAPI whose /docs and /redoc load Swagger UI and ReDoc from files the
    # fastapi-offline package ships, served by this app, not from a CDN: they work offline.
    app = FastAPIOffline(
        title="fastapi_viewsets example",
        summary="Users, organisations, projects and tasks.",
        lifespan=lifespan,
    )
    # The request state (and X-Request-ID) for every route, the login route included, which
    # is no viewset's.
    app.add_middleware(RequestStateMiddleware)
    # The login route reads no token, so it declares none: Swagger UI draws no padlock on it.
    app.include_router(auth.router)
    for router in views.routers:
        # Every viewset route learns who is calling from the bearer token (or that no one is).
        app.include_router(router, dependencies=[Depends(auth.get_current_user)])
    return app


async def prepare_database(db_url: str | None = None) -> None:
    """Apply the migrations and write the demo data once, before several workers start: each
    worker's :func:`create_worker_app` then leaves the schema and the data alone."""
    await Tortoise.init(config=tortoise_config(db_url))
    try:
        await apply_migrations()
        await seed_demo_data()
    finally:
        await Tortoise.close_connections()


def create_worker_app() -> FastAPI:
    """The app of one worker among several (``uvicorn --factory --workers N``), on a database
    that :func:`prepare_database` (or ``tortoise migrate``) has prepared."""
    return create_app(migrate=False, seed=False)
