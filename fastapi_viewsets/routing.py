"""``@viewset(router)``: register a viewset class's routes on a FastAPI router.

::

    router = APIRouter(prefix="/companies", tags=["companies"])

    @viewset(router)
    class CompanyViewSet(ModelViewSet[Company]):
        model = Company

    app.include_router(router)

gives, with ``basename`` ``company`` (the model name in lower case):

==========  ======================  ====================  ==========================
method      path                    operation id          route name
==========  ======================  ====================  ==========================
GET         ``/companies``          ``company_list``      ``company-list``
POST        ``/companies``          ``company_create``    ``company-list``
GET         ``/companies/{id}``     ``company_retrieve``  ``company-detail``
PUT         ``/companies/{id}``     ``company_update``    ``company-detail``
PATCH       ``/companies/{id}``     ``company_partial_update``  ``company-detail``
DELETE      ``/companies/{id}``     ``company_destroy``   ``company-detail``
==========  ======================  ====================  ==========================

and one route per ``@action`` (``company-<url_name>``). Several viewsets can share a router with
``prefix=``. The decorator only adds routes: it returns the class unchanged and never removes,
renames or reorders a route it did not create. Action routes are added before the detail routes,
so ``/companies/stats`` is never read as ``/companies/{id}``.

Configuration mistakes raise :class:`~fastapi_viewsets.exceptions.ImproperlyConfigured` here,
with the class's name and the fix.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.datastructures import DefaultPlaceholder
from fastapi.exceptions import ResponseValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.types import Receive, Scope, Send
from tortoise.models import Model
from tortoise.queryset import QuerySet

from .actions import NOT_GIVEN, ActionSpec, get_action_spec
from .exceptions import ErrorResponse, ImproperlyConfigured
from .filters import Listing
from .generics import STANDARD_ACTIONS, BoundAction, GenericViewSet
from .middleware import send_with_request_id
from .pagination import BasePagination
from .permissions import AllowAny
from .schemas import check_read_schema, check_write_schema, lookup_annotation, partial_schema
from .state import SCOPE_KEY, BaseStateManager, RequestStore, current_store
from .viewsets import ModelViewSet

__all__ = ("ViewSetRoute", "viewset")

V = TypeVar("V", bound=type[GenericViewSet[Any]])

VIEW_PARAM = "fastapi_viewsets_view"
REQUEST_PARAM = "fastapi_viewsets_request"
RESPONSE_PARAM = "fastapi_viewsets_response"
FINISHER_ATTR = "__fastapi_viewsets_finisher__"
BOUND_ATTR = "__fastapi_viewsets_bound__"

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Not found"}
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "Conflict with existing data"}
}
#: The methods and hooks of the library's viewsets; an @action must not take their names.
_HOOK_NAMES = frozenset(name for name in dir(ModelViewSet) if not name.startswith("__"))

_BAD_REQUEST: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Bad ordering or cursor"}
}
_REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Not authenticated"},
    403: {"model": ErrorResponse, "description": "Permission denied"},
}


class ViewSetRoute(APIRoute):
    """The route class of viewset routes: it opens the request's state around the route.

    The state exists before the first dependency runs and stays open while the response and its
    background tasks run; it is closed with its context variable's token.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def serve_with_state_request(request: Request) -> Response:
            # From here on `state.request` is the request FastAPI serves, whose body it reads.
            request.scope[SCOPE_KEY].request = request
            return await handler(request)

        return serve_with_state_request

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        action: str = getattr(self.endpoint, BOUND_ATTR).name
        store = scope.get(SCOPE_KEY)
        opened_here = not isinstance(store, RequestStore)
        if opened_here:
            store = RequestStore.from_scope(scope)
            scope[SCOPE_KEY] = store
            send = send_with_request_id(send, store)
        assert isinstance(store, RequestStore)
        store.action = action
        token = current_store.set(store)
        try:
            await super().handle(scope, receive, send)
        finally:
            current_store.reset(token)
            if opened_here:
                store.close()


def viewset(
    router: APIRouter, *, prefix: str | None = None, basename: str | None = None
) -> Callable[[V], V]:
    """Add the decorated viewset's routes to ``router`` and return the class unchanged."""

    def decorator(cls: V) -> V:
        _Registration(cls, router, prefix, basename).register()
        return cls

    return decorator


