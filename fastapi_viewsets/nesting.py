"""Nested routes: a viewset under a parent's path, ``/companies/{company_pk}/projects``.

The parent's key is a path parameter of the router's prefix. ``parent_lookup_kwargs`` (the name
drf-nested-routers gives it) says which field of the model it names; the viewset then lists and
finds only the parent's rows, and a create sets the parent::

    router = APIRouter(prefix="/companies/{company_pk}/projects")

    @viewset(router)
    class ProjectViewSet(ModelViewSet[Project]):
        model = Project
        parent_lookup_kwargs = {"company_pk": "company"}   # Project.company, a foreign key

    GET  /companies/1/projects        the projects of company 1
    GET  /companies/1/projects/7      404 unless project 7 belongs to company 1
    POST /companies/1/projects        a project of company 1, whatever the body says

The parameter is typed as the field it names (an ``int`` for an integer key, bounded like its
column), so ``/companies/abc/projects`` is a 422 and OpenAPI declares it. A path parameter not in
``parent_lookup_kwargs`` is declared too, as a string, and left to ``get_queryset()`` (read it
from ``self.kwargs``). Whether the parent itself exists, or is the user's to see, is the
viewset's to say: see docs/viewsets.md, "Nested routes".
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Path
from tortoise.models import Model

from ._paths import resolve_filter
from ._values import value_type
from .exceptions import ImproperlyConfigured

__all__ = ("ParentLookup", "parent_filters", "parent_lookups", "parent_parameters")

_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(frozen=True)
class ParentLookup:
    """One path parameter of a nested viewset's prefix."""

    #: Its name in the path, and in ``self.kwargs``.
    kwarg: str
    #: The queryset path it filters (``company_id``), or ``None`` when it filters nothing.
    path: str | None
    #: The column a create sets to it (``company_id``), or ``None``.
    column: str | None
    #: Its type, which FastAPI parses and OpenAPI declares.
    annotation: Any
    description: str


def parent_lookups(cls: type[Any], model: type[Model], prefix: str) -> tuple[ParentLookup, ...]:
    """The path parameters of ``prefix`` (the router's and the viewset's), typed by the
    viewset's ``parent_lookup_kwargs``; raises :class:`ImproperlyConfigured` for a mistake."""
    owner = cls.__name__
    declared: Mapping[str, str] = getattr(cls, "parent_lookup_kwargs", None) or {}
    if not isinstance(declared, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in declared.items()
    ):
        raise ImproperlyConfigured(
            f"{owner}.parent_lookup_kwargs must map path parameters to fields of "
            f"{model.__name__}, like {{'company_pk': 'company'}}."
        )
    names = _PARAMETER.findall(prefix)
    unknown = sorted(set(declared) - set(names))
    if unknown:
        raise ImproperlyConfigured(
            f"{owner}.parent_lookup_kwargs names {', '.join(unknown)}, which the path "
            f"{prefix!r} does not have. Put the parameter in the router's prefix, like "
            f"APIRouter(prefix='/companies/{{company_pk}}/projects')."
        )
    found = []
    for name in names:
        field_path = declared.get(name)
        if field_path is None:
            found.append(
                ParentLookup(name, None, None, str, f"The {name} of the path (a parent's key).")
            )
            continue
        target = resolve_filter(model, field_path, owner)
        annotation = value_type(target.field) or str
        column = target.path if "__" not in target.path else None
        description = f"The {target.label} of the rows (their parent)."
        found.append(ParentLookup(name, target.path, column, annotation, description))
    return tuple(found)


def parent_filters(lookups: tuple[ParentLookup, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The filter that keeps the parent's rows: ``{"company_id": 1}``."""
    return {p.path: kwargs[p.kwarg] for p in lookups if p.path is not None and p.kwarg in kwargs}


def parent_parameters(
    lookups: tuple[ParentLookup, ...], taken: set[str]
) -> list[inspect.Parameter]:
    """The endpoint parameters of ``lookups`` that an action does not declare itself
    (``taken``): FastAPI parses them and OpenAPI declares them."""
    return [
        inspect.Parameter(
            p.kwarg,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[p.annotation, Path(description=p.description)],
        )
        for p in lookups
        if p.kwarg not in taken
    ]
