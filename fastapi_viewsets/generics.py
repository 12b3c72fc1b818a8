"""``GenericViewSet``: the hooks every viewset action goes through.

A viewset class describes a resource; :func:`~fastapi_viewsets.viewset` turns it into routes. For
each request a new instance is made, so anything set on ``self`` belongs to that request only::

    @viewset(router)
    class CompanyViewSet(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyCreate

        def get_queryset(self):                       # every action starts here
            if self.user is None:
                return Company.filter(is_public=True)
            return Company.filter(owner_id=self.user.id)

        async def perform_create(self, obj):         # inside the action's transaction
            obj.owner_id = self.user.id
            return await super().perform_create(obj)

With ``state_class = AppState``, annotate ``state: AppState`` too, so that type checkers know
what ``self.state`` is (``state_class`` chooses it only at run time).

The per-request attributes (``self.request``, ``self.action``, ``self.kwargs``, ``self.state``,
``self.user``) and the steps every request runs (``initial()``, ``finalize_response()``,
permissions) come from :class:`~fastapi_viewsets.views.APIView`. This class adds DRF's generic
hooks: ``get_queryset()``, ``filter_queryset()``, ``get_object()``, the paginator, schemas,
serialisation and the ``perform_*`` writes. ``get_object()`` filters ``get_queryset()`` by the
lookup, answers 404 when the row is not there, and checks ``has_object_permission``.

The standard actions also have a faster implementation that reads rows with prepared SQL
instead of building model objects (see ``fastapi_viewsets._fastpath``); it is chosen per action
when the class is registered, and only where the hooks it stands in for are not overridden.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import cached_property
from typing import Any, ClassVar, Generic, NoReturn, TypeVar
from urllib.parse import quote

from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.queryset import QuerySet

from . import _tortoise
from ._echo import echo
from ._integrity import conflict_from
from ._unavailable import transaction
from ._values import column_problem
from .conditional import etag_of, if_match
from .exceptions import NotFound, PreconditionFailed, PreconditionRequired
from .filters import FilterFields, FilterSet
from .nesting import parent_filters
from .pagination import BasePagination
from .schemas import default_read_schema
from .views import APIView, BoundAction, authenticate_challenges

__all__ = ("BoundAction", "GenericViewSet", "authenticate_challenges")

ModelT = TypeVar("ModelT", bound=Model)

#: The six actions that mixins provide, as (HTTP method, detail route, success status).
STANDARD_ACTIONS: dict[str, tuple[str, bool, int]] = {
    "list": ("GET", False, 200),
    "create": ("POST", False, 201),
    "retrieve": ("GET", True, 200),
    "update": ("PUT", True, 200),
    "partial_update": ("PATCH", True, 200),
    "destroy": ("DELETE", True, 204),
}

#: Loads the rows of a queryset as :meth:`GenericViewSet.serialize` takes them.
Loader = Callable[[QuerySet[Any]], Awaitable[Sequence[Any]]]


class GenericViewSet(APIView, Generic[ModelT]):
    """The base of every viewset: its model, schemas, listing options and DRF's hooks."""

    #: The Tortoise model the viewset serves.
    model: type[ModelT]
    #: Schema of responses; generated from the model's columns when ``None``.
    read_schema: ClassVar[type[BaseModel] | None] = None
    #: Schema of the POST body.
    create_schema: ClassVar[type[BaseModel] | None] = None
    #: Schema of the PUT body (PATCH uses its all-optional copy); defaults to ``create_schema``.
    update_schema: ClassVar[type[BaseModel] | None] = None
    #: The model field the detail URL names; its type gives the path parameter's type.
    lookup_field: ClassVar[str] = "id"
    #: The name of that path parameter (``{company_slug}``, ``self.kwargs["company_slug"]``);
    #: ``lookup_field`` when ``None``.
    lookup_url_kwarg: ClassVar[str | None] = None
    #: A nested viewset's parents: its router prefix's path parameters and the fields they name
    #: (``{"company_pk": "company"}``): rows are kept to the parent, creates set it.
    parent_lookup_kwargs: ClassVar[Mapping[str, str]] = {}
    #: How lists are paginated; ``None`` answers a plain JSON array.
    pagination_class: ClassVar[type[BasePagination] | None] = None
    #: ``{"field": ["exact", "icontains"], "owner__name": ["exact"]}``: filter parameters; or
    #: ``["field", "owner"]``, each compared with ``exact`` (a relation by its key).
    filterset_fields: ClassVar[FilterFields | None] = None
    #: A FilterSet for filters beyond ``field__lookup``.
    filterset_class: ClassVar[type[FilterSet] | None] = None
    #: Fields ``?search=`` looks in; ``^`` starts-with, ``=`` exact (both ignore case).
    search_fields: ClassVar[Sequence[str] | None] = None
    #: Fields ``?ordering=`` may name.
    ordering_fields: ClassVar[Sequence[str] | None] = None
    #: The default order of lists (the primary key is always appended); a string is one
    #: field, as in DRF (``"-created_at"``).
    ordering: ClassVar[str | Sequence[str] | None] = None
    #: The ``Retry-After`` (seconds) of the 503 answered when the database cannot be reached.
    database_retry_after: ClassVar[int] = 5

    #: The order ``filter_queryset`` applied (the request's ``?ordering=`` or the default).
    ordering_used: list[str] | None = None
    # The column values of the object an update loaded, to save only what changed.
    _loaded_values: dict[str, Any] | None = None

    # --- schemas --------------------------------------------------------------------------

    @classmethod
    def get_schema_class(cls, action: str, *, write: bool = False) -> type[BaseModel] | None:
        """The schema an action reads its body with (``write=True``) or answers with.

        Called once per action when the class is registered, so OpenAPI shows what the action
        really uses. Override it to pick schemas per action::

            @classmethod
            def get_schema_class(cls, action, *, write=False):
                if action == "list" and not write:
                    return CompanySummary
                return super().get_schema_class(action, write=write)
        """
        if write:
            if action in ("update", "partial_update"):
                return cls.update_schema or cls.create_schema
            return cls.create_schema
        return cls.read_schema or default_read_schema(cls.model)

    # --- querysets and objects ------------------------------------------------------------

    def get_queryset(self) -> QuerySet[ModelT]:
        """The rows this request may see; every action, detail actions included, starts here."""
        return self.model.all()

    def scope_queryset(self, queryset: QuerySet[ModelT]) -> QuerySet[ModelT]:
        """Keep the parent's rows of a nested viewset (``parent_lookup_kwargs``), then apply
        the row scoping of this request's permissions (their ``filter_queryset``).

        Every action goes through it: list rows, and through ``get_object()`` retrieve, update,
        partial_update, destroy and detail actions. A row outside the scope is a 404.
        """
        parents = self.bound.parents
        if parents:
            queryset = queryset.filter(**parent_filters(parents, self.kwargs))
        for permission in self._checked_permissions():
            scope = getattr(permission, "filter_queryset", None)
            if scope is not None:
                queryset = scope(self.request, self, queryset)
        return queryset

    def filter_queryset(self, queryset: QuerySet[ModelT]) -> QuerySet[ModelT]:
        """Apply the request's filters, search and ordering to a listing's ``queryset``."""
        listing = self.bound.listing
        ordering: list[str] = []
        if listing is not None:
            queryset, ordering = listing.apply(self, queryset, getattr(self, "query_params", {}))
            self.ordering_used = ordering
        pk = self.model._meta.pk_attr
        if ordering:
            if not any(o.lstrip("-") == pk for o in ordering):
                ordering = [*ordering, pk]
            return queryset.order_by(*ordering)
        # Keep the order get_queryset() chose, with the primary key last so that pages are
        # stable.
        existing = [
            f"-{name}" if str(getattr(order, "value", order)).upper() == "DESC" else name
            for name, order in _tortoise.orderings(queryset)
        ]
        if any(o.lstrip("-") == pk for o in existing):
            return queryset
        return queryset.order_by(*existing, pk)

    @cached_property
    def paginator(self) -> BasePagination | None:
        """This request's instance of the action's pagination class, or ``None``."""
        pagination_class = self.bound.pagination_class
        return pagination_class() if pagination_class is not None else None

    async def list_response(self, queryset: QuerySet[ModelT]) -> Response:
        """Filter, order, paginate and serialise ``queryset`` (used by list and listing
        actions)."""
        return await self._list_response(queryset, self.load)

    async def _list_response(self, queryset: QuerySet[ModelT], load: Loader) -> Response:
        queryset = self.filter_queryset(self.scope_queryset(queryset))
        paginator = self.paginator
        if paginator is None:
            return self.make_response(await load(queryset), many=True)
        page = await paginator.paginate_queryset(queryset, self.request, self)
        if isinstance(page, QuerySet):
            page = list(await load(page))
        rows = paginator.get_page(page)
        return paginator.get_paginated_response(self.serialize(rows, many=True))

    def get_lookup_value(self) -> Any:
        """The value the URL gives for ``lookup_field``: ``self.kwargs[lookup_url_kwarg]``."""
        return self.kwargs[self.lookup_url_kwarg or self.lookup_field]

    async def get_object(self) -> ModelT:
        """The row the URL names, within ``get_queryset()``; a 404 when it is not there."""
        queryset = self._lookup_queryset()
        if queryset is not None and self.conditional_write():
            # The row stays as it is read until the write commits (PostgreSQL; SQLite runs
            # one write transaction at a time), so If-Match is compared with what is written.
            # Only its own table: PostgreSQL cannot lock the nullable side of an outer join
            # (a nullable relation the read schema nests).
            queryset = queryset.select_for_update(of=(self.model._meta.db_table,))
        obj = None if queryset is None else await self.bound.plan.apply(queryset).get_or_none()
        if obj is None:
            self._not_found()
        await self.check_object_permissions(obj)
        return obj

    def conditional_write(self) -> bool:
        """Whether this request is a write that ``If-Match`` governs: an ``update``,
        ``partial_update`` or ``destroy`` that sends it, or of a viewset that requires it."""
        if self.action not in ("update", "partial_update", "destroy"):
            return False
        return self.require_if_match or "if-match" in self.request.headers

    def check_if_match(self, obj: ModelT) -> None:
        """Refuse the write unless ``If-Match`` names ``obj``'s current ETag: 412; 428 when the
        viewset requires the header and it is missing."""
        header = self.request.headers.get("if-match")
        if header is None:
            if self.require_if_match:
                raise PreconditionRequired()
            return
        if not if_match(header, etag_of(self.serialize(obj))):
            raise PreconditionFailed()

    def _lookup_queryset(self) -> QuerySet[ModelT] | None:
        """The scoped queryset filtered by the URL's lookup; ``None`` when the value cannot
        name a row (a value the column cannot hold must not reach the database)."""
        value = self.get_lookup_value()
        field = self.model._meta.fields_map.get(self.lookup_field)
        if field is not None and column_problem(field, value) is not None:
            return None
        return self.scope_queryset(self.get_queryset()).filter(**{self.lookup_field: value})

    def _not_found(self) -> NoReturn:
        """Raise the 404 of a lookup that names no row."""
        raise NotFound(f"No {self.model.__name__.lower()} matches the given query.")

    async def load(self, queryset: QuerySet[ModelT]) -> list[ModelT]:
        """Run ``queryset`` with the relations the read schema needs."""
        return await self.bound.plan.apply(queryset)

    async def reload(self, obj: ModelT) -> ModelT:
        """``obj`` again, with the relations the read schema needs (after a write)."""
        if not self.bound.plan.relations:
            return obj
        fresh = await self.bound.plan.apply(self.model.filter(pk=obj.pk)).first()
        return fresh if fresh is not None else obj

    # --- writes -----------------------------------------------------------------------------

    @asynccontextmanager
    async def atomic(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        deleting: bool = False,
        single_statement: bool = False,
    ) -> AsyncIterator[None]:
        """One transaction for a write and its hooks.

        When anything inside raises, nothing is written. An integrity error becomes a 409 that
        names the field (``values`` are what was written, used to find a missing reference).
        With ``single_statement=True`` the block writes with one statement, which the database
        applies whole or not at all, so no transaction is opened around it.
        """
        try:
            if single_statement:
                yield
            else:
                async with transaction(self.model._meta.default_connection):
                    yield
        except IntegrityError as exc:
            raise await conflict_from(self.model, exc, values or {}, deleting=deleting) from None

    def get_write_values(
        self, data: BaseModel, *, partial: bool = False, creating: bool = False
    ) -> dict[str, Any]:
        """The column values a validated body writes.

        PATCH writes only the fields sent. The primary key is never changed by an update (the
        URL names the row), and a create without one (or with ``null``) lets the database
        generate it.

        Override it to turn fields that are not columns into columns; the write schema may then
        hold such fields (it is otherwise refused at registration)::

            def get_write_values(self, data, *, partial=False, creating=False):
                values = super().get_write_values(data, partial=partial, creating=creating)
                if "password" in values:
                    values["password_hash"] = hash_password(values.pop("password"))
                return values
        """
        values = data.model_dump(exclude_unset=partial)
        meta = self.model._meta
        # A nested viewset's rows belong to the parent its path names, whatever the body says:
        # a create is made there, and an update cannot move a row to another parent.
        for parent in self.bound.parents:
            column, kwarg = parent.column, parent.kwarg
            if column is not None and kwarg in self.kwargs and (creating or column in values):
                values[column] = self.kwargs[kwarg]
        if creating:
            for name in [n for n, v in values.items() if v is None]:
                field = meta.fields_map.get(name)
                if field is not None and (field.pk or field.generated):
                    del values[name]
        else:
            values.pop(meta.pk_attr, None)
        return values

    def validate_values(self, values: Mapping[str, Any]) -> None:
        """Check ``values`` against the model's columns before anything is written.

        A value the column cannot hold (too long, out of the integer's range, ``null`` where the
        column is not nullable, a NUL character, a failing field validator) is a 422 naming the
        field, instead of a database error.
        """
        errors: list[dict[str, Any]] = []
        fields_map = self.model._meta.fields_map
        for name, value in values.items():
            field = fields_map.get(name)
            if field is None:
                continue
            message = column_problem(field, value)
            if message is not None:
                errors.append(
                    {
                        "type": "value_error",
                        "loc": ("body", name),
                        "msg": message,
                        "input": echo(value),
                    }
                )
        if errors:
            raise RequestValidationError(errors)

    async def perform_create(self, obj: ModelT) -> ModelT:
        """Save the new, unsaved ``obj`` built from the body and return it."""
        await obj.save()
        return obj

    def apply_values(self, obj: ModelT, values: Mapping[str, Any]) -> None:
        """Set the body's ``values`` on the ``obj`` an update loaded.

        What ``obj`` holds when this is called counts as changed for :meth:`perform_update`,
        whether set before or after ``super()``.
        """
        obj.update_from_dict(dict(values))

    def _note_loaded(self, obj: ModelT) -> None:
        """Keep the column values ``obj`` was loaded with, so that :meth:`perform_update` saves
        only the columns that change."""
        # Copies, so that a JSON value changed in place still counts as changed.
        self._loaded_values = {
            name: copy.deepcopy(getattr(obj, name)) for name in obj._meta.fields_db_projection
        }

    async def perform_update(self, obj: ModelT) -> ModelT:
        """Save the columns of ``obj`` that the body (or an override before ``super()``) changed,
        plus ``auto_now`` ones; every column when the object was not loaded by an update.

        Saving only those keeps two concurrent PATCHes of different fields from undoing each
        other.
        """
        loaded = self._loaded_values
        if loaded is None:
            await obj.save()
            return obj
        meta = obj._meta
        changed = [name for name, value in loaded.items() if getattr(obj, name) != value]
        auto_now = [
            name
            for name in meta.fields_db_projection
            if getattr(meta.fields_map.get(name), "auto_now", False)
        ]
        fields = list(dict.fromkeys(changed + auto_now))
        if fields:
            await obj.save(update_fields=fields)
        return obj

    async def perform_destroy(self, obj: ModelT) -> None:
        """Delete ``obj``."""
        await obj.delete()

    # --- responses --------------------------------------------------------------------------

    def serialize(self, data: Any, *, many: bool = False) -> bytes:
        """Validate ``data`` (objects) with the read schema once and dump it to JSON."""
        adapter = self.bound.many if many else self.bound.one
        # by_alias, as FastAPI writes response models (and as OpenAPI shows them).
        return adapter.dump_json(adapter.validate_python(data, from_attributes=True), by_alias=True)

    def make_response(self, data: Any, *, many: bool = False, status_code: int = 200) -> Response:
        """A JSON response of ``data`` serialised with the read schema."""
        return Response(
            self.serialize(data, many=many),
            status_code=status_code,
            media_type="application/json",
        )

    def created_response(self, data: Any, lookup_value: Any) -> Response:
        """The ``201 Created`` of ``create``: ``data`` serialised, and a ``Location`` naming the
        new object (:meth:`get_location`) when there is one."""
        response = self.make_response(data, status_code=201)
        location = self.get_location(lookup_value)
        if location is not None:
            response.headers["location"] = location
        return response

    def get_location(self, lookup_value: Any) -> str | None:
        """The path of the object whose ``lookup_field`` is ``lookup_value``: the create's own
        path (the app's prefixes and mounts included) and the value, as ``retrieve`` reads it.
        ``None`` when the viewset has no ``retrieve`` or the value is unknown."""
        if lookup_value is None or not callable(getattr(type(self), "retrieve", None)):
            return None
        # Quoted again: the path is decoded, and a header holds only latin-1 (a "€" in it
        # would fail after the row is written).
        collection = quote(self.request.url.path.rstrip("/"), safe="/")
        return f"{collection}/{quote(str(lookup_value), safe='')}"
