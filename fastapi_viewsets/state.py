"""One state object per request, shared by middleware, dependencies, viewsets and background tasks.

The state of the request being served is reached from anywhere below it::

    from fastapi import Depends, FastAPI
    from fastapi_viewsets import BaseStateManager

    async def get_current_user(token: str | None = Depends(bearer)) -> User | None:
        user = await User.get_or_none(token=token) if token else None
        BaseStateManager.set_user(user)          # seen by every later dependency and the viewset
        return user

    app = FastAPI(dependencies=[Depends(get_current_user)])

    def audit(event: str) -> None:              # deep in the call stack, no request passed in
        state = BaseStateManager.get_state()
        state.set("events", [*state.get("events", []), event])

A state is opened when a request reaches a viewset route (or :class:`RequestStateMiddleware`,
when the app installs it), before any dependency runs, and is closed with the context variable's
token when the response and its background tasks are done. What it holds is one store per
request: ``BaseStateManager.get_state()`` and ``CustomStateManager.get_state()`` are two views of
that same store, so a user set by a dependency through the base class is the user a viewset's
``state_class`` sees. Custom data lives in the same dict as Starlette's ``request.state``:
``state.set("k", v)`` is ``request.state.k`` and the other way round.

The store is a mutable object held by a context variable, not a value in it. Sync dependencies
run in a worker thread with a copy of the context; they still reach the same object, so a user
set there is not lost.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterable, Mapping, MutableMapping
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from starlette.requests import Request

from .exceptions import StateNotAvailable

if TYPE_CHECKING:
    from starlette.types import Receive, Scope
    from typing_extensions import Self

__all__ = (
    "BaseStateManager",
    "RequestStore",
    "is_anonymous",
    "new_request_id",
    "user_id",
    "user_ident",
)

UserT = TypeVar("UserT")

#: Key of the :class:`RequestStore` in the ASGI scope, so routes find the store a middleware
#: opened without relying on what a context variable happens to hold.
SCOPE_KEY = "fastapi_viewsets.state"
REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.encode("latin-1")
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

#: The store of the request being served (``_lifecycle.StateLifecycle`` sets it for routes and
#: the middleware, ``RequestStore.activate`` for ``testing.request_state``).
current_store: ContextVar[RequestStore | None] = ContextVar(
    "fastapi_viewsets.request_state", default=None
)


def _uuid4() -> str:
    # str(uuid.uuid4()) spelled out: the same random version-4 UUID from os.urandom, made 64
    # at a time (one system call and one list for all), as every request makes one. Measured
    # with benchmarks.instructions (--requests 5000): plain str(uuid.uuid4()) costs 15,600
    # more instructions per request, 3.6 % of an @action request and 1.4 % of a retrieve.
    while True:
        try:
            return _random_ids.popleft()
        except IndexError:
            _random_ids.extend(_new_uuid4s(64))


def _new_uuid4s(count: int) -> list[str]:
    """``count`` random version-4 UUIDs, as ``str(uuid.uuid4())`` writes them."""
    block = bytearray(os.urandom(16 * count))
    block[6::16] = block[6::16].translate(_VERSION_4)
    block[8::16] = block[8::16].translate(_VARIANT_RFC)
    return ["-".join(parts) for parts in _UUID_PARTS.findall(block.hex())]


# The five groups of hex digits of each UUID in a run of 32-digit UUIDs.
_UUID_PARTS = re.compile(r"(.{8})(.{4})(.{4})(.{4})(.{12})")
# Byte 6 of a version-4 UUID starts with the bits 0100, byte 8 with 10.
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT_RFC = bytes((b & 0x3F) | 0x80 for b in range(256))
# Ids not handed out yet. A deque's popleft is atomic, so two threads never take the same one.
_random_ids: deque[str] = deque()
if hasattr(os, "register_at_fork"):
    # A forked worker must not hand out the ids its parent has left in the pool.
    os.register_at_fork(after_in_child=_random_ids.clear)


def new_request_id(incoming: str | None = None) -> str:
    """Return ``incoming`` when it is a safe token, else a fresh uuid4 string."""
    if incoming is not None and _SAFE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return _uuid4()


def user_id(user: Any) -> Any:
    """A user's ``id`` (an attribute or a mapping key), else its ``pk``; ``"-"`` when it has
    neither or is ``None``."""
    if user is None:
        return "-"
    if isinstance(user, dict):
        return user.get("id", "-")
    return getattr(user, "id", getattr(user, "pk", "-"))


def is_anonymous(user: Any) -> bool:
    """No user, or one that says it is not authenticated (``is_authenticated`` false, as
    Starlette's ``UnauthenticatedUser`` and Django's ``AnonymousUser``)."""
    return user is None or getattr(user, "is_authenticated", True) is False


def user_ident(user: Any) -> str | None:
    """What tells a user apart: its ``id`` (an attribute or a mapping key), else its ``pk``;
    ``None`` for an anonymous user or one with neither."""
    if is_anonymous(user):
        return None
    found = user.get("id") if isinstance(user, Mapping) else getattr(user, "id", None)
    if found is None and not isinstance(user, Mapping):
        found = getattr(user, "pk", None)
    return None if found is None else str(found)


def _state_of(scope: Scope | None) -> dict[str, Any]:
    # Starlette keeps request.state in scope["state"]; sharing that dict is the bridge.
    if scope is None:
        return {}
    state: dict[str, Any] | None = scope.get("state")
    if state is None:
        state = scope["state"] = {}
    return state


class RequestStore:
    """What one request's state holds. Users reach it through :class:`BaseStateManager`."""

    __slots__ = (
        "_request",
        "action",
        "data",
        "receive",
        "request_id",
        "response_headers",
        "scope",
        "user",
        "views",
    )

    def __init__(
        self,
        *,
        scope: Scope | None = None,
        receive: Receive | None = None,
        request_id: str | None = None,
        user: Any = None,
        action: str | None = None,
        data: MutableMapping[str, Any] | None = None,
    ) -> None:
        self.scope = scope
        self.receive = receive
        self.user = user
        self.action = action
        self.request_id = request_id or _uuid4()
        self.data = _state_of(scope) if data is None else data
        self.views: dict[type[BaseStateManager[Any]], BaseStateManager[Any]] = {}
        self._request: Request | None = None
        #: Headers added to whatever this request answers, errors included (the throttles'
        #: RateLimit headers); the lifecycle's ``send`` adds them.
        self.response_headers: list[tuple[bytes, bytes]] | None = None

    def add_response_headers(self, headers: Iterable[tuple[str, str]]) -> None:
        """Add ``headers`` to whatever this request answers, errors included."""
        found = self.response_headers
        if found is None:
            found = self.response_headers = []
        found.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers)

    @classmethod
    def from_scope(cls, scope: Scope, receive: Receive | None = None) -> RequestStore:
        """The store of the request ``scope`` describes; its id is the request's safe
        ``X-Request-ID`` header, else a new uuid4."""
        request_id = None
        for name, value in scope.get("headers", ()):
            # ASGI servers send lower-case names; .lower() keeps hand-built scopes working.
            if name.lower() == _REQUEST_ID_HEADER_BYTES:
                request_id = new_request_id(value.decode("latin-1"))
                break
        return cls(scope=scope, receive=receive, request_id=request_id)

    @property
    def request(self) -> Request | None:
        if self._request is None and self.scope is not None:
            if self.receive is None:
                self._request = Request(self.scope)
            else:
                self._request = Request(self.scope, self.receive)
        return self._request

    @request.setter
    def request(self, request: Request | None) -> None:
        self._request = request

    def close(self) -> None:
        """The request is over (its response and background tasks are done): drop the views
        and the request object made for it.

        Both refer back to the store (a view holds it; the request holds the ``send`` that adds
        the request id, which holds it), and so does the scope it was opened in: cycles that
        would keep the request, its scope and its exit stacks alive until the garbage collector
        runs.
        """
        if self.views:
            self.views.clear()
        self._request = None

        scope = self.scope
        if scope is not None and scope.get(SCOPE_KEY) is self:
            del scope[SCOPE_KEY]

    def activate(self) -> Token[RequestStore | None]:
        """Make this the current store; pass the token to :meth:`deactivate`."""
        return current_store.set(self)

    @staticmethod
    def deactivate(token: Token[RequestStore | None]) -> None:
        current_store.reset(token)

    @staticmethod
    def current() -> RequestStore | None:
        return current_store.get()


