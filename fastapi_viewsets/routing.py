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

The detail path parameter is named after ``lookup_field``, or ``lookup_url_kwarg`` when the class
sets it (``/companies/{company_slug}``), as in DRF. There is one route per ``@action``
(``company-<url_name>``). Several viewsets can share a router with ``prefix=``. The decorator
only adds routes: it returns the class unchanged and never removes, renames or reorders a route
it did not create. Action routes are added before the detail routes, so ``/companies/stats`` is
never read as ``/companies/{id}``.

Configuration mistakes raise :class:`~fastapi_viewsets.exceptions.ImproperlyConfigured` here,
with the class's name and the fix.

This module only builds: it reads and checks the class, and turns each action into a route
(its path, parameters and OpenAPI metadata, see ``fastapi_viewsets.openapi``) with an
:class:`~fastapi_viewsets.dispatch.ActionRunner` that runs its requests. Nothing here runs per
request.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from tortoise.models import Model

from . import openapi
from ._body_limit import checked_size
from ._fastpath import choose_path, overrides
from .actions import (
    NOT_GIVEN,
    ActionSpec,
    action_parameters,
    custom_actions,
    is_queryset,
    is_response,
)
from .dispatch import (
    REQUEST_PARAM,
    RESPONSE_PARAM,
    RUNNER_ATTR,
    VIEW_PARAM,
    ActionRunner,
    ViewSetRoute,
    link_siblings,
)
from .exceptions import ImproperlyConfigured
from .filters import Listing
from .generics import STANDARD_ACTIONS, GenericViewSet
from .idempotency import IdempotencyPolicy
from .nesting import parent_lookups, parent_parameters
from .pagination import BasePagination
from .schemas import body_schema, check_read_schema, check_write_schema, lookup_annotation
from .state import BaseStateManager
from .views import BoundAction

__all__ = ("ViewSetRoute", "viewset")

V = TypeVar("V", bound=type[GenericViewSet[Any]])

#: The methods and hooks of the library's viewsets; an @action must not take their names.


def viewset(
    router: APIRouter, *, prefix: str | None = None, basename: str | None = None
) -> Callable[[V], V]:
    """Add the decorated viewset's routes to ``router`` and return the class unchanged."""

    def decorator(cls: V) -> V:
        _Registration(cls, router, prefix, basename).register()
        return cls

    return decorator


@dataclass
class _Route:
    """One row of a viewset's route table, ready for ``router.add_api_route``."""

    path: str
    runner: ActionRunner
    endpoint: Callable[..., Any]
    kwargs: dict[str, Any]


