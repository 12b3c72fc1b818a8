"""Building and serving a fresh app per test, on SQLite or on TORTOISE_TEST_DB."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send
from tortoise import Tortoise, connections
from tortoise.contrib.fastapi import RegisterTortoise
from tortoise.contrib.test import truncate_all_models
from tortoise.models import Model

DB_URL = os.environ.get("TORTOISE_TEST_DB") or "sqlite://:memory:"
IS_POSTGRES = DB_URL.startswith(("postgres", "asyncpg", "psycopg"))
MODELS = ("tests.models",)


def name_example_tables() -> None:
    """Give each model of ``docs/examples/`` a table of its own, ``t_doc_<example>_<model>``.

    The examples read as the code a user writes, so their models keep Tortoise's default
    table names (``company``, ``owner``...). Many of them declare a ``Company``, and on
    PostgreSQL every test shares one database, with the library's ``t_`` tables and the example
    project's ``user``, ``project``...: so the tests name the examples' tables here, as a
    ``class Meta: table = ...`` would, before any of their models meets ``Tortoise.init``:
    conftest.py calls this before each test, and each app of ``create_app`` as it starts. A
    model that has a table name already (its ``Meta`` gives one, or it was named before) keeps
    it.
    """
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("docs.examples."):
            continue
        example = module_name.rpartition(".")[2]
        for value in list(vars(module).values()):
            if (
                isinstance(value, type)
                and issubclass(value, Model)
                and value.__module__ == module_name
                and not value._meta.abstract
                and not value._meta.db_table
            ):
                value._meta.db_table = f"t_doc_{example}_{value.__name__.lower()}"


# On PostgreSQL the tables outlive an app; they are rebuilt once per model set and per run.
_fresh_schemas: set[tuple[str, ...]] = set()


async def prepare_database(modules: Sequence[str]) -> None:
    key = tuple(modules)
    if not IS_POSTGRES:
        await Tortoise.generate_schemas()
        return
    if key not in _fresh_schemas:
        connection = connections.get("default")
        for app in Tortoise.apps.values():
            for model in app.values():
                await connection.execute_script(
                    f'DROP TABLE IF EXISTS "{model._meta.db_table}" CASCADE'
                )
                for field in model._meta.m2m_fields:
                    through = model._meta.fields_map[field].through  # type: ignore[attr-defined]
                    await connection.execute_script(f'DROP TABLE IF EXISTS "{through}" CASCADE')
        await Tortoise.generate_schemas(safe=True)
        _fresh_schemas.add(key)
    else:
        await truncate_all_models()


def tortoise_lifespan(modules: Sequence[str] = MODELS, db_url: str = DB_URL) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        name_example_tables()  # an example imported by the test itself, too
        async with RegisterTortoise(app, db_url=db_url, modules={"models": list(modules)}):
            await prepare_database(modules)
            yield

    return lifespan


def create_app(*routers: APIRouter, modules: Sequence[str] = MODELS, **kwargs: Any) -> FastAPI:
    app = FastAPI(lifespan=tortoise_lifespan(modules), **kwargs)
    for router in routers:
        app.include_router(router)
    return app


def copy_lifespan_state(app: ASGIApp) -> ASGIApp:
    """Give each request its own shallow copy of the lifespan state, as the ASGI spec asks of
    servers (uvicorn does). asgi-lifespan hands every request the one dict, so without this
    ``request.state`` would be shared by all requests of a test."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and "state" in scope:
            scope = {**scope, "state": dict(scope["state"])}
        await app(scope, receive, send)

    return wrapped


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan and give an HTTP client that talks to it in-process."""
    # Inside the manager, which is what puts the one lifespan dict into every request's scope.
    async with LifespanManager(copy_lifespan_state(app)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def query_parameters(operation: dict[str, Any]) -> list[dict[str, Any]]:
    """An OpenAPI operation's parameters other than its headers (If-None-Match, If-Match)."""
    return [p for p in operation.get("parameters", []) if p["in"] != "header"]