class BaseStateManager(Generic[UserT]):
    """The request's state: its user, request, action, request id and custom data.

    Subclass it to add properties and methods, and choose the subclass per viewset with
    ``state_class``::

        class CustomStateManager(BaseStateManager[User]):
            @property
            def organization_id(self) -> int | None:
                return self.user.organization_id if self.user else None

    Parametrise it with the user type (``BaseStateManager[User]``) and ``state.user`` is typed.
    """

    __slots__ = ("_store",)

    def __init__(self, store: RequestStore) -> None:
        self._store = store

    # --- reaching the state -------------------------------------------------------------

    @classmethod
    def get_state(cls) -> Self:
        """Return the current request's state, viewed through this class.

        Raises :class:`~fastapi_viewsets.exceptions.StateNotAvailable` outside a request.
        """
        store = current_store.get()
        if store is None:
            raise StateNotAvailable(
                f"{cls.__name__}.get_state() was called where no request state is open. "
                "Inside a request, the state exists on viewset routes; for other routes and for "
                "your own middleware add fastapi_viewsets.RequestStateMiddleware to the app. "
                "In tests, scripts and workers open one with "
                "fastapi_viewsets.testing.request_state(user=...)."
            )
        return cls.from_store(store)

    @classmethod
    def from_store(cls, store: RequestStore) -> Self:
        """The one instance of this class that views ``store``."""
        view = store.views.get(cls)
        if view is None:
            view = cls(store)
            store.views[cls] = view
        return view  # type: ignore[return-value]

    @classmethod
    def set_user(cls, user: UserT | None) -> None:
        """Set the current request's user."""
        cls.get_state()._store.user = user

    # --- built-in properties ----------------------------------------------------------

    @property
    def user(self) -> UserT | None:
        """The request's user, as set by ``set_user``; ``None`` when anonymous."""
        return self._store.user  # type: ignore[no-any-return]

    @user.setter
    def user(self, user: UserT | None) -> None:
        self._store.user = user

    @property
    def request(self) -> Request | None:
        """The current request; ``None`` in a state opened outside a request.

        On viewset routes it is the very request FastAPI serves (its body included). Where only
        :class:`~fastapi_viewsets.RequestStateMiddleware` opened the state (plain routes, your
        own middleware) it is a view of the same scope without the body: read the body from the
        endpoint's own ``Request``.
        """
        return self._store.request

    @property
    def action(self) -> str | None:
        """The viewset action being served (``"list"``, ``"retrieve"``, an action's name)."""
        return self._store.action

    @property
    def request_id(self) -> str:
        """A uuid4 string, or the request's safe ``X-Request-ID`` header."""
        return self._store.request_id

    # --- custom data ------------------------------------------------------------------

    def set(self, key: str, value: Any) -> None:
        self._store.data[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        return self._store.data.get(key, default)

    def has(self, key: str) -> bool:
        return key in self._store.data

    def remove(self, key: str) -> None:
        """Remove ``key``; removing a key that is not there is not an error."""
        self._store.data.pop(key, None)

    def clear(self) -> None:
        """Remove all custom data; the request, user, action and request id stay."""
        self._store.data.clear()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} request_id={self.request_id!r} action={self.action!r} "
            f"user={self.user!r} keys={sorted(self._store.data)!r}>"
        )
