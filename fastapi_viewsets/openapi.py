"""What OpenAPI says of a viewset's routes: responses, response models, summaries.

Registration (``fastapi_viewsets.routing``) asks this module, once per action, for the route's
documented answers, so that the schema shows what the action can really answer::

    GET /companies/{id}      200 CompanyRead, 401 and 403 (when a permission can refuse),
                             404 (a detail route), 422 (FastAPI's validation errors)
    GET /companies           200 Paginated[CompanyRead], 400 (a bad search or ordering),
                             404 (a page number past the last page, an altered cursor)

``list`` and ``retrieve`` document their ``ETag`` and ``304``; writes their new ``ETag``,
``412`` and, where the viewset requires ``If-Match``, ``428``. A throttled action documents its
429 (``Retry-After``) and the ``RateLimit`` headers on every
answer; a 503 too when a throttle refuses requests while its store is down. ``create`` and POST
actions that take idempotency keys document the ``Idempotency-Key`` header and what it may
answer: 400, 409, 422 and 503. Where the viewset limits the size of bodies (``max_body_size``),
the operations that take a body document their 413.

Every error answer documents the library's one error shape, ``{"detail": "..."}``; an app with
problem details on rewrites them when it builds its schema (``fastapi_viewsets.problems``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from starlette.requests import Request

from ._english import with_article
from .exceptions import ErrorResponse, ImproperlyConfigured, ValidationErrorResponse
from .idempotency import HEADER, REPLAYED_HEADER, IdempotencyPolicy
from .permissions import AllowAny
from .store import get_store
from .throttling import BaseThrottle, ScopedRateThrottle, SimpleRateThrottle
from .views import BoundAction

__all__ = (
    "body_responses",
    "conditional_header",
    "conditional_responses",
    "created_responses",
    "header_parameters",
    "idempotency_parameter",
    "idempotency_responses",
    "list_response_model",
    "listing_responses",
    "merge",
    "operation_id_base",
    "precondition_responses",
    "refusals",
    "summary",
    "takes_body",
    "throttle_responses",
    "throttles",
)

Responses = dict[int | str, dict[str, Any]]

NOT_FOUND: Responses = {404: {"model": ErrorResponse, "description": "Not found"}}
CONFLICT: Responses = {409: {"model": ErrorResponse, "description": "Conflict with existing data"}}
BAD_REQUEST: Responses = {400: {"model": ErrorResponse, "description": "Bad search or ordering"}}
REFUSED: Responses = {
    401: {"model": ErrorResponse, "description": "Not authenticated"},
    403: {"model": ErrorResponse, "description": "Permission denied"},
}


def listing_responses(bound: BoundAction) -> Responses:
    """The error answers of a list's search, ordering and pagination."""
    responses: Responses = {}
    if bound.listing is not None and bound.listing.refuses_bad_requests:
        responses.update(BAD_REQUEST)
    if bound.pagination_class is not None:
        responses.update(bound.pagination_class.responses())
    return responses


def list_response_model(bound: BoundAction) -> Any:
    """The schema of a list's answer: the pagination's envelope, or a plain array."""
    if bound.pagination_class is not None:
        return bound.pagination_class.response_model(bound.read_schema)
    return list[bound.read_schema]  # type: ignore[name-defined]


def _probe(cls: Any, bound: BoundAction) -> Any:
    """A bare instance of ``cls`` that knows only its action, to ask its ``get_*()`` hooks."""
    probe = cls.__new__(cls)
    probe.action = bound.name
    probe.bound = bound
    probe.kwargs = {}
    return probe


def refusals(cls: Any, bound: BoundAction, method: str) -> tuple[bool, bool]:
    """Whether the action's permissions may refuse a ``method`` request without a user (401),
    and one with a user (403).

    Each permission says whom it lets in (:meth:`BasePermission.anonymous_allowed`,
    :meth:`~BasePermission.users_allowed`), on a bare instance that knows only its action and
    a request that has only its method; nothing of yours is called but ``get_permissions()``.
    A permission that cannot tell is taken to be one that refuses, as is a
    ``get_permissions()`` that needs more than the action; on a detail route, so is one that
    checks objects.
    """
    probe = _probe(cls, bound)
    try:
        permissions = list(probe.get_permissions())
    except Exception:
        return True, True
    if all(type(p) is AllowAny for p in permissions):
        return False, False
    if bound.detail and any(p.checks_objects() for p in permissions):
        return True, True
    scope = {"type": "http", "method": method, "path": "/", "headers": [], "query_string": b""}
    request = Request(scope)
    anonymous = all(p.anonymous_allowed(request, probe) is True for p in permissions)
    users = all(p.users_allowed(request, probe) is True for p in permissions)
    return not anonymous, not users


