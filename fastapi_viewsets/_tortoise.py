"""The one module that reads Tortoise ORM's private state.

Why: Tortoise builds the SQL of every queryset anew (pypika terms, then text), which costs more
than running the query. The fast path (``_sql``, ``_projection``) skips that: it reads what a
queryset holds (its filters, ordering, page, connection) and builds prepared SQL once per shape.
Tortoise exposes that state only as private attributes, which a release may rename or change
in meaning. Every such read is here, as a small typed function, so that one module is checked
against each Tortoise release::

    queryset = Company.filter(owner_id=7).order_by("-created_at").offset(40).limit(20)
    if FAST_PATH and queryset_is_plain(queryset):  # FAST_PATH: the version is in CHECKED
        q_objects(queryset)  # [Q(owner_id=7)]: the WHERE clause
        orderings(queryset)  # [("created_at", Order.desc)]: the ORDER BY
        limit(queryset), offset(queryset)  # 20, 40
        choose_db(queryset)  # the connection it would run on now

Checked against: tortoise-orm 1.1.9 only, ``>=1.1.9,<1.1.10`` (``CHECKED``): every attribute
read here was read in its source (``queryset.py``, ``models.py``, ``expressions.py``), and the
test suite passes on it with SQLite and PostgreSQL (its property tests compare prepared SQL with
Tortoise's own). Patch releases are not assumed alike: a filter on a foreign key by object
compares the related primary key in 1.1.0 and the relation's ``to_field`` in 1.1.9.

Outside the range the fast path steps aside: ``_sql`` answers ``None`` (its callers run the
queryset through Tortoise), ``_projection`` builds no projection (viewsets read model objects),
and one warning on the ``fastapi_viewsets`` logger says so. Slower, never wrong.
``tests/test__tortoise.py`` fails on such a version, so that a new release gets checked: read
what this module reads in the new source, run the suite, then widen ``CHECKED``.

The other reads (``is_inited``, ``orderings`` for a viewset's default order, ``init_from_db``,
``signal_listeners``) are not the fast path: registration checks and writes need them to be
right, and Tortoise has no public equivalent. They read on any version.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.signals import Signals

__all__ = (
    "CHECKED",
    "FAST_PATH",
    "INSTALLED",
    "await_when_save",
    "choose_db",
    "choose_db_for_write",
    "custom_generated_pk",
    "fast_path_off",
    "fast_path_supported",
    "init_from_db",
    "is_inited",
    "is_negated",
    "limit",
    "offset",
    "orderings",
    "q_objects",
    "queryset_is_plain",
    "save_is_default",
    "signal_listeners",
)

logger = logging.getLogger("fastapi_viewsets")

_M = TypeVar("_M", bound=Model)


def _release(text: str) -> tuple[int, ...]:
    """The release numbers of a version: ``"1.1.9"`` -> ``(1, 1, 9)``, ``"1.2.0rc1"`` ->
    ``(1, 2, 0)``."""
    match = re.match(r"\d+(?:\.\d+)*", text)
    return tuple(int(part) for part in match.group().split(".")) if match else ()


#: The Tortoise releases this module was checked against: ``lower <= version < upper``.
CHECKED: tuple[tuple[int, ...], tuple[int, ...]] = ((1, 1, 9), (1, 1, 10))
#: The installed Tortoise release.
INSTALLED: tuple[int, ...] = _release(version("tortoise-orm"))


def fast_path_supported() -> bool:
    """Whether the installed Tortoise is inside ``CHECKED`` (read at each call; the fast path
    reads ``FAST_PATH``)."""
    lower, upper = CHECKED
    return lower <= INSTALLED < upper


#: ``fast_path_supported()``, computed once at import: what the fast path reads on each query.
FAST_PATH: bool = fast_path_supported()
_warned = False


def fast_path_off() -> None:
    """Log, once per process, that the fast path is off."""
    global _warned
    if not _warned:
        _warned = True
        installed = ".".join(map(str, INSTALLED))
        lower, upper = (".".join(map(str, v)) for v in CHECKED)
        logger.warning(
            "fastapi_viewsets: the installed tortoise-orm %s is outside the range checked for "
            "the fast path (>=%s,<%s); the fast path is off: queries run through Tortoise, "
            "slower, never wrong.",
            installed,
            lower,
            upper,
        )


# --- a queryset's state (the fast path) ---------------------------------------------------------


def queryset_is_plain(queryset: QuerySet[Any]) -> bool:
    """Whether ``queryset`` holds nothing but filters, an ordering and a page: no annotations,
    ``having``, custom filters, ``group_by``, ``distinct``, ``select_for_update``, prefetches,
    ``only``, index hints or ``get``/``first`` (single)."""
    return not (
        queryset._annotations
        or queryset._having
        or queryset._custom_filters
        or queryset._group_bys
        or queryset._distinct
        or queryset._select_for_update
        or queryset._prefetch_map
        or queryset._prefetch_queries
        or queryset._fields_for_select
        or queryset._force_indexes
        or queryset._use_indexes
        or queryset._single
    )


def q_objects(queryset: QuerySet[Any]) -> list[Q]:
    """The ``Q`` objects of ``queryset``'s filters, ANDed together."""
    return queryset._q_objects


