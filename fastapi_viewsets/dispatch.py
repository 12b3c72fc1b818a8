"""How a request to a viewset action runs, from the route to the response: DRF's ``dispatch``.

Registration (``fastapi_viewsets.routing``) makes one :class:`ActionRunner` per action; nothing
of it runs per request. A request then takes this path::

    ViewSetRoute.handle        open the request state (the lifecycle RequestStateMiddleware
                               shares); a method the path does not answer is a 405 here
      FastAPI                  the app's, router's and action's dependencies, then
        ActionRunner.open_view   a new viewset instance, then view.initial() (permissions)
      FastAPI                  path, query and body parameters are validated (422)
        ActionRunner.endpoint    the Idempotency-Key's claim (a retry gets the kept answer),
                                 the handler (the action's method, or its fast twin), then
                                 view.finalize_response()
    close the state            after the response and its background tasks

A POST that claimed an ``Idempotency-Key`` has its answer kept by the ``ResponseKeeper`` around
the route, whichever step answered it (the action, an exception handler, FastAPI's own
serialisation).

Three guards stand around every viewset route, and only around them: a body over the action's
``max_body_size`` is a 413 (see ``fastapi_viewsets._body_limit``), a validation error
reaches the app's handler with values it can write and only a little of each (see
``fastapi_viewsets._echo``), and a database that cannot be reached is a 503 with
``Retry-After`` rather than a 500 (see ``fastapi_viewsets._unavailable``).

``initial()`` runs in a dependency so that it comes after the dependencies that set the user
and before the body is validated: an anonymous request gets its 401 even with a bad body. An
action with no parameters to validate makes its view in the endpoint itself, in the same order.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any

from fastapi import Request
from fastapi.datastructures import DefaultPlaceholder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Message, Receive, Scope, Send
from tortoise.queryset import QuerySet

from ._body_limit import BodyLimit
from ._echo import answerable_error
from ._fastpath import ActionPath, skips_initial
from ._lifecycle import StateLifecycle
from ._unavailable import unavailable_from
from .generics import STANDARD_ACTIONS, GenericViewSet
from .idempotency import IdempotencyPolicy, ResponseKeeper
from .state import SCOPE_KEY
from .views import BoundAction

__all__ = ("ActionRunner", "ViewSetRoute", "link_siblings")

#: Names of the parameters the runner adds to an endpoint's signature.
VIEW_PARAM = "fastapi_viewsets_view"
REQUEST_PARAM = "fastapi_viewsets_request"
RESPONSE_PARAM = "fastapi_viewsets_response"


class ViewSetRoute(APIRoute):
    """The route class of viewset routes: it opens the request's state around the route.

    The state exists before the first dependency runs and stays open while the response and its
    background tasks run; it is closed with its context variable's token.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.PARTIAL:
            runner = _runner(self)
            # A list @action's fixed path (/companies/stats) is the action's, whatever the
            # method, as in DRF: another method is its 405, not the detail route's 422 for a
            # lookup named "stats" (detail routes come after it).
            if runner is not None and runner.fixed_path and scope["method"] not in runner.siblings:
                return Match.FULL, child
        return match, child

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        # A route of the app's own that uses this class keeps FastAPI's errors as they are.
        runner: ActionRunner | None = getattr(self.endpoint, RUNNER_ATTR, None)

        async def serve_with_state_request(request: Request) -> Response:
            # From here on `state.request` is the request FastAPI serves, whose body it reads.
            store = request.scope[SCOPE_KEY]
            store.request = request
            if runner is None:
                return await handler(request)
            try:
                return await handler(request)
            except RequestValidationError as exc:
                # The app's handler answers it; given as raised, it could not write a NaN or a
                # lone surrogate (a 500), and it would echo a 10 MB string whole.
                shaped = answerable_error(exc)
                if shaped is exc:
                    raise
                raise shaped from None
            except Exception as exc:
                # Raised here, inside the route, the 503 goes out through the route's send, with
                # X-Request-ID. What a lost session had not committed, the server rolls back.
                unavailable = unavailable_from(
                    exc, request_id=store.request_id, retry_after=runner.cls.database_retry_after
                )
                if unavailable is None:
                    raise
                raise unavailable from None

        return serve_with_state_request

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        lifecycle = StateLifecycle(scope, send)
        send = lifecycle.send
        keeper: ResponseKeeper | None = None
        limit: BodyLimit | None = None
        runner: ActionRunner | None = getattr(self.endpoint, RUNNER_ATTR, None)
        if runner is not None:  # else a route of the app's own that uses this class
            lifecycle.store.action = runner.bound.name
            if runner.idempotency is not None and scope["method"] == "POST":
                keeper = ResponseKeeper(scope, send)
                send = keeper.send
            limit = runner.body_limit
            if limit is not None:
                receive = limit.counting(receive)
        try:
            if self.methods and scope["method"] not in self.methods:
                await self._other_method(scope, receive, send)
            elif limit is not None and limit.refuses(scope):
                await _answer_error(limit.error(), scope, receive, send)
            else:
                await super().handle(scope, receive, send)
        finally:
            try:
                if keeper is not None:
                    await keeper.close()
            finally:
                lifecycle.close()

    async def _other_method(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A method this route does not answer: ``HEAD`` as the path's ``GET`` without its
        body, ``OPTIONS`` with the viewset's metadata, else ``405``. Starlette hands such a
        request to the first route of the path, so ``Allow`` names the methods of all the
        viewset's routes on it."""
        runner = _runner(self)
        if runner is None:
            allow = {"Allow": ", ".join(sorted(self.methods or ()))}
            await _answer_error(HTTPException(405, headers=allow), scope, receive, send)
            return
        siblings = runner.siblings or dict.fromkeys(self.methods or (), runner)
        router = getattr(scope.get("app"), "router", None)
        if scope["method"] == "HEAD" and "GET" in siblings and router is not None:
            # Through the router again, so the GET route runs with everything its router and
            # the app's include_router() give it (dependencies, prefixes).
            await router({**scope, "method": "GET"}, receive, _without_body(send))
            return
        allowed = set(siblings)
        if "GET" in allowed:
            allowed.add("HEAD")
        metadata_class = runner.cls.metadata_class
        if metadata_class is not None:
            allowed.add("OPTIONS")
        allow = {"Allow": ", ".join(sorted(allowed))}
        if scope["method"] != "OPTIONS" or metadata_class is None:
            await _answer_error(HTTPException(405, headers=allow), scope, receive, send)
            return
        request = Request(scope, receive)
        view = runner.make_view(request)
        view.action = "metadata"
        actions = {
            method: schema
            for method, sibling in siblings.items()
            if method in ("POST", "PUT") and (schema := sibling.bound.write_schema) is not None
        }
        body = metadata_class().determine_metadata(request, view, actions)
        await JSONResponse(body, headers=allow)(scope, receive, send)


def _runner(route: BaseRoute) -> ActionRunner | None:
    return getattr(getattr(route, "endpoint", None), RUNNER_ATTR, None)


def _without_body(send: Send) -> Send:
    """``send`` for a ``HEAD``: the ``GET``'s status and headers (its ``Content-Length`` too,
    as RFC 9110 9.3.2 allows), no body."""

    async def head_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return head_send


async def _answer_error(exc: HTTPException, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer ``exc`` (a 405, a 413 before the body is read) as the app answers it, but through
    ``send``.

    Starlette's route raises a 405 for the app's exception middleware, which answers with the
    ``send`` it was given, outside the state: the response would miss its ``X-Request-ID``.
    """
    handlers: dict[Any, Any] = getattr(scope.get("app"), "exception_handlers", None) or {}
    handler = handlers.get(exc.status_code)
    if handler is None:
        found = (handlers[k] for k in type(exc).__mro__ if k in handlers)
        handler = next(found, http_exception_handler)
    request = Request(scope, receive)
    if inspect.iscoroutinefunction(handler):
        response = await handler(request, exc)
    else:
        response = await run_in_threadpool(handler, request, exc)
    await response(scope, receive, send)


RUNNER_ATTR = "__fastapi_viewsets_runner__"


class ActionRunner:
    """Runs the requests of one action; made once, when the viewset is registered."""

    def __init__(
        self,
        cls: type[GenericViewSet[Any]],
        bound: BoundAction,
        path: ActionPath,
        *,
        lookup: str | None,
        query_names: list[str],
        own_response: str | None,
        lists: bool,
        idempotency: IdempotencyPolicy | None = None,
        name_base: str = "",
        parent_names: Sequence[str] = (),
        max_body_size: int | None = None,
    ) -> None:
        self.cls = cls
        #: What the operation ids and route names of the viewset start with.
        self.name_base = name_base
        #: The parents' path parameters (see fastapi_viewsets.nesting), parsed before
        #: initial() so that it reads them typed, as the action does.
        self.parent_names = tuple(parent_names)
        self.parent_adapters = [
            (p.kwarg, TypeAdapter(p.annotation)) for p in bound.parents if p.kwarg in parent_names
        ]
        self.bound = bound
        self.handler = path.handler
        self.list_queryset = path.list_queryset
        #: The path parameter that names the row (detail actions: lookup_url_kwarg, else
        #: lookup_field), parsed by FastAPI.
        self.lookup = lookup
        #: The list's filter and pagination parameters, given to the view as query_params.
        self.query_names = query_names
        #: FastAPI gives its Response parameter to one parameter only: the action's own, when
        #: it has one, else ours.
        self.response_name = own_response or RESPONSE_PARAM
        self.own_response = own_response is not None
        #: Whether a queryset the action returns is answered as a list.
        self.lists = lists
        self.finisher = _Finisher(standard=bound.name in STANDARD_ACTIONS)
        #: The permission and throttle classes that need no initial() (see skips_initial).
        self.anyone, self.unthrottled = skips_initial(cls, bound)
        #: The runners of the viewset's routes on this action's path, by method (set when the
        #: viewset is registered): what a 405's Allow names, and where HEAD and OPTIONS go.
        self.siblings: dict[str, ActionRunner] = {}
        #: Whether the action owns its path whatever the method: a list @action with a
        #: url_path of its own (set when the viewset is registered).
        self.fixed_path = False
        #: What the action does with Idempotency-Key; None where it takes none.
        self.idempotency = idempotency
        #: The most bytes its request bodies may have; None where any will do.
        self.body_limit = BodyLimit(max_body_size) if max_body_size is not None else None

    # --- the view ---------------------------------------------------------------------------

    def make_view(self, request: Request) -> GenericViewSet[Any]:
        """A new viewset instance for ``request``."""
        view = self.cls()
        view.request = request
        view.action = self.bound.name
        # The raw path values, as DRF gives them to initial(); take_parameters() puts the parsed
        # lookup in place before the action runs.
        view.kwargs = dict(request.path_params)
        if self.parent_adapters:
            view.kwargs.update(parse_parents(self.parent_adapters, view.kwargs))
        view.query_params = {}
        view.bound = self.bound
        # The store ViewSetRoute found or opened; `self.state` views it when first read.
        view._store = request.scope[SCOPE_KEY]
        return view

    async def open_view(self, request: Request) -> GenericViewSet[Any]:
        """The view of a request, its ``initial()`` done: the dependency that gives endpoints
        their view (an endpoint with nothing to validate does the same itself)."""
        view = self.make_view(request)
        step = self.initial_step(view)
        if step is not None:
            await step
        return view

    def initial_step(self, view: GenericViewSet[Any]) -> Awaitable[None] | None:
        """What of ``view.initial()`` can do anything: all of it; only ``check_throttles()``
        when the action's permissions are all ``AllowAny`` and the viewset keeps the library's
        permission step; nothing when, besides, nothing throttles it."""
        bound = self.bound
        if bound.permissions_of(view) is not self.anyone:
            return view.initial()
        if bound.throttles_of(view) is not self.unthrottled:
            return view.check_throttles()
        return None

    # --- the action -------------------------------------------------------------------------

    def endpoint(self, *, inline_view: bool) -> Callable[..., Coroutine[Any, Any, Any]]:
        """The function FastAPI calls with the parsed parameters (the registration sets its
        signature): the view, the action, the response."""
        runner = self

        async def endpoint(**kwargs: Any) -> Any:
            if inline_view:
                view = runner.make_view(kwargs.pop(REQUEST_PARAM))
                step = runner.initial_step(view)
                if step is not None:
                    await step
            else:
                view = kwargs.pop(VIEW_PARAM)  # open_view() ran as a dependency
            sub_response = runner.take_parameters(view, kwargs)
            if runner.idempotency is not None:
                replayed = await runner.idempotency.begin(view)
                if replayed is not None:
                    return replayed
            result = await runner.handler(view, kwargs)
            if runner.lists and isinstance(result, QuerySet):
                listed = await runner.list_queryset(view, result)
                return runner.respond(view, listed, sub_response, built=True)
            return runner.respond(view, result, sub_response)

        setattr(endpoint, RUNNER_ATTR, self)
        return endpoint

    def take_parameters(self, view: GenericViewSet[Any], kwargs: dict[str, Any]) -> Response:
        """Move the lookup and the list's parameters from ``kwargs`` to the view, leaving the
        action's own; return FastAPI's ``Response`` parameter."""
        if self.own_response:
            sub_response: Response = kwargs[self.response_name]
        else:
            sub_response = kwargs.pop(RESPONSE_PARAM)
        if self.lookup is not None:
            view.kwargs[self.lookup] = kwargs.pop(self.lookup)
        for name in self.parent_names:
            view.kwargs[name] = kwargs.pop(name)
        if self.query_names:
            view.query_params = {name: kwargs.pop(name) for name in self.query_names}
        return sub_response

    def respond(
        self, view: GenericViewSet[Any], result: Any, sub_response: Response, *, built: bool = False
    ) -> Any:
        """What the action returned as a response, then ``finalize_response()``."""
        response = self.finisher.finish(result, sub_response, built=built)
        if isinstance(response, Response):
            return view.finalize_response(response)
        # FastAPI serialises the value and puts sub_response's headers and status on it, unless
        # finalize_response() answers with a response of its own.
        finalized = view.finalize_response(sub_response)
        return response if finalized is sub_response else finalized

    def configure(self, route: APIRoute) -> None:
        """Read what FastAPI made of the route (its response model), once it is added."""
        self.finisher.configure(route)


def parse_parents(
    adapters: Sequence[tuple[str, TypeAdapter[Any]]], raw: dict[str, Any]
) -> dict[str, Any]:
    """The parents' path values, parsed; a 422 in FastAPI's shape for one that does not."""
    parsed: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for name, adapter in adapters:
        try:
            parsed[name] = adapter.validate_python(raw.get(name))
        except ValidationError as exc:
            errors.extend({**e, "loc": ("path", name)} for e in exc.errors(include_url=False))
    if errors:
        raise RequestValidationError(errors)
    return parsed


def link_siblings(routes: Iterable[tuple[str, Sequence[str], ActionRunner]]) -> None:
    """Tell each runner of a viewset's ``routes`` (path, methods, runner) the runners of its
    path by method: what a 405's ``Allow`` names, and where ``HEAD`` and ``OPTIONS`` go."""
    routes = list(routes)
    by_path: dict[str, dict[str, ActionRunner]] = {}
    for path, methods, runner in routes:
        for method in methods:
            by_path.setdefault(path, {})[method] = runner
    for path, _, runner in routes:
        runner.siblings = by_path[path]


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
