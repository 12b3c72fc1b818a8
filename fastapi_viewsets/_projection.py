"""The fast read path: rows as plain values, shaped like the read schema, without model objects.

Most of a list request's time goes to building Tortoise model objects, one per row and one per
joined relation, only to read their attributes back for the read schema. When the schema needs
only columns of the model, of its forward relations and lists of its reverse foreign keys, the
viewset asks for exactly those columns (one query with LEFT OUTER JOINs, prepared once per
shape, see ``_sql``), one more query per reverse foreign key for the whole page, shapes each
row into the nested dict the schema expects, and validates the dicts once::

    class CompanyRead(BaseModel):            # eligible: columns, a forward relation, children
        id: int
        name: str
        owner: OwnerRead | None              # -> JOIN owner: owner__id, owner__username
        projects: list[ProjectRead]          # -> SELECT ... FROM project WHERE company_id IN
                                             #    (the page's ids), in the children's Meta
                                             #    ordering, else by primary key

A schema that reads anything else keeps the plain path (model objects): a many-to-many
relation, a reverse relation below the top level, a model property or method, an alias, a
``model_validator`` that runs before validation (it would see a dict, not a model object). Why a
schema keeps the plain path is logged once at DEBUG level on the ``fastapi_viewsets`` logger.
When the installed Tortoise is outside the versions ``_tortoise`` was checked against, every
schema keeps the plain path (and nothing here reads Tortoise's private state).

Both paths give the same JSON; a property-based test compares them on random rows.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from tortoise.models import Model
from tortoise.queryset import QuerySet

from . import _sql, _tortoise
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


@dataclass(frozen=True)
class _Children:
    """A reverse foreign key the schema shows as a list: read with one more query per page."""

    key: str  # the schema key on the parent
    parent_index: int  # where the parent's key (what children point to) is in the parent row
    model: type[Model]
    foreign_key: str  # the children's column that points to the parent
    foreign_key_index: int  # where that column is in a child row
    select: SelectPlan
    shape: _Shape


def _children(name: str, info: Any, model: type[Model], columns: list[str]) -> _Children:
    relation: Any = model._meta.fields_map[name]
    child_schema = nested_model(info.annotation)
    if typing.get_origin(info.annotation) is not list or child_schema is None:
        raise _Ineligible(f"field {name!r} is not a list of a nested schema")
    related: type[Model] = relation.related_model
    child_columns: list[str] = []
    shape = _shape(child_schema, related, "", child_columns, 1, None)
    fk_index = _index(child_columns, relation.relation_field)
    parent_index = _index(columns, relation.to_field_instance.model_field_name)
    select = SelectPlan.for_paths(related, child_columns)
    return _Children(name, parent_index, related, relation.relation_field, fk_index, select, shape)


def _shape(
    schema: type[BaseModel],
    model: type[Model],
    prefix: str,
    columns: list[str],
    depth: int,
    children: list[_Children] | None,
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
            shape = _shape(nested_schema, related, f"{prefix}{name}__", columns, depth + 1, None)
            nested.append((name, marker, shape))
        elif name in meta.backward_fk_fields and children is not None:
            children.append(_children(name, info, model, columns))
        elif name in meta.fields_map or hasattr(model, name) or info.is_required():
            raise _Ineligible(f"field {name!r} of {schema.__name__} is not a column")
        # else: the model has no such attribute and the field has a default: both paths use it.
    return _Shape(tuple(own), tuple(nested))


def _with_extra(
    shape: _Shape, schema: type[BaseModel], columns: list[str], extra: Sequence[str]
) -> _Shape:
    missing = [name for name in extra if name not in dict(shape.columns)]
    if not missing:
        return shape
    if schema.model_config.get("extra", "ignore") != "ignore":
        raise _Ineligible(
            f"{schema.__name__} does not ignore unknown keys, and the pagination reads "
            f"{', '.join(missing)} from each row"
        )
    added = tuple((name, _index(columns, name)) for name in missing)
    return _Shape(shape.columns + added, shape.nested)


@dataclass(frozen=True)
class Projection:
    """The columns a read schema needs, and how to shape a row of them into its input."""

    select: SelectPlan
    shape: _Shape
    #: Reverse foreign keys shown as lists (top level only), one query each.
    children: tuple[_Children, ...] = ()

    @classmethod
    def for_schema(
        cls, schema: type[BaseModel], model: type[Model], owner: str, extra: Sequence[str] = ()
    ) -> Projection | None:
        """The projection for ``schema``, or ``None`` when it needs model objects.

        ``extra`` names more of the model's own columns to put in each row under their own
        names (a paginator reads them: see ``BasePagination.page_fields``), which the read
        schema then ignores; a schema that does not ignore unknown keys keeps the plain path.
        It is also ``None`` when the installed Tortoise is outside the versions ``_tortoise``
        was checked against.
        """
        if not _tortoise.FAST_PATH:
            _tortoise.fast_path_off()
            return None
        columns: list[str] = []
        children: list[_Children] = []
        try:
            shape = _shape(schema, model, "", columns, 0, children)
            shape = _with_extra(shape, schema, columns, extra)
        except _Ineligible as reason:
            logger.debug("%s: %s is read through model objects: %s", owner, schema.__name__, reason)
            return None
        return cls(SelectPlan.for_paths(model, columns), shape, tuple(children))

    @property
    def columns(self) -> tuple[str, ...]:
        return self.select.paths

    def key_of(self, path: str) -> str | None:
        """The key under which a shaped row holds the model's own column ``path``, if any."""
        paths = self.select.paths
        return next((key for key, index in self.shape.columns if paths[index] == path), None)

    async def fetch(self, queryset: QuerySet[Any]) -> list[dict[str, Any]]:
        """The rows of ``queryset``, shaped for the read schema: prepared SQL when the queryset
        is plain (see ``_sql``), else Tortoise's ``values()``."""
        rows = await _rows(queryset, self.select)
        build = self.shape.build
        shaped = [build(row) for row in rows]
        for child in self.children:
            keys = list(dict.fromkeys(row[child.parent_index] for row in rows))
            groups: dict[Any, list[dict[str, Any]]] = {key: [] for key in keys}
            if keys:
                # On the parents' connection, as Tortoise's prefetch reads them.
                children = child.model.filter(**{f"{child.foreign_key}__in": keys}).using_db(
                    _tortoise.choose_db(queryset)
                )
                if not child.model._meta.ordering:
                    # Tortoise's prefetch leaves the order to the database; the primary key
                    # makes it stable.
                    children = children.order_by(child.model._meta.pk_attr)
                build_child, fk = child.shape.build, child.foreign_key_index
                for row in await _rows(children, child.select):
                    groups[row[fk]].append(build_child(row))
            for out, row in zip(shaped, rows, strict=True):
                out[child.key] = groups.get(row[child.parent_index], [])
        return shaped

    async def fetch_pk(self, model: type[Model], pk: Any) -> dict[str, Any] | None:
        """The row whose primary key is ``pk``, shaped for the read schema, or ``None``."""
        prepared = None if self.children else _sql.select_pk(self.select, pk)
        if prepared is None:
            rows = await self.fetch(model.filter(pk=pk))
            return rows[0] if rows else None
        return await self._first(prepared)

    async def insert(self, obj: Model) -> dict[str, Any] | None:
        """Write the new, unsaved ``obj`` with one ``INSERT`` that returns its row, shaped for
        the read schema; ``None``, with nothing written, when that cannot be done (children to
        read, or what ``_sql.insert_returning`` does not cover)."""
        prepared = None if self.children else _sql.insert_returning(obj, self.select)
        return None if prepared is None else await self._first(prepared)

    async def _first(self, prepared: _sql.Prepared) -> dict[str, Any] | None:
        found = self.select.read(await prepared.rows())
        return self.shape.build(found[0]) if found else None


async def _rows(queryset: QuerySet[Any], select: SelectPlan) -> Sequence[Sequence[Any]]:
    prepared = _sql.select(queryset, select)
    if prepared is not None:
        return select.read(await prepared.rows())
    if _tortoise.limit(queryset) == 0:
        return []  # values() would ignore a zero limit
    paths = select.paths
    return [[row[p] for p in paths] for row in await queryset.values(*paths)]
