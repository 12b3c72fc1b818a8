"""RFC 9457 problem details: every error of an app as ``application/problem+json``, one switch.

Errors keep FastAPI's body, ``{"detail": ...}``, as DRF clients expect, until the app turns the
switch on, before it serves its first request::

    app = FastAPI(lifespan=lifespan)
    install_problem_details(app)                 # or type_base="https://api.example.com/problems/"
    app.include_router(companies)

Then every error the app answers, a viewset's or a plain route's, is a problem::

    GET /companies/99     404 application/problem+json
    {"type": "about:blank", "title": "Not Found", "status": 404,
     "detail": "No company matches the given query.", "instance": "/companies/99",
     "code": "not_found", "request_id": "5b0c…"}

    POST /companies {"name": 1}     422 application/problem+json
    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "The request did not validate; errors lists each problem.", ...,
     "code": "validation_error",
     "errors": [{"type": "string_type", "loc": ["body", "name"], "pointer": "#/name",
                 "msg": "Input should be a valid string", "input": 1}]}

The switch covers the whole app: exception handlers are the app's, and a client should not
have to parse two shapes (a 404 for an unknown path is Starlette's, a 422 of a plain route is
FastAPI's). ``code`` is the exception's DRF code, else made from the status phrase; with a
``type_base`` it also names the ``type``: ``https://api.example.com/problems/not_found``.

The OpenAPI schema of the app says the same: each response documented with FastAPI's error body
(an object whose only member is ``detail``: the library's ``ErrorResponse``, FastAPI's
``HTTPValidationError``) is documented as ``application/problem+json`` with
:class:`ProblemDetails` or :class:`ValidationProblemDetails`. The library's routes are built
before any app exists, so the schema is rewritten as the app builds it, by
:func:`problem_openapi`.
"""

from __future__ import annotations

import copy
import http
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema, models_json_schema
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from ._echo import answerable_errors
from .exceptions import APIException, ImproperlyConfigured
from .state import SCOPE_KEY, RequestStore

__all__ = (
    "ABOUT_BLANK",
    "MEDIA_TYPE",
    "ProblemDetails",
    "ValidationProblem",
    "ValidationProblemDetails",
    "install_problem_details",
    "problem_openapi",
    "problem_response",
    "status_code_name",
    "status_title",
)

#: The Content-Type of a problem.
MEDIA_TYPE = "application/problem+json"
#: The ``type`` of a problem that means no more than its status (RFC 9457, 4.2.1).
ABOUT_BLANK = "about:blank"
#: The ``code`` and ``detail`` of a 422.
VALIDATION_CODE = "validation_error"
VALIDATION_DETAIL = "The request did not validate; errors lists each problem."
#: The ``detail`` of a 500: what went wrong stays in the server's log.
SERVER_ERROR_DETAIL = "A server error occurred."

# Where the switch keeps its settings on the app: a second call finds them.
_STATE_ATTR = "fastapi_viewsets_problems"
# RFC 9110's phrases where Python's older releases still give RFC 7231's.
_PHRASES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}
_STANDARD_MEMBERS = frozenset({"type", "title", "status", "detail", "instance"})
# RFC 3986 pchar, less "/": a JSON Pointer token in a URI fragment (RFC 6901, section 6).
_FRAGMENT_SAFE = "!$&'()*+,;=:@~"


def _no_null_defaults(schema: JsonDict) -> None:
    # Members left out when they have no value are not null: their schema says a string.
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for member in properties.values():
            if isinstance(member, dict) and "type" in member and member.get("default", 0) is None:
                del member["default"]


class ProblemDetails(BaseModel):
    """An RFC 9457 problem: the body of an error response while the switch is on."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_no_null_defaults)

    type: str = Field(
        ABOUT_BLANK,
        description="A URI naming the kind of problem; about:blank when the status says it all.",
        json_schema_extra={"format": "uri-reference"},
    )
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, for a person to read.")
    instance: str = Field(
        description="The path of the request that failed.",
        json_schema_extra={"format": "uri-reference"},
    )
    code: str = Field(description="The error's code, as in DRF: not_found, throttled, ...")
    request_id: str | SkipJsonSchema[None] = Field(
        None, description="The request's X-Request-ID, where the request has a state."
    )


class ValidationProblem(BaseModel):
    """One entry of a 422's ``errors``: FastAPI's validation error, with a JSON pointer."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_no_null_defaults)

    type: str
    loc: list[str | int] = Field(description="Where: 'body', 'query', 'path', 'header' first.")
    pointer: str | SkipJsonSchema[None] = Field(
        None, description="A JSON Pointer into the request body (RFC 6901), for body errors."
    )
    msg: str
    input: Any = None
    ctx: dict[str, Any] | SkipJsonSchema[None] = None


class ValidationProblemDetails(ProblemDetails):
    """The problem of a 422: :class:`ProblemDetails` with the list of validation errors."""

    errors: list[ValidationProblem]


def status_title(status_code: int) -> str:
    """The status phrase of RFC 9110: the ``title`` of a problem about the status alone."""
    phrase = _PHRASES.get(status_code)
    if phrase is not None:
        return phrase
    try:
        return http.HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