def for_method(
    cls: Any,
    bound: BoundAction,
    method: str,
    responses: Responses,
    extra: dict[str, Any] | None,
    *,
    idempotency: IdempotencyPolicy | None = None,
    status_code: int = 200,
) -> tuple[Responses, dict[str, Any] | None]:
    """The responses and ``openapi_extra`` of the action's ``method`` operation: ``responses``
    and ``extra`` with the 401 and 403 where a permission can refuse, else an optional
    security requirement (FastAPI declares the app's security schemes required on every
    operation, public reads included), and the ``Idempotency-Key`` of a POST that takes one."""
    responses = dict(responses)
    may_401, may_403 = refusals(cls, bound, method)
    if may_401:
        merge(responses, {401: REFUSED[401]})
    if may_403:
        merge(responses, {403: REFUSED[403]})
    if not may_401:
        # {} is "no credentials": anyone is let in. FastAPI adds its own requirements to this
        # list, so the operation reads "the app's credentials, or none".
        extra = {**(extra or {}), "security": [*(extra or {}).get("security", []), {}]}
    declared = (getattr(cls, "extra_responses", None) or {}).get(bound.name) or {}
    merge(responses, {code: {"model": ErrorResponse, **dict(a)} for code, a in declared.items()})
    if method == "POST" and idempotency is not None:
        merge(responses, idempotency_responses(idempotency, status_code))
        extra = header_parameters(extra, idempotency_parameter(idempotency))
    return responses, extra


def throttles(cls: Any, bound: BoundAction) -> list[BaseThrottle] | None:
    """The action's throttles, checked (:class:`ImproperlyConfigured` names the mistake);
    ``None`` when ``get_throttles()`` needs more than the action to answer."""
    probe = _probe(cls, bound)
    where = f"{bound.owner}.{bound.name}"
    listed = bound.throttles_of(cls)
    if not isinstance(listed, (list, tuple)):
        raise ImproperlyConfigured(
            f"{where}: throttle_classes is {listed!r}, not a list. Write "
            f"throttle_classes = [{listed!r}]."
        )
    for throttle in listed:
        if not (
            isinstance(throttle, BaseThrottle)
            or (isinstance(throttle, type) and issubclass(throttle, BaseThrottle))
        ):
            raise ImproperlyConfigured(
                f"{where}: {throttle!r} is not a throttle. List BaseThrottle subclasses (or "
                f"instances) in throttle_classes, like [UserRateThrottle('100/hour')]."
            )
    try:
        found = list(probe.get_throttles())
    except ImproperlyConfigured as exc:
        raise ImproperlyConfigured(f"{where}: {exc}") from None
    except Exception:
        return None
    for throttle in found:
        if not isinstance(throttle, BaseThrottle):
            raise ImproperlyConfigured(
                f"{where}: {throttle!r} is not a throttle. List BaseThrottle subclasses (or "
                f"instances) in throttle_classes."
            )
        try:
            throttle.check(probe)
        except ImproperlyConfigured as exc:
            raise ImproperlyConfigured(f"{where}: {exc}") from None
    applying = [throttle for throttle in found if throttle.applies_to(probe)]
    _check_policies(where, applying, probe)
    return applying


def _check_policies(where: str, throttles: list[BaseThrottle], probe: Any) -> None:
    """Two throttles of one action may not name one RateLimit policy (a client could not tell
    their quotas apart); the store they count in must be one the library can open."""
    names: dict[str, BaseThrottle] = {}
    for throttle in throttles:
        if not isinstance(throttle, SimpleRateThrottle):
            continue
        if throttle.store is None:
            try:
                get_store()
            except ImproperlyConfigured as exc:
                raise ImproperlyConfigured(f"{where}: {exc}") from None
        name = throttle.view_scope(probe) if isinstance(throttle, ScopedRateThrottle) else None
        name = name or throttle.scope or type(throttle).__name__
        if name in names:
            raise ImproperlyConfigured(
                f"{where}: {names[name]!r} and {throttle!r} both name the RateLimit policy "
                f"{name!r}. Give each its own scope: UserRateThrottle('1000/day', "
                f"scope='daily')."
            )
        names[name] = throttle


_RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": {
        "description": 'The quota of each throttle: `"user";q=100;w=3600` (limit, window in '
        "seconds), draft-ietf-httpapi-ratelimit-headers.",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of each quota: `"user";r=99;t=3600` (requests remaining, '
        "seconds until a request is sure to pass).",
        "schema": {"type": "string"},
    },
}


def throttle_responses(found: list[BaseThrottle] | None, status_code: int) -> Responses:
    """The answers a throttled action adds: the RateLimit headers on its success answer, 429
    (and 503 when a throttle refuses while its store is down)."""
    if found is not None and not found:
        return {}
    responses: Responses = {
        status_code: {"headers": _RATE_LIMIT_HEADERS},
        429: {
            "model": ErrorResponse,
            "description": "Too many requests: a throttle refused the request",
            "headers": {
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer"},
                },
                **_RATE_LIMIT_HEADERS,
            },
        },
    }
    if found is not None and any(
        isinstance(t, SimpleRateThrottle) and t.on_store_error == "refuse" for t in found
    ):
        responses[503] = {
            "model": ErrorResponse,
            "description": "The throttles' store cannot be reached",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        }
    return responses


_ETAG = {
    "ETag": {
        "description": "A strong entity tag of the answer: send it in If-None-Match to "
        "revalidate, in If-Match to write only if it is still current.",
        "schema": {"type": "string"},
    }
}


def conditional_responses(status_code: int) -> Responses:
    """What ``list`` and ``retrieve`` answer to conditional requests: an ``ETag`` on their
    success, and ``304`` when the request's ``If-None-Match`` holds it."""
    return {
        status_code: {"headers": _ETAG},
        304: {
            "description": "Not Modified: the If-None-Match tag is the current one; no body",
            "headers": _ETAG,
        },
    }


def created_responses(cls: Any) -> Responses:
    """The ``Location`` of a create's ``201``, where the viewset can retrieve what it made."""
    if not callable(getattr(cls, "retrieve", None)):
        return {}
    location = {
        "description": "The path of the new object (its retrieve route).",
        "schema": {"type": "string", "format": "uri-reference"},
    }
    return {201: {"headers": {"Location": location}}}


def precondition_responses(cls: Any, action: str, status_code: int) -> Responses:
    """What a write answers about ``If-Match``: the new ``ETag`` (not for ``destroy``), 412
    when the tag is stale, 428 when the viewset requires the header."""
    responses: Responses = {}
    if action != "destroy":
        responses[status_code] = {"headers": _ETAG}
    if action == "create":
        return responses
    responses[412] = {
        "model": ErrorResponse,
        "description": "Precondition Failed: If-Match does not name the current ETag; "
        "nothing was written",
    }
    if getattr(cls, "require_if_match", False):
        responses[428] = {
            "model": ErrorResponse,
            "description": "Precondition Required: this write needs If-Match",
        }
    return responses


def conditional_header(cls: Any, action: str) -> dict[str, Any] | None:
    """The conditional request header an action reads, as an OpenAPI parameter."""
    if action in ("list", "retrieve"):
        name, text = "If-None-Match", "ETags the client has: 304 when one is current."
    elif action in ("update", "partial_update", "destroy"):
        name, text = "If-Match", "The ETag the client read: 412 unless it is still current."
    else:
        return None
    return {
        "name": name,
        "in": "header",
        "required": name == "If-Match" and bool(getattr(cls, "require_if_match", False)),
        "description": text,
        "schema": {"type": "string"},
    }


def merge(responses: Responses, more: Responses) -> Responses:
    """Add ``more`` to ``responses``; the headers of an answer both name are joined, and so are
    their descriptions."""
    for code, answer in more.items():
        found = responses.get(code)
        if found is None:
            responses[code] = answer
        else:
            headers = {**found.get("headers", {}), **answer.get("headers", {})}
            joined = {**found, **answer, "headers": headers}
            before, after = found.get("description"), answer.get("description")
            if before and after and before != after:
                joined["description"] = f"{before}; or {after[0].lower()}{after[1:]}"
            responses[code] = joined
    return responses


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}


