"""Pagination of list routes: page numbers, limit/offset, and cursors.

::

    class CompanyViewSet(ModelViewSet[Company]):
        pagination_class = PageNumberPagination      # ?page=2&page_size=50

    class LargePages(PageNumberPagination):
        page_size = 100
        max_page_size = 1000

The envelopes are DRF's; ``next`` and ``previous`` are absolute URLs that keep the request's
other query parameters::

    {"count": 120, "next": "http://api/companies?page=3", "previous": "...", "results": [...]}
    {"next": "...", "previous": null, "results": [...]}            # CursorPagination

With ``pagination_class = None`` (the default) a list is a plain JSON array. A project-wide
default is a base class of your own viewsets that sets it.

- :class:`PageNumberPagination`: a page past the last one is a 404 (``"Invalid page."``), as in
  DRF; page 1 of an empty list is an empty page.
- :class:`LimitOffsetPagination`: an offset past the end gives an empty ``results``.
- :class:`CursorPagination`: an opaque ``cursor``, forward and backward, correct when the
  ordering has duplicates (the primary key breaks ties), combined with ``?ordering=``; it never
  runs ``COUNT`` or ``OFFSET``. A cursor that was altered is a 404 (``"Invalid cursor."``),
  as in DRF: it names no page. Index the ordering columns
  together with the primary key, e.g. ``(created_at, id)``, so each page is an index range scan.

A negative or non-numeric ``page``, ``page_size``, ``limit`` or ``offset`` is a 422.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import inspect
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from fastapi import Query
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter, ValidationError, create_model
from pydantic_core import to_jsonable_python
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from ._sql import count_rows
from ._values import normalise_value, text_problem, value_type
from .exceptions import ErrorResponse, ImproperlyConfigured, NotFound
from .filters import ordering_entries

if TYPE_CHECKING:
    from starlette.requests import Request

    from ._protocols import ListingView

__all__ = (
    "BasePagination",
    "CursorPagination",
    "LimitOffsetPagination",
    "PageNumberPagination",
)


def _query(name: str, annotation: Any, description: str, **constraints: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[annotation | None, Query(description=description, **constraints)],
        default=None,
    )


def _page_size_query(name: str, default: int, maximum: int) -> inspect.Parameter:
    return _query(
        name, int, f"Results per page (default {default}, at most {maximum}).", ge=1, le=maximum
    )


def _json_response(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _url(request: Request, **params: Any) -> str:
    url = request.url
    remove = [name for name, value in params.items() if value is None]
    keep = {name: value for name, value in params.items() if value is not None}
    if remove:
        url = url.remove_query_params(remove)
    if keep:
        url = url.include_query_params(**keep)
    return str(url)


def _value(row: Any, name: str) -> Any:
    """A field of a row: a model object, or a row read as a dict (see ``page_fields``)."""
    return row[name] if isinstance(row, dict) else getattr(row, name)


class BasePagination:
    """The interface of a pagination class; a new instance serves each list request."""

    @classmethod
    def query_parameters(cls) -> list[inspect.Parameter]:
        """The query parameters the class reads, shown in OpenAPI."""
        return []

    @classmethod
    def response_model(cls, item: type[BaseModel]) -> Any:
        """The envelope's schema for OpenAPI."""
        return list[item]  # type: ignore[valid-type]

    @classmethod
    def responses(cls) -> dict[int | str, dict[str, Any]]:
        """Error responses the class can answer with, for OpenAPI."""
        return {}

    @classmethod
    def check(cls, viewset: type[Any], owner: str) -> None:
        """Raise ImproperlyConfigured when ``viewset`` cannot be paginated this way."""

    @classmethod
    def page_fields(cls, viewset: type[Any]) -> tuple[str, ...]:
        """The model's columns :meth:`get_page` reads from each row (none by default)."""
        return ()

    async def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: ListingView
    ) -> QuerySet[Any] | list[Any]:
        """The page: the queryset of its rows, which the view then reads, or its rows (an
        empty list where the page is known to be empty). It may count rows and raise (an
        invalid page)."""
        raise NotImplementedError

    def get_page(self, rows: list[Any]) -> list[Any]:
        """The rows to answer, from those the page's queryset gave (all of them by default)."""
        return rows

    def get_paginated_response(self, data: bytes) -> Response:
        """The response around ``data``, the page's rows as a JSON array."""
        return _json_response(data)


