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

On the instance: ``self.request``, ``self.action`` (``"list"``, ``"create"``, ``"retrieve"``,
``"update"``, ``"partial_update"``, ``"destroy"`` or an ``@action`` method's name),
``self.kwargs`` (the URL's lookup), ``self.state`` (the request's state, an instance of
``state_class``) and ``self.user``.

The order of a request: the app's and router's dependencies run (they may set the user), then
``initial()`` checks ``has_permission`` of ``get_permissions()``, then the body is validated,
then the action runs. ``get_object()`` filters ``get_queryset()`` by the lookup, answers 404 when
the row is not there, and checks ``has_object_permission``.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NoReturn, TypeVar

from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter
from tortoise.exceptions import IntegrityError, MultipleObjectsReturned
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from . import _sql
from ._integrity import conflict_from
from ._projection import Projection
from ._sql import SelectPlan
from ._values import column_problem, safe_input
from .exceptions import NotAuthenticated, NotFound, PermissionDenied
from .filters import FilterSet, Listing
from .pagination import BasePagination
from .permissions import (
    AllowAny,
    BasePermission,
    PermissionLike,
    checks_objects,
    refusing_operand,
    resolve,
)
from .schemas import LoadPlan, check_read_schema, default_read_schema
from .state import BaseStateManager, RequestStore

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ("BoundAction", "GenericViewSet")

ModelT = TypeVar("ModelT", bound=Model)
_T = TypeVar("_T")

#: The six actions that mixins provide, as (HTTP method, detail route, success status).
STANDARD_ACTIONS: dict[str, tuple[str, bool, int]] = {
    "list": ("GET", False, 200),
    "create": ("POST", False, 201),
    "retrieve": ("GET", True, 200),
    "update": ("PUT", True, 200),
    "partial_update": ("PATCH", True, 200),
    "destroy": ("DELETE", True, 204),
}


#: What a model's save() runs; an override may write more than one statement.
_SAVE_METHODS = ("save", "_pre_save", "_post_save")


@dataclass(frozen=True)
class BoundAction:
    """What a registered route knows about its action, prepared once at registration."""

    owner: str
    name: str
    detail: bool
    model: type[Model]
    read_schema: type[BaseModel]
    basename: str = ""
    write_schema: type[BaseModel] | None = None
    permission_classes: Sequence[PermissionLike] | None = None
    #: Filters, search and ordering, for actions that list.
    listing: Listing | None = None
    pagination_class: type[BasePagination] | None = None
    one: TypeAdapter[Any] = field(init=False, repr=False, compare=False)
    many: TypeAdapter[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "one", TypeAdapter(self.read_schema))
        object.__setattr__(self, "many", TypeAdapter(list[self.read_schema]))  # type: ignore[name-defined]

    @cached_property
    def plan(self) -> LoadPlan:
        """The relations to load; needs Tortoise's relations, so it is made on first use."""
        check_read_schema(self.read_schema, self.model, self.owner)
        return LoadPlan.for_schema(self.read_schema, self.model, self.owner)

    def permissions_of(self, viewset: Any) -> Sequence[PermissionLike]:
        """The action's own permission classes, else those of ``viewset`` (a viewset class or
        instance)."""
        if self.permission_classes is not None:
            return self.permission_classes
        return viewset.permission_classes  # type: ignore[no-any-return]

    @cached_property
    def write_columns(self) -> SelectPlan:
        """Every column of the model (to build a model object from prepared SQL), then the
        columns of relations the read schema shows (to answer a write without reading again)."""
        own = list(self.model._meta.fields_db_projection)
        related = [p for p in self.projection.columns if "__" in p] if self.projection else []
        return SelectPlan.for_paths(self.model, own + related)

    @cached_property
    def shown_foreign_keys(self) -> tuple[str, ...]:
        """The foreign key columns of the relations in :attr:`write_columns`."""
        meta = self.model._meta
        paths = self.write_columns.paths[len(meta.fields_db_projection) :]
        names = dict.fromkeys(path.split("__", 1)[0] for path in paths)
        return tuple(meta.fields_map[name].source_field or name for name in names)

    @cached_property
    def projection(self) -> Projection | None:
        """The columns that serve the read schema without model objects, when it allows."""
        self.plan  # noqa: B018 - the same checks first
        return Projection.for_schema(self.read_schema, self.model, self.owner)


def authenticate_challenges(app: Any) -> list[str]:
    """The challenges of the HTTP and OAuth2 security schemes in ``app``'s OpenAPI."""
    try:
        schemes = app.openapi().get("components", {}).get("securitySchemes", {})
    except Exception:  # an app without OpenAPI, or one that cannot build it
        return []
    challenges = []
    for scheme in schemes.values():
        if scheme.get("type") == "http" and scheme.get("scheme"):
            challenges.append(str(scheme["scheme"]).capitalize())
        elif scheme.get("type") in ("oauth2", "openIdConnect"):
            challenges.append("Bearer")
    return list(dict.fromkeys(challenges))


class GenericViewSet(Generic[ModelT]):
    """The base of every viewset: configuration, per-request attributes and hooks."""

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
    #: Permissions checked for every action, unless an ``@action`` names its own.
    permission_classes: ClassVar[Sequence[PermissionLike]] = (AllowAny,)
    #: The class ``self.state`` is an instance of; a view over the request's one state.
    state_class: ClassVar[type[BaseStateManager[Any]]] = BaseStateManager
    #: How lists are paginated; ``None`` answers a plain JSON array.
    pagination_class: ClassVar[type[BasePagination] | None] = None
    #: ``{"field": ["exact", "icontains"], "owner__name": ["exact"]}``: filter parameters.
    filterset_fields: ClassVar[Mapping[str, Sequence[str]] | None] = None
    #: A FilterSet for filters beyond ``field__lookup``.
    filterset_class: ClassVar[type[FilterSet] | None] = None
    #: Fields ``?search=`` looks in; ``^`` starts-with, ``=`` exact (both ignore case).
    search_fields: ClassVar[Sequence[str] | None] = None
    #: Fields ``?ordering=`` may name.
    ordering_fields: ClassVar[Sequence[str] | None] = None
    #: The default order of lists (the primary key is always appended).
    ordering: ClassVar[Sequence[str] | None] = None

    # Set for each request, on a new instance.
    request: Request
    action: str
    kwargs: dict[str, Any]
    query_params: dict[str, Any]
    bound: BoundAction
    # The request's one state, which `state` views through `state_class`.
    _store: RequestStore | None = None
    #: The order ``filter_queryset`` applied (the request's ``?ordering=`` or the default).
    ordering_used: list[str] | None = None

    @cached_property
    def state(self) -> BaseStateManager[Any]:
        """The request's state, an instance of ``state_class`` (made when first read)."""
        if self._store is None:
            return self.state_class.get_state()
        return self.state_class.from_store(self._store)

    @property
    def user(self) -> Any:
        """The request's user, as a dependency set it with ``BaseStateManager.set_user``."""
        return self.state.user

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
        """Apply the row scoping of this request's permissions (their ``filter_queryset``).

        Every action goes through it: list rows, and through ``get_object()`` retrieve, update,
        partial_update, destroy and detail actions. A row outside the scope is a 404.
        """
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
        # stable. (Tortoise exposes a queryset's ordering only as `_orderings`.)
        existing = [
            f"-{name}" if str(getattr(order, "value", order)).upper() == "DESC" else name
            for name, order in getattr(queryset, "_orderings", None) or ()
        ]
        if any(o.lstrip("-") == pk for o in existing):
            return queryset
        return queryset.order_by(*existing, pk)

    @property
    def paginator(self) -> BasePagination | None:
        """A new instance of the action's pagination class, or ``None``."""
        pagination_class = self.bound.pagination_class
        return pagination_class() if pagination_class is not None else None

    async def list_response(self, queryset: QuerySet[ModelT]) -> Response:
        """Filter, order, paginate and serialise ``queryset`` (used by list and listing
        actions)."""
        queryset = self.filter_queryset(self.scope_queryset(queryset))
        paginator = self.paginator
        if paginator is not None:
            return await paginator.paginate(self, queryset, getattr(self, "query_params", {}))
        return self.make_response(await self.load_for_response(queryset), many=True)

    def get_lookup_value(self) -> Any:
        return self.kwargs[self.lookup_field]

    async def get_object(self) -> ModelT:
        """The row the URL names, within ``get_queryset()``; a 404 when it is not there."""
        queryset = self._lookup_queryset()
        obj = None if queryset is None else await self.bound.plan.apply(queryset).get_or_none()
        if obj is None:
            self._not_found()
        await self.check_object_permissions(obj)
        return obj

    def _lookup_queryset(self) -> QuerySet[ModelT] | None:
        """The scoped queryset filtered by the URL's lookup; ``None`` when the value cannot
        name a row."""
        value = self.get_lookup_value()
        field = self.model._meta.fields_map.get(self.lookup_field)
        # A value the column cannot hold names no row (and must not reach the database).
        if field is not None and column_problem(field, value) is not None:
            return None
        return self.scope_queryset(self.get_queryset()).filter(**{self.lookup_field: value})

    def _not_found(self) -> NoReturn:
        raise NotFound(f"No {self.model.__name__.lower()} matches the given query.")

    def reads_rows(self) -> bool:
        """Whether this request's object can be answered from its row, with no model object:
        the read schema allows it (see the fast read path), ``get_object``, ``load`` and
        ``serialize`` are not overridden, and no permission checks objects."""
        return self._serializes_rows() and self._objects_unchecked()

    def _serializes_rows(self) -> bool:
        cls = type(self)
        return (
            self.bound.projection is not None
            and cls.load is GenericViewSet.load
            and cls.serialize is GenericViewSet.serialize
            and cls.reload is GenericViewSet.reload
        )

    def _objects_unchecked(self) -> bool:
        cls = type(self)
        return (
            cls.get_object is GenericViewSet.get_object
            and cls.check_object_permissions is GenericViewSet.check_object_permissions
            and not any(checks_objects(p) for p in self._checked_permissions())
        )

    async def get_object_to_write(self) -> ModelT:
        """:meth:`get_object` for update and destroy.

        When ``get_object`` is not overridden and no permission checks objects, the row's own
        columns are read with prepared SQL (with the columns of the relations the read schema
        shows, so the response needs no second read) and no relations are loaded; otherwise
        it is :meth:`get_object`.
        """
        queryset = self._lookup_queryset() if self._objects_unchecked() else None
        plan = self.bound.write_columns
        prepared = None if queryset is None else _sql.select(queryset.limit(2), plan)
        if prepared is None:
            return await self.get_object()
        row = self._one(await prepared.rows())
        columns = self.model._meta.fields_db_projection
        own = len(columns)
        obj = self.model._init_from_db(
            **{columns[n]: v for n, v in zip(plan.paths[:own], row[:own], strict=True)}
        )
        # The relations the response shows, as read here: valid while their foreign keys keep
        # these values (read as values only when the response uses them).
        keys = self.bound.shown_foreign_keys
        self._read_relations = (row, {k: getattr(obj, k) for k in keys})
        return obj

    def _one(self, rows: Sequence[_T]) -> _T:
        """The one row of ``rows`` (at most two were read): a 404 for none, and Tortoise's
        ``MultipleObjectsReturned`` for two, as its ``get_or_none`` does."""
        if not rows:
            self._not_found()
        if len(rows) > 1:
            raise MultipleObjectsReturned(self.model)
        return rows[0]

    async def written_response(self, obj: ModelT, *, status_code: int = 200) -> Response:
        """The response after a write: ``obj`` with what the read schema needs of its
        relations.

        When the read schema allows rows: after an update that kept the foreign keys the
        response shows, the relations read with the object; otherwise the row read again
        (prepared SQL). Else :meth:`reload` and the model object.
        """
        projection = self.bound.projection
        if projection is not None and self.bound.plan.relations and self._serializes_rows():
            read: tuple[Sequence[Any], dict[str, Any]] | None = getattr(
                self, "_read_relations", None
            )
            if (
                read is not None
                and not projection.children
                and all(getattr(obj, k) == v for k, v in read[1].items())
            ):
                plan = self.bound.write_columns
                own = len(self.model._meta.fields_db_projection)
                related = dict(zip(plan.paths[own:], plan.read_from(read[0], own), strict=True))
                values = [related[p] if "__" in p else getattr(obj, p) for p in projection.columns]
                return self.make_response(projection.shape.build(values), status_code=status_code)
            row = await projection.fetch_pk(self.model, obj.pk)
            if row is not None:
                return self.make_response(row, status_code=status_code)
        return self.make_response(await self.reload(obj), status_code=status_code)

    async def insert_row(self, obj: ModelT) -> dict[str, Any] | None:
        """Write the new, unsaved ``obj`` with one ``INSERT`` that also returns what the
        response shows, as the read schema's input; ``None``, with nothing written, where the
        read schema or the model asks for more (see ``_sql.insert_returning``).

        ``create`` calls it in place of ``perform_create`` only when that hook and the model's
        ``save`` are not overridden and no signal listens (:meth:`writes_one_statement`).
        """
        projection = self.bound.projection
        if projection is None or not self._serializes_rows():
            return None
        return await projection.insert(obj)

    async def get_row(self) -> dict[str, Any]:
        """What :meth:`get_object` finds, as the read schema's input (see :meth:`reads_rows`)."""
        projection = self.bound.projection
        queryset = self._lookup_queryset()
        rows = []
        if queryset is not None and projection is not None:
            # Two rows at most, to tell "more than one" apart, as Tortoise's get_or_none does.
            rows = await projection.fetch(queryset.limit(2))
        return self._one(rows)

    async def load(self, queryset: QuerySet[ModelT]) -> list[ModelT]:
        """Run ``queryset`` with the relations the read schema needs."""
        return await self.bound.plan.apply(queryset)

    async def load_for_response(self, queryset: QuerySet[ModelT]) -> list[Any]:
        """The rows of ``queryset`` as :meth:`serialize` takes them for a list.

        When the read schema needs only columns (of the model and of its forward relations),
        these are plain dicts read in one query, with no model objects built; otherwise, and
        whenever ``load`` or ``serialize`` is overridden, the model objects of :meth:`load`.
        """
        projection = self.bound.projection
        cls = type(self)
        if (
            projection is None
            or cls.load is not GenericViewSet.load
            or cls.serialize is not GenericViewSet.serialize
        ):
            return await self.load(queryset)
        return await projection.fetch(queryset)

    async def reload(self, obj: ModelT) -> ModelT:
        """``obj`` again, with the relations the read schema needs (after a write)."""
        if not self.bound.plan.relations:
            return obj
        fresh = await self.bound.plan.apply(self.model.filter(pk=obj.pk)).first()
        return fresh if fresh is not None else obj

    # --- permissions ------------------------------------------------------------------------

    def get_permissions(self) -> Sequence[BasePermission]:
        """Instances of the permissions for this request; may branch on ``self.action``."""
        classes = self.bound.permissions_of(self)
        return [p if isinstance(p, BasePermission) else p() for p in classes]

    async def initial(self) -> None:
        """Runs before the body is validated and the action is called: checks permissions."""
        await self.check_permissions()

    async def check_permissions(self) -> None:
        self._permissions = list(self.get_permissions())
        for permission in self._permissions:
            if not await resolve(permission.has_permission(self.request, self)):
                self.permission_denied(permission)

    def _checked_permissions(self) -> list[BasePermission]:
        permissions: list[BasePermission] | None = getattr(self, "_permissions", None)
        if permissions is None:
            permissions = self._permissions = list(self.get_permissions())
        return permissions

    async def check_object_permissions(self, obj: ModelT) -> None:
        for permission in self._checked_permissions():
            if not await resolve(permission.has_object_permission(self.request, self, obj)):
                self.permission_denied(permission)

    def permission_denied(self, permission: BasePermission) -> None:
        """Raise 401 for a request without a user, else 403 with the permission's message."""
        if self.user is None:
            raise NotAuthenticated(headers=self.authenticate_headers())
        refusing = refusing_operand(permission, self)
        raise PermissionDenied(refusing.message, code=refusing.code)

    def authenticate_headers(self) -> dict[str, str] | None:
        """``WWW-Authenticate`` for a 401, from the security schemes the app declares."""
        challenges = authenticate_challenges(self.request.app)
        return {"WWW-Authenticate": ", ".join(challenges)} if challenges else None

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
                async with in_transaction(self.model._meta.default_connection):
                    yield
        except IntegrityError as exc:
            raise await conflict_from(self.model, exc, values or {}, deleting=deleting) from None

    def writes_one_statement(self, hook: str) -> bool:
        """Whether ``hook`` (``"perform_create"`` or ``"perform_update"``) writes with a single
        statement: neither it nor the model's ``save`` is overridden, and no Tortoise signal
        handler listens to the model's saves."""
        if getattr(type(self), hook) is not getattr(GenericViewSet, hook):
            return False
        model = self.model
        if any(getattr(model, name) is not getattr(Model, name) for name in _SAVE_METHODS):
            return False
        listeners = model._listeners
        return not any(listeners.get(signal, {}).get(model) for signal in listeners)

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
                        "input": safe_input(value),
                    }
                )
        if errors:
            raise RequestValidationError(errors)

    async def perform_create(self, obj: ModelT) -> ModelT:
        """Save the new, unsaved ``obj`` built from the body and return it."""
        await obj.save()
        return obj

    def remember(self, obj: ModelT) -> None:
        """Note ``obj``'s column values before an update, so only changed columns are saved."""
        # Copies, so that a JSON value changed in place still counts as changed.
        self._remembered = {
            name: copy.deepcopy(getattr(obj, name)) for name in obj._meta.fields_db_projection
        }

    def changed_fields(self, obj: ModelT) -> list[str] | None:
        """The columns of ``obj`` that differ from :meth:`remember`, plus ``auto_now`` ones.

        ``None`` when nothing was remembered (then every column is saved).
        """
        remembered: dict[str, Any] | None = getattr(self, "_remembered", None)
        if remembered is None:
            return None
        meta = obj._meta
        changed = [name for name, value in remembered.items() if getattr(obj, name) != value]
        auto_now = [
            name
            for name in meta.fields_db_projection
            if getattr(meta.fields_map.get(name), "auto_now", False)
        ]
        return list(dict.fromkeys(changed + auto_now))

    async def perform_update(self, obj: ModelT) -> ModelT:
        """Save the columns of ``obj`` that the body (or an override before ``super()``) changed.

        Saving only those keeps two concurrent PATCHes of different fields from undoing each
        other.
        """
        fields = self.changed_fields(obj)
        if fields is None:
            await obj.save()
        elif fields:
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
        return Response(
            self.serialize(data, many=many),
            status_code=status_code,
            media_type="application/json",
        )
