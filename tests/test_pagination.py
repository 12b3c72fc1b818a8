"""Pagination of list routes and listing actions: page numbers, limit/offset and cursors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import json
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict
from tortoise.queryset import QuerySet

from fastapi_viewsets import (
    GenericViewSet,
    ImproperlyConfigured,
    ListModelMixin,
    ReadOnlyModelViewSet,
    action,
    viewset,
)
from fastapi_viewsets.generics import ModelT
from fastapi_viewsets.pagination import (
    BasePagination,
    CursorPagination,
    LimitOffsetPagination,
    PageNumberPagination,
)
from fastapi_viewsets.testing import assert_num_queries, capture_queries
from tests.models import Company, Project, Tag, User
from tests.utils import create_app, query_parameters, serve

# --- schemas and pagination classes ------------------------------------------------------------


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    size: int


class SmallPages(PageNumberPagination):
    page_size = 3
    max_page_size = 5
    page_query_param = "p"
    page_size_query_param = "per_page"


class SmallLimits(LimitOffsetPagination):
    default_limit = 2
    max_limit = 4
    limit_query_param = "take"
    offset_query_param = "skip"


class SmallCursor(CursorPagination):
    page_size = 3
    max_page_size = 5
    cursor_query_param = "after"
    page_size_query_param = "per_page"


class FirstN(BasePagination):
    """A pagination class of one's own: the first ``n`` rows, as a plain array."""

    @classmethod
    def query_parameters(cls) -> list[inspect.Parameter]:
        return [
            inspect.Parameter(
                "n",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[int | None, Query(ge=1, description="How many rows.")],
                default=None,
            )
        ]

    async def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any
    ) -> QuerySet[Any]:
        return queryset.limit(view.query_params.get("n") or 2)


# --- viewsets ----------------------------------------------------------------------------------

LISTING: dict[str, Any] = {
    "filterset_fields": {"name": ["icontains"], "size": ["gte"]},
    "ordering_fields": ["name", "size", "created_at"],
}

pages = APIRouter(prefix="/pages")


