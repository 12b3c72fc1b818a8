"""Permissions: DRF's permission classes, async-first.

A permission answers two questions, either of which may be ``def`` or ``async def``::

    class IsOwner(BasePermission):
        message = "Only the owner may change this company."

        async def has_object_permission(self, request, view, obj):
            return obj.owner_id == view.user.id

A viewset lists its permissions in ``permission_classes`` or returns instances from
``get_permissions()``, which may read ``self.action``::

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return []
        return [IsAuthenticated(), IsOwner()]

``has_permission`` runs once per request, after the app's and router's dependencies (so the user
is known) and before the request body is validated: an anonymous request gets its 401 even when
its body is wrong. ``has_object_permission`` runs in ``get_object()``. A refusal is a 401 when the
request has no user, else a 403 with the permission's ``message``.

Permissions compose with ``&``, ``|`` and ``~``, as classes or as instances::

    permission_classes = [IsAuthenticated & (IsOwner | IsAdminUser)]

A permission may also scope rows: ``filter_queryset(request, view, queryset)`` narrows the queryset
of every action (list rows, and through ``get_object()`` every detail route and detail action),
so a row outside it is a 404, not a 403::

    class OwnRowsOnly(BasePermission):
        def filter_queryset(self, request, view, queryset):
            if view.user is None:
                return queryset.filter(is_public=True)
            return queryset.filter(owner_id=view.user.id)

``&`` applies both operands' scoping; ``|`` and ``~`` apply none (a union of querysets is not
something every database query can express cheaply).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, cast

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = (
    "SAFE_METHODS",
    "AllowAny",
    "BasePermission",
    "DenyAll",
    "IsAdminUser",
    "IsAuthenticated",
    "IsAuthenticatedOrReadOnly",
    "PermissionLike",
)

#: The methods that only read, as in DRF: what ``IsAuthenticatedOrReadOnly`` lets anyone use.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

PermissionResult: TypeAlias = "bool | Awaitable[bool]"


async def resolve(result: bool | Awaitable[bool]) -> bool:
    """The answer of a permission method that may be sync or async."""
    if result is True or result is False:
        return result
    if inspect.isawaitable(result):
        return bool(await result)
    return bool(result)


class _PermissionMeta(type):
    """Lets permission classes compose as classes: ``IsAuthenticated & IsOwner``."""

    def __and__(cls, other: PermissionLike) -> _Operand:
        return _Operand(_And, cast("type[BasePermission]", cls), other)

    def __or__(cls, other: PermissionLike) -> _Operand:  # type: ignore[override]
        return _Operand(_Or, cast("type[BasePermission]", cls), other)

    def __rand__(cls, other: PermissionLike) -> _Operand:
        return _Operand(_And, other, cast("type[BasePermission]", cls))

    def __ror__(cls, other: PermissionLike) -> _Operand:  # type: ignore[override]
        return _Operand(_Or, other, cast("type[BasePermission]", cls))

    def __invert__(cls) -> _Operand:
        return _Operand(_Not, cast("type[BasePermission]", cls))


class BasePermission(metaclass=_PermissionMeta):
    """Allow everything; subclasses override one or both checks."""

    message: ClassVar[str] = "You do not have permission to perform this action."
    code: ClassVar[str] = "permission_denied"

    def has_permission(self, request: Request, view: Any) -> bool | Awaitable[bool]:
        return True

    def has_object_permission(
        self, request: Request, view: Any, obj: Any
    ) -> bool | Awaitable[bool]:
        return True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        below = cls.__mro__[: cls.__mro__.index(BasePermission)]
        cls._own_object_check = any("has_object_permission" in vars(k) for k in below)
        # A class that writes its own has_permission answers what the library cannot know
        # about it, unless it also says whom it lets in.
        own = vars(cls)
        if "has_permission" in own:
            if "anonymous_allowed" not in own:
                cls.anonymous_allowed = _unknown  # type: ignore[method-assign]
            if "users_allowed" not in own:
                cls.users_allowed = _unknown  # type: ignore[method-assign]

    #: Whether the class (or a base below BasePermission) defines has_object_permission.
    _own_object_check: ClassVar[bool] = False

    def checks_objects(self) -> bool:
        """Whether ``has_object_permission`` may refuse: OpenAPI documents the 401 and 403 of a
        detail route whose request-level check lets anyone in only when one does."""
        return self._own_object_check

    def label(self) -> str:
        """How a route listing names it: the class name; ``A & B``, ``(A | B)`` and ``~A`` for
        compositions."""
        return type(self).__name__

    def anonymous_allowed(self, request: Request, view: Any) -> bool | None:
        """Whether ``has_permission`` lets every request of ``request``'s method that has no
        user in; ``None`` when that cannot be told without running it.

        Asked when the viewset is registered, with a request that has only a method, to
        document 401 and the operation's security only where they can happen. The library's
        classes answer it; a class with a ``has_permission`` of its own answers ``None`` (it
        can refuse) unless it overrides this method too. Nothing is called to find out.
        """
        return True  # BasePermission lets everything in

    def users_allowed(self, request: Request, view: Any) -> bool | None:
        """Whether ``has_permission`` lets every request of ``request``'s method that has a user
        in (``None``: it cannot be told): where not, OpenAPI documents a 403."""
        return True

    def __and__(self, other: PermissionLike) -> BasePermission:
        return _And(self, _instance(other))

    def __or__(self, other: PermissionLike) -> BasePermission:
        return _Or(self, _instance(other))

    def __rand__(self, other: PermissionLike) -> BasePermission:
        return _And(_instance(other), self)

    def __ror__(self, other: PermissionLike) -> BasePermission:
        return _Or(_instance(other), self)

    def __invert__(self) -> BasePermission:
        return _Not(self)


class _Operand:
    """A composition of permission classes; calling it builds the composed instance."""

    def __init__(self, operator: type[BasePermission], *operands: PermissionLike) -> None:
        self.operator = operator
        self.operands = operands

    def __call__(self) -> BasePermission:
        return self.operator(*(_instance(o) for o in self.operands))

    def __and__(self, other: PermissionLike) -> _Operand:
        return _Operand(_And, self, other)

    def __or__(self, other: PermissionLike) -> _Operand:
        return _Operand(_Or, self, other)

    def __rand__(self, other: PermissionLike) -> _Operand:
        return _Operand(_And, other, self)

    def __ror__(self, other: PermissionLike) -> _Operand:
        return _Operand(_Or, other, self)

    def __invert__(self) -> _Operand:
        return _Operand(_Not, self)


#: What ``permission_classes`` and ``get_permissions()`` may hold: a permission class, an
#: instance, or a composition with ``&``, ``|`` and ``~``.
PermissionLike: TypeAlias = "type[BasePermission] | BasePermission | _Operand"


def _instance(permission: PermissionLike) -> BasePermission:
    if isinstance(permission, BasePermission):
        return permission
    return permission()


def _user(request: Request, view: Any) -> Any:
    return getattr(view, "user", None)


def _request_cache(view: Any) -> dict[Any, Any]:
    """Answers kept for one request, on its viewset instance: a permission instance written in
    ``permission_classes`` serves every request, so it must not remember anything itself."""
    try:
        cache: dict[Any, Any] = vars(view).setdefault("_permission_cache", {})
    except TypeError:  # a view without __dict__: nothing is kept
        return {}
    return cache


def refusing_operand(permission: BasePermission, view: Any) -> BasePermission:
    """The permission whose ``message`` and ``code`` explain a refusal by ``permission``: for
    ``A & B``, the operand that refused in this request."""
    failed = _request_cache(view).get(("failed", id(permission)))
    return refusing_operand(failed, view) if failed is not None else permission


class _And(BasePermission):
    def __init__(self, first: BasePermission, second: BasePermission) -> None:
        self.first, self.second = first, second

    def checks_objects(self) -> bool:
        return self.first.checks_objects() or self.second.checks_objects()

    def label(self) -> str:
        return f"{self.first.label()} & {self.second.label()}"

    def anonymous_allowed(self, request: Request, view: Any) -> bool | None:
        return _both(
            self.first.anonymous_allowed(request, view),
            self.second.anonymous_allowed(request, view),
        )

    def users_allowed(self, request: Request, view: Any) -> bool | None:
        return _both(
            self.first.users_allowed(request, view), self.second.users_allowed(request, view)
        )

    async def has_permission(self, request: Request, view: Any) -> bool:
        for permission in (self.first, self.second):
            if not await resolve(permission.has_permission(request, view)):
                _request_cache(view)[("failed", id(self))] = permission
                return False
        return True

    async def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        for permission in (self.first, self.second):
            if not await resolve(permission.has_object_permission(request, view, obj)):
                _request_cache(view)[("failed", id(self))] = permission
                return False
        return True

    @property
    def message(self) -> str:  # type: ignore[override]
        return self.first.message

    @property
    def code(self) -> str:  # type: ignore[override]
        return self.first.code

    def filter_queryset(self, request: Request, view: Any, queryset: Any) -> Any:
        for permission in (self.first, self.second):
            scope = getattr(permission, "filter_queryset", None)
            if scope is not None:
                queryset = scope(request, view, queryset)
        return queryset


class _Or(BasePermission):
    def __init__(self, first: BasePermission, second: BasePermission) -> None:
        self.first, self.second = first, second

    def checks_objects(self) -> bool:
        return self.first.checks_objects() or self.second.checks_objects()

    def label(self) -> str:
        return f"({self.first.label()} | {self.second.label()})"

    def anonymous_allowed(self, request: Request, view: Any) -> bool | None:
        return _either(
            self.first.anonymous_allowed(request, view),
            self.second.anonymous_allowed(request, view),
        )

    def users_allowed(self, request: Request, view: Any) -> bool | None:
        return _either(
            self.first.users_allowed(request, view), self.second.users_allowed(request, view)
        )

    @staticmethod
    async def _grants(permission: BasePermission, request: Request, view: Any) -> bool:
        # Each operand's request-level answer is asked once per request, and kept per request.
        cache = _request_cache(view)
        key = ("granted", id(permission))
        if key not in cache:
            cache[key] = await resolve(permission.has_permission(request, view))
        return bool(cache[key])

    async def has_permission(self, request: Request, view: Any) -> bool:
        return await self._grants(self.first, request, view) or await self._grants(
            self.second, request, view
        )

    async def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        # As DRF since 3.14: an operand grants object access only if it also grants the request.
        for permission in (self.first, self.second):
            if await self._grants(permission, request, view) and await resolve(
                permission.has_object_permission(request, view, obj)
            ):
                return True
        return False

    @property
    def message(self) -> str:  # type: ignore[override]
        return self.second.message


class _Not(BasePermission):
    def __init__(self, operand: BasePermission) -> None:
        self.operand = operand

    def checks_objects(self) -> bool:
        return True  # not True, for every object the operand lets through

    def label(self) -> str:
        return f"~{self.operand.label()}"

    def anonymous_allowed(self, request: Request, view: Any) -> bool | None:
        # Anonymous requests are all alike: the operand lets all of them in, or none.
        allowed = self.operand.anonymous_allowed(request, view)
        return None if allowed is None else not allowed

    def users_allowed(self, request: Request, view: Any) -> bool | None:
        # If the operand lets every user in, this refuses them all; else some pass, some may not.
        return False if self.operand.users_allowed(request, view) is True else None

    async def has_permission(self, request: Request, view: Any) -> bool:
        return not await resolve(self.operand.has_permission(request, view))

    async def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return not await resolve(self.operand.has_object_permission(request, view, obj))


def _unknown(self: BasePermission, request: Request, view: Any) -> bool | None:
    return None


def _both(first: bool | None, second: bool | None) -> bool | None:
    if first is False or second is False:
        return False
    return None if first is None or second is None else True


def _either(first: bool | None, second: bool | None) -> bool | None:
    if first is True or second is True:
        return True
    return None if first is None or second is None else False


class AllowAny(BasePermission):
    """Allow every request."""


class DenyAll(BasePermission):
    """Refuse every request."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return False

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return False

    def anonymous_allowed(self, request: Request, view: Any) -> bool | None:
        return False

    def users_allowed(self, request: Request, view: Any) -> bool | None:
        return False