class _Registration:
    def __init__(
        self,
        cls: type[GenericViewSet[Any]],
        router: APIRouter,
        prefix: str | None,
        basename: str | None,
    ) -> None:
        self.cls = cls
        self.router = router
        self.owner = cls.__name__
        model = getattr(cls, "model", None)
        if not (isinstance(model, type) and issubclass(model, Model)):
            raise ImproperlyConfigured(
                f"{self.owner} has no model. Set `model = <your Tortoise model>` on the class."
            )
        self.model: type[Model] = model
        if not (
            isinstance(cls.state_class, type) and issubclass(cls.state_class, BaseStateManager)
        ):
            raise ImproperlyConfigured(
                f"{self.owner}.state_class must be a subclass of BaseStateManager."
            )
        self.basename = basename or model.__name__.lower()
        self.prefix = "/" + prefix.strip("/") if prefix and prefix.strip("/") else ""
        if not self.prefix and not router.prefix:
            raise ImproperlyConfigured(
                f"{self.owner}: the router has no prefix, so the list route would have no path. "
                f"Give the router a prefix (APIRouter(prefix='/...')) or pass "
                f"@viewset(router, prefix='/...')."
            )
        self.lookup = cls.lookup_field
        self.lookup_type = lookup_annotation(model, self.lookup, self.owner)
        self.tags: list[Any] | None = None if router.tags else [self.basename]
        self._check_basename()
        listing = Listing(cls, model, self.owner)
        self.listing = None if listing.is_empty else listing
        self.routes: list[tuple[str, Callable[..., Any], dict[str, Any]]] = []
        self.pagination_class = cls.pagination_class
        if self.pagination_class is not None:
            if not (
                isinstance(self.pagination_class, type)
                and issubclass(self.pagination_class, BasePagination)
            ):
                raise ImproperlyConfigured(
                    f"{self.owner}.pagination_class must be a BasePagination subclass or None."
                )
            self.pagination_class.check(cls, self.owner)

    def _check_basename(self) -> None:
        for route in self.router.routes:
            bound = getattr(getattr(route, "endpoint", None), BOUND_ATTR, None)
            if bound is not None and bound.basename == self.basename:
                raise ImproperlyConfigured(
                    f"{self.owner}: the basename {self.basename!r} is already used on this router "
                    f"by {bound.owner}. Pass a distinct basename: "
                    f"@viewset(router, basename='...')."
                )

    # --- collecting actions ---------------------------------------------------------------

    def _custom_actions(self) -> list[tuple[str, Callable[..., Any], ActionSpec]]:
        found = []
        for name in dir(self.cls):
            func = getattr(self.cls, name, None)
            spec = get_action_spec(func)
            if spec is None:
                continue
            assert callable(func)
            if name in STANDARD_ACTIONS or name in _HOOK_NAMES:
                raise ImproperlyConfigured(
                    f"{self.owner}.{name}: @action cannot use the name of a viewset method or "
                    f"hook ({name!r}), as the route would replace it. Give the action another "
                    f"name and pass url_path={name.replace('_', '-')!r} to keep its URL."
                )
            if not inspect.iscoroutinefunction(func):
                raise ImproperlyConfigured(
                    f"{self.owner}.{name} is decorated with @action but is not `async def`. "
                    f"Write it as `async def {name}(self, ...)`."
                )
            found.append((name, func, spec))
        return found

    def register(self) -> None:
        standard = [a for a in STANDARD_ACTIONS if callable(getattr(self.cls, a, None))]
        custom = self._custom_actions()
        # Fixed paths before parametrised ones, so an action is never taken for a lookup.
        for name, func, spec in custom:
            if not spec.detail:
                self._add_custom(name, func, spec)
        for name in ("list", "create"):
            if name in standard:
                self._add_standard(name)
        for name, func, spec in custom:
            if spec.detail:
                self._add_custom(name, func, spec)
        for name in ("retrieve", "update", "partial_update", "destroy"):
            if name in standard:
                self._add_standard(name)
        # Every check has passed: only now touch the router, so a mistake adds nothing.
        for path, endpoint, kwargs in self.routes:
            self.router.add_api_route(path, endpoint, route_class_override=ViewSetRoute, **kwargs)
            route = self.router.routes[-1]
            if isinstance(route, APIRoute) and route.endpoint is endpoint:
                getattr(endpoint, FINISHER_ATTR).configure(route)

    # --- building endpoints ---------------------------------------------------------------

    def _bound(
        self,
        name: str,
        detail: bool,
        write_schema: type[BaseModel] | None = None,
        permission_classes: Any = None,
        lists: bool = False,
    ) -> BoundAction:
        read_schema = self.cls.get_schema_class(name)
        if read_schema is None:
            raise ImproperlyConfigured(f"{self.owner}: get_schema_class({name!r}) returned None.")
        check_read_schema(read_schema, self.model, self.owner)
        return BoundAction(
            owner=self.owner,
            basename=self.basename,
            name=name,
            detail=detail,
            model=self.model,
            read_schema=read_schema,
            write_schema=write_schema,
            permission_classes=permission_classes,
            listing=self.listing if lists else None,
            pagination_class=self.pagination_class if lists else None,
        )

    def _listing_parameters(self, bound: BoundAction) -> list[inspect.Parameter]:
        params: list[inspect.Parameter] = []
        if bound.listing is not None:
            params.extend(p.parameter() for p in bound.listing.params)
        if bound.pagination_class is not None:
            params.extend(bound.pagination_class.query_parameters())
        return params

    def _listing_responses(self, bound: BoundAction) -> dict[int | str, dict[str, Any]]:
        responses: dict[int | str, dict[str, Any]] = {}
        if bound.listing is not None or bound.pagination_class is not None:
            responses.update(_BAD_REQUEST)
        if bound.pagination_class is not None:
            responses.update(bound.pagination_class.responses())
        return responses

    def _list_response_model(self, bound: BoundAction) -> Any:
        if bound.pagination_class is not None:
            return bound.pagination_class.response_model(bound.read_schema)
        return list[bound.read_schema]  # type: ignore[name-defined]

    def _may_refuse(self, bound: BoundAction) -> bool:
        """Whether the action's permissions can refuse, to document its 401 and 403.

        ``get_permissions()`` is asked on a bare instance that knows only its action; when it
        needs more (the user, the request), the action is taken to be one that can refuse.
        """
        probe = self.cls.__new__(self.cls)
        probe.action = bound.name
        probe.bound = bound
        probe.kwargs = {}
        try:
            permissions = list(probe.get_permissions())
        except Exception:
            return True
        return not all(type(p) is AllowAny for p in permissions)

    def _lookup_parameter(self) -> inspect.Parameter:
        return inspect.Parameter(
            self.lookup,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[
                self.lookup_type,
                Path(description=f"The {self.lookup} of the {self.basename}."),
            ],
        )

    def _endpoint(
        self,
        bound: BoundAction,
        params: Sequence[inspect.Parameter],
        return_annotation: Any = inspect.Signature.empty,
        *,
        lists: bool = False,
    ) -> Callable[..., Any]:
        """The endpoint of action ``bound``: it calls the view's method of that name (and, for
        an ``@action`` that ``lists``, answers the queryset it returns as a list)."""
        views = _Views(self.cls, bound)
        name = bound.name
        lookup = self.lookup
        query = self._listing_parameters(bound)
        query_names = [p.name for p in query]

        finisher = _Finisher(standard=bound.name in STANDARD_ACTIONS)
        # FastAPI gives its Response to one parameter only: the action's own, when it has one.
        own_response = next((p.name for p in params if _is_response(p.annotation)), None)
        response_name = own_response or RESPONSE_PARAM
        # With nothing to validate, the view (and its permission check) is made in the endpoint
        # itself, in the same order as a dependency would, minus the dependency's cost.
        inline_view = not bound.detail and not params and not query

        async def endpoint(**kwargs: Any) -> Any:
            sub_response: Response = (
                kwargs[response_name] if own_response else kwargs.pop(RESPONSE_PARAM)
            )
            if inline_view:
                view = views.make(kwargs.pop(REQUEST_PARAM))
                if views.checks_permissions(view):
                    await view.initial()
            else:
                view = kwargs.pop(VIEW_PARAM)
            if bound.detail:
                view.kwargs[lookup] = kwargs.pop(lookup)
            view.query_params = {q: kwargs.pop(q) for q in query_names} if query else {}
            result = await getattr(view, name)(**kwargs)
            if lists and isinstance(result, QuerySet):
                listed = await view.list_response(result)
                return finisher.finish(listed, sub_response, built=True)
            return finisher.finish(result, sub_response)

        endpoint.__dict__[FINISHER_ATTR] = finisher
        taken = {p.name for p in params}
        names = [p.name for p in query]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ImproperlyConfigured(
                f"{self.owner}.{bound.name}: the query parameter(s) {', '.join(duplicates)} of "
                f"its filters clash with its pagination's. Rename the filter."
            )
        for param in query:
            if param.name in taken:
                raise ImproperlyConfigured(
                    f"{self.owner}.{bound.name}: the query parameter {param.name!r} of its "
                    f"filters or pagination clashes with a parameter of the action. Rename one."
                )
        signature_params = [*params, *query]
        if bound.detail:
            signature_params.insert(0, self._lookup_parameter())
        if own_response is None:
            signature_params.append(
                inspect.Parameter(
                    RESPONSE_PARAM, inspect.Parameter.KEYWORD_ONLY, annotation=Response
                )
            )
        if inline_view:
            signature_params.append(
                inspect.Parameter(REQUEST_PARAM, inspect.Parameter.KEYWORD_ONLY, annotation=Request)
            )
        else:
            # Last, so the action's own dependencies (which may set the user) run before
            # permissions, and permissions before the body is validated.
            signature_params.append(
                inspect.Parameter(
                    VIEW_PARAM,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=Any,
                    default=Depends(views.get),
                )
            )
        endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            signature_params, return_annotation=return_annotation
        )
        endpoint.__name__ = f"{self.basename}_{bound.name}"
        endpoint.__qualname__ = f"{self.owner}.{bound.name}"
        endpoint.__doc__ = inspect.getdoc(getattr(self.cls, bound.name, None))
        setattr(endpoint, BOUND_ATTR, bound)
        return endpoint

    def _add_standard(self, name: str) -> None:
        method, detail, status_code = STANDARD_ACTIONS[name]
        write_schema: type[BaseModel] | None = None
        if name in ("create", "update", "partial_update"):
            write_schema = self.cls.get_schema_class(name, write=True)
            if write_schema is None:
                attr = "create_schema" if name == "create" else "update_schema (or create_schema)"
                raise ImproperlyConfigured(
                    f"{self.owner} has a {name} action but no {attr}. Set `{attr.split()[0]} = "
                    f"<a Pydantic model>` or leave out the mixin that provides {name}."
                )
            if self.cls.get_write_values is GenericViewSet.get_write_values:
                # An override may turn fields that are not columns into columns; trust it.
                check_write_schema(write_schema, self.model, self.owner)
            if name == "partial_update":
                write_schema = partial_schema(write_schema)
        bound = self._bound(name, detail, write_schema, lists=name == "list")

        params: list[inspect.Parameter] = []
        if write_schema is not None:
            params.append(
                inspect.Parameter(
                    "data",
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=Annotated[write_schema, Body()],
                )
            )

        responses: dict[int | str, dict[str, Any]] = {}
        if self._may_refuse(bound):
            responses.update(_REFUSED)
        if detail:
            responses.update(_NOT_FOUND)
        if name in ("create", "update", "partial_update", "destroy"):
            responses.update(_CONFLICT)
        responses.update(self._listing_responses(bound))
        response_model: Any = None
        if name == "list":
            response_model = self._list_response_model(bound)
        elif name != "destroy":
            response_model = bound.read_schema
        path = self.prefix + (f"/{{{self.lookup}}}" if detail else "")
        route_kwargs: dict[str, Any] = {
            "methods": [method],
            "response_model": response_model,
            "status_code": status_code,
            "response_class": Response if name == "destroy" else JSONResponse,
            "name": f"{self.basename}-{'detail' if detail else 'list'}",
            "operation_id": f"{self.basename}_{name}",
            "summary": _summary(name, self.basename),
            "tags": self.tags,
            "responses": responses,
        }
        self.routes.append((path, self._endpoint(bound, params), route_kwargs))

    def _add_custom(self, name: str, func: Callable[..., Any], spec: ActionSpec) -> None:
        params, return_annotation = self._action_parameters(name, func, spec.detail)
        lists = not spec.detail and _is_queryset(return_annotation)
        bound = self._bound(
            name, spec.detail, permission_classes=spec.permission_classes, lists=lists
        )

        if lists:
            return_annotation = inspect.Signature.empty
        endpoint = self._endpoint(bound, params, return_annotation, lists=lists)
        base = self.prefix + (f"/{{{self.lookup}}}" if spec.detail else "")
        path = f"{base}/{spec.url_path}" if spec.url_path else base
        responses: dict[int | str, dict[str, Any]] = dict(_NOT_FOUND) if spec.detail else {}
        if self._may_refuse(bound):
            responses.update(_REFUSED)
        responses.update(spec.route_kwargs.pop("responses", None) or {})
        kwargs = dict(spec.route_kwargs)
        if spec.response_model is not NOT_GIVEN:
            kwargs["response_model"] = spec.response_model
        elif lists:
            kwargs["response_model"] = self._list_response_model(bound)
            responses.update(self._listing_responses(bound))
        kwargs.setdefault("tags", self.tags)
        kwargs.setdefault("summary", _summary(name, self.basename))
        for method in spec.methods:
            suffix = f"_{method.lower()}" if len(spec.methods) > 1 else ""
            route_kwargs = {
                "methods": [method],
                "status_code": spec.status_code,
                "name": f"{self.basename}-{spec.url_name}",
                "operation_id": f"{self.basename}_{name}{suffix}",
                "responses": responses,
                **kwargs,
            }
            self.routes.append((path, endpoint, route_kwargs))

    def _action_parameters(
        self, name: str, func: Callable[..., Any], detail: bool
    ) -> tuple[list[inspect.Parameter], Any]:
        try:
            hints = typing.get_type_hints(func, include_extras=True)
        except Exception as exc:  # NameError, TypeError: an annotation that does not resolve
            raise ImproperlyConfigured(
                f"{self.owner}.{name}: an annotation of the action cannot be resolved ({exc}). "
                f"Define the types it names at module level."
            ) from exc
        signature = inspect.signature(func)
        params: list[inspect.Parameter] = []
        for index, param in enumerate(signature.parameters.values()):
            if index == 0:
                continue  # self
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
                raise ImproperlyConfigured(
                    f"{self.owner}.{name}: parameter {param.name!r} must be a plain named "
                    f"parameter (no *args, **kwargs or positional-only), as FastAPI reads names."
                )
            if param.name == VIEW_PARAM or (detail and param.name == self.lookup):
                raise ImproperlyConfigured(
                    f"{self.owner}.{name}: parameter {param.name!r} clashes with the lookup "
                    f"path parameter. Rename it, and read the lookup with self.kwargs."
                )
            params.append(
                param.replace(
                    kind=inspect.Parameter.KEYWORD_ONLY,
                    annotation=hints.get(param.name, param.annotation),
                )
            )
        returns = hints.get("return", inspect.Signature.empty)
        if returns is None or returns is type(None):
            # `-> None` means no body, not a response model of null.
            returns = inspect.Signature.empty
        return params, returns