def _envelope(name: str, item: type[BaseModel], count: bool) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    if count:
        fields["count"] = (int, ...)
    fields["next"] = (str | None, ...)
    fields["previous"] = (str | None, ...)
    fields["results"] = (list[item], ...)  # type: ignore[valid-type]
    return create_model(f"{name}{item.__name__}", **fields)


def _body(results: bytes, next_url: str | None, previous: str | None, count: int | None) -> bytes:
    head = f'{{"count":{count},' if count is not None else "{"
    links = f'"next":{json.dumps(next_url)},"previous":{json.dumps(previous)},'
    return f"{head}{links}".encode() + b'"results":' + results + b"}"


class PageNumberPagination(BasePagination):
    """``?page=`` (from 1) and ``?page_size=``, with ``count``, ``next`` and ``previous``."""

    page_size: ClassVar[int] = 20
    max_page_size: ClassVar[int] = 100
    page_query_param: ClassVar[str] = "page"
    page_size_query_param: ClassVar[str] = "page_size"

    @classmethod
    def query_parameters(cls) -> list[inspect.Parameter]:
        return [
            _query(cls.page_query_param, int, "A page number, from 1.", ge=1),
            _page_size_query(cls.page_size_query_param, cls.page_size, cls.max_page_size),
        ]

    @classmethod
    def response_model(cls, item: type[BaseModel]) -> Any:
        return _envelope("Paginated", item, count=True)

    @classmethod
    def responses(cls) -> dict[int | str, dict[str, Any]]:
        return {404: {"model": ErrorResponse, "description": "Invalid page"}}

    count: int = 0
    next_url: str | None = None
    previous_url: str | None = None

    async def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: ListingView
    ) -> QuerySet[Any]:
        params = view.query_params
        page = params.get(self.page_query_param) or 1
        size = params.get(self.page_size_query_param) or self.page_size
        self.count = await count_rows(queryset)
        last = max(1, -(-self.count // size))
        if page > last:
            raise NotFound("Invalid page.", code="invalid_page")
        if page < last:
            self.next_url = _url(request, **{self.page_query_param: page + 1})
        if page > 1:
            back = page - 1 if page > 2 else None
            self.previous_url = _url(request, **{self.page_query_param: back})
        return queryset.offset((page - 1) * size).limit(size)

    def get_paginated_response(self, data: bytes) -> Response:
        return _json_response(_body(data, self.next_url, self.previous_url, self.count))


class LimitOffsetPagination(BasePagination):
    """``?limit=`` and ``?offset=``, with ``count``, ``next`` and ``previous``."""

    default_limit: ClassVar[int] = 20
    max_limit: ClassVar[int] = 100
    limit_query_param: ClassVar[str] = "limit"
    offset_query_param: ClassVar[str] = "offset"

    @classmethod
    def query_parameters(cls) -> list[inspect.Parameter]:
        return [
            _query(
                cls.limit_query_param,
                int,
                f"Results to return (default {cls.default_limit}, at most {cls.max_limit}).",
                ge=1,
                le=cls.max_limit,
            ),
            _query(cls.offset_query_param, int, "Results to skip, from 0.", ge=0),
        ]

    @classmethod
    def response_model(cls, item: type[BaseModel]) -> Any:
        return _envelope("LimitOffsetPaginated", item, count=True)

    count: int = 0
    next_url: str | None = None
    previous_url: str | None = None

    async def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: ListingView
    ) -> QuerySet[Any] | list[Any]:
        params = view.query_params
        limit = params.get(self.limit_query_param) or self.default_limit
        offset = params.get(self.offset_query_param) or 0
        self.count = await count_rows(queryset)
        if offset + limit < self.count:
            self.next_url = _url(request, **{self.offset_query_param: offset + limit})
        if offset > 0:
            back = max(0, offset - limit)
            self.previous_url = _url(request, **{self.offset_query_param: back or None})
        if offset >= self.count:
            return []  # past the end: nothing to read
        return queryset.offset(offset).limit(limit)

    def get_paginated_response(self, data: bytes) -> Response:
        return _json_response(_body(data, self.next_url, self.previous_url, self.count))


class CursorPagination(BasePagination):
    """An opaque ``?cursor=`` over the viewset's ordering (its ``ordering``, the request's
    ``?ordering=``, or this class's ``ordering``), always ending with the primary key."""

    page_size: ClassVar[int] = 20
    max_page_size: ClassVar[int] = 100
    #: The order without one of the viewset's; a string is one field (``"-created_at"``).
    ordering: ClassVar[str | Sequence[str]] = ("-pk",)
    cursor_query_param: ClassVar[str] = "cursor"
    page_size_query_param: ClassVar[str] = "page_size"
    #: Key of the cursor's signature. Cursors hold only ordering values, which are parsed by
    #: the fields' types, so the default key guards against accidents rather than attackers.
    signing_key: ClassVar[bytes] = b"fastapi_viewsets.cursor"

    # This request's page, as paginate_queryset() found it.
    request: Request
    size: int = 0
    token: str | None = None
    backward: bool = False
    next_url: str | None = None
    previous_url: str | None = None
    _names: list[str]
    _ordering: list[str]

    @classmethod
    def query_parameters(cls) -> list[inspect.Parameter]:
        return [
            _query(cls.cursor_query_param, str, "An opaque cursor from `next` or `previous`."),
            _page_size_query(cls.page_size_query_param, cls.page_size, cls.max_page_size),
        ]

    @classmethod
    def response_model(cls, item: type[BaseModel]) -> Any:
        return _envelope("CursorPaginated", item, count=False)

    @classmethod
    def responses(cls) -> dict[int | str, dict[str, Any]]:
        return {404: {"model": ErrorResponse, "description": "Invalid cursor"}}

    @classmethod
    def check(cls, viewset: type[Any], owner: str) -> None:
        model: type[Model] = viewset.model
        fields = [
            *ordering_entries(getattr(viewset, "ordering", None)),
            *(getattr(viewset, "ordering_fields", None) or ()),
            *ordering_entries(cls.ordering),
        ]
        for entry in fields:
            name = entry.lstrip("-")
            field = model._meta.fields_map.get(name)
            if name == "pk":
                continue
            if field is None or "__" in name or name not in model._meta.fields_db_projection:
                raise ImproperlyConfigured(
                    f"{owner}: CursorPagination can order only by the model's own columns; "
                    f"{name!r} is not one. Remove it from ordering/ordering_fields."
                )
            if field.null:
                raise ImproperlyConfigured(
                    f"{owner}: CursorPagination cannot order by the nullable field {name!r} "
                    f"(databases sort NULLs differently). Make it non-null or remove it."
                )

    # --- cursors -----------------------------------------------------------------------------

    def encode(self, values: list[Any], ordering: list[str], backward: bool) -> str:
        payload = json.dumps(
            {"v": to_jsonable_python(values), "o": ordering, "b": backward},
            separators=(",", ":"),
        ).encode()
        signature = hmac.new(self.signing_key, payload, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(signature + payload).decode().rstrip("=")

    def decode(self, token: str, ordering: list[str]) -> tuple[list[Any], bool]:
        # 404, as DRF answers: a cursor that is not one of ours names no page. (Any string is
        # schema-valid for an opaque cursor, so a 400 would be a refusal OpenAPI cannot explain.)
        invalid = NotFound("Invalid cursor.", code="invalid_cursor")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise invalid from None
        signature, payload = raw[:12], raw[12:]
        expected = hmac.new(self.signing_key, payload, hashlib.sha256).digest()[:12]
        if not hmac.compare_digest(signature, expected):
            raise invalid
        try:
            data = json.loads(payload)
            values, backward = data["v"], bool(data["b"])
        except (ValueError, KeyError, TypeError):
            raise invalid from None
        if data.get("o") != ordering:
            raise NotFound(
                "The cursor was made for another ordering; start again without it.",
                code="invalid_cursor",
            )
        if not isinstance(values, list) or len(values) != len(ordering):
            raise invalid
        return values, backward

    # --- paging ----------------------------------------------------------------------------

    @staticmethod
    def _field_name(model: type[Model], entry: str) -> str:
        name = entry.lstrip("-")
        return model._meta.pk_attr if name == "pk" else name

    def _after(
        self, model: type[Model], ordering: list[str], values: list[Any], backward: bool
    ) -> Q:
        """Rows strictly after ``values`` in ``ordering`` (before, when ``backward``).

        ``a > v OR (a = v AND id > w)``, led by ``a >= v`` so that an index on ``(a, id)``
        can seek to the cursor instead of reading every row before it.
        """
        alternatives = []
        ops = []
        for index, entry in enumerate(ordering):
            name = self._field_name(model, entry)
            ascending = not entry.startswith("-")
            ops.append("gt" if ascending != backward else "lt")
            equal = {self._field_name(model, ordering[j]): values[j] for j in range(index)}
            alternatives.append(Q(**equal, **{f"{name}__{ops[index]}": values[index]}))
        first = self._field_name(model, ordering[0])
        seek = Q(**{f"{first}__{ops[0]}e": values[0]})
        return Q(seek, Q(*alternatives, join_type="OR"), join_type="AND")

    def _parse(self, model: type[Model], ordering: list[str], values: list[Any]) -> list[Any]:
        """Check a cursor's values as filter values are checked: by the column's type and
        range, timezone-aware, with no NUL characters."""
        parsed = []
        for entry, value in zip(ordering, values, strict=True):
            field = model._meta.fields_map[self._field_name(model, entry)]
            try:
                if isinstance(value, str) and text_problem(value) is not None:
                    raise ValueError("text")
                parsed.append(
                    normalise_value(TypeAdapter(value_type(field)).validate_python(value))
                )
            except (ValidationError, TypeError, ValueError):
                raise NotFound("Invalid cursor.", code="invalid_cursor") from None
        return parsed

    @classmethod
    def page_fields(cls, viewset: type[Any]) -> tuple[str, ...]:
        """Every column an ordering of ``viewset`` can name, and the primary key: the cursors
        are made of their values in the first and last rows."""
        model: type[Model] = viewset.model
        entries = [
            *ordering_entries(getattr(viewset, "ordering", None)),
            *(getattr(viewset, "ordering_fields", None) or ()),
            *ordering_entries(cls.ordering),
        ]
        names = [cls._field_name(model, entry) for entry in entries]
        return tuple(dict.fromkeys([*names, model._meta.pk_attr]))

    async def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: ListingView
    ) -> QuerySet[Any]:
        model = view.model
        pk = model._meta.pk_attr
        ordering = [
            o.replace("pk", pk, 1) if o.lstrip("-") == "pk" else o
            for o in (view.ordering_used or ordering_entries(self.ordering))
        ]
        if not any(o.lstrip("-") == pk for o in ordering):
            ordering.append(pk)
        params = view.query_params
        self.request = request
        self.size = params.get(self.page_size_query_param) or self.page_size
        self.token = params.get(self.cursor_query_param)
        self.backward = False
        if self.token:
            values, self.backward = self.decode(self.token, ordering)
            values = self._parse(model, ordering, values)
            queryset = queryset.filter(self._after(model, ordering, values, self.backward))
        self._names = [self._field_name(model, o) for o in ordering]
        self._ordering = ordering
        order = [_flip(o) for o in ordering] if self.backward else ordering
        # One row more than the page, to know whether there is a next one.
        return queryset.order_by(*order).limit(self.size + 1)

    def get_page(self, rows: list[Any]) -> list[Any]:
        more = len(rows) > self.size
        rows = rows[: self.size]
        if self.backward:
            rows.reverse()
        self.next_url = self.previous_url = None
        if rows:
            if more or self.backward:
                self.next_url = self._link(rows[-1], backward=False)
            if (more and self.backward) or (self.token and not self.backward):
                self.previous_url = self._link(rows[0], backward=True)
        return rows

    def _link(self, row: Any, *, backward: bool) -> str:
        values = [_value(row, name) for name in self._names]
        cursor = self.encode(values, self._ordering, backward)
        return _url(self.request, **{self.cursor_query_param: cursor})

    def get_paginated_response(self, data: bytes) -> Response:
        return _json_response(_body(data, self.next_url, self.previous_url, None))


def _flip(entry: str) -> str:
    return entry[1:] if entry.startswith("-") else f"-{entry}"
