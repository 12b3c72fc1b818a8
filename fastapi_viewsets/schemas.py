"""Schemas: what a viewset reads and writes, and what it loads to serialise a read schema.

A viewset names Pydantic v2 models; plain models with ``from_attributes=True`` and models made by
Tortoise's ``pydantic_model_creator`` both work::

    class OwnerRead(BaseModel):
        model_config = ConfigDict(from_attributes=True)
        id: int
        username: str

    class CompanyRead(BaseModel):
        model_config = ConfigDict(from_attributes=True)
        id: int
        name: str
        owner: OwnerRead               # a forward relation: loaded with select_related
        projects: list[ProjectRead]    # a reverse relation: loaded with prefetch_related

    class CompanyCreate(BaseModel):
        name: str
        owner_id: int                  # write schemas name the model's columns

When ``read_schema`` is missing one is generated from the model's columns. ``update_schema``
defaults to ``create_schema``; PATCH uses a copy of it in which every field is optional (see
:func:`partial_schema`).

The read schema is inspected once, when the viewset is registered, into a :class:`LoadPlan`: the
``select_related`` and ``prefetch_related`` paths its nested fields need. A list therefore runs the
same number of queries for 1 row or 100.
"""

from __future__ import annotations

import copy
import types
import typing
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, Union

from pydantic import BaseModel, BeforeValidator, Field, create_model
from tortoise.contrib.pydantic import pydantic_model_creator
from tortoise.fields.base import Field as TortoiseField
from tortoise.models import Model
from tortoise.queryset import QuerySet

from ._models import find_model, reverse_relations
from ._tortoise import is_inited
from .exceptions import ImproperlyConfigured

__all__ = ("LoadPlan", "default_read_schema", "partial_schema")

M = TypeVar("M", bound=Model)

_generated_read: dict[type[Model], type[BaseModel]] = {}
_generated_partial: dict[type[BaseModel], type[BaseModel]] = {}


def default_read_schema(model: type[Model]) -> type[BaseModel]:
    """A read schema with the model's columns (foreign keys as ``<name>_id``), made once."""
    schema = _generated_read.get(model)
    if schema is None:
        meta = model._meta
        relations = (
            meta.fk_fields
            | meta.o2o_fields
            | meta.m2m_fields
            | meta.backward_fk_fields
            | meta.backward_o2o_fields
        )
        columns_only = pydantic_model_creator(
            model, name=f"{model.__name__}Columns", exclude=tuple(relations)
        )
        keys: dict[str, Any] = {}
        for name in sorted(meta.fk_fields | meta.o2o_fields):
            field = meta.fields_map[name]
            source = getattr(field, "source_field", None) or f"{name}_id"
            key_type = _related_pk_type(field, model)
            keys[source] = (key_type | None, None) if field.null else (key_type, ...)
        schema = create_model(f"{model.__name__}Read", __base__=columns_only, **keys)
        _generated_read[model] = schema
    return schema


def _related_pk_type(field: Any, model: type[Model]) -> Any:
    """The type of the key a foreign key holds; ``int`` unless the target's key is known."""
    related = getattr(field, "related_model", None)
    if not (isinstance(related, type) and issubclass(related, Model)):
        related = find_model(str(getattr(field, "model_name", "")), model)
    if related is None:
        return int
    pk_field = related._meta.fields_map[related._meta.pk_attr]
    return pk_field.field_type or int


def partial_schema(schema: type[BaseModel]) -> type[BaseModel]:
    """``schema`` with every field optional, for PATCH.

    A field that is not sent keeps its value (read the body with ``exclude_unset=True``); a field
    sent as ``null`` must allow ``None`` in ``schema``, or the request is a 422. Field validators
    run on the fields sent; a ``model_validator`` of ``schema`` runs on the partial body, where
    fields not sent are ``None``.
    """
    partial = _generated_partial.get(schema)
    if partial is None:
        fields: dict[str, Any] = {}
        for name, info in schema.model_fields.items():
            # The default is never validated, so a missing field stays missing and a null is
            # still checked against the original annotation.
            copy = Field(
                default=None,
                validate_default=False,
                alias=info.alias,
                validation_alias=info.validation_alias,
                title=info.title,
                description=info.description,
                examples=info.examples,
            )
            annotation: Any = info.annotation
            for constraint in info.metadata:  # nested Annotated[...] flatten into one
                annotation = Annotated[annotation, constraint]
            fields[name] = (annotation, copy)
        partial = create_model(f"Patched{schema.__name__}", __base__=schema, **fields)
        _generated_partial[schema] = partial
    return partial