def _is_response(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Response)


class _Finisher:
    """Turns what an action returned into its response, as FastAPI would.

    Headers (and a status code) that dependencies set on FastAPI's ``Response`` parameter are
    kept on the responses the standard actions build. A value an ``@action`` returns is
    validated and serialised once with its response model, as FastAPI does, unless the route
    asks for FastAPI's options (``response_model_exclude...``, another response class), which
    are then left to FastAPI.
    """

    def __init__(self, *, standard: bool) -> None:
        self.standard = standard
        self.adapter: TypeAdapter[Any] | None = None
        self.status_code = 200

    def configure(self, route: APIRoute) -> None:
        response_class = route.response_class
        if (
            self.standard
            or route.response_field is None
            or route.response_model_include is not None
            or route.response_model_exclude is not None
            or not route.response_model_by_alias
            or route.response_model_exclude_unset
            or route.response_model_exclude_defaults
            or route.response_model_exclude_none
            or not isinstance(response_class, DefaultPlaceholder)
            or response_class.value is not JSONResponse
        ):
            return
        self.adapter = TypeAdapter(route.response_model)
        self.status_code = route.status_code or 200

    def finish(self, result: Any, sub_response: Response, *, built: bool = False) -> Any:
        if isinstance(result, Response):
            if not (self.standard or built):
                return result  # an action's own response goes out as it is, as in FastAPI
        elif self.adapter is None:
            return result
        else:
            try:
                value = self.adapter.validate_python(result, from_attributes=True)
            except ValidationError as exc:
                errors = [
                    {**error, "loc": ("response", *error["loc"])}
                    for error in exc.errors(include_url=False)
                ]
                raise ResponseValidationError(errors, body=result) from None
            result = Response(
                self.adapter.dump_json(value, by_alias=True),
                status_code=self.status_code,
                media_type="application/json",
            )
        if sub_response.status_code:
            result.status_code = sub_response.status_code
        if sub_response.raw_headers:
            result.raw_headers.extend(sub_response.raw_headers)
        return result


