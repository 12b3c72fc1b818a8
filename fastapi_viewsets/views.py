"""``APIView``: the request half of a viewset, as DRF's ``APIView`` is: what every request runs.

A request to a viewset route goes through the same named steps, each a method you may override
(``fastapi_viewsets.dispatch`` calls them)::

    initial()               before the body is validated: check_permissions() (401 / 403),
                            then check_throttles() (429)
    <the action>            list, retrieve, ... or an @action method, on a new instance
    finalize_response(r)    the last word on the response: conditional_response() (ETag, 304)

An instance serves one request, so anything set on ``self`` in ``initial()`` is there for the
action and gone with the request::

    class CompanyViewSet(ModelViewSet[Company]):
        async def initial(self) -> None:
            await super().initial()                       # keep the permission checks
            self.plan = await Plan.get(owner_id=self.user.id) if self.user else None

        def finalize_response(self, response):
            response.headers["Cache-Control"] = "no-store"
            return super().finalize_response(response)

On the instance: ``self.request``, ``self.action`` (``"list"``, ``"create"``, ``"retrieve"``,
``"update"``, ``"partial_update"``, ``"destroy"`` or an ``@action`` method's name),
``self.kwargs`` (the URL's path values), ``self.state`` (the request's state, an instance of
``state_class``) and ``self.user``. :class:`~fastapi_viewsets.GenericViewSet` adds the model,
querysets, objects and writes.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, TypeAdapter
from tortoise.models import Model

from .conditional import etag_of, none_match, not_modified
from .exceptions import NotAuthenticated, PermissionDenied, Throttled
from .filters import Listing
from .metadata import BaseMetadata, SimpleMetadata
from .nesting import ParentLookup
from .pagination import BasePagination
from .permissions import AllowAny, BasePermission, PermissionLike, refusing_operand, resolve
from .schemas import LoadPlan, check_read_schema
from .state import BaseStateManager, RequestStore
from .throttling import BaseThrottle, ThrottleLike, instantiate, rate_limit_headers

if TYPE_CHECKING:
    from fastapi.responses import Response
    from starlette.requests import Request

__all__ = ("APIView", "BoundAction")

#: The reads whose answers carry an ETag and honour If-None-Match, and the writes whose
#: answers carry the new ETag (see fastapi_viewsets.conditional).
_TAGGED_READS = frozenset({"list", "retrieve"})
_TAGGED_WRITES = frozenset({"create", "update", "partial_update"})


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
    throttle_classes: Sequence[ThrottleLike] | None = None
    #: The ``throttle_scope`` an ``@action`` names (``ScopedRateThrottle``).
    throttle_scope: str | None = None
    #: Filters, search and ordering, for actions that list.
    listing: Listing | None = None
    pagination_class: type[BasePagination] | None = None
    #: The parents' path parameters of a nested viewset (see fastapi_viewsets.nesting).
    parents: tuple[ParentLookup, ...] = ()
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

    def throttles_of(self, viewset: Any) -> Sequence[ThrottleLike]:
        """The action's own throttle classes, else those of ``viewset``."""
        if self.throttle_classes is not None:
            return self.throttle_classes
        return viewset.throttle_classes  # type: ignore[no-any-return]


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


