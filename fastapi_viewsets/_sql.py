"""Prepared SQL: a queryset's SQL text built once per shape, run again with new values.

Tortoise builds the SQL of every queryset anew (pypika terms, then text), which costs more than
running the query. A viewset's querysets come in few shapes: ``get_queryset()``'s filters, the
request's filters, an ordering, a page. This module reads a queryset's state (through
``_tortoise``) and, when the queryset is of the plain kind below, answers the SQL text (cached
by shape) and this request's parameters::

    Company.filter(owner_id=7, is_public=True).order_by("-created_at", "id").offset(40).limit(20)
    # SELECT ... FROM "company" WHERE "company"."owner_id"=? AND "company"."is_public"=?
    #   ORDER BY "company"."created_at" DESC,"company"."id" ASC LIMIT ? OFFSET ?
    # parameters [7, True, 20, 40]; the text is built on the first request of this shape only

Plain means: filters on the model's own columns (a foreign key by object or by id included)
with the exact, ``not``, ``in``, ``not_in``, ``gt``, ``gte``, ``lt``, ``lte``, ``range``,
``isnull`` and ``not_isnull`` lookups, combined with ``Q``'s ``&``, ``|`` and ``~``; ordering by
own columns; limit and offset; on SQLite or PostgreSQL (asyncpg). Anything else (lookups through
relations, text lookups, annotations, subqueries, ``distinct``, ``group_by``,
``select_for_update``, another database) gives ``None`` and the caller runs the queryset through
Tortoise as usual; so does every queryset when the installed Tortoise is outside the versions
``_tortoise`` was checked against.

Values are encoded as Tortoise encodes them (the filter's value encoder, else the field's
``to_db_value``), and the conditions are Tortoise's: ``not`` and ``not_in`` also match NULL, an
empty ``in`` matches nothing. A property-based test compares the rows of both on random filters.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import operator
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.fields.base import DatabaseDefault, Field
from tortoise.filters import between_and, is_in, is_null, not_equal, not_in, not_null
from tortoise.models import Model
from tortoise.queryset import QuerySet

from . import _tortoise
from ._values import Reader, reader

__all__ = (
    "Prepared",
    "SelectPlan",
    "count",
    "count_rows",
    "insert_returning",
    "select",
    "select_pk",
)

_PLACEHOLDER = object()  # where a parameter goes, in a shape's pieces
_SCALARS = (
    str,
    int,
    float,
    bool,
    decimal.Decimal,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    bytes,
)
_COMPARISONS: dict[Any, str] = {
    operator.eq: "=",
    operator.gt: ">",
    operator.ge: ">=",
    operator.lt: "<",
    operator.le: "<=",
}
_CACHE_SIZE = 4096
_sql_cache: dict[tuple[Any, ...], str] = {}


class _Unsupported(Exception):
    pass


@dataclass(frozen=True)
class Prepared:
    """A statement ready to run: its connection, its text and this request's parameters."""

    db: BaseDBAsyncClient
    sql: str
    params: list[Any]

    async def rows(self) -> Sequence[Sequence[Any]]:
        return (await self.db.execute_query(self.sql, self.params))[1]  # type: ignore[return-value]


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _dialect(db: BaseDBAsyncClient) -> str | None:
    # The placeholder style belongs to the driver, not to the dialect: only these two drivers.
    module = type(db).__module__
    if module.startswith("tortoise.backends.sqlite"):
        return "sqlite"
    if module.startswith("tortoise.backends.asyncpg"):
        return "postgres"
    return None


def _scalar(value: Any) -> Any:
    """An encoded value that goes in a parameter as it is."""
    if value is None or isinstance(value, enum.Enum) or not isinstance(value, _SCALARS):
        # pypika writes enums inline, and None is no comparison: leave both to Tortoise.
        raise _Unsupported
    return value