class _Views:
    """Makes an action's view for a request: a new viewset instance, its permissions checked.

    :meth:`get` is the dependency that gives endpoints their view. An endpoint without other
    parameters calls :meth:`make` itself, and awaits ``initial()`` only when
    :meth:`checks_permissions`.
    """

    def __init__(self, cls: type[GenericViewSet[Any]], bound: BoundAction) -> None:
        self.cls = cls
        self.bound = bound
        self.anyone = _allows_anyone(cls, bound)

        async def get_view(request: Request) -> Any:
            view = self.make(request)
            if self.checks_permissions(view):
                await view.initial()
            return view

        get_view.__name__ = f"{cls.__name__}_{bound.name}_view"
        self.get = get_view

    def make(self, request: Request) -> Any:
        view = self.cls()
        view.request = request
        view.action = self.bound.name
        # The raw path values, as DRF gives them to initial(); the endpoint puts the parsed
        # lookup in place before the action runs.
        view.kwargs = dict(request.path_params)
        view.bound = self.bound
        # The store ViewSetRoute found or opened; `self.state` views it when first read.
        view._store = request.scope[SCOPE_KEY]
        return view

    def checks_permissions(self, view: GenericViewSet[Any]) -> bool:
        """Whether ``view.initial()`` may do anything: not when every permission is
        ``AllowAny``."""
        return self.bound.permissions_of(view) is not self.anyone


