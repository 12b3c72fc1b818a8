# --8<-- [start:imports]
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_viewsets import RequestStateMiddleware
from tortoise import connections
from tortoise.contrib.fastapi import RegisterTortoise
from tortoise.migrations.executor import MigrationExecutor

from . import settings, views
from .auth import get_current_user
from .log import configure_logging

# --8<-- [end:imports]


# --8<-- [start:configure]
def create_app(db_url: str | None = None, *, apply_migrations: bool = False) -> FastAPI:
    config = settings.tortoise_config(db_url or settings.DATABASE_URL)
    configure_logging()
    # --8<-- [end:configure]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=config):
            if apply_migrations:  # tests, on a new database; deployments run `tortoise migrate`
                await MigrationExecutor(connections.get("default"), config["apps"]).migrate()
            yield

    # Every route learns who is calling: get_current_user sets the request's user.
    app = FastAPI(title="Blog", lifespan=lifespan, dependencies=[Depends(get_current_user)])

    # The request state on every route, /health included, and X-Request-ID on every answer.
    app.add_middleware(RequestStateMiddleware)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    for router in views.routers:
        app.include_router(router)
    return app


app = create_app()
