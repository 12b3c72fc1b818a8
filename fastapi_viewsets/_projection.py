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
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from tortoise.models import Model

from .schemas import nested_model

logger = logging.getLogger("fastapi_viewsets")

__all__ = ("Projection",)


@dataclass(frozen=True)
class _Shape:
    """How to build one (nested) dict from a flat ``values()`` row."""

    columns: tuple[tuple[str, str], ...]  # (schema key, values() key)
    nested: tuple[tuple[str, str, _Shape], ...]  # (schema key, key that is None for no row, shape)

    def build(self, row: dict[str, Any]) -> dict[str, Any]:
        out = {key: row[source] for key, source in self.columns}
        for key, marker, shape in self.nested:
            out[key] = None if row[marker] is None else shape.build(row)
        return out


class _Ineligible(Exception):
    pass


def _shape(
    schema: type[BaseModel], model: type[Model], prefix: str, columns: list[str], depth: int
) -> _Shape:
    if depth > 3:
        raise _Ineligible("relations nested more than three levels")
    validators = schema.__pydantic_decorators__.model_validators.values()
    if any(v.info.mode in ("before", "wrap") for v in validators):
        raise _Ineligible(f"{schema.__name__} has a model_validator that runs before validation")
    meta = model._meta
    own: list[tuple[str, str]] = []
    nested: list[tuple[str, str, _Shape]] = []
    for name, info in schema.model_fields.items():
        if info.alias not in (None, name) or info.validation_alias not in (None, name):
            raise _Ineligible(f"field {name!r} of {schema.__name__} has an alias")
        if name in meta.fields_db_projection:
            own.append((name, f"{prefix}{name}"))
            columns.append(f"{prefix}{name}")
        elif name in meta.fk_fields or name in meta.o2o_fields:
            related: type[Model] = meta.fields_map[name].related_model  # type: ignore[attr-defined]
            nested_schema = nested_model(info.annotation, collections=False)
            if nested_schema is None:
                raise _Ineligible(f"field {name!r} of {schema.__name__} is not a nested schema")
            marker = f"{prefix}{name}__{related._meta.pk_attr}"
            columns.append(marker)
            shape = _shape(nested_schema, related, f"{prefix}{name}__", columns, depth + 1)
            nested.append((name, marker, shape))
        elif name in meta.fields_map or hasattr(model, name) or info.is_required():
            raise _Ineligible(f"field {name!r} of {schema.__name__} is not a column")
        # else: the model has no such attribute and the field has a default: both paths use it.
    return _Shape(tuple(own), tuple(nested))


@dataclass(frozen=True)
class Projection:
    """The columns a read schema needs, and how to shape a row of them into its input."""

    columns: tuple[str, ...]
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
        return cls(tuple(dict.fromkeys(columns)), shape)

    def rows(self, values: list[dict[str, Any]]) -> list[dict[str, Any]]:
        build = self.shape.build
        return [build(row) for row in values]
