"""The fast read path: rows as plain values, shaped like the read schema, without model objects.

Most of a list request's time goes to building Tortoise model objects, one per row and one per
joined relation, only to read their attributes back for the read schema. When the schema needs
nothing but columns of the model and of its forward relations, the viewset asks for exactly those
columns (``QuerySet.values``, one query with LEFT OUTER JOINs), shapes each row into the nested
dict the schema expects, and validates the dicts once::

    class CompanyRead(BaseModel):            # eligible: columns, and a forward relation
        id: int
        name: str
        owner: OwnerRead | None              # -> values("id", "name", "owner__id",
                                             #           "owner__username")

A schema that reads anything else keeps the plain path (model objects): a reverse or
many-to-many relation, a model property or method, an alias, a ``model_validator`` that runs
before validation (it would see a dict, not a model object). Why a schema keeps the plain path is
logged once at DEBUG level on the ``fastapi_viewsets`` logger.

Both paths give the same JSON; a property-based test compares them on random rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from tortoise.models import Model
from tortoise.queryset import QuerySet

from . import _sql
from ._sql import SelectPlan
from .schemas import nested_model

logger = logging.getLogger("fastapi_viewsets")

__all__ = ("Projection",)


@dataclass(frozen=True)
class _Shape:
    """How to build one (nested) dict from a flat row of the projection's columns."""

    columns: tuple[tuple[str, int], ...]  # (schema key, index of the column)
    nested: tuple[tuple[str, int, _Shape], ...]  # (schema key, index None for no row, shape)

    def build(self, row: Sequence[Any]) -> dict[str, Any]:
        out = {key: row[index] for key, index in self.columns}
        for key, marker, shape in self.nested:
            out[key] = None if row[marker] is None else shape.build(row)
        return out


class _Ineligible(Exception):
    pass


def _index(columns: list[str], path: str) -> int:
    if path not in columns:
        columns.append(path)
    return columns.index(path)


def _shape(
    schema: type[BaseModel], model: type[Model], prefix: str, columns: list[str], depth: int
) -> _Shape:
    if depth > 3:
        raise _Ineligible("relations nested more than three levels")
    validators = schema.__pydantic_decorators__.model_validators.values()
    if any(v.info.mode in ("before", "wrap") for v in validators):
        raise _Ineligible(f"{schema.__name__} has a model_validator that runs before validation")
    meta = model._meta
    own: list[tuple[str, int]] = []
    nested: list[tuple[str, int, _Shape]] = []
    for name, info in schema.model_fields.items():
        if info.alias not in (None, name) or info.validation_alias not in (None, name):
            raise _Ineligible(f"field {name!r} of {schema.__name__} has an alias")
        if name in meta.fields_db_projection:
            own.append((name, _index(columns, f"{prefix}{name}")))
        elif name in meta.fk_fields or name in meta.o2o_fields:
            related: type[Model] = meta.fields_map[name].related_model  # type: ignore[attr-defined]
            nested_schema = nested_model(info.annotation, collections=False)
            if nested_schema is None:
                raise _Ineligible(f"field {name!r} of {schema.__name__} is not a nested schema")
            marker = _index(columns, f"{prefix}{name}__{related._meta.pk_attr}")
            shape = _shape(nested_schema, related, f"{prefix}{name}__", columns, depth + 1)
            nested.append((name, marker, shape))
        elif name in meta.fields_map or hasattr(model, name) or info.is_required():
            raise _Ineligible(f"field {name!r} of {schema.__name__} is not a column")
        # else: the model has no such attribute and the field has a default: both paths use it.
    return _Shape(tuple(own), tuple(nested))


@dataclass(frozen=True)
class Projection:
    """The columns a read schema needs, and how to shape a row of them into its input."""

    select: SelectPlan
    shape: _Shape

    @classmethod
    def for_schema(
        cls, schema: type[BaseModel], model: type[Model], owner: str
    ) -> Projection | None:
        """The projection for ``schema``, or ``None`` when it needs model objects."""
        columns: list[str] = []
        try:
            shape = _shape(schema, model, "", columns, 0)
        except _Ineligible as reason:
            logger.debug("%s: %s is read through model objects: %s", owner, schema.__name__, reason)
            return None
        return cls(SelectPlan.for_paths(model, columns), shape)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.select.paths

    async def fetch(self, queryset: QuerySet[Any]) -> list[dict[str, Any]]:
        """The rows of ``queryset``, shaped for the read schema: prepared SQL when the queryset
        is plain (see ``_sql``), else Tortoise's ``values()``."""
        prepared = _sql.select(queryset, self.select)
        if prepared is not None:
            rows: Sequence[Sequence[Any]] = self.select.read(await prepared.rows())
        elif queryset._limit == 0:
            rows = []  # values() would ignore a zero limit
        else:
            paths = self.select.paths
            rows = [[row[p] for p in paths] for row in await queryset.values(*paths)]
        build = self.shape.build
        return [build(row) for row in rows]
