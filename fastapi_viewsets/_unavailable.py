"""A database that cannot be reached: a 503 with ``Retry-After`` instead of a 500, and no pooled
connection lost to it.

A connection the server terminated, a refused or timed-out connect, a server shutting down or
full, a SQLite file another process keeps locked: the request was fine, and the same request a
few seconds later will likely succeed, so the client is told to retry. Everything else the
database says stays what it was: a SQL error, a misuse of a connection or a driver's bug is a
500 (a 409 for integrity errors, see ``_integrity``).

What counts as unavailable, in the error or in what it was raised from (``__cause__``, or the
driver's error a Tortoise ``OperationalError`` carries):

- an error with a SQLSTATE of class ``08`` (connection exception: asyncpg's
  ``ConnectionDoesNotExistError`` is ``08003``), ``57P01``/``57P02``/``57P05`` (the server
  ended the session: ``pg_terminate_backend``, a crash, an idle timeout), ``57P03`` (the server
  is starting or stopping) or ``53300`` (too many connections);
- asyncpg's ``InterfaceError`` that says the connection is closed, and its
  ``InternalClientError`` "another operation (2) is in progress": a pooled connection the
  server terminated while idle, used before asyncpg read the server's goodbye (state 2 is the
  protocol's ``PROTOCOL_ERROR_CONSUME``; asyncpg issues #784 and #1069);
- an ``OSError`` (``ConnectionRefusedError``, ``ConnectionResetError``, ``TimeoutError``) or
  ``asyncio.TimeoutError`` raised inside the driver or Tortoise's connection clients, told from
  an application's own ``OSError`` (a missing file, a refused HTTP call) by its traceback;
- Tortoise's ``DBConnectionError``, which only its clients raise, when they cannot connect;
- SQLite's ``SQLITE_BUSY``, "database is locked" after the busy timeout.

asyncpg is optional, so its errors are recognised by their class names, not imported.

:func:`transaction` is Tortoise's ``in_transaction()`` that gives the pooled connection back when
BEGIN fails. Tortoise 1.1.9 keeps it (``TransactionContextPooled.__aenter__`` has no cleanup),
and asyncpg does not free it either when the server had terminated it: each such failure took a
connection out of the pool for good, until requests waited forever and shutdown hung.

Checked against asyncpg 0.32.0, Tortoise ORM 1.1.9 (its asyncpg and SQLite clients) and
aiosqlite 0.22.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import sqlite3
import traceback
from collections.abc import AsyncIterator, Iterator

from tortoise.exceptions import DBConnectionError
from tortoise.transactions import in_transaction

from .exceptions import ServiceUnavailable

__all__ = ("transaction", "unavailable_from")

logger = logging.getLogger("fastapi_viewsets")

DETAIL = "The database cannot be reached right now. Try again later."
CODE = "database_unavailable"

# SQLSTATEs of a session or connection the server ended or refused (a class of two characters).
_SQLSTATES = ("08", "57P01", "57P02", "57P03", "57P05", "53300")
_CLOSED = re.compile(r"connection is closed")
_ERROR_CONSUME = re.compile(r"another operation \(2\) is in progress")
# Modules whose frames show that an OSError came from talking to the database.
_DRIVERS = ("asyncpg", "psycopg", "psycopg_pool", "aiosqlite")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors it was raised from: ``__cause__``, and an exception given as
    an argument (Tortoise's SQLite client wraps without ``from``)."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        pending.extend(arg for arg in error.args[:1] if isinstance(arg, BaseException))
        if error.__cause__ is not None:
            pending.append(error.__cause__)


def _is_asyncpg(error: BaseException, name: str) -> bool:
    return any(
        cls.__name__ == name and cls.__module__.startswith("asyncpg.")
        for cls in type(error).__mro__
    )


def _from_driver(error: BaseException) -> bool:
    for frame, _ in traceback.walk_tb(error.__traceback__):
        module = str(frame.f_globals.get("__name__", ""))
        package = module.split(".", 1)[0]
        if package in _DRIVERS:
            return True
        # Their connection wrappers and pools, not the executor, which runs fields' code.
        if module.startswith("tortoise.backends.") and module.endswith(".client"):
            return True
    return False


def _lost(error: BaseException) -> bool:
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_SQLSTATES):
        return True
    if _is_asyncpg(error, "InterfaceError"):
        return _CLOSED.search(str(error)) is not None
    if _is_asyncpg(error, "InternalClientError"):
        return _ERROR_CONSUME.search(str(error)) is not None
    if isinstance(error, sqlite3.OperationalError):
        name = getattr(error, "sqlite_errorname", None)  # Python 3.11 and later
        if isinstance(name, str):
            return name.startswith("SQLITE_BUSY")
        return str(error).startswith("database is locked")
    if isinstance(error, DBConnectionError):  # only Tortoise's clients raise it
        return True
    if isinstance(error, (OSError, asyncio.TimeoutError)):
        return _from_driver(error)
    return False


def _first_lost(error: BaseException) -> BaseException:
    """The first error of the outage that ``error`` ended: a rollback on a lost connection
    fails in its turn, and the loss itself is what the log should name."""
    first, seen = error, {id(error)}
    earlier = error.__cause__ or error.__context__
    while earlier is not None and id(earlier) not in seen:
        seen.add(id(earlier))
        if _lost(earlier):
            first = earlier
        earlier = earlier.__cause__ or earlier.__context__
    return first


def unavailable_from(
    exc: BaseException, *, request_id: str, retry_after: float
) -> ServiceUnavailable | None:
    """The 503 to answer for ``exc`` when it, or an error it was raised from, says the database
    cannot be reached (see the module docstring), logged once at WARNING with the request's id;
    ``None`` when ``exc`` is something else."""
    found = next((error for error in _chain(exc) if _lost(error)), None)
    if found is None:
        return None
    found = _first_lost(found)
    seconds = max(1, math.ceil(retry_after))
    # No traceback: the cause is the database, not a line of code, and one line a request
    # keeps an outage's log readable.
    logger.warning(
        "The database cannot be reached (request %s), answered 503: %s: %s",
        request_id,
        type(found).__name__,
        found,
    )
    return ServiceUnavailable(DETAIL, code=CODE, headers={"Retry-After": str(seconds)})


@contextlib.asynccontextmanager
async def transaction(connection_name: str | None) -> AsyncIterator[None]:
    """``async with in_transaction(connection_name)``, except that a BEGIN that fails gives the
    pooled connection back (see the module docstring)."""
    context = in_transaction(connection_name)
    try:
        await context.__aenter__()
    except Exception as exc:
        # Its __aexit__ releases the connection and resets the current one, whatever state the
        # transaction is in; what it raises about the transaction that never began is noise.
        # Not on a cancellation: it may come before anything was taken (SQLite's lock).
        with contextlib.suppress(Exception):
            await context.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    try:
        yield
    except BaseException as exc:
        await context.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    await context.__aexit__(None, None, None)