def idempotency_responses(policy: IdempotencyPolicy | None, status_code: int) -> Responses:
    """What an action that takes ``Idempotency-Key`` may answer because of it."""
    if policy is None:
        return {}
    missing = "missing or " if policy.required else ""
    return {
        status_code: {
            "headers": {
                REPLAYED_HEADER: {
                    "description": "`true` on the kept answer replayed to a retry with the "
                    f"same {HEADER}",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            }
        },
        400: {
            "model": ErrorResponse,
            "description": f"Bad Request: the {HEADER} header is {missing}malformed",
        },
        409: {
            "model": ErrorResponse,
            "description": f"Conflict: the first request with this {HEADER} is still running",
            "headers": _RETRY_AFTER,
        },
        422: {
            "model": ValidationErrorResponse,
            "description": f"Validation Error; or the {HEADER} was sent with another request",
        },
        503: {
            "model": ErrorResponse,
            "description": f"Service Unavailable: the store of {HEADER}s cannot be reached; "
            "nothing was done",
            "headers": _RETRY_AFTER,
        },
    }


def idempotency_parameter(policy: IdempotencyPolicy | None) -> dict[str, Any] | None:
    """The ``Idempotency-Key`` header, as an OpenAPI parameter."""
    if policy is None:
        return None
    return {
        "name": HEADER,
        "in": "header",
        "required": policy.required,
        "description": "A unique value of the client's (a UUID), sent again with the request "
        "when it is retried: the retry gets the first answer and nothing runs twice. Kept "
        f"for {_duration(policy.ttl)}.",
        # Printable ASCII, not starting or ending with a space, as idempotency.parse_key takes
        # it (a quoted key included).
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": "^[!-~]([ -~]*[!-~])?$",
        },
    }


def body_responses(max_body_size: int | None) -> Responses:
    """What an operation with a body answers about the body itself: 400 when it cannot be
    decoded (FastAPI's own answer to bytes that are not UTF-8, JSON nested too deep, a number
    too long to read), and 413 where bodies are limited."""
    responses: Responses = {
        400: {
            "model": ErrorResponse,
            "description": "Bad Request: the body could not be parsed (not UTF-8, nested too "
            "deep, or a number too long); a body that is not JSON at all is a 422",
        }
    }
    if max_body_size is not None:
        responses[413] = {
            "model": ErrorResponse,
            "description": f"Content Too Large: the request body is over {max_body_size} "
            "bytes; nothing was done",
        }
    return responses


def takes_body(
    path: str, endpoint: Callable[..., Any], dependencies: Sequence[params.Depends] | None
) -> bool:
    """Whether FastAPI reads a body for the route of ``endpoint``: a parameter of its own, or
    of a dependency (the route's included), is one."""
    found = [get_dependant(path=path, call=endpoint)]
    for depends in dependencies or ():
        if depends.dependency is not None:
            found.append(get_dependant(path=path, call=depends.dependency))
    while found:
        dependant: Dependant = found.pop()
        if dependant.body_params:
            return True
        found.extend(dependant.dependencies)
    return False


def header_parameters(extra: dict[str, Any] | None, *parameters: Any) -> dict[str, Any] | None:
    """``extra`` (a route's ``openapi_extra``, left as it is) with ``parameters`` added."""
    added = [p for p in parameters if p is not None]
    if not added:
        return extra
    extra = dict(extra or {})
    extra["parameters"] = [*extra.get("parameters", []), *added]
    return extra


def _duration(seconds: float) -> str:
    for unit, size in (("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit[:-1] if count == 1 else unit}"
    return f"{seconds:g} seconds"


def summary(action: str, basename: str) -> str:
    """The one-line summary of an action's operation."""
    one = with_article(basename)
    words = {
        "list": f"List {basename} objects",
        "create": f"Create {one}",
        "retrieve": f"Retrieve {one}",
        "update": f"Replace {one}",
        "partial_update": f"Update some fields of {one}",
        "destroy": f"Delete {one}",
    }
    return words.get(action, action.replace("_", " ").capitalize())


def operation_id_base(cls: type) -> str:
    """What operation ids start with: the class name without its ``ViewSet`` (or ``View``)
    suffix, in snake case (``AdminCompanyViewSet`` gives ``admin_company``)."""
    name = re.sub(r"(?i)(viewset|view)$", "", cls.__name__)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower().strip("_")