def status_code_name(status_code: int) -> str:
    """The ``code`` of an error that has none: its status phrase in snake case (``not_found``,
    ``method_not_allowed``)."""
    return re.sub(r"[^a-z0-9]+", "_", status_title(status_code).lower()).strip("_")


class _Problems:
    """The switch's settings, and the exception handler it registers."""

    def __init__(self, type_base: str | None) -> None:
        self.type_base = type_base

    def type_of(self, code: str) -> str:
        if self.type_base is None:
            return ABOUT_BLANK
        return self.type_base + quote(code, safe="")

    async def answer(self, request: HTTPConnection, exc: Exception) -> Response:
        """The handler of the app's HTTP errors, its validation errors and, unless the app
        has a handler of its own for them, its server errors."""
        if isinstance(exc, RequestValidationError):
            errors = [_validation_item(error) for error in answerable_errors(list(exc.errors()))]
            return self.response(
                request, 422, VALIDATION_DETAIL, code=VALIDATION_CODE, errors=errors
            )
        if isinstance(exc, HTTPException):
            code = getattr(exc, "code", None) if isinstance(exc, APIException) else None
            title = getattr(exc, "title", None) if isinstance(exc, APIException) else None
            return self.response(
                request,
                exc.status_code,
                exc.detail,
                code=code if isinstance(code, str) else None,
                title=title if isinstance(title, str) else None,
                headers=exc.headers,
            )
        return self.response(request, 500, SERVER_ERROR_DETAIL)

    def response(
        self,
        request: HTTPConnection,
        status_code: int,
        detail: Any = None,
        *,
        code: str | None = None,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> Response:
        clash = _STANDARD_MEMBERS.intersection(extensions)
        if clash:
            raise ValueError(f"{sorted(clash)} are members of every problem, not extensions.")
        if status_code < 200 or status_code in (204, 205, 304):
            # A status that has no body, as FastAPI's own handler answers it.
            return Response(status_code=status_code, headers=headers)
        code = code or status_code_name(status_code)
        body: dict[str, Any] = {
            "type": self.type_of(code),
            "title": title or status_title(status_code),
            "status": status_code,
            "detail": detail if detail is not None else status_title(status_code),
            "instance": request.url.path,
            "code": code,
        }
        store = request.scope.get(SCOPE_KEY)
        if isinstance(store, RequestStore):
            body["request_id"] = store.request_id
        body.update(extensions)
        return JSONResponse(
            jsonable_encoder(body), status_code=status_code, headers=headers, media_type=MEDIA_TYPE
        )


def install_problem_details(app: FastAPI, *, type_base: str | None = None) -> None:
    """Turn the switch on: ``app`` answers every error as RFC 9457 problem details, and its
    OpenAPI schema documents them so.

    ``type_base`` makes each problem's ``type`` a URI, ``type_base`` followed by the error's
    ``code``; without it, ``type`` is ``about:blank``. Call it once the app is made and before
    it serves; a second call changes ``type_base``. The handlers of ``HTTPException`` and
    ``RequestValidationError`` are replaced; the app's own handler for ``500`` or
    ``Exception``, where it has one, is kept. A handler the app adds afterwards, for a status
    code or an exception class, answers its errors in its own shape.
    """
    if type_base is not None and not isinstance(type_base, str):
        raise ImproperlyConfigured(
            f"type_base is {type_base!r}; give a URI that codes are added to, like "
            f"'https://api.example.com/problems/', or None for about:blank."
        )
    if app.middleware_stack is not None:
        # Starlette copies the app's handlers when it first serves: later ones would not count.
        raise ImproperlyConfigured(
            "install_problem_details() was called on an app that has served requests. Call it "
            "where the app is made."
        )
    found = getattr(app.state, _STATE_ATTR, None)
    problems = found if isinstance(found, _Problems) else _Problems(type_base)
    problems.type_base = type_base
    ours = problems.answer
    app.add_exception_handler(HTTPException, ours)
    app.add_exception_handler(RequestValidationError, ours)
    server_errors = [app.exception_handlers.get(key) for key in (500, Exception)]
    if not any(handler is not None and handler != ours for handler in server_errors):
        app.add_exception_handler(Exception, ours)
    if found is problems:
        return
    setattr(app.state, _STATE_ATTR, problems)
    build = app.openapi
    rewritten: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        schema = build()
        # FastAPI builds the schema once and then hands out the same dict.
        if not rewritten or rewritten[0] is not schema:
            problem_openapi(schema)
            rewritten[:] = [schema]
        return schema

    # The hook FastAPI documents for changing an app's schema ("Extending OpenAPI").
    app.openapi = openapi  # type: ignore[method-assign]


def problem_response(
    request: HTTPConnection,
    status_code: int,
    detail: Any = None,
    *,
    code: str | None = None,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem response as the switch answers one, for an exception handler of the app's
    own; ``extensions`` are added as members. ``type`` follows the app's ``type_base``."""
    found = getattr(request.app.state, _STATE_ATTR, None)
    problems = found if isinstance(found, _Problems) else _Problems(None)
    return problems.response(
        request, status_code, detail, code=code, title=title, headers=headers, **extensions
    )


def _pointer(error: Mapping[str, Any]) -> str | None:
    """Where a body error is, as a JSON Pointer in a URI fragment (``#/items/0/name``)."""
    loc = error.get("loc")
    # json_invalid's location is a position in the text, not a member of the body.
    if not isinstance(loc, list | tuple) or not loc or loc[0] != "body":
        return None
    if error.get("type") == "json_invalid":
        return None
    tokens = (str(part).replace("~", "~0").replace("/", "~1") for part in loc[1:])
    return "#" + "".join("/" + quote(token, safe=_FRAGMENT_SAFE) for token in tokens)


def _validation_item(error: Any) -> Any:
    if not isinstance(error, Mapping):
        return error
    item: dict[str, Any] = {}
    for key, value in error.items():
        item[key] = value
        if key == "loc":
            pointer = _pointer(error)
            if pointer is not None:
                item["pointer"] = pointer
    return item


# --- OpenAPI ---------------------------------------------------------------------------------

_REF = "#/components/schemas/"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PROBLEM = ProblemDetails.__name__
_VALIDATION_PROBLEM = ValidationProblemDetails.__name__
_COMPONENTS: dict[str, Any] = models_json_schema(
    [(ProblemDetails, "serialization"), (ValidationProblemDetails, "serialization")],
    ref_template=_REF + "{model}",
)[1]["$defs"]


def _error_shape(component: Any) -> str | None:
    """Which problem replaces a component in FastAPI's error shape, an object whose only member
    is ``detail``: a string (``ErrorResponse``), or a list (``HTTPValidationError``)."""
    if not isinstance(component, Mapping):
        return None
    properties = component.get("properties")
    if not isinstance(properties, Mapping) or set(properties) != {"detail"}:
        return None
    detail = properties["detail"]
    kind = detail.get("type") if isinstance(detail, Mapping) else None
    if kind == "string":
        return _PROBLEM
    if kind == "array":
        return _VALIDATION_PROBLEM
    return None


def _responses(schema: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for section in ("paths", "webhooks"):
        for path_item in (schema.get(section) or {}).values():
            for method in _METHODS:
                operation = path_item.get(method) if isinstance(path_item, Mapping) else None
                if isinstance(operation, Mapping):
                    for response in (operation.get("responses") or {}).values():
                        if isinstance(response, dict):
                            yield response


def _refs(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                found.add(item)
            else:
                _refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _refs(item, found)
    return found


def problem_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite an app's OpenAPI ``schema`` in place for problem details, and return it.

    Each response whose ``application/json`` schema is FastAPI's error shape (or a problem)
    becomes ``application/problem+json`` with :class:`ProblemDetails` or
    :class:`ValidationProblemDetails`; the components no answer refers to any more are
    dropped. Rewriting twice changes nothing. ``install_problem_details()`` calls it on the
    app's schema; an ``app.openapi`` of your own, set afterwards, calls it itself.
    """
    schemas: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
    replaced = {
        _REF + name: target
        for name, component in schemas.items()
        if (target := _error_shape(component)) is not None
    }
    targets = {
        **replaced,
        _REF + _PROBLEM: _PROBLEM,
        _REF + _VALIDATION_PROBLEM: _VALIDATION_PROBLEM,
    }
    documented = False
    for response in _responses(schema):
        content = response.get("content")
        if not isinstance(content, dict):
            continue
        plain = content.get("application/json")
        ref = plain.get("schema", {}).get("$ref") if isinstance(plain, Mapping) else None
        target = targets.get(ref) if isinstance(ref, str) else None
        if target is None:
            continue
        # In the same place among the content types; an example of the old shape is dropped.
        rewritten: dict[str, Any] = {}
        for kind, value in content.items():
            if kind == "application/json":
                rewritten[MEDIA_TYPE] = {"schema": {"$ref": _REF + target}}
            else:
                rewritten[kind] = value
        response["content"] = rewritten
        documented = True
    if documented:
        schemas.update(copy.deepcopy(_COMPONENTS))
    _prune(schema, schemas, {ref.removeprefix(_REF) for ref in replaced})
    return schema


def _prune(schema: dict[str, Any], schemas: dict[str, Any], candidates: set[str]) -> None:
    """Drop the ``candidates``, and the components they alone referred to, where nothing else
    refers to them any more."""
    pending = list(candidates)
    while pending:
        for ref in _refs(schemas.get(pending.pop()), set()):
            name = ref.removeprefix(_REF)
            if ref.startswith(_REF) and name not in candidates:
                candidates.add(name)
                pending.append(name)
    outside = {**schema, "components": {**schema["components"], "schemas": {}}}
    while True:
        used = _refs(outside, set())
        for component in schemas.values():
            _refs(component, used)
        unused = [name for name in candidates if name in schemas and _REF + name not in used]
        if not unused:
            return
        for name in unused:
            del schemas[name]
