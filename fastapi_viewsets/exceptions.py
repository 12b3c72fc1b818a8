"""The exception tree, and the one JSON shape every error response has.

Every error that fastapi_viewsets answers with has the body FastAPI itself uses, so clients and
exception handlers written for FastAPI keep working::

    {"detail": "Company not found."}                 # 401, 403, 404, 405, 409, ...
    {"detail": [{"loc": [...], "msg": ..., ...}]}    # 422, FastAPI's validation errors

Raise the HTTP errors from hooks and actions as DRF users do::

    from fastapi_viewsets.exceptions import NotFound, PermissionDenied

    async def perform_destroy(self, obj):
        if obj.is_locked:
            raise PermissionDenied("Locked companies cannot be deleted.")
        await super().perform_destroy(obj)

:class:`APIException` is a :class:`fastapi.HTTPException`, so an application's own handler for
``HTTPException`` formats these too. :class:`ImproperlyConfigured` is not an HTTP error: it is
raised when a viewset class is registered, or, for what can be checked only once Tortoise knows
every model (a read schema's reverse relations), by the first request that needs it.

An app that turns on RFC 9457 problem details (``fastapi_viewsets.problems``) answers them as
``application/problem+json`` instead, and its OpenAPI says so wherever these models are used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi import HTTPException, status
from pydantic import BaseModel

__all__ = (
    "APIException",
    "Conflict",
    "ContentTooLarge",
    "ErrorResponse",
    "ImproperlyConfigured",
    "MethodNotAllowed",
    "NotAuthenticated",
    "NotFound",
    "ParseError",
    "PermissionDenied",
    "PreconditionFailed",
    "PreconditionRequired",
    "ServiceUnavailable",
    "StateNotAvailable",
    "Throttled",
    "ValidationErrorResponse",
)


class ImproperlyConfigured(Exception):
    """A viewset, action or schema is set up wrongly; raised when the class is registered (or,
    for what needs every model known to Tortoise, by the first request that needs it)."""


class StateNotAvailable(RuntimeError):
    """``BaseStateManager.get_state()`` was called where no request state is open."""


class APIException(HTTPException):
    """Base class of the HTTP errors; ``status_code``, ``default_detail``, ``default_code``."""

    status_code: int = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_detail: ClassVar[str] = "A server error occurred."
    default_code: ClassVar[str] = "error"

    def __init__(
        self,
        detail: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            status_code=type(self).status_code,
            detail=detail if detail is not None else self.default_detail,
            headers=dict(headers) if headers is not None else None,
        )
        self.code = code if code is not None else self.default_code


class ParseError(APIException):
    """400: a malformed request that validation does not cover (an ordering by a field not
    allowed, too many search terms)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Malformed request."
    default_code = "parse_error"


class NotAuthenticated(APIException):
    """401: the action needs a user and the request has none."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "Authentication credentials were not provided."
    default_code = "not_authenticated"


class PermissionDenied(APIException):
    """403: the request's user may not do this."""

    status_code = status.HTTP_403_FORBIDDEN
    default_detail = "You do not have permission to perform this action."
    default_code = "permission_denied"


class NotFound(APIException):
    """404: the object does not exist, or is outside what this request may see."""

    status_code = status.HTTP_404_NOT_FOUND
    default_detail = "Not found."
    default_code = "not_found"


class MethodNotAllowed(APIException):
    """405: the route does not answer this HTTP method."""

    status_code = status.HTTP_405_METHOD_NOT_ALLOWED
    default_detail = "Method not allowed."
    default_code = "method_not_allowed"


class Conflict(APIException):
    """409: the write conflicts with existing data (a uniqueness or reference constraint)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class PreconditionFailed(APIException):
    """412: the row changed since the client read it (its ``If-Match`` is not the current
    ``ETag``); nothing was written."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = (
        "The resource has changed since it was read: If-Match does not name its current ETag."
    )
    default_code = "precondition_failed"


class ContentTooLarge(APIException):
    """413: the request body is larger than the route's ``max_body_size``; nothing was done."""

    # Starlette renamed the constant (its old name warns), and older releases lack the new one.
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "content_too_large"


class PreconditionRequired(APIException):
    """428: the viewset requires ``If-Match`` on writes (``require_if_match``)."""

    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = "This write needs an If-Match header with the resource's current ETag."
    default_code = "precondition_required"


class Throttled(APIException):
    """429: a throttle refused the request; ``Retry-After`` says when to retry."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Request was throttled."
    default_code = "throttled"

    def __init__(
        self,
        wait: float | None = None,
        detail: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        #: Whole seconds until a retry may pass (at least 1), when known.
        if wait is not None and not math.isfinite(wait):
            wait = None
        self.wait = max(1, math.ceil(wait)) if wait is not None else None
        if detail is None:
            detail = self.default_detail
            if self.wait is not None:
                unit = "second" if self.wait == 1 else "seconds"
                detail = f"{detail} Expected available in {self.wait} {unit}."
        if self.wait is not None:
            headers = {"Retry-After": str(self.wait), **(headers or {})}
        super().__init__(detail, code, headers)


class ServiceUnavailable(APIException):
    """503: something the request needs (the store of its throttles) cannot be reached."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Service temporarily unavailable, try again later."
    default_code = "service_unavailable"


class ErrorResponse(BaseModel):
    """The body of every error response except validation errors (documented in OpenAPI)."""

    detail: str


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    input: Any = None


class ValidationErrorResponse(BaseModel):
    """The body of a 422 response: FastAPI's list of validation errors."""

    detail: list[ValidationErrorItem]