def _plain(value: Any) -> bool:
    """A filter's value before encoding: no expressions, subqueries or objects."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(isinstance(v, (*_SCALARS, enum.Enum)) for v in value)
    return value is None or isinstance(value, (*_SCALARS, enum.Enum))


class _Where:
    """The pieces (text and placeholders) and parameters of a queryset's WHERE clause."""

    def __init__(self, model: type[Model], dialect: str) -> None:
        self.model = model
        self.dialect = dialect
        self.table = quote(model._meta.db_table)
        self.params: list[Any] = []

    def node(self, q: Q) -> list[Any] | None:
        # As Tortoise resolves a Q: its filters when it has any, else its children; an empty
        # part drops out of both AND and OR; negation wraps the whole node.
        parts: list[list[Any] | None]
        if q.filters:
            parts = [self.kwarg(key, value) for key, value in q.filters.items()]
        else:
            parts = [self.node(child) for child in q.children]
        present = [p for p in parts if p is not None]
        if not present:
            return None
        if len(present) == 1:
            pieces = present[0]
        else:
            joiner = " AND " if q.join_type == Q.AND else " OR "
            pieces = ["("]
            for i, part in enumerate(present):
                if i:
                    pieces.append(joiner)
                pieces.extend(part)
            pieces.append(")")
        if _tortoise.is_negated(q):
            return ["NOT (", *pieces, ")"]
        return pieces

    def kwarg(self, key: str, value: Any) -> list[Any]:
        meta = self.model._meta
        if key in meta.fk_fields or key in meta.o2o_fields:
            relation: Any = meta.fields_map[key]
            key = relation.source_field
            if isinstance(value, relation.related_model):
                value = getattr(value, relation.to_field_instance.model_field_name)
        elif key not in meta.filters:
            raise _Unsupported  # through a relation, or a custom filter
        if not _plain(value):
            raise _Unsupported
        if value is None and f"{key}__isnull" in meta.filters:
            info = meta.filters[f"{key}__isnull"]
            value = True
        else:
            info = meta.filters[key]
        if "table" in info or value is None:
            raise _Unsupported
        field: Field[Any] = meta.fields_map[info["field"]]
        if field.get_for_dialect(self.dialect, "function_cast") is not None:
            raise _Unsupported
        encoder = info.get("value_encoder")
        if encoder is not None:
            value = encoder(value, self.model, field)
        else:
            value = field.to_db_value(value, self.model)
        column = f"{self.table}.{quote(info.get('source_field') or info['field'])}"
        op = info["operator"]
        symbol = _COMPARISONS.get(op)
        if symbol is not None:
            self.params.append(_scalar(value))
            return [column, symbol, _PLACEHOLDER]
        if op is not_equal:
            self.params.append(_scalar(value))
            return ["(", column, "<>", _PLACEHOLDER, " OR ", column, " IS NULL)"]
        if op is is_null or op is not_null:
            is_null_wanted = bool(value) == (op is is_null)
            return [column, " IS NULL" if is_null_wanted else " IS NOT NULL"]
        if op is between_and:
            low, high = (_scalar(v) for v in value)
            self.params += [low, high]
            return [column, " BETWEEN ", _PLACEHOLDER, " AND ", _PLACEHOLDER]
        if op is is_in or op is not_in:
            items = [_scalar(v) for v in value]
            if not items:
                return ["1=0" if op is is_in else "1=1"]
            self.params.extend(items)
            marks: list[Any] = [_PLACEHOLDER]
            for _ in items[1:]:
                marks += [",", _PLACEHOLDER]
            if op is is_in:
                return [column, " IN (", *marks, ")"]
            return ["(", column, " NOT IN (", *marks, ") OR ", column, " IS NULL)"]
        raise _Unsupported


def _state(queryset: QuerySet[Any]) -> tuple[BaseDBAsyncClient, str] | None:
    """The connection and dialect of a plain queryset, or ``None``."""
    if not _tortoise.FAST_PATH:
        _tortoise.fast_path_off()
        return None
    if (
        type(queryset) is not QuerySet
        or not _tortoise.queryset_is_plain(queryset)
        or queryset.model._meta.schema
    ):
        return None
    db = _tortoise.choose_db(queryset)
    dialect = _dialect(db)
    return None if dialect is None else (db, dialect)


def _where(queryset: QuerySet[Any], dialect: str) -> tuple[list[Any], list[Any]]:
    where = _Where(queryset.model, dialect)
    pieces: list[Any] = []
    for q in _tortoise.q_objects(queryset):
        part = where.node(q)
        if part is not None:
            pieces += [" AND ", *part] if pieces else part
    return (([" WHERE ", *pieces]) if pieces else []), where.params


def _order(queryset: QuerySet[Any], dialect: str) -> list[str]:
    meta = queryset.model._meta
    table = quote(meta.db_table)
    terms = []
    for name, order in _tortoise.orderings(queryset) or meta.ordering:
        if name == "pk":
            name = meta.pk_attr
        column = meta.fields_db_projection.get(name)
        if column is None or meta.fields_map[name].get_for_dialect(dialect, "function_cast"):
            raise _Unsupported  # a relation's column, an annotation, a cast (SQLite decimals)
        direction = str(getattr(order, "value", order)).upper()
        terms.append(f"{table}.{quote(column)} {'DESC' if direction == 'DESC' else 'ASC'}")
    return [" ORDER BY " + ",".join(terms)] if terms else []