@viewset(pages, basename="pages")
class PagesViewSet(ReadOnlyModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    pagination_class = PageNumberPagination
    filterset_fields = LISTING["filterset_fields"]
    ordering_fields = LISTING["ordering_fields"]
    ordering = ["name"]

    @action(detail=False)
    async def big(self) -> QuerySet[Company]:
        return self.get_queryset().filter(size__gte=2)


small_pages = APIRouter(prefix="/small-pages")
viewset(small_pages, basename="small-pages")(
    type(
        "SmallPagesViewSet",
        (ReadOnlyModelViewSet,),
        {"model": Company, "read_schema": CompanyRead, "pagination_class": SmallPages, **LISTING},
    )
)

offsets = APIRouter(prefix="/offsets")
viewset(offsets, basename="offsets")(
    type(
        "OffsetsViewSet",
        (ReadOnlyModelViewSet,),
        {
            "model": Company,
            "read_schema": CompanyRead,
            "pagination_class": LimitOffsetPagination,
            "ordering": ["name"],
            **LISTING,
        },
    )
)

small_offsets = APIRouter(prefix="/small-offsets")
viewset(small_offsets, basename="small-offsets")(
    type(
        "SmallOffsetsViewSet",
        (ReadOnlyModelViewSet,),
        {"model": Company, "read_schema": CompanyRead, "pagination_class": SmallLimits, **LISTING},
    )
)

cursors = APIRouter(prefix="/cursors")
viewset(cursors, basename="cursors")(
    type(
        "CursorsViewSet",
        (ReadOnlyModelViewSet,),
        {
            "model": Company,
            "read_schema": CompanyRead,
            "pagination_class": CursorPagination,
            "ordering": ["-size"],
            **LISTING,
        },
    )
)

small_cursors = APIRouter(prefix="/small-cursors")
viewset(small_cursors, basename="small-cursors")(
    type(
        "SmallCursorsViewSet",
        (ReadOnlyModelViewSet,),
        {"model": Company, "read_schema": CompanyRead, "pagination_class": SmallCursor},
    )
)

small_cursors_named = APIRouter(prefix="/small-cursors-named")
viewset(small_cursors_named, basename="small-cursors-named")(
    type(
        "SmallCursorsNamedViewSet",
        (ReadOnlyModelViewSet,),
        {
            "model": Company,
            "read_schema": CompanyRead,
            "pagination_class": SmallCursor,
            "ordering": ["name"],
        },
    )
)

plain = APIRouter(prefix="/plain")
viewset(plain, basename="plain")(
    type(
        "PlainViewSet",
        (ReadOnlyModelViewSet,),
        {"model": Company, "read_schema": CompanyRead, "ordering": ["name"], **LISTING},
    )
)

custom = APIRouter(prefix="/custom")
viewset(custom, basename="custom")(
    type(
        "CustomViewSet",
        (ReadOnlyModelViewSet,),
        {"model": Company, "read_schema": CompanyRead, "pagination_class": FirstN},
    )
)


class ApiViewSet(ListModelMixin[ModelT], GenericViewSet[ModelT]):
    """The project's base viewset: every list it serves is paginated the same way."""

    pagination_class = SmallPages


default = APIRouter(prefix="/default")


@viewset(default, basename="default")
class DefaultPaginated(ApiViewSet[Company]):
    model = Company
    read_schema = CompanyRead


default_off = APIRouter(prefix="/default-off")


@viewset(default_off, basename="default-off")
class DefaultOff(ApiViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    pagination_class = None


ROUTERS = (
    pages,
    small_pages,
    offsets,
    small_offsets,
    cursors,
    small_cursors,
    small_cursors_named,
    plain,
    custom,
    default,
    default_off,
)


def app() -> Any:
    return create_app(*ROUTERS)


# --- helpers -----------------------------------------------------------------------------------


async def make_companies(count: int, sizes: int = 4) -> list[Company]:
    return [await Company.create(name=f"co{i:02d}", size=i % sizes) for i in range(count)]


def ids(body: Any) -> list[int]:
    rows = body["results"] if isinstance(body, dict) else body
    return [row["id"] for row in rows]


def link(url: str | None) -> tuple[str, dict[str, str]]:
    """A next/previous link as (absolute URL without the query, its query parameters)."""
    assert url is not None
    parsed = httpx.URL(url)
    return str(parsed.copy_with(query=None)), dict(parsed.params)


def by(companies: list[Company], *keys: str) -> list[int]:
    """The ids of ``companies`` in the order of ``keys`` (``-`` descending), then by id."""
    rows = sorted(companies, key=lambda c: c.id)
    for key in reversed(keys):
        name = key.lstrip("-")
        rows = sorted(rows, key=lambda c: getattr(c, name), reverse=key.startswith("-"))
    return [c.id for c in rows]


def sign(payload: bytes, key: bytes = CursorPagination.signing_key) -> str:
    """A cursor with a valid signature around ``payload``, as a client that knows the key."""
    signature = hmac.new(key, payload, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(signature + payload).decode().rstrip("=")


# --- page numbers ------------------------------------------------------------------------------


async def test_page_number_envelope_keeps_the_other_query_parameters() -> None:
    async with serve(app()) as client:
        companies = await make_companies(12)
        expected = by(companies, "-size")
        query = "name__icontains=CO&ordering=-size&page_size=5"
        response = await client.get(f"/pages?{query}&page=2")
        assert response.status_code == 200
        body = response.json()
        assert list(body) == ["count", "next", "previous", "results"]
        assert body["count"] == 12
        assert ids(body) == expected[5:10]
        sixth = next(c for c in companies if c.id == expected[5])
        assert body["results"][0] == {"id": sixth.id, "name": sixth.name, "size": sixth.size}
        others = {"name__icontains": "CO", "ordering": "-size", "page_size": "5"}
        assert link(body["next"]) == ("http://testserver/pages", {**others, "page": "3"})
        # Page 1 is the page without the parameter, as in DRF.
        assert link(body["previous"]) == ("http://testserver/pages", others)

        last = (await client.get(body["next"])).json()
        assert ids(last) == expected[10:]
        assert last["next"] is None
        assert link(last["previous"]) == ("http://testserver/pages", {**others, "page": "2"})

        first = (await client.get(last["previous"].replace("page=2", "page=1"))).json()
        assert first["previous"] is None
        assert ids(first) == expected[:5]


async def test_page_number_defaults_to_page_one_of_page_size_rows() -> None:
    async with serve(app()) as client:
        companies = await make_companies(25)
        body = (await client.get("/pages")).json()
        assert body["count"] == 25
        assert ids(body) == by(companies, "name")[:20]
        assert body["previous"] is None
        assert link(body["next"]) == ("http://testserver/pages", {"page": "2"})


@pytest.mark.parametrize(
    ("rows", "query", "status", "count"),
    [
        (0, "page=1", 200, 0),  # page 1 of an empty list is an empty page
        (0, "", 200, 0),
        (0, "page=2", 404, None),
        (5, "page=2", 404, None),
        (40, "page=2", 200, 40),  # exactly two full pages
        (40, "page=3", 404, None),
        (41, "page=3", 200, 41),
        (5, "page=999999999999999999999999", 404, None),
        (7, "page=3&page_size=3", 200, 7),
        (7, "page=4&page_size=3", 404, None),
    ],
)
async def test_a_page_past_the_last_is_404(
    rows: int, query: str, status: int, count: int | None
) -> None:
    async with serve(app()) as client:
        await make_companies(rows)
        response = await client.get(f"/pages?{query}")
        assert response.status_code == status
        if status == 404:
            assert response.json() == {"detail": "Invalid page."}
        else:
            assert response.json()["count"] == count


async def test_page_number_parameters_and_sizes_are_per_class() -> None:
    async with serve(app()) as client:
        companies = await make_companies(11)
        order = [c.id for c in companies]
        body = (await client.get("/small-pages")).json()
        assert ids(body) == order[:3]
        assert link(body["next"]) == ("http://testserver/small-pages", {"p": "2"})
        body = (await client.get("/small-pages?p=2&per_page=5")).json()
        assert ids(body) == order[5:10]
        assert link(body["next"]) == ("http://testserver/small-pages", {"p": "3", "per_page": "5"})
        assert link(body["previous"]) == ("http://testserver/small-pages", {"per_page": "5"})
        # The names of another class are not parameters of this one.
        assert ids((await client.get("/small-pages?page=2&page_size=5")).json()) == order[:3]
        response = await client.get("/small-pages?per_page=6")
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "per_page"]


# --- limit and offset --------------------------------------------------------------------------


async def test_limit_offset_envelope_and_links() -> None:
    async with serve(app()) as client:
        companies = await make_companies(12)
        order = by(companies, "name")
        body = (await client.get("/offsets?limit=5&offset=5&name__icontains=co")).json()
        assert list(body) == ["count", "next", "previous", "results"]
        assert body["count"] == 12
        assert ids(body) == order[5:10]
        others = {"limit": "5", "name__icontains": "co"}
        assert link(body["next"]) == ("http://testserver/offsets", {**others, "offset": "10"})
        assert link(body["previous"]) == ("http://testserver/offsets", others)

        body = (await client.get(body["next"])).json()
        assert ids(body) == order[10:]
        assert body["next"] is None
        assert link(body["previous"]) == ("http://testserver/offsets", {**others, "offset": "5"})

        body = (await client.get("/offsets?limit=5&offset=3")).json()
        assert ids(body) == order[3:8]
        assert link(body["previous"]) == ("http://testserver/offsets", {"limit": "5"})

        body = (await client.get("/offsets")).json()
        assert ids(body) == order
        assert body["next"] is None
        assert body["previous"] is None


@pytest.mark.parametrize("offset", [12, 13, 50, 10**30])
async def test_an_offset_past_the_end_is_an_empty_page(offset: int) -> None:
    async with serve(app()) as client:
        await make_companies(12)
        with assert_num_queries(1) as queries:  # the count; no page query for nothing
            response = await client.get(f"/offsets?offset={offset}&limit=20")
        assert "COUNT" in queries.queries[0].upper()
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 12
        assert body["results"] == []
        assert body["next"] is None
        back = {"offset": str(offset - 20)} if offset > 20 else {}
        assert link(body["previous"])[1] == {"limit": "20", **back}


async def test_limit_offset_parameters_are_per_class() -> None:
    async with serve(app()) as client:
        companies = await make_companies(7)
        order = [c.id for c in companies]
        body = (await client.get("/small-offsets")).json()
        assert ids(body) == order[:2]
        assert link(body["next"]) == ("http://testserver/small-offsets", {"skip": "2"})
        body = (await client.get("/small-offsets?take=4&skip=4")).json()
        assert ids(body) == order[4:]
        assert link(body["previous"]) == ("http://testserver/small-offsets", {"take": "4"})


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("/pages?page=0", "page"),
        ("/pages?page=-1", "page"),
        ("/pages?page=abc", "page"),
        ("/pages?page=1.5", "page"),
        ("/pages?page=", "page"),
        ("/pages?page_size=0", "page_size"),
        ("/pages?page_size=-5", "page_size"),
        ("/pages?page_size=101", "page_size"),
        ("/pages?page_size=ten", "page_size"),
        ("/small-pages?per_page=6", "per_page"),
        ("/small-pages?p=0", "p"),
        ("/offsets?limit=0", "limit"),
        ("/offsets?limit=-1", "limit"),
        ("/offsets?limit=101", "limit"),
        ("/offsets?limit=x", "limit"),
        ("/offsets?offset=-1", "offset"),
        ("/offsets?offset=ten", "offset"),
        ("/offsets?offset=0.5", "offset"),
        ("/small-offsets?take=5", "take"),
        ("/small-offsets?skip=-1", "skip"),
        ("/cursors?page_size=0", "page_size"),
        ("/cursors?page_size=101", "page_size"),
        ("/cursors?page_size=x", "page_size"),
        ("/small-cursors-named?per_page=6", "per_page"),
        ("/pages/big?page=-2", "page"),
    ],
)
async def test_negative_or_non_numeric_pagination_values_are_422(url: str, param: str) -> None:
    async with serve(app()) as client:
        await make_companies(3)
        response = await client.get(url)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", param]