class APIView:
    """Per-request attributes, the request's state and the steps every request runs."""

    #: Permissions checked for every action, unless an ``@action`` names its own.
    permission_classes: ClassVar[Sequence[PermissionLike]] = (AllowAny,)
    #: Throttles counted for every action, unless an ``@action`` names its own.
    throttle_classes: ClassVar[Sequence[ThrottleLike]] = ()
    #: The scope of ``ScopedRateThrottle`` for this viewset's actions.
    throttle_scope: ClassVar[str | None] = None
    #: Whether update, partial_update and destroy answer 428 without an ``If-Match`` header.
    require_if_match: ClassVar[bool] = False
    #: Whether ``create`` and POST actions honour ``Idempotency-Key``: a retry with the same key
    #: is answered with the first answer, not run again (see fastapi_viewsets.idempotency).
    idempotency_keys: ClassVar[bool] = True
    #: Whether they answer 400 to a POST without ``Idempotency-Key``.
    require_idempotency_key: ClassVar[bool] = False
    #: Seconds a kept answer is replayed to a retry (24 hours).
    idempotency_key_ttl: ClassVar[float] = 24 * 60 * 60
    #: Seconds a key stays claimed by a request that never answers (its process died).
    idempotency_key_lease: ClassVar[float] = 60
    #: The most bytes a request body may have (413 ``ContentTooLarge`` above); ``None`` takes
    #: any. Read when the class is registered; an ``@action`` may set its own.
    max_body_size: ClassVar[int | None] = None
    #: Answers your hooks can give that OpenAPI cannot infer, by action, documented with the
    #: library's error body unless they say otherwise:
    #: ``{"create": {403: {"description": "Not your organisation"}}}``.
    extra_responses: ClassVar[Mapping[str, Mapping[int, Mapping[str, Any]]]] = {}
    #: What an ``OPTIONS`` request to the viewset's paths answers (``None``: a 405).
    metadata_class: ClassVar[type[BaseMetadata] | None] = SimpleMetadata
    #: The class ``self.state`` is an instance of; a view over the request's one state.
    state_class: ClassVar[type[BaseStateManager[Any]]] = BaseStateManager

    # Set for each request, on a new instance.
    request: Request
    action: str
    kwargs: dict[str, Any]
    #: The list's parsed filter and pagination parameters (empty for other actions).
    query_params: dict[str, Any]
    bound: BoundAction
    # The request's one state, which `state` views through `state_class`.
    _store: RequestStore | None = None
    # This request's permission instances, asked of get_permissions() once.
    _permissions: list[BasePermission] | None = None

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

    # --- the steps of a request -----------------------------------------------------------

    async def initial(self) -> None:
        """Runs before the body is validated and the action is called: checks permissions,
        then throttles."""
        await self.check_permissions()
        await self.check_throttles()

    def finalize_response(self, response: Response) -> Response:
        """The response the action answered, before it is sent; return it (or another).

        The library's step here is :meth:`conditional_response` (``ETag`` and ``304``).

        For a value that FastAPI serialises itself (an ``@action`` whose route asks for
        FastAPI's response options), ``response`` is FastAPI's ``Response`` parameter, whose
        headers and status code FastAPI puts on what it sends; another response returned
        instead is sent in place of the value.
        """
        return self.conditional_response(response)

    def conditional_response(self, response: Response) -> Response:
        """Tag the answers of ``list``, ``retrieve`` and the writes with a strong ``ETag`` (a
        hash of their bytes); answer a read ``304 Not Modified`` when the request's
        ``If-None-Match`` says the client has it."""
        reads = self.action in _TAGGED_READS
        if not (reads or self.action in _TAGGED_WRITES) or response.status_code not in (200, 201):
            return response
        body = getattr(response, "body", None)
        if not isinstance(body, bytes):
            return response
        etag = etag_of(body)
        response.raw_headers.append((b"etag", etag.encode("latin-1")))
        if reads and none_match(self.request.headers.get("if-none-match"), etag):
            return not_modified(response)
        return response

    # --- permissions ------------------------------------------------------------------------

    def get_permissions(self) -> Sequence[BasePermission]:
        """Instances of the permissions for this request; may branch on ``self.action``."""
        classes = self.bound.permissions_of(self)
        return [p if isinstance(p, BasePermission) else p() for p in classes]

    def _checked_permissions(self) -> list[BasePermission]:
        """This request's permissions: ``get_permissions()``, asked once per request."""
        if self._permissions is None:
            self._permissions = list(self.get_permissions())
        return self._permissions

    async def check_permissions(self) -> None:
        """Ask ``has_permission`` of each permission; refuse with :meth:`permission_denied`."""
        self._permissions = list(self.get_permissions())
        for permission in self._permissions:
            allowed = permission.has_permission(self.request, self)
            if allowed is not True and allowed is not False:  # an async permission's answer
                allowed = await resolve(allowed)
            if not allowed:
                self.permission_denied(permission)

    async def check_object_permissions(self, obj: Any) -> None:
        """Ask ``has_object_permission`` of each permission about ``obj``."""
        for permission in self._checked_permissions():
            if not await resolve(permission.has_object_permission(self.request, self, obj)):
                self.permission_denied(permission)

    def permission_denied(self, permission: BasePermission) -> None:
        """Raise 401 for a request without a user, else 403 with the permission's message."""
        if self.user is None:
            raise NotAuthenticated(headers=self.authenticate_headers())
        refusing = refusing_operand(permission, self)
        raise PermissionDenied(refusing.message, code=refusing.code)

    # --- throttles --------------------------------------------------------------------------

    def get_throttles(self) -> Sequence[BaseThrottle]:
        """Instances of the throttles for this request; may branch on ``self.action``."""
        return instantiate(self.bound.throttles_of(self))

    async def check_throttles(self) -> None:
        """Count the request with each throttle; refuse with :meth:`throttled` when one refuses.

        As in DRF every throttle is asked, so a request one throttle refuses still counts for
        the others. Their ``RateLimit`` headers go on the answer, whatever it is.
        """
        throttles = self.get_throttles()
        if not throttles:
            return
        waits: list[float | None] = []
        for throttle in throttles:
            allowed = throttle.allow_request(self.request, self)
            if allowed is not True and allowed is not False:
                allowed = await resolve(allowed)
            if not allowed:
                wait = throttle.wait()
                waits.append(await wait if inspect.isawaitable(wait) else wait)
        quotas = [q for q in (t.quota() for t in throttles) if q is not None]
        if quotas and self._store is not None:
            self._store.add_response_headers(rate_limit_headers(quotas))
        if waits:
            known = [w for w in waits if w is not None]
            self.throttled(self.request, max(known) if known else None)

    def throttled(self, request: Request, wait: float | None) -> None:
        """Raise 429 with ``Retry-After``: ``wait`` seconds, rounded up (at least 1)."""
        raise Throttled(wait)

    def authenticate_headers(self) -> dict[str, str] | None:
        """``WWW-Authenticate`` for a 401, from the security schemes the app declares."""
        challenges = authenticate_challenges(self.request.app)
        return {"WWW-Authenticate": ", ".join(challenges)} if challenges else None