def nested_model(annotation: Any, *, collections: bool = True) -> type[BaseModel] | None:
    """The Pydantic model inside ``X``, ``X | None``, ``Annotated[X, ...]`` and, unless
    ``collections`` is false, ``list[X]`` (and other collections)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return nested_model(typing.get_args(annotation)[0], collections=collections)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if not collections and len(args) != 1:
            return None
    elif origin in (list, tuple, set, frozenset, typing.Sequence) and collections:
        args = list(typing.get_args(annotation))
    else:
        args = []
    for arg in args:
        found = nested_model(arg, collections=collections)
        if found is not None:
            return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def relation_not_schema(
    owner: str, schema: type[BaseModel], label: str, model: type[Model], attr: str
) -> ImproperlyConfigured:
    if attr in model._meta.fk_fields | model._meta.o2o_fields:
        hint = f"To expose only the key, use a field named '{attr}_id'."
    else:
        # A reverse or many-to-many relation: no column of this model holds its keys.
        hint = "A reverse or many-to-many relation has no key column to expose instead."
    return ImproperlyConfigured(
        f"{owner}: field {label!r} of {schema.__name__} is the relation "
        f"{model.__name__}.{attr}, so its type must be a Pydantic model (or a list of "
        f"one). {hint}"
    )


def source_name(name: str, info: Any) -> str:
    """The attribute a schema field reads from an object (its validation alias when a string)."""
    alias = info.validation_alias if isinstance(info.validation_alias, str) else None
    return alias or name


@dataclass(frozen=True)
class LoadPlan:
    """The relations a read schema needs, as Tortoise paths."""

    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()
    relations: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def for_schema(cls, schema: type[BaseModel], model: type[Model], owner: str) -> LoadPlan:
        select: list[str] = []
        prefetch: list[str] = []
        _plan(schema, model, "", False, select, prefetch, owner, set())
        top = {path.split("__", 1)[0] for path in (*select, *prefetch)}
        return cls(tuple(select), tuple(prefetch), frozenset(top))

    def apply(self, queryset: QuerySet[M]) -> QuerySet[M]:
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        if self.prefetch_related:
            queryset = queryset.prefetch_related(*self.prefetch_related)
        return queryset


def _plan(
    schema: type[BaseModel],
    model: type[Model],
    prefix: str,
    prefetching: bool,
    select: list[str],
    prefetch: list[str],
    owner: str,
    seen: set[tuple[type[BaseModel], type[Model]]],
) -> None:
    if (schema, model) in seen:
        return
    seen = seen | {(schema, model)}
    meta = model._meta
    forward = meta.fk_fields | meta.o2o_fields
    many = meta.backward_fk_fields | meta.backward_o2o_fields | meta.m2m_fields
    for name, info in schema.model_fields.items():
        attr = source_name(name, info)
        if attr not in forward and attr not in many:
            continue
        nested = nested_model(info.annotation)
        if nested is None:
            raise relation_not_schema(owner, schema, f"{prefix}{name}", model, attr)
        related: type[Model] = meta.fields_map[attr].related_model  # type: ignore[attr-defined]
        path = f"{prefix}{attr}"
        if attr in forward and not prefetching:
            below_select: list[str] = []
            below_prefetch: list[str] = []
            _plan(nested, related, f"{path}__", False, below_select, below_prefetch, owner, seen)
            if not below_prefetch:
                select.extend([path, *below_select])
                continue
            # Tortoise's prefetch through a joined relation replaces the joined object and
            # loses what was joined below it, so such a branch is prefetched as a whole.
        prefetch.append(path)
        _plan(nested, related, f"{path}__", True, select, prefetch, owner, seen)
    # Tortoise prefetches "a__b" after "a"; drop parents that a child path already implies.
    for group in (select, prefetch):
        keep = [p for p in group if not any(q.startswith(f"{p}__") for q in group)]
        group[:] = keep


def columns(model: type[Model]) -> set[str]:
    """The names of ``model``'s columns, foreign keys as ``<name>_id``, before or after init."""
    meta = model._meta
    names = set(meta.fields_db_projection)
    for name in meta.fk_fields | meta.o2o_fields:
        names.add(getattr(meta.fields_map[name], "source_field", None) or f"{name}_id")
    return names