class IsAuthenticated(BasePermission):
    """Allow requests that have a user."""

    message = "Authentication credentials were not provided."
    code = "not_authenticated"

    def has_permission(self, request: Request, view: Any) -> bool:
        return _user(request, view) is not None

    def anonymous_allowed(self, request: Request, view: Any) -> bool | None:
        return False

    def users_allowed(self, request: Request, view: Any) -> bool | None:
        return True


class IsAuthenticatedOrReadOnly(BasePermission):
    """Allow safe methods to anyone, other methods to requests that have a user."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or _user(request, view) is not None

    def anonymous_allowed(self, request: Request, view: Any) -> bool | None:
        return request.method in SAFE_METHODS

    def users_allowed(self, request: Request, view: Any) -> bool | None:
        return True


def _flag(user: Any, name: str) -> bool:
    if isinstance(user, dict):
        return bool(user.get(name, False))
    return bool(getattr(user, name, False))


class IsAdminUser(BasePermission):
    """Allow users whose ``is_admin``, ``is_staff`` or ``is_superuser`` is true."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = _user(request, view)
        return user is not None and any(
            _flag(user, name) for name in ("is_admin", "is_staff", "is_superuser")
        )

    def anonymous_allowed(self, request: Request, view: Any) -> bool | None:
        return False

    def users_allowed(self, request: Request, view: Any) -> bool | None:
        return False
