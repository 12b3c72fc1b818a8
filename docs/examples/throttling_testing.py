"""A pytest fixture that gives each test empty throttle counts (put it in conftest.py)."""

from __future__ import annotations

import pytest

from fastapi_viewsets import configure_store


@pytest.fixture(autouse=True)
def fresh_throttle_counts() -> None:
    configure_store("memory://")  # a new, empty store: no count outlives its test