class _Registration:
    """Reads and checks one viewset class, then adds its route table to the router."""

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
        #: What operation ids start with: unique per viewset class, so two viewsets over one
        #: model (say on /companies and /admin/companies) do not share them. Route names keep
        #: DRF's basename (the model's name), as url_for("company-detail") expects.
        self.name_base = basename or openapi.operation_id_base(cls) or self.basename
        self.prefix = "/" + prefix.strip("/") if prefix and prefix.strip("/") else ""
        if not self.prefix and not router.prefix:
            raise ImproperlyConfigured(
                f"{self.owner}: the router has no prefix, so the list route would have no path. "
                f"Give the router a prefix (APIRouter(prefix='/...')) or pass "
                f"@viewset(router, prefix='/...')."
            )
        self.lookup = cls.lookup_field
        self.lookup_type = lookup_annotation(model, self.lookup, self.owner)
        self.lookup_kwarg = self._lookup_url_kwarg()
        self.parents = parent_lookups(cls, model, router.prefix + self.prefix)
        if any(p.kwarg == self.lookup_kwarg for p in self.parents):
            raise ImproperlyConfigured(
                f"{self.owner}: the path already has {{{self.lookup_kwarg}}}; set "
                f"lookup_url_kwarg to another name for the viewset's own lookup."
            )
        self.tags: list[Any] | None = None if router.tags else [self.basename]
        self._check_basename()
        listing = Listing(cls, model, self.owner)
        self.listing = None if listing.is_empty else listing
        self.routes: list[_Route] = []
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
        self.max_body_size = checked_size(getattr(cls, "max_body_size", None), self.owner)

    def _lookup_url_kwarg(self) -> str:
        """The name of the detail routes' path parameter: ``lookup_url_kwarg``, else
        ``lookup_field`` (DRF's default)."""
        kwarg = self.cls.lookup_url_kwarg or self.lookup
        # It becomes a parameter of the endpoint's signature, which FastAPI reads by name.
        if (
            not isinstance(kwarg, str)
            or not kwarg.isidentifier()
            or keyword.iskeyword(kwarg)
            or kwarg in (VIEW_PARAM, REQUEST_PARAM, RESPONSE_PARAM)
        ):
            raise ImproperlyConfigured(
                f"{self.owner}: lookup_url_kwarg = {kwarg!r} cannot name a path parameter. "
                f"Use a Python identifier, such as '{self.model.__name__.lower()}_{self.lookup}'."
            )
        return kwarg

    def _check_basename(self) -> None:
        for route in self.router.routes:
            runner = getattr(getattr(route, "endpoint", None), RUNNER_ATTR, None)
            if runner is None:
                continue
            if runner.bound.basename == self.basename:
                raise ImproperlyConfigured(
                    f"{self.owner}: the basename {self.basename!r} is already used on this router "
                    f"by {runner.bound.owner}. Pass a distinct basename: "
                    f"@viewset(router, basename='...')."
                )
            if runner.name_base == self.name_base:
                raise ImproperlyConfigured(
                    f"{self.owner}: its operation ids ({self.name_base}_list, ...) are already "
                    f"those of {runner.bound.owner} on this router. Rename one class, or pass "
                    f"a distinct basename: @viewset(router, basename='...')."
                )

    def register(self) -> None:
        standard = [a for a in STANDARD_ACTIONS if callable(getattr(self.cls, a, None))]
        custom = custom_actions(self.cls)
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
        link_siblings((r.path, r.kwargs["methods"], r.runner) for r in self.routes)
        # Every check has passed: only now touch the router, so a mistake adds nothing.
        for route in self.routes:
            self.router.add_api_route(
                route.path, route.endpoint, route_class_override=ViewSetRoute, **route.kwargs
            )
            added = next(
                r
                for r in reversed(self.router.routes)
                if isinstance(r, APIRoute) and r.endpoint is route.endpoint
            )
            route.runner.configure(added)

    # --- building routes ------------------------------------------------------------------

    def _bound(
        self,
        name: str,
        detail: bool,
        write_schema: type[BaseModel] | None = None,
        permission_classes: Any = None,
        lists: bool = False,
        spec: ActionSpec | None = None,
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
            throttle_classes=spec.throttle_classes if spec is not None else None,
            throttle_scope=spec.throttle_scope if spec is not None else None,
            listing=self.listing if lists else None,
            parents=self.parents,
            pagination_class=self.pagination_class if lists else None,
        )

    def _query_parameters(self, bound: BoundAction) -> list[inspect.Parameter]:
        """The list's filter and pagination parameters."""
        params: list[inspect.Parameter] = []
        if bound.listing is not None:
            params.extend(p.parameter() for p in bound.listing.params)
        if bound.pagination_class is not None:
            params.extend(bound.pagination_class.query_parameters())
        names = [p.name for p in params]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ImproperlyConfigured(
                f"{self.owner}.{bound.name}: the query parameter(s) {', '.join(duplicates)} of "
                f"its filters clash with its pagination's. Rename the filter."
            )
        return params

    def _lookup_parameter(self) -> inspect.Parameter:
        return inspect.Parameter(
            self.lookup_kwarg,
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
        idempotency: IdempotencyPolicy | None = None,
        max_body_size: int | None = None,
    ) -> tuple[ActionRunner, Callable[..., Any]]:
        """The runner of action ``bound`` and the endpoint FastAPI calls, whose signature holds
        the action's own parameters, the lookup, the list's query parameters and the view."""
        query = self._query_parameters(bound)
        taken = {p.name for p in params}
        for param in query:
            if param.name in taken:
                raise ImproperlyConfigured(
                    f"{self.owner}.{bound.name}: the query parameter {param.name!r} of its "
                    f"filters or pagination clashes with a parameter of the action. Rename one."
                )
        own_response = next((p.name for p in params if is_response(p.annotation)), None)
        parents = parent_parameters(self.parents, taken)
        runner = ActionRunner(
            self.cls,
            bound,
            choose_path(self.cls, bound, lists=lists),
            lookup=self.lookup_kwarg if bound.detail else None,
            query_names=[p.name for p in query],
            own_response=own_response,
            lists=lists,
            idempotency=idempotency,
            name_base=self.name_base,
            max_body_size=max_body_size,
            parent_names=[p.name for p in parents],
        )
        # With nothing to validate, the view (and its permission check) is made in the endpoint
        # itself, in the same order as a dependency would, minus the dependency's cost.
        inline_view = not bound.detail and not params and not query and not parents
        signature = [*parents, *params, *query]
        if bound.detail:
            signature.insert(len(parents), self._lookup_parameter())
        if own_response is None:
            signature.append(_keyword(RESPONSE_PARAM, Response))
        if inline_view:
            signature.append(_keyword(REQUEST_PARAM, Request))
        else:
            # Last, so the action's own dependencies (which may set the user) run before
            # permissions, and permissions before the body is validated.
            signature.append(_keyword(VIEW_PARAM, Any, default=Depends(runner.open_view)))
        endpoint = runner.endpoint(inline_view=inline_view)
        endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            signature, return_annotation=return_annotation
        )
        endpoint.__name__ = f"{self.name_base}_{bound.name}"
        endpoint.__qualname__ = f"{self.owner}.{bound.name}"
        endpoint.__doc__ = inspect.getdoc(getattr(self.cls, bound.name, None))
        return runner, endpoint

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
            if not overrides(self.cls, "get_write_values"):
                # An override may turn fields that are not columns into columns; trust it.
                check_write_schema(write_schema, self.model, self.owner)
            write_schema = body_schema(write_schema, self.model, partial=name == "partial_update")
        bound = self._bound(name, detail, write_schema, lists=name == "list")

        params: list[inspect.Parameter] = []
        if write_schema is not None:
            params.append(_keyword("data", Annotated[write_schema, Body()]))

        responses: openapi.Responses = {}
        if detail:
            responses.update(openapi.NOT_FOUND)
        if name in ("create", "update", "partial_update", "destroy"):
            responses.update(openapi.CONFLICT)
        responses.update(openapi.listing_responses(bound))
        responses.update(
            openapi.throttle_responses(openapi.throttles(self.cls, bound), status_code)
        )
        if name in ("list", "retrieve"):
            openapi.merge(responses, openapi.conditional_responses(status_code))
        elif name in ("create", "update", "partial_update", "destroy"):
            openapi.merge(responses, openapi.precondition_responses(self.cls, name, status_code))
        if name == "create":
            openapi.merge(responses, openapi.created_responses(self.cls))
        idempotency = IdempotencyPolicy.for_action(self.cls, name, (method,))
        if write_schema is not None:
            openapi.merge(responses, openapi.body_responses(self.max_body_size))
        response_model: Any = None
        if name == "list":
            response_model = openapi.list_response_model(bound)
        elif name != "destroy":
            response_model = bound.read_schema
        runner, endpoint = self._endpoint(
            bound,
            params,
            lists=name == "list",
            idempotency=idempotency,
            max_body_size=self.max_body_size,
        )
        route_kwargs: dict[str, Any] = {
            "methods": [method],
            "response_model": response_model,
            "status_code": status_code,
            "response_class": Response if name == "destroy" else JSONResponse,
            "name": f"{self.basename}-{'detail' if detail else 'list'}",
            "operation_id": f"{self.name_base}_{name}",
            "summary": openapi.summary(name, self.basename),
            "tags": self.tags,
        }
        route_kwargs["responses"], route_kwargs["openapi_extra"] = openapi.for_method(
            self.cls,
            bound,
            method,
            responses,
            openapi.header_parameters(None, openapi.conditional_header(self.cls, name)),
            idempotency=idempotency,
            status_code=status_code,
        )
        path = self.prefix + (f"/{{{self.lookup_kwarg}}}" if detail else "")
        self.routes.append(_Route(path, runner, endpoint, route_kwargs))

    def _add_custom(self, name: str, func: Callable[..., Any], spec: ActionSpec) -> None:
        lookup = self.lookup_kwarg if spec.detail else None
        params, return_annotation = action_parameters(self.owner, name, func, lookup)
        lists = not spec.detail and is_queryset(return_annotation)
        bound = self._bound(
            name, spec.detail, permission_classes=spec.permission_classes, lists=lists, spec=spec
        )
        if lists:
            return_annotation = inspect.Signature.empty
        idempotency = IdempotencyPolicy.for_action(
            self.cls,
            name,
            spec.methods,
            enabled=spec.idempotency_keys,
            required=spec.require_idempotency_key,
        )
        max_body_size = self.max_body_size
        if spec.max_body_size is not NOT_GIVEN:
            max_body_size = checked_size(spec.max_body_size, f"{self.owner}.{name}")
        runner, endpoint = self._endpoint(
            bound,
            params,
            return_annotation,
            lists=lists,
            idempotency=idempotency,
            max_body_size=max_body_size,
        )
        base = self.prefix + (f"/{{{self.lookup_kwarg}}}" if spec.detail else "")
        path = f"{base}/{spec.url_path}" if spec.url_path else base
        runner.fixed_path = not spec.detail and bool(spec.url_path)
        responses = dict(openapi.NOT_FOUND) if spec.detail else {}
        responses.update(
            openapi.throttle_responses(openapi.throttles(self.cls, bound), spec.status_code or 200)
        )
        if openapi.takes_body(path, endpoint, spec.route_kwargs.get("dependencies")):
            openapi.merge(responses, openapi.body_responses(max_body_size))
        kwargs = dict(spec.route_kwargs)
        responses.update(kwargs.pop("responses", None) or {})
        if spec.response_model is not NOT_GIVEN:
            kwargs["response_model"] = spec.response_model
        elif lists:
            kwargs["response_model"] = openapi.list_response_model(bound)
            responses.update(openapi.listing_responses(bound))
        kwargs.setdefault("tags", self.tags)
        kwargs.setdefault("summary", openapi.summary(name, self.basename))
        for method in spec.methods:
            suffix = f"_{method.lower()}" if len(spec.methods) > 1 else ""
            route_kwargs = {
                "methods": [method],
                "status_code": spec.status_code,
                "name": f"{self.basename}-{spec.url_name}",
                "operation_id": f"{self.name_base}_{name}{suffix}",
                **kwargs,
            }
            route_kwargs["responses"], route_kwargs["openapi_extra"] = openapi.for_method(
                self.cls,
                bound,
                method,
                responses,
                kwargs.get("openapi_extra"),
                idempotency=idempotency,
                status_code=spec.status_code or 200,
            )
            self.routes.append(_Route(path, runner, endpoint, route_kwargs))


def _keyword(name: str, annotation: Any, **kwargs: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, **kwargs)
