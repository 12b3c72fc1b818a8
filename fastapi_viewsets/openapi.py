"""What OpenAPI says of a viewset's routes: responses, response models, summaries.

Registration (``fastapi_viewsets.routing``) asks this module, once per action, for the route's
documented answers, so that the schema shows what the action can really answer::

    GET /companies/{id}      200 CompanyRead, 401 and 403 (when a permission can refuse),
                             404 (a detail route), 422 (FastAPI's validation errors)
    GET /companies           200 Paginated[CompanyRead], 400 (a bad ordering or cursor),
                             404 (page numbers past the last page)

Every error answer documents the library's one error shape, ``{"detail": "..."}``.
"""

from __future__ import annotations

from typing import Any

from .exceptions import ErrorResponse
from .permissions import AllowAny
from .views import BoundAction

__all__ = ("list_response_model", "listing_responses", "may_refuse", "summary")

Responses = dict[int | str, dict[str, Any]]

NOT_FOUND: Responses = {404: {"model": ErrorResponse, "description": "Not found"}}
CONFLICT: Responses = {409: {"model": ErrorResponse, "description": "Conflict with existing data"}}
BAD_REQUEST: Responses = {400: {"model": ErrorResponse, "description": "Bad ordering or cursor"}}
REFUSED: Responses = {
    401: {"model": ErrorResponse, "description": "Not authenticated"},
    403: {"model": ErrorResponse, "description": "Permission denied"},
}


def listing_responses(bound: BoundAction) -> Responses:
    """The error answers of a list's filters and pagination."""
    responses: Responses = {}
    if bound.listing is not None or bound.pagination_class is not None:
        responses.update(BAD_REQUEST)
    if bound.pagination_class is not None:
        responses.update(bound.pagination_class.responses())
    return responses


def list_response_model(bound: BoundAction) -> Any:
    """The schema of a list's answer: the pagination's envelope, or a plain array."""
    if bound.pagination_class is not None:
        return bound.pagination_class.response_model(bound.read_schema)
    return list[bound.read_schema]  # type: ignore[name-defined]


def may_refuse(cls: Any, bound: BoundAction) -> bool:
    """Whether the action's permissions can refuse, to document its 401 and 403.

    ``get_permissions()`` is asked on a bare instance that knows only its action; when it
    needs more (the user, the request), the action is taken to be one that can refuse.
    """
    probe = cls.__new__(cls)
    probe.action = bound.name
    probe.bound = bound
    probe.kwargs = {}
    try:
        permissions = list(probe.get_permissions())
    except Exception:
        return True
    return not all(type(p) is AllowAny for p in permissions)


def summary(action: str, basename: str) -> str:
    """The one-line summary of an action's operation."""
    words = {
        "list": f"List {basename} objects",
        "create": f"Create a {basename}",
        "retrieve": f"Retrieve a {basename}",
        "update": f"Replace a {basename}",
        "partial_update": f"Update some fields of a {basename}",
        "destroy": f"Delete a {basename}",
    }
    return words.get(action, action.replace("_", " ").capitalize())