def orderings(queryset: QuerySet[Any]) -> list[tuple[str, Any]]:
    """``queryset``'s ``order_by()``: ``(name, Order)`` pairs, empty when it has none (then the
    model's ``Meta.ordering`` applies)."""
    return queryset._orderings


def limit(queryset: QuerySet[Any]) -> int | None:
    """``queryset``'s ``limit()``, ``None`` without one (``0`` is a limit: no rows)."""
    return queryset._limit


def offset(queryset: QuerySet[Any]) -> int | None:
    """``queryset``'s ``offset()``, ``None`` or ``0`` without one."""
    return queryset._offset


def choose_db(queryset: QuerySet[Any]) -> BaseDBAsyncClient:
    """The connection ``queryset`` would read from if it ran now."""
    return queryset._choose_db()


def is_negated(q: Q) -> bool:
    """Whether ``q`` is negated (``~Q(...)``)."""
    return q._is_negated


# --- models and objects -------------------------------------------------------------------------


def is_inited(model: type[Model]) -> bool:
    """Whether Tortoise has initialised ``model`` (``Tortoise.init``: relations, reverse
    relations included, are known)."""
    return model._meta._inited


def init_from_db(model: type[_M], **values: Any) -> _M:
    """A model object from a row, keyed by column name, as Tortoise builds one on a read."""
    return model._init_from_db(**values)


def signal_listeners(model: type[Model]) -> dict[Signals, list[Callable[..., Any]]]:
    """The signals (``pre_save``, ...) that handlers listen to on ``model``, with the handlers.
    Empty when none listens."""
    out: dict[Signals, list[Callable[..., Any]]] = {}
    for signal, by_model in model._listeners.items():
        handlers = by_model.get(model)
        if handlers:
            out[signal] = handlers
    return out


def custom_generated_pk(obj: Model) -> bool:
    """Whether ``obj`` holds a value for a primary key the database generates (given by hand,
    or read from the database), which ``save()`` then writes itself."""
    return obj._custom_generated_pk


def await_when_save(obj: Model) -> dict[str, Callable[[], Awaitable[Any]]]:
    """The asynchronous defaults ``save()`` will await for ``obj``, by field name."""
    pending: dict[str, Callable[[], Awaitable[Any]]] | None
    pending = getattr(obj, "_await_when_save", None)
    return pending or {}


def choose_db_for_write(obj: Model) -> BaseDBAsyncClient:
    """The connection ``obj.save()`` would write to if it ran now."""
    return obj._choose_db(True)


#: What a model's ``save()`` runs; an override of any of them may write more than one statement.
_SAVE_METHODS = ("save", "_pre_save", "_post_save")


def save_is_default(model: type[Model]) -> bool:
    """Whether ``model`` saves as Tortoise's ``Model`` does (one statement per save)."""
    return all(getattr(model, name) is getattr(Model, name) for name in _SAVE_METHODS)
