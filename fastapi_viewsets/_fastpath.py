"""The fast path: the standard actions answered from rows, without building model objects.

The mixins are the plain path: model objects, through the hooks. Most of their time goes to
Tortoise building SQL text and model objects that are only read back for the read schema. Each
standard action therefore has a fast twin here that answers the same, with prepared SQL
(``_sql``), rows shaped for the read schema (``_projection``) and writes of one statement:

==================  =====================================================================
action              the fast twin
==================  =====================================================================
list, listings      the page's rows read as the read schema's input, no model objects
retrieve            the row, not a model object
create              one ``INSERT ... RETURNING`` that also reads the response
update, destroy     the row to write read with prepared SQL; the response from that row
==================  =====================================================================

:func:`choose_path` picks, once per action when the class is registered, the plain method or
its twin, and is the one place that asks whether a hook is overridden. An override of a hook
turns the twin off for exactly the actions that call that hook, and the reason is logged at
DEBUG on the ``fastapi_viewsets`` logger::

    DEBUG CompanyViewSet.retrieve reads its object with get_object(): get_object is overridden

A twin still steps aside per request where its shortcut does not hold (a permission that checks
objects, a signal listener), and where the read schema needs model objects (see
``_projection``); both paths give the same JSON, which the property tests compare.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar, cast

from fastapi.responses import Response
from tortoise.exceptions import MultipleObjectsReturned
from tortoise.models import Model
from tortoise.queryset import QuerySet

from . import _sql, _tortoise
from ._projection import Projection
from ._sql import SelectPlan
from .generics import GenericViewSet
from .mixins import (
    CreateModelMixin,
    DestroyModelMixin,
    ListModelMixin,
    RetrieveModelMixin,
    UpdateModelMixin,
)
from .permissions import AllowAny, BasePermission, _And, _Not, _Or
from .views import BoundAction

__all__ = ("ActionPath", "choose_path", "overrides", "skips_initial")

logger = logging.getLogger("fastapi_viewsets")

_T = TypeVar("_T")
View = GenericViewSet[Any]
#: Runs an action on its view with the route's parsed parameters.
Handler = Callable[[Any, dict[str, Any]], Awaitable[Any]]
#: Answers a queryset as a list (filtered, ordered, paginated).
ListQueryset = Callable[[Any, QuerySet[Any]], Awaitable[Response]]

#: The library's own definition of the standard actions (other hooks: GenericViewSet's).
_ACTIONS: dict[str, Any] = {
    "list": ListModelMixin.list,
    "create": CreateModelMixin.create,
    "retrieve": RetrieveModelMixin.retrieve,
    "update": UpdateModelMixin.update,
    "partial_update": UpdateModelMixin.partial_update,
    "destroy": DestroyModelMixin.destroy,
}
#: The twin answers with rows only when these are the library's.
_ANSWERS_ROWS = ("load", "serialize", "reload")
#: The twin reads the object to write (or to show) as a row only when these are the library's.
_FINDS_ROWS = ("get_object", "check_object_permissions")
#: The methods an action's twin stands in for, beyond those above.
_STANDS_IN_FOR = {
    "list": ("list", "list_response"),
    "create": ("create",),
    "retrieve": ("retrieve",),
    "update": ("update",),
    "partial_update": ("partial_update",),
    "destroy": ("destroy",),
}
_ONE_STATEMENT = {"create": "perform_create", "update": "perform_update"}


def overrides(cls: type[Any], *names: str) -> list[str]:
    """The names among ``names`` whose method ``cls`` defines otherwise than the library."""
    return [name for name in names if getattr(cls, name, None) is not _library_method(name)]


def _library_method(name: str) -> Any:
    return _ACTIONS[name] if name in _ACTIONS else getattr(GenericViewSet, name)


def skips_initial(cls: type[View], bound: BoundAction) -> tuple[object, object]:
    """What of ``initial()`` may be skipped: the action's permission classes when its
    permission step would only find that they are all ``AllowAny``, and its throttle classes
    when its throttle step would find none; else markers that match nothing.

    Skipping the permission step saves 2.7 % of the instructions of a constant ``@action``
    (measured with ``benchmarks.instructions --requests 5000``). Only tuples qualify: they are
    compared by identity on each request, so classes assigned to the viewset later are still
    checked, and a tuple cannot change in place.
    """
    permissions = bound.permissions_of(cls)
    throttles = bound.throttles_of(cls)
    anyone: object = object()
    if (
        not overrides(cls, "initial", "check_permissions", "get_permissions")
        and isinstance(permissions, tuple)
        and all(p is AllowAny or type(p) is AllowAny for p in permissions)
    ):
        anyone = permissions
    unthrottled: object = object()
    if not overrides(cls, "check_throttles", "get_throttles") and throttles == ():
        unthrottled = throttles
    return anyone, unthrottled


def checks_objects(permission: BasePermission) -> bool:
    """Whether ``permission`` can refuse an object that its request-level check allowed.

    When none of a request's permissions can, the object itself is not needed to answer, and
    its row is read without building a model object.
    """
    if isinstance(permission, (_And, _Or)):
        return checks_objects(permission.first) or checks_objects(permission.second)
    if isinstance(permission, _Not):
        return True  # the negation of the default "allowed" refuses every object
    return type(permission).has_object_permission is not BasePermission.has_object_permission


@dataclass(frozen=True)
class ActionPath:
    """How one action runs: its handler, and for list and listing actions, how a queryset is
    answered."""

    handler: Handler
    list_queryset: ListQueryset


def choose_path(cls: type[View], bound: BoundAction, *, lists: bool = False) -> ActionPath:
    """The plain method of ``bound``'s action or its fast twin, decided once, at registration.

    ``@action`` methods run as written; a listing ``@action``'s queryset is answered by the
    fast list where ``list_response``, ``load`` and ``serialize`` are the library's.
    """
    name = f"{bound.owner}.{bound.name}"
    fast = _FastRows(bound, cls, name)
    list_queryset: ListQueryset = fast.list_queryset
    overridden = overrides(cls, "list_response", "load", "serialize")
    if overridden:
        if lists:
            _plain(name, "reads its list as model objects", overridden)
        list_queryset = _plain_list
    stands_in_for = _STANDS_IN_FOR.get(bound.name)
    overridden = overrides(cls, *stands_in_for) if stands_in_for else []
    if stands_in_for is None or overridden:
        if overridden:
            _plain(name, "takes the plain path (the mixin's body)", overridden)
        return ActionPath(_call_method(bound.name), list_queryset)
    twins: dict[str, Handler] = {
        "list": fast.list,
        "create": fast.create,
        "retrieve": fast.retrieve,
        "update": fast.update,
        "partial_update": fast.partial_update,
        "destroy": fast.destroy,
    }
    return ActionPath(twins[bound.name], list_queryset)


def _plain(name: str, what: str, overridden: Sequence[str]) -> None:
    """Log why (part of) an action leaves the fast path: ``name`` ``what``: ``overridden``."""
    logger.debug(
        "%s %s: %s %s overridden",
        name,
        what,
        ", ".join(overridden),
        "is" if len(overridden) == 1 else "are",
    )


def _plain_list(view: Any, queryset: QuerySet[Any]) -> Awaitable[Response]:
    return view.list_response(queryset)  # type: ignore[no-any-return]


def _call_method(name: str) -> Handler:
    def call(view: Any, kwargs: dict[str, Any]) -> Awaitable[Any]:
        return getattr(view, name)(**kwargs)  # type: ignore[no-any-return]

    return call


class _FastRows:
    """The fast twins of one action, with what they decided at registration."""

    def __init__(self, bound: BoundAction, cls: type[View], name: str) -> None:
        self.bound = bound
        self.model: type[Model] = bound.model
        pagination = bound.pagination_class
        self.page_fields = pagination.page_fields(cls) if pagination is not None else ()
        overridden = overrides(cls, *_ANSWERS_ROWS)
        self.answers_rows = not overridden
        if overridden and bound.name in ("retrieve", "create", "update", "partial_update"):
            _plain(name, "answers from model objects", overridden)
        overridden = overrides(cls, *_FINDS_ROWS)
        self.finds_rows = not overridden
        if overridden and bound.detail and bound.name in _STANDS_IN_FOR:
            _plain(name, "reads its object with get_object()", overridden)
        hook = _ONE_STATEMENT.get(bound.name.replace("partial_", ""))
        overridden = overrides(cls, hook) if hook is not None else []
        self.one_statement = hook is not None and not overridden
        if overridden:
            _plain(name, "writes in a transaction", overridden)

    # --- decided on first use: Tortoise's relations are known only after its init ------------

    @cached_property
    def projection(self) -> Projection | None:
        """The columns that serve the read schema without model objects, when it allows."""
        bound = self.bound
        bound.plan  # noqa: B018 - the same checks first
        return Projection.for_schema(bound.read_schema, self.model, bound.owner, self.page_fields)

    @cached_property
    def write_columns(self) -> SelectPlan:
        """Every column of the model (to build a model object from prepared SQL), then the
        columns of relations the read schema shows (to answer a write without reading again)."""
        own = list(self.model._meta.fields_db_projection)
        projection = self.projection
        related = [p for p in projection.columns if "__" in p] if projection else []
        return SelectPlan.for_paths(self.model, own + related)

    @cached_property
    def shown_foreign_keys(self) -> tuple[str, ...]:
        """The foreign key columns of the relations in :attr:`write_columns`."""
        meta = self.model._meta
        paths = self.write_columns.paths[len(meta.fields_db_projection) :]
        names = dict.fromkeys(path.split("__", 1)[0] for path in paths)
        return tuple(meta.fields_map[name].source_field or name for name in names)

    # --- per request ----------------------------------------------------------------------

    def _rows_projection(self) -> Projection | None:
        return self.projection if self.answers_rows else None

    def _needs_objects(self, view: View) -> bool:
        """Whether this request must see model objects: a permission checks them."""
        return any(checks_objects(p) for p in view._checked_permissions())

    def _writes_one_statement(self) -> bool:
        """Whether the write is one statement: the hook is the library's (decided at
        registration), and, as they may change later, neither the model's save() nor a signal
        listener writes more."""
        if not self.one_statement:
            return False
        model = self.model
        return _tortoise.save_is_default(model) and not _tortoise.signal_listeners(model)

    # --- the twins ------------------------------------------------------------------------

    async def list_queryset(self, view: View, queryset: QuerySet[Any]) -> Response:
        projection = self._rows_projection()
        if projection is None:
            return await view.list_response(queryset)
        return await view._list_response(queryset, projection.fetch)

    async def list(self, view: View, kwargs: dict[str, Any]) -> Response:
        return await self.list_queryset(view, view.get_queryset())

    async def retrieve(self, view: View, kwargs: dict[str, Any]) -> Response:
        projection = self._rows_projection()
        if projection is None or not self.finds_rows or self._needs_objects(view):
            return await cast("RetrieveModelMixin[Any]", view).retrieve()
        queryset = view._lookup_queryset()
        # Two rows at most, to tell "more than one" apart, as Tortoise's get_or_none does.
        rows = [] if queryset is None else await projection.fetch(queryset.limit(2))
        return view.make_response(_one(view, rows))

    async def create(self, view: View, kwargs: dict[str, Any]) -> Response:
        values = view.get_write_values(kwargs["data"], creating=True)
        view.validate_values(values)
        one_statement = self._writes_one_statement()
        projection = self._rows_projection()
        # The row the INSERT returns holds what the read schema shows; the Location needs the
        # lookup field's value, so a schema without it writes the object the plain way.
        rows_give_location, location_key = self._location_key(view, projection)
        async with view.atomic(values, single_statement=one_statement):
            obj = view.model(**values)
            if one_statement and projection is not None and rows_give_location:
                row = await projection.insert(obj)
                if row is not None:
                    lookup = None if location_key is None else row[location_key]
                    return view.created_response(row, lookup)
            created = await view.perform_create(obj)
        if created is not None:
            obj = created
        lookup = getattr(obj, view.lookup_field, None)
        return view.created_response(await self._written(view, obj, None), lookup)

    @staticmethod
    def _location_key(view: View, projection: Projection | None) -> tuple[bool, str | None]:
        """Whether a projected row gives what the ``Location`` needs, and the key of the row
        that holds the lookup value (``None`` when no ``Location`` is answered: no retrieve)."""
        if projection is None or not callable(getattr(type(view), "retrieve", None)):
            return True, None
        key = projection.key_of(view.lookup_field)
        return key is not None, key

    async def update(
        self, view: View, kwargs: dict[str, Any], *, partial: bool = False
    ) -> Response:
        if view.conditional_write():
            # If-Match is compared with the row in a transaction that locks it: the mixin's.
            mixin = cast("UpdateModelMixin[Any]", view)
            return await mixin._update(kwargs["data"], partial=partial)
        values = view.get_write_values(kwargs["data"], partial=partial)
        view.validate_values(values)
        # The row is read first (a 404, the changed columns) and only the columns that changed
        # are written: one statement writes, so a transaction adds nothing.
        async with view.atomic(values, single_statement=self._writes_one_statement()):
            obj, read = await self._object_to_write(view)
            view._note_loaded(obj)
            view.apply_values(obj, values)
            updated = await view.perform_update(obj)
        if updated is not None:
            obj = updated
        return view.make_response(await self._written(view, obj, read))

    async def partial_update(self, view: View, kwargs: dict[str, Any]) -> Response:
        return await self.update(view, kwargs, partial=True)

    async def destroy(self, view: View, kwargs: dict[str, Any]) -> Response:
        if view.conditional_write():
            return await cast("DestroyModelMixin[Any]", view).destroy()
        async with view.atomic(deleting=True):
            obj, _ = await self._object_to_write(view)
            await view.perform_destroy(obj)
        return Response(status_code=204)

    # --- their parts ------------------------------------------------------------------------

    async def _object_to_write(self, view: View) -> tuple[Any, _Read | None]:
        """What ``get_object()`` finds, with the row's own columns read by prepared SQL and no
        relations loaded, together with the relations the read schema shows (so the response
        needs no second read); ``get_object()`` itself where that cannot be done."""
        queryset = None
        if self.finds_rows and not self._needs_objects(view):
            queryset = view._lookup_queryset()
        plan = self.write_columns
        prepared = None if queryset is None else _sql.select(queryset.limit(2), plan)
        if prepared is None:
            return await view.get_object(), None
        row = _one(view, await prepared.rows())
        columns = self.model._meta.fields_db_projection
        own = len(columns)
        obj = _tortoise.init_from_db(
            self.model,
            **{columns[n]: v for n, v in zip(plan.paths[:own], row[:own], strict=True)},
        )
        # Valid while the foreign keys keep these values.
        return obj, _Read(row, {k: getattr(obj, k) for k in self.shown_foreign_keys})

    async def _written(self, view: View, obj: Any, read: _Read | None) -> Any:
        """What the response after a write shows: ``obj`` with its relations.

        After an update that kept the foreign keys the response shows, the relations read with
        the object; otherwise the row read again (prepared SQL); else ``reload()``.
        """
        projection = self._rows_projection()
        if projection is None or not view.bound.plan.relations:
            return await view.reload(obj)
        if read is not None and not projection.children and read.still_valid(obj):
            plan = self.write_columns
            own = len(self.model._meta.fields_db_projection)
            related = dict(zip(plan.paths[own:], plan.read_from(read.row, own), strict=True))
            values = [related[p] if "__" in p else getattr(obj, p) for p in projection.columns]
            return projection.shape.build(values)
        row = await projection.fetch_pk(self.model, obj.pk)
        return row if row is not None else await view.reload(obj)


@dataclass(frozen=True)
class _Read:
    """The row of an object to write, and the foreign keys of the relations read with it."""

    row: Sequence[Any]
    foreign_keys: dict[str, Any]

    def still_valid(self, obj: Any) -> bool:
        return all(getattr(obj, k) == v for k, v in self.foreign_keys.items())


def _one(view: View, rows: Sequence[_T]) -> _T:
    """The one row of ``rows`` (at most two were read): a 404 for none, and Tortoise's
    ``MultipleObjectsReturned`` for two, as its ``get_or_none`` does."""
    if not rows:
        view._not_found()
    if len(rows) > 1:
        raise MultipleObjectsReturned(view.model)
    return rows[0]
