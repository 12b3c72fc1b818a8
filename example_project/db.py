"""The database: where it is, the Tortoise configuration, and the migrations that make its tables.

The schema is not created from the models at startup: it comes from the migrations in
:mod:`example_project.migrations`, which Tortoise's own command wrote from
:mod:`example_project.models`. :func:`create_app` applies the missing ones when the app starts,
so ``python -m example_project`` on a new SQLite file is still one command. With several workers
or servers, apply them once before they start, and start the app with ``migrate=False``::

    tortoise -c example_project.db.TORTOISE_ORM migrate          # apply what is missing
    tortoise -c example_project.db.TORTOISE_ORM makemigrations   # after changing a model
    tortoise -c example_project.db.TORTOISE_ORM history          # what the database has

``TORTOISE_ORM`` reads ``$DATABASE_URL`` (else ``sqlite://example.sqlite3``), as the app does.
"""

from __future__ import annotations

import os
from typing import Any

from tortoise import connections
from tortoise.exceptions import DBConnectionError, OperationalError
from tortoise.migrations.executor import MigrationExecutor
from tortoise.migrations.recorder import MigrationRecorder

__all__ = (
    "DEFAULT_DB_URL",
    "MODELS",
    "TORTOISE_ORM",
    "TablesWithoutMigrations",
    "apply_migrations",
    "database_url",
    "tortoise_config",
)

DEFAULT_DB_URL = "sqlite://example.sqlite3"
#: The example's one Tortoise app, ``"models"``, and the modules of its models.
MODELS: dict[str, list[str]] = {"models": ["example_project.models"]}
MIGRATIONS = "example_project.migrations"


def database_url(db_url: str | None = None) -> str:
    """``db_url``, else ``$DATABASE_URL``, else the SQLite file ``./example.sqlite3``."""
    return db_url or os.environ.get("DATABASE_URL") or DEFAULT_DB_URL


def tortoise_config(db_url: str | None = None) -> dict[str, Any]:
    """The Tortoise configuration of the example's one app, ``"models"``, on ``db_url``."""
    return {
        "connections": {"default": database_url(db_url)},
        "apps": {
            "models": {
                "models": MODELS["models"],
                "migrations": MIGRATIONS,
                "default_connection": "default",
            }
        },
    }


#: For Tortoise's command line: ``tortoise -c example_project.db.TORTOISE_ORM <command>``.
TORTOISE_ORM = tortoise_config()


async def apply_migrations() -> None:
    """Apply the migrations the database lacks, on the app's open ``"default"`` connection.

    What ``tortoise migrate`` does, minus its own ``Tortoise.init()``: that would replace the
    running app's ORM context (and open another ``sqlite://:memory:`` database than the app's).
    """
    connection = connections.get("default")
    if not await MigrationRecorder(connection).applied_migrations():
        await _refuse_tables_made_without_migrations()
    executor = MigrationExecutor(connection, tortoise_config()["apps"])
    await executor.migrate()


class TablesWithoutMigrations(RuntimeError):
    """The database has the example's tables but no record of the migrations that made them."""


async def _refuse_tables_made_without_migrations() -> None:
    # Versions of the example before its migrations created the tables from the models, and a
    # first migration would then fail on "table user already exists": say what to do instead.
    from .models import User

    try:
        await User.exists()
    except (OperationalError, DBConnectionError):
        return  # no such table: a new database, which the migrations will fill
    raise TablesWithoutMigrations(
        "The database has the example's tables but no record of migrations: an older version "
        "of the example made it without them. It holds only demo data: delete it (for the "
        "default database, rm example.sqlite3) and start again; the tables and the demo data "
        "are made anew."
    )