# --- cursors -----------------------------------------------------------------------------------


async def walk(client: httpx.AsyncClient, url: str, key: str) -> list[list[int]]:
    """The pages from ``url`` following ``key`` ("next" or "previous") to its end."""
    found: list[list[int]] = []
    next_url: str | None = url
    while next_url is not None:
        response = await client.get(next_url)
        assert response.status_code == 200, response.text
        body = response.json()
        found.append(ids(body))
        next_url = body[key]
        assert len(found) < 100
    return found


async def test_cursor_envelope_has_no_count() -> None:
    async with serve(app()) as client:
        await make_companies(5)
        body = (await client.get("/cursors?page_size=2")).json()
        assert list(body) == ["next", "previous", "results"]
        assert body["previous"] is None
        url, params = link(body["next"])
        assert url == "http://testserver/cursors"
        assert set(params) == {"page_size", "cursor"}


@pytest.mark.parametrize(
    ("ordering", "keys"),
    [
        (None, ("-size",)),  # the viewset's default ordering
        ("size", ("size",)),
        ("-size,name", ("-size", "name")),
        ("size,-created_at", ("size", "-created_at")),
        ("-name", ("-name",)),
    ],
)
async def test_cursor_walks_every_row_once_forward_and_backward(
    ordering: str | None, keys: tuple[str, ...]
) -> None:
    async with serve(app()) as client:
        companies = await make_companies(23, sizes=3)  # each size repeats 7 or 8 times
        expected = by(companies, *keys)
        url = "/cursors?page_size=4" + (f"&ordering={ordering}" if ordering else "")
        with capture_queries() as queries:
            forward = await walk(client, url, "next")
        assert [row for page in forward for row in page] == expected
        assert [len(page) for page in forward] == [4, 4, 4, 4, 4, 3]
        # One query per page, and never a COUNT or an OFFSET.
        assert len(queries) == len(forward)
        assert not any("COUNT" in q.upper() or "OFFSET" in q.upper() for q in queries)

        last = (await client.get(url)).json()
        while last["next"]:
            last = (await client.get(last["next"])).json()
        backward = await walk(client, last["previous"], "previous")
        assert backward == forward[-2::-1]  # the same pages, in reverse
        # From a page reached backward, "next" goes forward again.
        page = (await client.get(last["previous"])).json()
        assert ids((await client.get(page["next"])).json()) == forward[-1]