def check_read_schema(schema: type[BaseModel], model: type[Model], owner: str) -> None:
    """Every required field of ``schema`` must be something a ``model`` instance has.

    Before ``Tortoise.init`` reverse relations are found among the models defined so far.
    """
    meta = model._meta
    known = set(meta.fields_map) | columns(model)
    if not is_inited(model):
        known |= set(reverse_relations(model))
    relations = meta.fk_fields | meta.o2o_fields | meta.m2m_fields
    for name, info in schema.model_fields.items():
        attr = source_name(name, info)
        if attr in relations and nested_model(info.annotation) is None:
            raise relation_not_schema(owner, schema, name, model, attr)
        if attr in known or hasattr(model, attr) or not info.is_required():
            continue
        # An alias is also the attribute read: name it, or the message blames the wrong name.
        field, hint = repr(name), ""
        if attr != name:
            field = f"{name!r} (read as its alias {attr!r})"
            hint = " To rename the key only, use serialization_alias."
        raise ImproperlyConfigured(
            f"{owner}: read schema {schema.__name__} has a field {field} that "
            f"{model.__name__} does not have. Add the field to the model, remove it from the "
            f"schema, or give it a default.{hint}"
        )


_generated_bounded: dict[tuple[type[BaseModel], type[Model]], type[BaseModel]] = {}


def bounded_schema(schema: type[BaseModel], model: type[Model]) -> type[BaseModel]:
    """``schema``, or a copy of it under the same name whose integer fields carry the bounds of
    their columns (``-2147483648`` to ``2147483647`` for an ``IntField``), so that OpenAPI shows
    them and Pydantic refuses a value the column cannot hold, as the column check would.

    Fields that set a bound of their own keep theirs; a schema without such a field is returned
    as it is. The copy is a subclass: its validators, config and ``isinstance`` are the same.
    Where the class itself also appears in the app's OpenAPI (an ``@action``'s body, say), the
    two share a name, and FastAPI names both by their module instead.
    """
    key = (schema, model)
    found = _generated_bounded.get(key)
    if found is not None:
        return found
    fields: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        column = _column(model, name)
        if column is not None and column.field_type is str and info.annotation in _TEXT:
            if not any(hasattr(m, "pattern") for m in info.metadata):
                # A NUL cannot be stored in a text column (PostgreSQL refuses it).
                fields[name] = _with(info, Annotated[str, Field(pattern=_NO_NUL)])
            continue
        constraints = dict(getattr(column, "constraints", {}) or {})
        if column is None or column.field_type is not int or not constraints:
            continue
        if any(hasattr(m, attr) for m in info.metadata for attr in ("ge", "gt", "le", "lt")):
            continue
        ge, le = constraints.get("ge"), constraints.get("le")
        bounds = Field(ge=None if ge is None else int(ge), le=None if le is None else int(le))
        # 3.0 is an integer to JSON Schema: a strict schema takes it too.
        bounded: Any = Annotated[int, bounds, BeforeValidator(_integral)]
        if info.annotation is int:
            fields[name] = (bounded, copy.copy(info))
        elif set(typing.get_args(info.annotation)) == {int, type(None)}:  # int | None
            fields[name] = (bounded | None, copy.copy(info))
    result = schema
    if fields:
        result = create_model(
            schema.__name__, __base__=schema, __module__=schema.__module__, **fields
        )
    _generated_bounded[key] = result
    return result


