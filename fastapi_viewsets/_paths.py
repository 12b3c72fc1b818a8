"""Model paths: what a filter or an ordering names (``owner__username``), checked against the model.

A path walks the model's relations, forward or reverse, to one of its fields::

    resolve_field(Company, "owner__username", "CompanyViewSet")   # (CharField, False)
    resolve_filter(Company, "owner", "CompanyViewSet")             # compares owner_id, typed
                                                                   # as the user's key

Both work before ``Tortoise.init``, when relations still name their models as strings and
neither the key columns (``owner_id``) nor the reverse relations exist yet; a name the model
does not have raises :class:`~fastapi_viewsets.ImproperlyConfigured` naming the viewset and the
names it could use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.fields.base import Field as TortoiseField
from tortoise.models import Model

from ._models import find_model, reverse_relations
from ._tortoise import is_inited
from .exceptions import ImproperlyConfigured

__all__ = ("FilterTarget", "resolve_field", "resolve_filter")


def resolve_field(
    model: type[Model], path: str, owner: str
) -> tuple[TortoiseField[Any] | None, bool]:
    """The Tortoise field at ``path`` (``"owner__username"``), and whether it crosses a to-many
    relation (so results may repeat). ``None`` when it cannot be known before Tortoise init."""
    *relations, last = path.split("__")
    current, many = _follow(model, relations, path, owner)
    if current is None:
        return None, True
    meta = current._meta
    field = meta.fields_map.get(last)
    if field is None:
        if last == "pk":
            return meta.fields_map[meta.pk_attr], many
        relation = _forward_relation(current, last)
        if relation is not None and relation != last:
            # owner_id: the key column, which Tortoise adds to the model only at init.
            return _key_of(current, relation)[0], many
        if is_inited(current) or last not in reverse_relations(current):
            raise _unknown_name(owner, path, last, current)
        # A reverse relation, which Tortoise adds to the model only at init.
        raise _ends_on_relation(owner, path, last)
    if last in meta.fk_fields | meta.o2o_fields | meta.m2m_fields | meta.backward_fk_fields:
        raise _ends_on_relation(owner, path, last)
    return field, many


@dataclass(frozen=True)
class FilterTarget:
    """What a filter on a path compares: the queryset's path, the field whose type parses the
    value, whether a to-many relation is crossed, and the path as OpenAPI describes it."""

    path: str
    field: TortoiseField[Any] | None
    many: bool
    label: str


def resolve_filter(model: type[Model], path: str, owner: str) -> FilterTarget:
    """What a filter on ``path`` compares. A path that ends on a foreign key or a one-to-one
    (``owner``, or its key column ``owner_id``) compares the key column with the related row's
    key, as django-filter does; ``owner_id`` needs no join, where ``owner__id`` would."""
    *relations, last = path.split("__")
    current, many = _follow(model, relations, path, owner)
    relation = None if current is None else _forward_relation(current, last)
    if current is None or relation is None:
        field, many = resolve_field(model, path, owner)
        return FilterTarget(path, field, many, path.replace("__", "."))
    key, key_name = _key_of(current, relation)
    label = ".".join([*relations, relation, key_name] if key_name else [*relations, relation])
    return FilterTarget("__".join([*relations, f"{relation}_id"]), key, many, label)


def _follow(
    model: type[Model], relations: Sequence[str], path: str, owner: str
) -> tuple[type[Model] | None, bool]:
    """The model that the ``relations`` of ``path`` lead to from ``model``, and whether one is
    to-many. ``None`` for the model when it cannot be known before Tortoise init."""
    current = model
    many = False
    for part in relations:
        meta = current._meta
        field = meta.fields_map.get(part)
        if field is None:
            if _forward_relation(current, part) is not None:
                # owner_id, before Tortoise init adds the key column: a column all the same.
                raise _not_a_relation(owner, path, part, current)
            reverse = None if is_inited(current) else reverse_relations(current).get(part)
            if reverse is None:
                raise _unknown_name(owner, path, part, current)
            # A reverse relation, which Tortoise adds to the model only at init.
            current, to_many = reverse
            many = many or to_many
            continue
        to_many = part in meta.m2m_fields or part in meta.backward_fk_fields
        relation = part in meta.fk_fields or part in meta.o2o_fields
        if not (relation or to_many or part in meta.backward_o2o_fields):
            raise _not_a_relation(owner, path, part, current)
        many = many or to_many
        related = _related_model(field, current)
        if related is None:
            return None, True
        current = related
    return current, many


def _related_model(field: TortoiseField[Any], near: type[Model]) -> type[Model] | None:
    related = getattr(field, "related_model", None)
    if isinstance(related, type) and issubclass(related, Model):
        return related
    # Before Tortoise init a relation names its model as "app.Model".
    return find_model(str(getattr(field, "model_name", "")), near)


def _forward_relation(model: type[Model], name: str) -> str | None:
    """The foreign key or one-to-one of ``model`` that ``name`` names, by its own name or by
    its key column's (``owner_id``, which Tortoise adds to the model only at init)."""
    meta = model._meta
    forward = meta.fk_fields | meta.o2o_fields
    if name in forward:
        return name
    if name.endswith("_id") and name[: -len("_id")] in forward:
        return name[: -len("_id")]
    return None


def _key_of(model: type[Model], relation: str) -> tuple[TortoiseField[Any] | None, str | None]:
    """The field that types the key column of ``model``'s ``relation`` (the related field it
    refers to), and that field's name; ``None`` where it cannot be known yet."""
    meta = model._meta
    fk = meta.fields_map[relation]
    related = _related_model(fk, model)
    if related is None:
        return meta.fields_map.get(f"{relation}_id"), None
    key_name = getattr(fk, "to_field", None) or related._meta.pk_attr
    # After init the key column is a copy of the related field, bounds included.
    key = meta.fields_map.get(f"{relation}_id") or related._meta.fields_map.get(key_name)
    return key, key_name


def _unknown_name(owner: str, path: str, part: str, model: type[Model]) -> ImproperlyConfigured:
    names = set(model._meta.fields_map)
    if not is_inited(model):
        names |= set(reverse_relations(model))
    return ImproperlyConfigured(
        f"{owner}: {path!r} names {part!r}, which {model.__name__} does not have. Name one of "
        f"its fields or relations: {', '.join(sorted(names))}."
    )


def _ends_on_relation(owner: str, path: str, part: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"{owner}: {path!r} ends on the relation {part!r}; name a field of the related model, "
        f"such as '{path}__id'."
    )


def _not_a_relation(owner: str, path: str, part: str, model: type[Model]) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"{owner}: {path!r} follows {part!r}, which is not a relation of {model.__name__}."
    )