async def test_cursor_over_an_empty_or_single_page_list() -> None:
    async with serve(app()) as client:
        body = (await client.get("/cursors")).json()
        assert body == {"next": None, "previous": None, "results": []}
        companies = await make_companies(3)
        body = (await client.get("/cursors")).json()
        assert ids(body) == by(companies, "-size")
        assert body["next"] is None
        assert body["previous"] is None


async def test_cursor_filters_apply_on_every_page() -> None:
    async with serve(app()) as client:
        companies = await make_companies(20, sizes=5)
        expected = by([c for c in companies if c.size >= 2], "name")
        pages_ = await walk(client, "/cursors?size__gte=2&ordering=name&page_size=5", "next")
        assert [row for page in pages_ for row in page] == expected


async def test_cursor_parameter_names_and_sizes_are_per_class() -> None:
    async with serve(app()) as client:
        companies = await make_companies(8)
        expected = by(companies, "name")
        body = (await client.get("/small-cursors-named")).json()
        assert ids(body) == expected[:3]
        assert set(link(body["next"])[1]) == {"after"}
        walked = await walk(client, "/small-cursors-named?per_page=5", "next")
        assert walked == [expected[:5], expected[5:]]
        response = await client.get("/small-cursors-named?cursor=garbage&page_size=1")
        assert response.status_code == 200  # another class's names are not parameters
        assert ids(response.json()) == expected[:3]


async def test_cursor_default_ordering_is_newest_primary_key_first() -> None:
    async with serve(app()) as client:
        companies = await make_companies(8)
        expected = [c.id for c in reversed(companies)]
        walked = await walk(client, "/small-cursors?per_page=5", "next")
        assert walked == [expected[:5], expected[5:]]


async def tampered(token: str) -> list[str]:
    middle = len(token) // 2
    flipped = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    return [
        flipped,
        token[:-2],
        token + "AAAA",
        token[4:],
        "garbage",
        "a",
        "%C3%A9t%C3%A9",
        "",  # an empty cursor is the first page
    ]