def _allows_anyone(cls: type[GenericViewSet[Any]], bound: BoundAction) -> object:
    """The action's permission classes when ``initial()`` would only find that they are all
    ``AllowAny`` (and may then be skipped), else a marker that matches nothing.

    Only a tuple qualifies: it is compared by identity on each request, so assigning
    other permission classes to the viewset later is still seen, and a tuple cannot change in
    place.
    """
    permissions = bound.permissions_of(cls)
    if (
        cls.initial is GenericViewSet.initial
        and cls.check_permissions is GenericViewSet.check_permissions
        and cls.get_permissions is GenericViewSet.get_permissions
        and isinstance(permissions, tuple)
        and all(p is AllowAny or type(p) is AllowAny for p in permissions)
    ):
        return permissions
    return object()


def _is_queryset(annotation: Any) -> bool:
    """Whether an action's return annotation says it returns a queryset to list."""
    target = typing.get_origin(annotation) or annotation
    return isinstance(target, type) and issubclass(target, QuerySet)


def _summary(action: str, basename: str) -> str:
    words = {
        "list": f"List {basename} objects",
        "create": f"Create a {basename}",
        "retrieve": f"Retrieve a {basename}",
        "update": f"Replace a {basename}",
        "partial_update": f"Update some fields of a {basename}",
        "destroy": f"Delete a {basename}",
    }
    return words.get(action, action.replace("_", " ").capitalize())