def _render(key: tuple[Any, ...], pieces: list[Any], dialect: str) -> str:
    sql = _sql_cache.get(key)
    if sql is None:
        out: list[str] = []
        number = 0
        for piece in pieces:
            if piece is _PLACEHOLDER:
                number += 1
                out.append("?" if dialect == "sqlite" else f"${number}")
            else:
                out.append(piece)
        sql = "".join(out)
        if len(_sql_cache) >= _CACHE_SIZE:
            _sql_cache.clear()  # shapes are few; a flood of new ones only costs rebuilding
        _sql_cache[key] = sql
    return sql


def count(queryset: QuerySet[Any]) -> Prepared | None:
    """``SELECT COUNT(*)`` of ``queryset`` (which must have no limit or offset), or ``None``."""
    state = _state(queryset)
    if state is None or _tortoise.limit(queryset) is not None or _tortoise.offset(queryset):
        return None
    db, dialect = state
    try:
        where, params = _where(queryset, dialect)
    except _Unsupported:
        return None
    pieces = ["SELECT COUNT(*) FROM ", quote(queryset.model._meta.db_table), *where]
    key = ("count", dialect, *pieces)
    return Prepared(db, _render(key, pieces, dialect), params)


async def count_rows(queryset: QuerySet[Any]) -> int:
    """``await queryset.count()``, through prepared SQL when the queryset is plain."""
    prepared = count(queryset)
    if prepared is None:
        return await queryset.count()
    return int((await prepared.rows())[0][0])


# --- selecting columns --------------------------------------------------------------------------