async def test_a_tampered_cursor_is_404() -> None:
    async with serve(app()) as client:
        await make_companies(9)
        body = (await client.get("/cursors?page_size=3")).json()
        token = link(body["next"])[1]["cursor"]
        for bad in await tampered(token):
            response = await client.get(f"/cursors?page_size=3&cursor={bad}")
            if bad == "":
                assert response.status_code == 200
                continue
            assert response.status_code == 404, bad
            assert response.json() == {"detail": "Invalid cursor."}


async def test_a_cursor_from_another_ordering_is_404() -> None:
    async with serve(app()) as client:
        await make_companies(9)
        body = (await client.get("/cursors?page_size=3&ordering=size")).json()
        token = link(body["next"])[1]["cursor"]
        response = await client.get(f"/cursors?page_size=3&ordering=name&cursor={token}")
        assert response.status_code == 404
        assert "another ordering" in response.json()["detail"]
        # The default ordering spelt out is the same ordering.
        body = (await client.get("/cursors?page_size=3")).json()
        token = link(body["next"])[1]["cursor"]
        response = await client.get(f"/cursors?page_size=3&ordering=-size&cursor={token}")
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"not json", 404),
        (b"[1, 2]", 404),
        (b'{"v": [1, 2]}', 404),  # no direction
        (b'{"v": 3, "o": ["-size", "id"], "b": false}', 404),
        (b'{"v": [1], "o": ["-size", "id"], "b": false}', 404),
        (b'{"v": [1, 2, 3], "o": ["-size", "id"], "b": false}', 404),
        (b'{"v": ["big", 2], "o": ["-size", "id"], "b": false}', 404),
        (b'{"v": [null, 2], "o": ["-size", "id"], "b": false}', 404),
        (b'{"v": [[1], 2], "o": ["-size", "id"], "b": false}', 404),
        (b'{"v": [1, 2], "o": ["size", "id"], "b": false}', 404),  # another ordering
        (b'{"v": [2, 0], "o": ["-size", "id"], "b": false}', 200),
        (b'{"v": ["2", "0"], "o": ["-size", "id"], "b": true}', 200),
    ],
)
async def test_signed_cursor_payloads_are_checked(payload: bytes, status: int) -> None:
    async with serve(app()) as client:
        await make_companies(9)
        response = await client.get(f"/cursors?cursor={sign(payload)}")
        assert response.status_code == status, response.text
        if status == 404:
            assert response.json()["detail"].endswith("start again without it.") or (
                response.json() == {"detail": "Invalid cursor."}
            )


async def test_a_cursor_signed_with_another_key_is_404() -> None:
    async with serve(app()) as client:
        await make_companies(3)
        token = sign(b'{"v": [2, 0], "o": ["-size", "id"], "b": false}', key=b"another key")
        response = await client.get(f"/cursors?cursor={token}")
        assert response.status_code == 404


async def test_encoded_cursors_round_trip() -> None:
    paginator = CursorPagination()
    ordering = ["-size", "id"]
    token = paginator.encode([3, 7], ordering, True)
    assert paginator.decode(token, ordering) == ([3, 7], True)
    assert "=" not in token


def cursor_viewset(model: type[Any] = Company, **attrs: Any) -> None:
    router = APIRouter(prefix="/configured")
    namespace = {"model": model, "pagination_class": CursorPagination, **attrs}
    viewset(router)(type("Configured", (ReadOnlyModelViewSet,), namespace))


class BySlug(CursorPagination):
    ordering = ("slug",)


