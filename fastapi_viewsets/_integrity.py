"""Turn a database integrity error into a 409 that names the model and field, and leaks no SQL.

The model is the one whose table refused the write, which is not always the viewset's: a hook
that writes an audit row gets "An auditentry with this note already exists."
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.fields.relational import ForeignKeyFieldInstance, OneToOneFieldInstance
from tortoise.models import Model

from ._english import article, conjoin
from .exceptions import Conflict

# SQLite: "UNIQUE constraint failed: company.name" (or "t.a, t.b" for unique_together).
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")
# SQLite names the table of NOT NULL and CHECK failures the same way: "... failed: t.a".
_SQLITE_TABLE = re.compile(r"constraint failed: ([^.,\s]+)\.")
# PostgreSQL's DETAIL: "Key (name)=(acme) already exists." / "Key (owner_id)=(9) is not present".
_PG_KEY = re.compile(r"Key \(([^)]*)\)=")
# PostgreSQL, deleting a row others refer to: 'update or delete on table "company" violates ...'.
_PG_DELETED = re.compile(r'update or delete on table "([^"]+)"')


def _columns_to_fields(model: type[Model]) -> dict[str, str]:
    return {column: name for name, column in model._meta.fields_db_projection.items()}


def _unique_names(model: type[Model], names: list[str]) -> str:
    """The fields of a unique constraint as its 409 says them: a foreign key by its relation
    (``owner``, not the column ``owner_id``), as DRF names a ModelSerializer's fields."""
    relations = {}
    for name in model._meta.fk_fields | model._meta.o2o_fields:
        field = model._meta.fields_map[name]
        relations[getattr(field, "source_field", None) or f"{name}_id"] = name
    return conjoin([relations.get(name, name) for name in names])


def _verbose(model: type[Model]) -> str:
    return model.__name__.lower()


def _failed_table(original: BaseException, *, deleting: bool) -> str | None:
    """The table whose constraint failed, as the driver's error names it."""
    if deleting:
        # The error's table is the one that refers to the row; the row is in this one.
        deleted = _PG_DELETED.search(str(original))
        return deleted.group(1) if deleted else None
    # asyncpg names it on the error, psycopg in its diagnostics.
    table = getattr(original, "table_name", None) or getattr(
        getattr(original, "diag", None), "table_name", None
    )
    if isinstance(table, str) and table:
        return table
    named = _SQLITE_TABLE.search(str(original))
    return named.group(1) if named else None


def _failed_model(model: type[Model], original: BaseException, *, deleting: bool) -> type[Model]:
    """The model of the table whose constraint failed: ``model``, unless the error names another
    table (a hook's write to another model). ``model`` when the error names none."""
    table = _failed_table(original, deleting=deleting)
    if table is None or table == model._meta.db_table or Tortoise.apps is None:
        return model
    found = [m for m in Tortoise.apps.get_models_iterable() if m._meta.db_table == table]
    # Two apps may use one table name, each on its own database: the write's is the one.
    same_database = [
        m for m in found if m._meta.default_connection == model._meta.default_connection
    ]
    found = same_database or found
    return found[0] if found else model


def _original(exc: IntegrityError) -> BaseException:
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
    return cause or exc.__cause__ or exc


def _failed_fields(model: type[Model], exc: IntegrityError) -> tuple[str, list[str]]:
    """Return (kind, field names) where kind is "unique", "foreign_key", or "unknown"."""
    original = _original(exc)
    columns = _columns_to_fields(model)
    detail = getattr(original, "detail", None) or ""
    text = f"{original}\n{detail}"
    sqlstate = getattr(original, "sqlstate", None)
    key = _PG_KEY.search(text)
    if sqlstate == "23505" or "duplicate key" in text:
        names = [c.strip().strip('"') for c in key.group(1).split(",")] if key else []
        return "unique", [columns.get(name, name) for name in names]
    if sqlstate == "23503" or "foreign key" in text.lower():
        names = [c.strip().strip('"') for c in key.group(1).split(",")] if key else []
        return "foreign_key", [columns.get(name, name) for name in names]
    unique = _SQLITE_UNIQUE.search(str(original))
    if unique:
        names = [part.strip().rsplit(".", 1)[-1] for part in unique.group(1).split(",")]
        return "unique", [columns.get(name, name) for name in names]
    return "unknown", []


async def _missing_foreign_keys(model: type[Model], values: Mapping[str, Any]) -> list[str]:
    """The FK source fields in ``values`` whose target row does not exist (SQLite names none)."""
    missing = []
    for name in model._meta.fk_fields | model._meta.o2o_fields:
        field = model._meta.fields_map[name]
        assert isinstance(field, ForeignKeyFieldInstance | OneToOneFieldInstance)
        source = field.source_field or f"{name}_id"
        if values.get(source) is None:
            continue
        related: type[Model] = field.related_model
        if not await related.filter(pk=values[source]).exists():
            missing.append(source)
    return missing


async def conflict_from(
    model: type[Model], exc: IntegrityError, values: Mapping[str, Any], *, deleting: bool = False
) -> Conflict:
    """Build the 409 for ``exc``, raised while writing ``values`` to a ``model`` row.

    Called after the transaction has rolled back, so it may query to find the culprit.
    """
    failed = _failed_model(model, _original(exc), deleting=deleting)
    kind, names = _failed_fields(failed, exc)
    name = _verbose(failed)
    if deleting:
        return Conflict(
            f"This {name} cannot be deleted because other records still refer to it.",
            code="protected",
        )
    if kind == "unique" and names:
        fields = _unique_names(failed, names)
        return Conflict(
            f"{article(name).capitalize()} {name} with this {fields} already exists.",
            code="unique",
        )
    if kind in ("foreign_key", "unknown") and not names and failed is model:
        # ``values`` are the viewset's row: they tell nothing of another model's keys.
        names = await _missing_foreign_keys(model, values)
    if names:
        joined = ", ".join(names)
        return Conflict(f"{joined}: the referenced object does not exist.", code="foreign_key")
    return Conflict(
        f"This {name} conflicts with existing data (a uniqueness or reference constraint).",
        code="integrity",
    )