@dataclass(frozen=True)
class SelectPlan:
    """Columns named like ``values()`` names them (``"owner__email"``), with their joins and
    how to read each value as Tortoise would."""

    model: type[Model]
    paths: tuple[str, ...]
    #: ``SELECT <columns> FROM <table> <joins>``: the start of every statement of the plan.
    select_from: str
    readers: tuple[Reader | None, ...]

    @classmethod
    def for_paths(cls, model: type[Model], paths: Sequence[str]) -> SelectPlan:
        table = quote(model._meta.db_table)
        columns: list[str] = []
        joins: dict[str, str] = {}
        readers: list[Reader | None] = []
        for path in paths:
            *relations, name = path.split("__")
            current, alias = model, table
            for i, relation_name in enumerate(relations):
                related, source, target = _relation(current, relation_name)
                joined = quote(f"{model._meta.db_table}__{'__'.join(relations[: i + 1])}")
                if joined not in joins:
                    joins[joined] = (
                        f" LEFT OUTER JOIN {quote(related._meta.db_table)} {joined}"
                        f" ON {joined}.{target}={alias}.{source}"
                    )
                current, alias = related, joined
            field = current._meta.fields_map[name]
            columns.append(f"{alias}.{quote(current._meta.fields_db_projection[name])}")
            readers.append(reader(field))
        select_from = f"SELECT {','.join(columns)} FROM {table}{''.join(joins.values())}"
        return cls(model, tuple(paths), select_from, tuple(readers))

    @cached_property
    def returning(self) -> str | None:
        """The columns as an ``INSERT``'s ``RETURNING`` gives them (see ``insert_returning``),
        or ``None`` when a path goes through more than one relation."""
        return _returning(self)

    @cached_property
    def _converting(self) -> tuple[tuple[int, Reader], ...]:
        return tuple((i, r) for i, r in enumerate(self.readers) if r is not None)

    def read(self, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
        """Rows of driver values as lists of Python values, as ``values()`` would give them."""
        converting = self._converting
        out = []
        for row in rows:
            values = list(row)
            for i, read in converting:
                values[i] = read(values[i])
            out.append(values)
        return out

    def read_from(self, row: Sequence[Any], start: int) -> list[Any]:
        """The values of one row from column ``start`` on, read as :meth:`read` reads them."""
        readers = self.readers[start:]
        return [v if r is None else r(v) for v, r in zip(row[start:], readers, strict=True)]


def _relation(model: type[Model], name: str) -> tuple[type[Model], str, str]:
    """Forward relation ``name`` of ``model``: the related model, the quoted column of
    ``model`` that points to it, and the quoted column of the related model it points to."""
    relation: Any = model._meta.fields_map[name]
    related: type[Model] = relation.related_model
    source = model._meta.fields_db_projection[relation.source_field]
    target = related._meta.fields_db_projection[relation.to_field_instance.model_field_name]
    return related, quote(source), quote(target)


def select(queryset: QuerySet[Any], plan: SelectPlan) -> Prepared | None:
    """The ``SELECT`` of ``plan``'s columns for ``queryset``'s rows, or ``None``."""
    state = _state(queryset)
    if state is None or queryset.model is not plan.model:
        return None
    db, dialect = state
    try:
        where, params = _where(queryset, dialect)
        order = _order(queryset, dialect)
    except _Unsupported:
        return None
    pieces: list[Any] = [plan.select_from, *where, *order]
    limit, offset = _tortoise.limit(queryset), _tortoise.offset(queryset)
    if limit is not None:
        pieces += [" LIMIT ", _PLACEHOLDER]
        params.append(limit)
    elif offset:
        # SQLite needs a LIMIT before an OFFSET; -1 is its "no limit".
        pieces.append(" LIMIT -1" if dialect == "sqlite" else "")
    if offset:
        pieces += [" OFFSET ", _PLACEHOLDER]
        params.append(offset)
    key = ("select", dialect, *pieces)
    return Prepared(db, _render(key, pieces, dialect), params)


def select_pk(plan: SelectPlan, pk: Any) -> Prepared | None:
    """The ``SELECT`` of ``plan``'s columns for the row whose primary key is ``pk``."""
    if not _tortoise.FAST_PATH:
        _tortoise.fast_path_off()
        return None
    model = plan.model
    db = _tortoise.choose_db(model.all())
    dialect = _dialect(db)
    if dialect is None or model._meta.schema:
        return None
    meta = model._meta
    table = quote(meta.db_table)
    pieces: list[Any] = [
        plan.select_from,
        f" WHERE {table}.{quote(meta.db_pk_column)}=",
        _PLACEHOLDER,
    ]
    value = meta.pk.to_db_value(pk, model)
    return Prepared(db, _render(("pk", dialect, *pieces), pieces, dialect), [value])


def insert_returning(obj: Model, plan: SelectPlan) -> Prepared | None:
    """The ``INSERT`` of the new, unsaved ``obj`` whose ``RETURNING`` gives ``plan``'s columns
    of the new row, the columns of its forward relations read by subqueries; or ``None``.

    One statement where Tortoise's ``save()`` and a ``SELECT`` of the answer take two. The
    columns and their values are the ones ``save()`` writes (``to_db_value`` of every column
    the database does not generate). ``None`` for what this does not cover: relations more than
    one level deep or on another database, values left to the database's defaults, a primary key
    set by hand, asynchronous defaults.
    """
    if not _tortoise.FAST_PATH:
        _tortoise.fast_path_off()
        return None
    model = type(obj)
    meta = model._meta
    if model is not plan.model or meta.schema or _tortoise.custom_generated_pk(obj):
        return None
    if _tortoise.await_when_save(obj):
        return None
    db = _tortoise.choose_db_for_write(obj)
    dialect = _dialect(db)
    returning = plan.returning
    if dialect is None or returning is None:
        return None
    fields_map = meta.fields_map
    names = [name for name in meta.fields_db_projection if not fields_map[name].generated]
    params = []
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, DatabaseDefault):
            return None
        params.append(fields_map[name].to_db_value(value, obj))
    columns = ",".join(quote(meta.fields_db_projection[name]) for name in names)
    pieces: list[Any] = [f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ("]
    for i in range(len(names)):
        pieces += [",", _PLACEHOLDER] if i else [_PLACEHOLDER]
    pieces.append(f") RETURNING {returning}")
    if dialect == "postgres":
        # Tortoise's asyncpg client returns no rows for a statement that starts with INSERT;
        # as a common table expression the same INSERT is a query that returns them.
        pieces = ['WITH "inserted" AS (', *pieces, ') SELECT * FROM "inserted"']
    return Prepared(db, _render(("insert", dialect, *pieces), pieces, dialect), params)


def _returning(plan: SelectPlan) -> str | None:
    model = plan.model
    meta = model._meta
    table = quote(meta.db_table)
    out = []
    for index, path in enumerate(plan.paths):
        # Named, so that the columns of a common table expression are distinct.
        named = f' AS "c{index}"'
        *relations, name = path.split("__")
        if not relations:
            out.append(f"{table}.{quote(meta.fields_db_projection[name])}{named}")
            continue
        if len(relations) > 1:
            return None
        related, source, target = _relation(model, relations[0])
        if related._meta.schema or related._meta.default_connection != meta.default_connection:
            return None
        alias = quote(f"{meta.db_table}__{relations[0]}")
        column = quote(related._meta.fields_db_projection[name])
        out.append(
            f"(SELECT {alias}.{column} FROM {quote(related._meta.db_table)} {alias}"
            f" WHERE {alias}.{target}={table}.{source}){named}"
        )
    return ",".join(out)
