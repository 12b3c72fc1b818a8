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
  runs ``COUNT`` or ``OFFSET``. A cursor that was altered is a 400. Index the ordering columns
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
from ._values import normalise_value, text_problem
from .exceptions import ErrorResponse, ImproperlyConfigured, NotFound, ParseError
from .filters import value_type

if TYPE_CHECKING:
    from .generics import GenericViewSet

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


def _url(view: GenericViewSet[Any], **params: Any) -> str:
    url = view.request.url
    remove = [name for name, value in params.items() if value is None]
    keep = {name: value for name, value in params.items() if value is not None}
    if remove:
        url = url.remove_query_params(remove)
    if keep:
        url = url.include_query_params(**keep)
    return str(url)


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
    def check(cls, viewset: type[GenericViewSet[Any]], owner: str) -> None:
        """Raise ImproperlyConfigured when ``viewset`` cannot be paginated this way."""

    async def paginate(
        self, view: GenericViewSet[Any], queryset: QuerySet[Any], params: dict[str, Any]
    ) -> Response:
        raise NotImplementedError


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

    async def paginate(
        self, view: GenericViewSet[Any], queryset: QuerySet[Any], params: dict[str, Any]
    ) -> Response:
        page = params.get(self.page_query_param) or 1
        size = params.get(self.page_size_query_param) or self.page_size
        count = await count_rows(queryset)
        last = max(1, -(-count // size))
        if page > last:
            raise NotFound("Invalid page.", code="invalid_page")
        rows = await view.load_for_response(queryset.offset((page - 1) * size).limit(size))
        next_url = _url(view, **{self.page_query_param: page + 1}) if page < last else None
        previous = None
        if page > 1:
            previous = _url(view, **{self.page_query_param: page - 1 if page > 2 else None})
        return _json_response(_body(view.serialize(rows, many=True), next_url, previous, count))


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

    async def paginate(
        self, view: GenericViewSet[Any], queryset: QuerySet[Any], params: dict[str, Any]
    ) -> Response:
        limit = params.get(self.limit_query_param) or self.default_limit
        offset = params.get(self.offset_query_param) or 0
        count = await count_rows(queryset)
        rows = (
            await view.load_for_response(queryset.offset(offset).limit(limit))
            if offset < count
            else []
        )
        next_url = None
        if offset + limit < count:
            next_url = _url(view, **{self.offset_query_param: offset + limit})
        previous = None
        if offset > 0:
            back = max(0, offset - limit)
            previous = _url(view, **{self.offset_query_param: back or None})
        return _json_response(_body(view.serialize(rows, many=True), next_url, previous, count))


class CursorPagination(BasePagination):
    """An opaque ``?cursor=`` over the viewset's ordering (its ``ordering``, the request's
    ``?ordering=``, or this class's ``ordering``), always ending with the primary key."""

    page_size: ClassVar[int] = 20
    max_page_size: ClassVar[int] = 100
    ordering: ClassVar[Sequence[str]] = ("-pk",)
    cursor_query_param: ClassVar[str] = "cursor"
    page_size_query_param: ClassVar[str] = "page_size"
    #: Key of the cursor's signature. Cursors hold only ordering values, which are parsed by
    #: the fields' types, so the default key guards against accidents rather than attackers.
    signing_key: ClassVar[bytes] = b"fastapi_viewsets.cursor"

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
    def check(cls, viewset: type[GenericViewSet[Any]], owner: str) -> None:
        model: type[Model] = viewset.model
        fields = [
            *(getattr(viewset, "ordering", None) or ()),
            *(getattr(viewset, "ordering_fields", None) or ()),
            *cls.ordering,
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
        invalid = ParseError("Invalid cursor.", code="invalid_cursor")
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
            raise ParseError(
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
                raise ParseError("Invalid cursor.", code="invalid_cursor") from None
        return parsed

    async def paginate(
        self, view: GenericViewSet[Any], queryset: QuerySet[Any], params: dict[str, Any]
    ) -> Response:
        model = view.model
        pk = model._meta.pk_attr
        ordering = [
            o.replace("pk", pk, 1) if o.lstrip("-") == "pk" else o
            for o in (getattr(view, "ordering_used", None) or self.ordering)
        ]
        if not any(o.lstrip("-") == pk for o in ordering):
            ordering.append(pk)
        size = params.get(self.page_size_query_param) or self.page_size
        token = params.get(self.cursor_query_param)
        backward = False
        if token:
            values, backward = self.decode(token, ordering)
            values = self._parse(model, ordering, values)
            queryset = queryset.filter(self._after(model, ordering, values, backward))
        order = [_flip(o) for o in ordering] if backward else ordering
        rows = await view.load(queryset.order_by(*order).limit(size + 1))
        more = len(rows) > size
        rows = rows[:size]
        if backward:
            rows.reverse()
        names = [self._field_name(model, o) for o in ordering]
        next_url = previous = None
        if rows:
            if more or backward:
                last = [getattr(rows[-1], n) for n in names]
                next_url = _url(
                    view, **{self.cursor_query_param: self.encode(last, ordering, False)}
                )
            if (more and backward) or (token and not backward):
                first = [getattr(rows[0], n) for n in names]
                previous = _url(
                    view, **{self.cursor_query_param: self.encode(first, ordering, True)}
                )
        return _json_response(_body(view.serialize(rows, many=True), next_url, previous, None))


def _flip(entry: str) -> str:
    return entry[1:] if entry.startswith("-") else f"-{entry}"
