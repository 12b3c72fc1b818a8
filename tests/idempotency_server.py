"""An app served by real uvicorn processes in tests/test_idempotency_processes.py.

Every process serving it claims its ``Idempotency-Key`` s in the store ``FASTAPI_VIEWSETS_STORE``
names (a Redis, the same one for all of them) and writes to the database ``TEST_SERVER_DB_URL``
names; only a process started with ``TEST_SERVER_GENERATE_SCHEMAS=1`` creates the tables (see
tests/processes.py).

Routes:

- ``/queues``: a ``ModelViewSet`` over ``Queue``, whose ``name`` is not unique, so that a
  create that runs twice makes two rows; ``perform_create`` sleeps ``IDEMPOTENCY_SLOW``
  seconds (0.3 unless set) before it saves, so that requests sent at once overlap;
- ``POST /queues/{id}/copy``: an ``@action`` (201) that makes a new queue named by its body,
  as slowly;
- ``GET /count?name=``: how many queues have that name (it reads the database, not the store).

Both writes fail the first time they meet a name that begins with ``fail-once`` (an exception,
which the server answers with a 500) or ``unavailable-once`` (``ServiceUnavailable``, a 503
the library answers), in whichever process; the next time, in any process, they succeed. What
was met is a file per name in the directory ``IDEMPOTENCY_MARKERS`` names.

The user is the ``X-User`` header (``{"id": value}``), anonymous without it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header
from pydantic import BaseModel, ConfigDict
from tortoise import Tortoise
from tortoise.contrib.fastapi import RegisterTortoise

from fastapi_viewsets import (
    BaseStateManager,
    ModelViewSet,
    ServiceUnavailable,
    action,
    viewset,
)
from tests.models import Queue

DB_URL = os.environ.get("TEST_SERVER_DB_URL") or "sqlite://:memory:"
GENERATE_SCHEMAS = os.environ.get("TEST_SERVER_GENERATE_SCHEMAS") == "1"
SLOW = float(os.environ.get("IDEMPOTENCY_SLOW") or 0.3)
MARKERS = Path(os.environ.get("IDEMPOTENCY_MARKERS") or ".")


class QueueRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    is_public: bool


class QueueWrite(BaseModel):
    name: str
    is_public: bool = True


class CopyBody(BaseModel):
    name: str


async def user_from_header(x_user: Annotated[str | None, Header()] = None) -> None:
    BaseStateManager.set_user({"id": x_user} if x_user else None)


def _first_time(name: str) -> bool:
    """Whether no process met ``name`` before (the marker file is created atomically)."""
    try:
        os.close(os.open(MARKERS / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


async def fail_the_first_time(name: str) -> None:
    if name.startswith(("fail-once", "unavailable-once")) and await asyncio.to_thread(
        _first_time, name
    ):
        if name.startswith("fail-once"):
            raise RuntimeError(f"failing once for {name!r}")
        raise ServiceUnavailable(f"unavailable once for {name!r}")


queues = APIRouter(prefix="/queues", dependencies=[Depends(user_from_header)])


@viewset(queues)
class Queues(ModelViewSet[Queue]):
    model = Queue
    read_schema = QueueRead
    create_schema = QueueWrite

    async def perform_create(self, obj: Queue) -> Queue:
        await asyncio.sleep(SLOW)
        await fail_the_first_time(obj.name)
        return await super().perform_create(obj)

    @action(methods=["POST"], detail=True, status_code=201)
    async def copy(self, body: CopyBody) -> QueueRead:
        source = await self.get_object()
        await asyncio.sleep(SLOW)
        await fail_the_first_time(body.name)
        copied = await Queue.create(name=body.name, is_public=source.is_public)
        return QueueRead.model_validate(copied)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with RegisterTortoise(app, db_url=DB_URL, modules={"models": ["tests.models"]}):
        if GENERATE_SCHEMAS:
            await Tortoise.generate_schemas(safe=True)
        yield


app = FastAPI(lifespan=lifespan)
app.include_router(queues)


@app.get("/health")
async def health() -> dict[str, int]:
    """Answers once the lifespan ran (tables created, when this process creates them)."""
    return {"pid": os.getpid()}


@app.get("/count")
async def count(name: str) -> dict[str, int]:
    """How many queues are named ``name``, read from the database."""
    return {"count": await Queue.filter(name=name).count()}
