"""An app served by real uvicorn processes in tests/test_throttling_processes.py.

Every process serving it counts its throttles in the store ``FASTAPI_VIEWSETS_STORE`` names
(a Redis, the same one for all of them) and reads the database ``TEST_SERVER_DB_URL`` names.
Only a process started with ``TEST_SERVER_GENERATE_SCHEMAS=1`` creates the tables, so that two
processes never race on ``CREATE TABLE`` (see tests/processes.py).

Routes (each the ``list`` of a read-only viewset over ``Company``):

- ``/user-limited``: ``UserRateThrottle("5/minute")``;
- ``/anon-limited``: ``AnonRateThrottle("5/minute")``;
- ``/scoped``: a ``ScopedRateThrottle`` with ``rates = {"reports": "5/minute"}``;
- ``/free``: no throttles;
- ``/fixed-window``, ``/sliding-window``: a ``UserRateThrottle`` of 5/minute counted with the
  fixed window (scope ``fixed``), the sliding window counter (scope ``sliding``);
- ``/user-fixed``: the scope and rate of ``/user-limited`` (``user``, 5/minute), counted with
  the fixed window;
- ``/allow``, ``/refuse``: a ``UserRateThrottle`` of 5/minute whose ``on_store_error`` is
  ``"allow"`` (the default; scope ``allow``), ``"refuse"`` (scope ``refuse``).

The user is the ``X-User`` header (``{"id": value}``), anonymous without it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header
from pydantic import BaseModel, ConfigDict
from tortoise import Tortoise
from tortoise.contrib.fastapi import RegisterTortoise

from fastapi_viewsets import (
    AnonRateThrottle,
    BaseStateManager,
    ReadOnlyModelViewSet,
    ScopedRateThrottle,
    UserRateThrottle,
    viewset,
)
from tests.models import Company

DB_URL = os.environ.get("TEST_SERVER_DB_URL") or "sqlite://:memory:"
GENERATE_SCHEMAS = os.environ.get("TEST_SERVER_GENERATE_SCHEMAS") == "1"
RATE = "5/minute"


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


async def user_from_header(x_user: Annotated[str | None, Header()] = None) -> None:
    BaseStateManager.set_user({"id": x_user} if x_user else None)


class ReportsThrottle(ScopedRateThrottle):
    rates = {"reports": RATE}


class AllowWhenStoreIsDown(UserRateThrottle):
    rate = RATE
    scope = "allow"


class RefuseWhenStoreIsDown(UserRateThrottle):
    rate = RATE
    scope = "refuse"
    on_store_error = "refuse"


class FixedWindow(UserRateThrottle):
    rate = RATE
    scope = "fixed"
    strategy = "fixed-window"


class SlidingWindow(UserRateThrottle):
    rate = RATE
    scope = "sliding"
    strategy = "sliding-window-counter"


class UserFixedWindow(UserRateThrottle):
    """The scope and rate of ``UserRateThrottle(RATE)``, counted with another strategy."""

    rate = RATE
    strategy = "fixed-window"


def _router(path: str) -> APIRouter:
    return APIRouter(prefix=path, dependencies=[Depends(user_from_header)])


user_limited = _router("/user-limited")
anon_limited = _router("/anon-limited")
scoped = _router("/scoped")
free = _router("/free")
fixed_window = _router("/fixed-window")
sliding_window = _router("/sliding-window")
user_fixed = _router("/user-fixed")
allow = _router("/allow")
refuse = _router("/refuse")


class _Companies(ReadOnlyModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead


@viewset(user_limited)
class UserLimited(_Companies):
    throttle_classes = [UserRateThrottle(RATE)]


@viewset(anon_limited)
class AnonLimited(_Companies):
    throttle_classes = [AnonRateThrottle(RATE)]


@viewset(scoped)
class Scoped(_Companies):
    throttle_classes = [ReportsThrottle]
    throttle_scope = "reports"


@viewset(free)
class Free(_Companies):
    pass


@viewset(fixed_window)
class FixedWindowLimited(_Companies):
    throttle_classes = [FixedWindow]


@viewset(sliding_window)
class SlidingWindowLimited(_Companies):
    throttle_classes = [SlidingWindow]


@viewset(user_fixed)
class UserFixedWindowLimited(_Companies):
    throttle_classes = [UserFixedWindow]


@viewset(allow)
class Allow(_Companies):
    throttle_classes = [AllowWhenStoreIsDown]


@viewset(refuse)
class Refuse(_Companies):
    throttle_classes = [RefuseWhenStoreIsDown]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with RegisterTortoise(
        app,
        db_url=DB_URL,
        modules={"models": ["tests.models"]},
    ):
        if GENERATE_SCHEMAS:
            await Tortoise.generate_schemas(safe=True)
            if not await Company.exists():
                await Company.create(name="Acme")
        yield


app = FastAPI(lifespan=lifespan)
for router in (
    user_limited,
    anon_limited,
    scoped,
    free,
    fixed_window,
    sliding_window,
    user_fixed,
    allow,
    refuse,
):
    app.include_router(router)


@app.get("/health")
async def health() -> dict[str, int]:
    """Answers once the lifespan ran (tables created, when this process creates them)."""
    return {"pid": os.getpid()}
