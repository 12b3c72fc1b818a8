"""Helpers for tests, scripts and workers.

Open a request state where there is no request (a test, a script, a queue worker)::

    from fastapi_viewsets.testing import request_state

    def test_audit():
        with request_state(user=alice, data={"tenant": 7}) as state:
            audit("login")                       # calls BaseStateManager.get_state()
            assert state.get("events") == ["login"]

    async def job(user):
        async with request_state(user=user):
            await rebuild_report()

Count the SQL statements Tortoise runs::

    from fastapi_viewsets.testing import assert_num_queries

    async def test_list_is_not_n_plus_one(client):
        with assert_num_queries(1):
            await client.get("/companies")
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import Token
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

from .state import BaseStateManager, RequestStore

__all__ = ("CapturedQueries", "assert_num_queries", "capture_queries", "request_state")

S = TypeVar("S", bound=BaseStateManager[Any])


class request_state(Generic[S]):
    """Open a request state with ``user`` and ``data``; a context manager, sync and async."""

    @overload
    def __init__(
        self: request_state[BaseStateManager[Any]],
        *,
        user: Any = None,
        data: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        action: str | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        *,
        user: Any = None,
        data: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        action: str | None = None,
        state_class: type[S],
    ) -> None: ...

    def __init__(
        self,
        *,
        user: Any = None,
        data: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        action: str | None = None,
        state_class: type[Any] = BaseStateManager,
    ) -> None:
        self._store = RequestStore(
            user=user, action=action, request_id=request_id, data=dict(data or {})
        )
        self._state_class = state_class
        self._tokens: list[Token[RequestStore | None]] = []

    def __enter__(self) -> S:
        self._tokens.append(self._store.activate())
        return self._state_class.from_store(self._store)  # type: ignore[no-any-return]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        RequestStore.deactivate(self._tokens.pop())

    async def __aenter__(self) -> S:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)


class CapturedQueries(logging.Handler):
    """The SQL statements Tortoise logged while capturing; ``len()`` counts them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.queries: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "connection pool" in message:
            return
        self.queries.append(message)

    def __len__(self) -> int:
        return len(self.queries)

    def __iter__(self) -> Iterator[str]:
        return iter(self.queries)


@contextmanager
def capture_queries() -> Iterator[CapturedQueries]:
    """Collect the statements Tortoise runs inside the block (from its ``db_client`` log)."""
    logger = logging.getLogger("tortoise.db_client")
    handler = CapturedQueries()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextmanager
def assert_num_queries(expected: int) -> Iterator[CapturedQueries]:
    """Fail unless the block runs exactly ``expected`` SQL statements."""
    with capture_queries() as captured:
        yield captured
    if len(captured) != expected:
        listing = "\n".join(f"  {i}. {q}" for i, q in enumerate(captured.queries, 1))
        raise AssertionError(
            f"Expected {expected} queries, {len(captured)} were run:\n{listing or '  (none)'}"
        )