_NO_NUL = r"^[^\x00]*$"
_TEXT = (str, str | None)


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _with(info: Any, annotation: Any) -> tuple[Any, Any]:
    """A field like ``info`` whose type is ``annotation`` (``| None`` kept)."""
    if set(typing.get_args(info.annotation)) == {str, type(None)}:
        annotation = annotation | None
    return annotation, copy.copy(info)


def _column(model: type[Model], name: str) -> TortoiseField[Any] | None:
    """The column ``name`` of ``model``: a field, or a foreign key's ``<name>_id``, typed as
    the key it refers to (Tortoise adds that column only at init; viewsets register before)."""
    found = model._meta.fields_map.get(name)
    if found is not None or not name.endswith("_id"):
        return found
    relation = model._meta.fields_map.get(name[: -len("_id")])
    related = getattr(relation, "related_model", None)
    if not (isinstance(related, type) and issubclass(related, Model)):
        related = find_model(str(getattr(relation, "model_name", "")), model)
    if relation is None or related is None:
        return None
    key = getattr(relation, "to_field", None) or related._meta.pk_attr
    return related._meta.fields_map.get(key)


def body_schema(
    schema: type[BaseModel], model: type[Model], *, partial: bool = False
) -> type[BaseModel]:
    """The body a write route validates: ``schema`` bounded like its columns
    (:func:`bounded_schema`), all optional for PATCH (:func:`partial_schema`)."""
    bounded = bounded_schema(schema, model)
    return partial_schema(bounded) if partial else bounded


def check_write_schema(schema: type[BaseModel], model: type[Model], owner: str) -> None:
    """Every field of a write schema must be a column of ``model`` (unless the viewset
    overrides ``get_write_values`` to map them)."""
    meta = model._meta
    allowed = columns(model)
    # The body is written with model_dump(), by field name; aliases only name the JSON keys.
    for attr in schema.model_fields:
        name = attr
        if attr in allowed:
            continue
        if attr in meta.fk_fields or attr in meta.o2o_fields:
            hint = f"Name the field '{attr}_id' and send the related object's key."
        elif attr in meta.m2m_fields or attr in meta.backward_fk_fields:
            hint = "Write many-to-many and reverse relations in perform_create/perform_update."
        else:
            hint = "Add the field to the model or remove it from the schema."
        raise ImproperlyConfigured(
            f"{owner}: write schema {schema.__name__} has a field {name!r} that is not a column "
            f"of {model.__name__}. {hint}"
        )


def lookup_annotation(model: type[Model], lookup_field: str, owner: str) -> Any:
    """The path parameter's type for ``lookup_field``, bounded like its column."""
    meta = model._meta
    tortoise_field: TortoiseField[Any] | None = meta.fields_map.get(lookup_field)
    if tortoise_field is None or lookup_field not in meta.fields_db_projection:
        raise ImproperlyConfigured(
            f"{owner}: lookup_field = {lookup_field!r} is not a column of {model.__name__}. "
            f"Use one of: {', '.join(sorted(columns(model)))}."
        )
    if not (tortoise_field.pk or tortoise_field.unique):
        raise ImproperlyConfigured(
            f"{owner}: lookup_field = {lookup_field!r} is not unique on {model.__name__}, so a "
            f"URL could name several rows. Mark the field unique=True or look up by 'id'."
        )
    python_type = tortoise_field.field_type
    constraints = dict(getattr(tortoise_field, "constraints", {}) or {})
    if python_type is int:
        return Annotated[int, Field(ge=constraints.get("ge"), le=constraints.get("le"))]
    if python_type is uuid.UUID:
        return uuid.UUID
    if python_type is str:
        return Annotated[str, Field(max_length=constraints.get("max_length"))]
    return python_type
