from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

from tests.utils import DB_URL, IS_POSTGRES


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
