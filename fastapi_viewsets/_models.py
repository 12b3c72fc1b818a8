"""Finding models and their reverse relations before ``Tortoise.init``.

Viewsets are registered at import time, usually before Tortoise has wired the relations between
models (it adds reverse relations and resolves ``"app.Model"`` names only at init). These helpers
look at the model classes defined so far, by class name, so that registration can still check
names and types; where a name is ambiguous they give up rather than guess.
"""

from __future__ import annotations

from tortoise.fields.relational import OneToOneFieldInstance
from tortoise.models import Model


def all_models() -> list[type[Model]]:
    found: list[type[Model]] = []
    pending: list[type[Model]] = [Model]
    while pending:
        klass = pending.pop()
        pending.extend(klass.__subclasses__())
        if klass is not Model and not klass._meta.abstract:
            found.append(klass)
    return found


def reverse_relations(model: type[Model]) -> dict[str, tuple[type[Model], bool]]:
    """Before ``Tortoise.init``: the reverse relations other models declare towards ``model``
    (name -> (the declaring model, whether it is to-many)), matched by class name."""
    found: dict[str, tuple[type[Model], bool]] = {}
    for klass in all_models():
        for field in klass._meta.fields_map.values():
            target = getattr(field, "model_name", None)
            if not isinstance(target, str) or target.rsplit(".", 1)[-1] != model.__name__:
                continue
            related_name = getattr(field, "related_name", None)
            if related_name is False:
                continue
            name = related_name or f"{klass._meta.db_table or klass.__name__.lower()}s"
            found[name] = (klass, not isinstance(field, OneToOneFieldInstance))
    return found


def find_model(model_name: str, near: type[Model] | None = None) -> type[Model] | None:
    """The model class named ``"app.Name"`` before Tortoise init, found by class name; when
    several models share the name, the one in the module of ``near`` (the model whose field
    names it)."""
    name = model_name.rsplit(".", 1)[-1]
    found = [klass for klass in all_models() if klass.__name__ == name]
    if len(found) > 1 and near is not None:
        found = [klass for klass in found if klass.__module__ == near.__module__]
    return found[0] if len(found) == 1 else None
