"""``@action``: extra routes on a viewset, as DRF's decorator of the same name.

The method's own parameters become the route's parameters, exactly as on a FastAPI endpoint:
query parameters, body models, ``Depends(...)``, ``BackgroundTasks`` and ``Request``::

    @viewset(router)
    class CompanyViewSet(ModelViewSet[Company]):
        model = Company

        @action(methods=["GET"], detail=False)                     # GET /companies/stats
        async def stats(self, min_size: int = 0) -> dict[str, int]:
            return {"count": await self.get_queryset().filter(size__gte=min_size).count()}

        @action(methods=["POST"], detail=True, url_path="archive")  # POST /companies/{id}/archive
        async def archive(self, tasks: BackgroundTasks) -> CompanyRead:
            company = await self.get_object()                      # 404 and object permissions
            ...

``url_path`` and ``url_name`` (the route name's suffix: ``company-stats``) both default to the
method name with ``_`` as ``-``: ``size_stats`` is ``/companies/size-stats``, named
``company-size-stats``. Other keyword arguments go to FastAPI's ``add_api_route``
(``summary``, ``responses``, ``dependencies``, ``tags``...).
``permission_classes`` and ``throttle_classes`` replace the viewset's for this action only;
``throttle_scope`` names its scope for ``ScopedRateThrottle``. A POST action honours
``Idempotency-Key`` as ``create`` does; ``idempotency_keys=False`` turns that off for it and
``require_idempotency_key=True`` makes it answer 400 without the header. ``max_body_size``
replaces the viewset's limit on the size of request bodies for this action (``None``: none).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi.responses import Response
from tortoise.queryset import QuerySet

from .dispatch import VIEW_PARAM
from .exceptions import ImproperlyConfigured
from .generics import STANDARD_ACTIONS, GenericViewSet
from .permissions import PermissionLike
from .throttling import ThrottleLike
from .viewsets import ModelViewSet

__all__ = ("ActionSpec", "action")

F = TypeVar("F", bound=Callable[..., Any])

ACTION_ATTR = "__fastapi_viewsets_action__"


class _NotGiven:
    def __repr__(self) -> str:
        return "NOT_GIVEN"


#: ``response_model`` was not passed: FastAPI infers it from the return annotation.
NOT_GIVEN: Any = _NotGiven()


@dataclass(frozen=True)
class ActionSpec:
    """What ``@action`` recorded about a method."""

    methods: tuple[str, ...]
    detail: bool
    url_path: str
    url_name: str
    response_model: Any = NOT_GIVEN
    status_code: int | None = None
    permission_classes: Sequence[PermissionLike] | None = None
    throttle_classes: Sequence[ThrottleLike] | None = None
    throttle_scope: str | None = None
    idempotency_keys: bool | None = None
    require_idempotency_key: bool | None = None
    #: Bytes, ``None`` for no limit, or ``NOT_GIVEN``: the viewset's ``max_body_size``.
    max_body_size: Any = NOT_GIVEN
    route_kwargs: dict[str, Any] = field(default_factory=dict)


def action(
    methods: Sequence[str] = ("GET",),
    detail: bool = False,
    url_path: str | None = None,
    url_name: str | None = None,
    response_model: Any = NOT_GIVEN,
    status_code: int | None = None,
    permission_classes: Sequence[PermissionLike] | None = None,
    throttle_classes: Sequence[ThrottleLike] | None = None,
    throttle_scope: str | None = None,
    idempotency_keys: bool | None = None,
    require_idempotency_key: bool | None = None,
    max_body_size: int | None = NOT_GIVEN,
    **route_kwargs: Any,
) -> Callable[[F], F]:
    """Mark a viewset method as a custom route; it is registered with the viewset."""

    def decorator(func: F) -> F:
        name = func.__name__
        spec = ActionSpec(
            methods=tuple(m.upper() for m in methods),
            detail=detail,
            url_path=(url_path if url_path is not None else name.replace("_", "-")).strip("/"),
            url_name=url_name or name.replace("_", "-"),
            response_model=response_model,
            status_code=status_code,
            permission_classes=permission_classes,
            throttle_classes=throttle_classes,
            throttle_scope=throttle_scope,
            idempotency_keys=idempotency_keys,
            require_idempotency_key=require_idempotency_key,
            max_body_size=max_body_size,
            route_kwargs=dict(route_kwargs),
        )
        setattr(func, ACTION_ATTR, spec)
        return func

    return decorator


def get_action_spec(func: Any) -> ActionSpec | None:
    spec = getattr(func, ACTION_ATTR, None)
    return spec if isinstance(spec, ActionSpec) else None


# --- reading a viewset's actions, at registration --------------------------------------

#: Names an @action may not take: the standard actions and every hook of a viewset.
_HOOK_NAMES = frozenset(name for name in dir(ModelViewSet) if not name.startswith("__"))


def custom_actions(
    cls: type[GenericViewSet[Any]],
) -> list[tuple[str, Callable[..., Any], ActionSpec]]:
    """The ``@action`` methods of ``cls``, checked."""
    owner = cls.__name__
    found = []
    for name in dir(cls):
        func = getattr(cls, name, None)
        spec = get_action_spec(func)
        if spec is None:
            continue
        assert callable(func)
        if name in STANDARD_ACTIONS or name in _HOOK_NAMES:
            raise ImproperlyConfigured(
                f"{owner}.{name}: @action cannot use the name of a viewset method or "
                f"hook ({name!r}), as the route would replace it. Give the action another "
                f"name and pass url_path={name.replace('_', '-')!r} to keep its URL."
            )
        if not inspect.iscoroutinefunction(func):
            raise ImproperlyConfigured(
                f"{owner}.{name} is decorated with @action but is not `async def`. "
                f"Write it as `async def {name}(self, ...)`."
            )
        found.append((name, func, spec))
    return found


def action_parameters(
    owner: str, name: str, func: Callable[..., Any], lookup: str | None
) -> tuple[list[inspect.Parameter], Any]:
    """The route parameters of ``@action`` method ``func`` (its own, as FastAPI reads them),
    and its return annotation."""
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as exc:  # NameError, TypeError: an annotation that does not resolve
        raise ImproperlyConfigured(
            f"{owner}.{name}: an annotation of the action cannot be resolved ({exc}). "
            f"Define the types it names at module level."
        ) from exc
    signature = inspect.signature(func)
    params: list[inspect.Parameter] = []
    for index, param in enumerate(signature.parameters.values()):
        if index == 0:
            continue  # self
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise ImproperlyConfigured(
                f"{owner}.{name}: parameter {param.name!r} must be a plain named "
                f"parameter (no *args, **kwargs or positional-only), as FastAPI reads names."
            )
        if param.name == VIEW_PARAM or param.name == lookup:
            raise ImproperlyConfigured(
                f"{owner}.{name}: parameter {param.name!r} clashes with the lookup "
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


def is_response(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Response)


def is_queryset(annotation: Any) -> bool:
    """Whether an action's return annotation says it returns a queryset to list."""
    target = typing.get_origin(annotation) or annotation
    return isinstance(target, type) and issubclass(target, QuerySet)