class ByUpdated(CursorPagination):
    ordering = ("-updated_at",)


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"ordering": ["slug"]}, "nullable field 'slug'"),
        ({"ordering": ["-description"]}, "nullable field 'description'"),
        ({"ordering_fields": ["name", "description"]}, "nullable field 'description'"),
        ({"ordering_fields": ["owner_id"]}, "nullable field 'owner_id'"),
        ({"ordering_fields": ["owner"]}, "relation 'owner'"),
        ({"ordering_fields": ["owner__username"]}, "own columns; 'owner__username'"),
        ({"ordering": ["-owner__username"]}, "own columns; 'owner__username'"),
        ({"pagination_class": BySlug}, "nullable field 'slug'"),
        ({"pagination_class": int}, "must be a BasePagination subclass or None"),
        ({"pagination_class": PageNumberPagination()}, "must be a BasePagination subclass"),
    ],
)
def test_cursor_pagination_refuses_nullable_or_related_orderings(
    attrs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(")):
        cursor_viewset(**attrs)


@pytest.mark.parametrize(
    "attrs",
    [
        {"ordering": ["-size", "name"], "ordering_fields": ["size", "created_at", "id"]},
        {"pagination_class": ByUpdated},
        {"ordering": ["-pk"]},
    ],
)
def test_cursor_pagination_accepts_non_null_columns(attrs: dict[str, Any]) -> None:
    cursor_viewset(**attrs)


def test_cursor_pagination_refuses_a_non_null_foreign_key() -> None:
    class ByCompany(CursorPagination):
        ordering = ("company",)

    with pytest.raises(ImproperlyConfigured):
        cursor_viewset(Project, pagination_class=ByCompany)


# --- no pagination, project-wide defaults, classes of one's own ------------------------------


async def test_without_pagination_a_list_is_a_plain_array() -> None:
    async with serve(app()) as client:
        companies = await make_companies(30)
        body = (await client.get("/plain?page=2&page_size=5&limit=3")).json()
        assert isinstance(body, list)
        assert ids(body) == by(companies, "name")


async def test_a_base_viewset_sets_the_project_wide_default() -> None:
    async with serve(app()) as client:
        companies = await make_companies(7)
        body = (await client.get("/default?per_page=2&p=2")).json()
        assert body["count"] == 7
        assert len(body["results"]) == 2
        assert {c.id for c in companies} >= set(ids(body))
        assert isinstance((await client.get("/default-off")).json(), list)
        spec = (await client.get("/openapi.json")).json()
        params = [p["name"] for p in query_parameters(spec["paths"]["/default"]["get"])]
        assert params == ["p", "per_page"]
        assert query_parameters(spec["paths"]["/default-off"]["get"]) == []


async def test_a_pagination_class_of_ones_own() -> None:
    assert BasePagination.query_parameters() == []
    assert BasePagination.response_model(CompanyRead) == list[CompanyRead]
    assert BasePagination.check(PagesViewSet, "PagesViewSet") is None
    async with serve(app()) as client:
        companies = await make_companies(5)
        assert ids((await client.get("/custom")).json()) == [c.id for c in companies[:2]]
        assert ids((await client.get("/custom?n=4")).json()) == [c.id for c in companies[:4]]
        assert (await client.get("/custom?n=0")).status_code == 422
        spec = (await client.get("/openapi.json")).json()
        operation = spec["paths"]["/custom"]["get"]
        assert [p["name"] for p in query_parameters(operation)] == ["n"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["type"] == "array"


async def test_base_pagination_paginate_queryset_is_abstract() -> None:
    with pytest.raises(NotImplementedError):
        await BasePagination().paginate_queryset(None, None, None)  # type: ignore[arg-type]


# --- queries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/pages?name__icontains=co1", ["COUNT", "SELECT"]),
        ("/offsets?name__icontains=co1", ["COUNT", "SELECT"]),
        ("/cursors?name__icontains=co1", ["SELECT"]),
        ("/plain?name__icontains=co1", ["SELECT"]),
    ],
)
async def test_count_only_when_the_envelope_needs_it(url: str, expected: list[str]) -> None:
    async with serve(app()) as client:
        await make_companies(25)
        with capture_queries() as queries:
            body = (await client.get(url)).json()
        kinds = ["COUNT" if "COUNT(" in q.upper() else "SELECT" for q in queries]
        assert kinds == expected
        # The count and the page run on the same filtered queryset.
        assert all("LIKE" in q.upper() for q in queries)
        rows = ids(body)
        assert len(rows) == 10  # co10 .. co19
        if isinstance(body, dict) and "count" in body:
            assert body["count"] == len(rows)


class TagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    tags: list[TagRead]


class OwnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str


class CompanyNested(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    owner: OwnerRead | None
    projects: list[ProjectRead]


NESTED: dict[str, tuple[type[BasePagination] | None, str]] = {
    "/nested-pages": (PageNumberPagination, "page_size"),
    "/nested-offsets": (LimitOffsetPagination, "limit"),
    "/nested-cursors": (CursorPagination, "page_size"),
    "/nested-plain": (None, "id__lte"),
}
nested_routers = []
for _prefix, (_pagination, _) in NESTED.items():
    _router = APIRouter(prefix=_prefix)
    viewset(_router, basename=_prefix.strip("/"))(
        type(
            f"Nested{_prefix}",
            (ReadOnlyModelViewSet,),
            {
                "model": Company,
                "read_schema": CompanyNested,
                "pagination_class": _pagination,
                "filterset_fields": {"id": ["lte"]},
            },
        )
    )
    nested_routers.append(_router)


async def test_no_n_plus_one_on_any_page_size() -> None:
    async with serve(create_app(*nested_routers)) as client:
        owner = await User.create(username="owner")
        tags = [await Tag.create(name=f"t{i}") for i in range(3)]
        first = None
        for i in range(120):
            company = await Company.create(name=f"co{i:03d}", owner=owner)
            first = first or company
            project = await Project.create(name=f"p{i}", company=company)
            await project.tags.add(*tags[: 1 + i % 3])
        assert first is not None
        # select_related(owner) with the rows, then projects, then tags (through table, tags).
        per_class = {
            "/nested-pages": 5,
            "/nested-offsets": 5,
            "/nested-cursors": 4,
            "/nested-plain": 4,
        }
        for prefix, (_, param) in NESTED.items():
            for size in (1, 20, 100):
                value = first.id + size - 1 if param == "id__lte" else size
                with assert_num_queries(per_class[prefix]):
                    response = await client.get(f"{prefix}?{param}={value}")
                body = response.json()
                rows = body["results"] if isinstance(body, dict) else body
                assert len(rows) == size
                assert rows[0]["owner"] == {"id": owner.id, "username": "owner"}
                assert rows[0]["projects"][0]["tags"]


# --- listing actions and OpenAPI ---------------------------------------------------------------


async def test_a_listing_action_is_filtered_ordered_and_paginated() -> None:
    async with serve(app()) as client:
        companies = await make_companies(20)
        wanted = [c for c in companies if c.size >= 2 and "1" in c.name]
        response = await client.get("/pages/big?page_size=2&ordering=-name&name__icontains=1")
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == len(wanted)
        assert ids(body) == by(wanted, "-name")[:2]
        assert link(body["next"]) == (
            "http://testserver/pages/big",
            {"page_size": "2", "ordering": "-name", "name__icontains": "1", "page": "2"},
        )
        assert (await client.get("/pages/big?page=9")).status_code == 404


def schema_of(spec: dict[str, Any], path: str) -> dict[str, Any]:
    ref = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return spec["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]]


async def test_openapi_shows_the_envelopes_and_the_parameters() -> None:
    async with serve(app()) as client:
        spec = (await client.get("/openapi.json")).json()
    for path, keys in [
        ("/pages", ["count", "next", "previous", "results"]),
        ("/pages/big", ["count", "next", "previous", "results"]),
        ("/offsets", ["count", "next", "previous", "results"]),
        ("/cursors", ["next", "previous", "results"]),
    ]:
        envelope = schema_of(spec, path)
        assert list(envelope["properties"]) == keys
        assert envelope["required"] == keys
        assert envelope["properties"]["results"]["items"] == {
            "$ref": "#/components/schemas/CompanyRead"
        }
    params = {
        path: {p["name"]: p for p in query_parameters(spec["paths"][path]["get"])}
        for path in ("/pages", "/offsets", "/cursors", "/small-pages", "/pages/big")
    }
    assert params["/pages"]["page"]["schema"]["anyOf"][0] == {"type": "integer", "minimum": 1}
    assert params["/pages"]["page_size"]["schema"]["anyOf"][0] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
    }
    assert params["/small-pages"]["per_page"]["schema"]["anyOf"][0]["maximum"] == 5
    assert "default 3, at most 5" in params["/small-pages"]["per_page"]["description"]
    assert params["/offsets"]["offset"]["schema"]["anyOf"][0] == {"type": "integer", "minimum": 0}
    assert params["/offsets"]["limit"]["schema"]["anyOf"][0]["maximum"] == 100
    assert params["/cursors"]["cursor"]["schema"]["anyOf"][0] == {"type": "string"}
    assert {"page", "page_size", "name__icontains", "ordering"} <= set(params["/pages/big"])
    for by_name in params.values():
        for param in by_name.values():
            assert param["in"] == "query"
            assert param["required"] is False
            assert param["description"]


async def test_page_number_pages_are_ordered_without_any_listing_configuration() -> None:
    async with serve(app()) as client:
        companies = await make_companies(5)
        with capture_queries() as queries:
            body = (await client.get("/default?per_page=2&p=2")).json()
        page_query = next(q for q in queries if "LIMIT" in q.upper())
        assert 'ORDER BY "id"' in page_query or 'ORDER BY "t_company"."id"' in page_query
        assert ids(body) == [c.id for c in companies[2:4]]


async def test_cursor_class_ordering_applies_to_a_viewset_with_filters() -> None:
    class BySize(CursorPagination):
        ordering = ("-size",)

    router = APIRouter(prefix="/by-size")
    viewset(router)(
        type(
            "BySizeViewSet",
            (ReadOnlyModelViewSet,),
            {
                "model": Company,
                "read_schema": CompanyRead,
                "pagination_class": BySize,
                "filterset_fields": {"name": ["icontains"]},
            },
        )
    )
    async with serve(create_app(router)) as client:
        companies = await make_companies(8)
        assert ids((await client.get("/by-size")).json()) == by(companies, "-size")


async def test_openapi_documents_the_404_of_page_numbers_and_cursors() -> None:
    async with serve(app()) as client:
        spec = (await client.get("/openapi.json")).json()
    for path in ("/pages", "/pages/big", "/small-pages", "/default", "/cursors"):
        assert "404" in spec["paths"][path]["get"]["responses"], path
    for path in ("/offsets", "/plain"):
        assert "404" not in spec["paths"][path]["get"]["responses"], path


class Ranked(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    size: int


class BySizeFromGetQueryset(ReadOnlyModelViewSet[Company]):
    model = Company
    read_schema = Ranked

    def get_queryset(self) -> QuerySet[Company]:
        return Company.all().order_by("size")  # many companies share a size


async def test_cursor_pagination_orders_by_its_own_ordering_over_get_querysets() -> None:
    router = APIRouter(prefix="/ranked-cursor")
    viewset(router)(
        type("RankedCursor", (BySizeFromGetQueryset,), {"pagination_class": SmallCursor})
    )
    async with serve(create_app(router)) as client:
        made = [await Company.create(name=f"co{i}", size=i % 2) for i in range(7)]
        walked = await walk(client, "/ranked-cursor", "next")
        assert [row for page in walked for row in page] == [c.id for c in reversed(made)]


@pytest.mark.parametrize(
    ("pagination", "size_param"),
    [(PageNumberPagination, "page_size"), (LimitOffsetPagination, "limit")],
)
async def test_pages_of_an_ordered_get_queryset_are_stable(
    pagination: type[BasePagination], size_param: str
) -> None:
    router = APIRouter(prefix="/ranked")
    viewset(router)(
        type("RankedViewSet", (BySizeFromGetQueryset,), {"pagination_class": pagination})
    )
    async with serve(create_app(router)) as client:
        for i in range(300):
            await Company.create(name=f"co{i:03d}", size=i % 3)
        with capture_queries() as queries:
            walked = await walk(client, f"/ranked?{size_param}=7", "next")
        rows = [row for page in walked for row in page]
        assert len(rows) == 300
        assert len(set(rows)) == 300
        page_query = next(q for q in queries if "LIMIT" in q.upper())
        assert '"size" ASC,"id" ASC' in page_query.replace('"t_company".', "")


@pytest.mark.parametrize("value", [2**31, 2**64])
async def test_a_forged_cursor_beyond_the_column_is_404(value: int) -> None:
    async with serve(app()) as client:
        await make_companies(3)
        token = sign(json.dumps({"v": [1, value], "o": ["-size", "id"], "b": False}).encode())
        response = await client.get(f"/cursors?cursor={token}")
        assert response.status_code == 404


@pytest.mark.parametrize(
    ("ordering", "values", "status"),
    [
        ("name", ["a\x00", 1], 404),  # a NUL, as in filters
        ("created_at", ["2024-01-01T00:00:00", 1], 200),  # naive: taken as UTC, no warning
        ("created_at", ["2024-01-01T02:00:00+02:00", 1], 200),
        ("created_at", ["yesterday", 1], 404),
    ],
)
async def test_forged_cursor_values_are_checked_like_filter_values(
    ordering: str, values: list[Any], status: int
) -> None:
    async with serve(app()) as client:
        await make_companies(3)
        payload = json.dumps({"v": values, "o": [ordering, "id"], "b": False})
        token = sign(payload.encode())
        response = await client.get(f"/cursors?ordering={ordering}&cursor={token}")
        assert response.status_code == status, response.text


# --- a string ordering is one field, as in DRF ---------------------------------------------------


class BySizeString(CursorPagination):
    page_size = 3
    ordering = "-size"  # as DRF users write it


class BySlugString(CursorPagination):
    ordering = "slug"


@pytest.mark.parametrize(
    ("attrs", "keys"),
    [
        ({"pagination_class": BySizeString}, ("-size",)),
        ({"pagination_class": SmallCursor, "ordering": "name"}, ("name",)),
        ({"pagination_class": SmallCursor, "ordering": "-size"}, ("-size",)),
        ({"pagination_class": SmallPages, "ordering": "-name"}, ("-name",)),
        ({"pagination_class": SmallLimits, "ordering": "size"}, ("size",)),
    ],
)
async def test_a_string_ordering_is_one_field(attrs: dict[str, Any], keys: tuple[str, ...]) -> None:
    router = APIRouter(prefix="/stringly")
    viewset(router)(
        type(
            "Stringly", (ReadOnlyModelViewSet,), {"model": Company, "read_schema": Ranked, **attrs}
        )
    )
    async with serve(create_app(router)) as client:
        companies = await make_companies(10, sizes=3)
        walked = await walk(client, "/stringly", "next")
        assert [row for page in walked for row in page] == by(companies, *keys)
        assert len(walked) > 1


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"ordering": "slug"}, "nullable field 'slug'"),
        ({"ordering": "-owner__username"}, "own columns; 'owner__username'"),
        ({"pagination_class": BySlugString}, "nullable field 'slug'"),
    ],
)
def test_a_string_cursor_ordering_is_checked_as_one_field(
    attrs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        cursor_viewset(**attrs)
