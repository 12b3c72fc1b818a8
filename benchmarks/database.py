"""The benchmark's database: where it is, its ``bench_`` tables, and the rows they hold.

SQLite is a temporary file (in ``/dev/shm`` when it exists, so ``fsync`` costs nothing and the
file can be shared with the uvicorn and memory subprocesses); it is removed at the end.
PostgreSQL is the database named by ``--db``; only the ``bench_*`` tables are dropped and
created there, so a test suite using other tables of the same database is not disturbed.

The data, the same for every app and every run:

- 50 users,
- 1,000 companies (company ``i`` owned by user ``1 + i % 50``, every other one with a
  description),
- 5 projects per company (5,000),
- no tickets: the create workload adds them and :func:`reset_writes` deletes them between rounds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE

from .models import BenchCompany, BenchProject, BenchTicket, BenchUser

__all__ = (
    "DEFAULT_PG_URL",
    "MODELS",
    "Database",
    "close",
    "init",
    "is_postgres",
    "prepare",
    "reset_writes",
)

MODELS = ["benchmarks.models"]
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/test"
USERS = 50
COMPANIES = 1000
PROJECTS_PER_COMPANY = 5
TABLES = ("bench_ticket", "bench_project", "bench_company", "bench_user")


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres", "asyncpg", "psycopg"))


@dataclass
class Database:
    """One database the benchmark runs on: its URL, a label, and what to remove at the end."""

    url: str
    label: str
    tempdir: Path | None = None

    @classmethod
    def sqlite_tempfile(cls) -> Database:
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        tempdir = Path(tempfile.mkdtemp(prefix="fastapi_viewsets_bench_", dir=base))
        return cls(f"sqlite://{tempdir / 'bench.sqlite3'}", "SQLite", tempdir)

    @classmethod
    def from_url(cls, url: str) -> Database:
        if url in ("sqlite", "sqlite-file"):
            return cls.sqlite_tempfile()
        if is_postgres(url):
            return cls(url, "PostgreSQL")
        if url.startswith("sqlite"):
            return cls(url, "SQLite (in memory)" if ":memory:" in url else "SQLite")
        raise SystemExit(f"--db {url!r}: only sqlite://... and postgres://... URLs are supported")

    @property
    def in_memory(self) -> bool:
        return ":memory:" in self.url

    def cleanup(self) -> None:
        if self.tempdir is not None:
            shutil.rmtree(self.tempdir, ignore_errors=True)
            self.tempdir = None


async def init(url: str) -> None:
    """Open Tortoise on ``url`` with the benchmark's models, in the current task."""
    await Tortoise.init(db_url=url, modules={"models": MODELS})


async def close() -> None:
    await connections.close_all()
    # Tortoise caches each model's INSERT/DELETE SQL under the connection's name, not its
    # dialect; a run on SQLite then one on PostgreSQL in the same process would reuse SQLite's.
    EXECUTOR_CACHE.clear()


async def prepare(url: str) -> None:
    """(Re)create the ``bench_`` tables and fill them; Tortoise must be open on ``url``."""
    connection = connections.get("default")
    for table in TABLES:
        cascade = " CASCADE" if is_postgres(url) else ""
        await connection.execute_script(f'DROP TABLE IF EXISTS "{table}"{cascade}')
    await Tortoise.generate_schemas(safe=False)
    await BenchUser.bulk_create(
        [
            BenchUser(id=i, username=f"user{i}", email=f"user{i}@example.com")
            for i in range(1, USERS + 1)
        ]
    )
    await BenchCompany.bulk_create(
        [
            BenchCompany(
                id=i,
                name=f"Company {i:04d}",
                size=i * 7 % 500,
                is_public=i % 3 != 0,
                description=(f"Company number {i}, " * 4).strip() if i % 2 else None,
                owner_id=1 + i % USERS,
            )
            for i in range(1, COMPANIES + 1)
        ],
        batch_size=500,
    )
    await BenchProject.bulk_create(
        [
            BenchProject(
                id=(i - 1) * PROJECTS_PER_COMPANY + j,
                name=f"Project {i}.{j}",
                budget=1000 * j + i,
                company_id=i,
            )
            for i in range(1, COMPANIES + 1)
            for j in range(1, PROJECTS_PER_COMPANY + 1)
        ],
        batch_size=1000,
    )
    if is_postgres(url):
        # Rows were inserted with explicit ids; move the sequences past them.
        for table in TABLES:
            await connection.execute_script(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )
        await connection.execute_script("ANALYZE " + ", ".join(TABLES))


async def reset_writes() -> None:
    """Remove the rows the create workload added, so the data never grows."""
    await BenchTicket.all().delete()


async def drop(url: str) -> None:
    """Drop the ``bench_`` tables (PostgreSQL only: a SQLite file is simply removed)."""
    if not is_postgres(url):
        return
    connection = connections.get("default")
    for table in TABLES:
        await connection.execute_script(f'DROP TABLE IF EXISTS "{table}" CASCADE')
