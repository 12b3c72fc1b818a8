from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.processes import RedisServer, free_port, redis_server_path, scratch_database
from tests.utils import DB_URL, IS_POSTGRES, name_example_tables


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2):
            return True
    except OSError:
        return False


def pytest_report_header() -> str:
    return f"database: {DB_URL}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not IS_POSTGRES or _reachable(DB_URL):
        return
    reason = (
        f"PostgreSQL is not reachable at {DB_URL} (TORTOISE_TEST_DB); start it, or unset "
        f"TORTOISE_TEST_DB to run on SQLite only."
    )
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        raise pytest.UsageError(f"CI requires PostgreSQL: {reason}")
    for item in items:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture of the test: the doc examples imported so far get their tables (see
    ``tests.utils.name_example_tables``), before one of their models meets ``Tortoise.init``."""
    name_example_tables()


#: The Redis that tests needing one use (a unique key prefix per test keeps runs apart).
REDIS_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


@contextmanager
def _prefixed_redis() -> Iterator[str]:
    """``REDIS_URL`` with a key prefix of its own (``?prefix=``), its keys deleted afterwards.
    Skips with a reason when Redis is down, and fails instead when CI is set."""
    parts = urlsplit(REDIS_URL)
    if not _reachable_at(parts.hostname or "127.0.0.1", parts.port or 6379):
        reason = f"Redis is not reachable at {REDIS_URL} (TEST_REDIS_URL); start redis-server."
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI requires Redis: {reason}")
        pytest.skip(reason)
    prefix = f"fvt_{uuid.uuid4().hex[:12]}"
    yield f"{REDIS_URL}?prefix={prefix}"
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """``REDIS_URL`` with a key prefix of this test's own, its keys deleted afterwards."""
    with _prefixed_redis() as url:
        yield url


@pytest.fixture(scope="module")
def module_redis_url() -> Iterator[str]:
    """``REDIS_URL`` with a key prefix of this test module's own, for processes that serve all
    its tests; its keys deleted afterwards."""
    with _prefixed_redis() as url:
        yield url


def _reachable_at(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), 2):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _fresh_store() -> Iterator[None]:
    """Each test starts with an empty ``memory://`` store, whatever an earlier test named."""
    from fastapi_viewsets.store import configure_store

    configure_store("memory://")
    yield
    configure_store("memory://")


# --- the cross-process tests (tests/processes.py) -------------------------------------------


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The database the server processes of a test module share: a scratch PostgreSQL
    database on the server ``TORTOISE_TEST_DB`` names (dropped afterwards), else a SQLite
    file."""
    with scratch_database(tmp_path_factory.mktemp("processes-db")) as url:
        yield url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A ``redis-server`` of this test's own, on a free port, started; killed afterwards."""
    server = RedisServer(redis_server_path(), free_port(), tmp_path)
    try:
        yield server.start()
    finally:
        server.kill()
