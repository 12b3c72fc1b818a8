"""The samples of docs/pagination.md and docs/filtering.md, and what those pages say of them."""

from __future__ import annotations

import datetime
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter
from tortoise import connections
from tortoise.transactions import in_transaction

from docs.examples import (
    filtering_compose,
    filtering_fields,
    filtering_filterset,
    filtering_list,
    pagination_basic,
    pagination_classes,
    pagination_cursor_index,
    pagination_custom,
    pagination_default,
    pagination_signing,
)
from docs.examples.filtering_fields import Member, Team
from docs.examples.pagination_basic import Article
from docs.examples.pagination_cursor_index import Activity
from fastapi_viewsets import ImproperlyConfigured, ReadOnlyModelViewSet, viewset
from fastapi_viewsets.pagination import CursorPagination
from fastapi_viewsets.testing import assert_num_queries, capture_queries
from tests.utils import IS_POSTGRES, create_app, query_parameters

ROOT = Path(__file__).resolve().parent.parent
UTC = datetime.timezone.utc
ARTICLES = ["docs.examples.pagination_basic"]
ACTIVITY = ["docs.examples.pagination_cursor_index"]
TEAMS = ["docs.examples.filtering_fields"]


@asynccontextmanager
async def running(
    *routers: APIRouter, modules: list[str], host: str = "testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(create_app(*routers, modules=modules)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
            yield client


def ids(body: Any) -> list[int]:
    rows = body["results"] if isinstance(body, dict) else body
    return [row["id"] for row in rows]


async def walk(client: httpx.AsyncClient, url: str, key: str = "next") -> list[list[int]]:
    pages: list[list[int]] = []
    next_url: str | None = url
    while next_url:
        response = await client.get(next_url)
        assert response.status_code == 200, response.text
        pages.append(ids(response.json()))
        next_url = response.json()[key]
    return pages


def params_of(url: str | None) -> dict[str, str]:
    assert url is not None
    return dict(httpx.URL(url).params)


# --- the pages themselves ----------------------------------------------------------------------

PAGES = {"pagination.md": "pagination_", "filtering.md": "filtering_"}
SNIPPET = re.compile(r'^--8<-- "(docs/examples/[a-z_]+\.py)"$', re.MULTILINE)


@pytest.mark.parametrize(("page", "prefix"), list(PAGES.items()))
def test_every_sample_is_a_tested_file_included_in_its_page(page: str, prefix: str) -> None:
    text = (ROOT / "docs" / page).read_text()
    included = SNIPPET.findall(text)
    assert included, page
    for path in included:
        assert (ROOT / path).is_file(), path
        assert f'```python\n--8<-- "{path}"\n```' in text
    on_disk = {f"docs/examples/{p.name}" for p in (ROOT / "docs/examples").glob(f"{prefix}*.py")}
    assert set(included) == on_disk
    # Every code sample is such a file: the only other fences are JSON responses.
    fences = re.findall(r"^```(\w*)$", text, re.MULTILINE)
    assert set(fences) <= {"python", "json", ""}


# --- pagination_basic.py -----------------------------------------------------------------------


async def make_articles(count: int, scores: list[int] | None = None) -> list[Article]:
    names = ["First", "Second", "Third", "Fourth", "Fifth"]
    scores = scores or [10, 120, 40, 300, 5]
    start = datetime.datetime(2024, 3, 1, tzinfo=UTC)
    return [
        await Article.create(
            title=names[i] if i < len(names) else f"Article {i:03d}",
            score=scores[i % len(scores)],
            published_at=start + datetime.timedelta(days=i if count <= 5 else i // 4),
        )
        for i in range(count)
    ]


async def test_the_sample_response_of_the_page() -> None:
    text = (ROOT / "docs/pagination.md").read_text()
    sample = json.loads(re.search(r"```json\n(.*?)\n```", text, re.DOTALL)[1])  # type: ignore[index]
    async with running(pagination_basic.router, modules=ARTICLES, host="api.example.com") as client:
        await make_articles(5)
        response = await client.get("/articles?page=2&page_size=2")
        assert response.json() == sample


async def test_a_listing_action_is_paginated_like_the_list() -> None:
    async with running(pagination_basic.router, modules=ARTICLES) as client:
        made = await make_articles(5)  # scores 10, 120, 40, 300, 5
        body = (await client.get("/articles/popular?page_size=1")).json()
        assert body["count"] == 2
        assert ids(body) == [made[3].id]  # newest first
        assert params_of(body["next"]) == {"page_size": "1", "page": "2"}
        body = (await client.get(body["next"])).json()
        assert ids(body) == [made[1].id]
        body = (await client.get("/articles?ordering=-score&page_size=3")).json()
        assert ids(body) == [made[3].id, made[1].id, made[2].id]
        spec = (await client.get("/openapi.json")).json()
    for path in ("/articles", "/articles/popular"):
        ref = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ref["schema"] == {"$ref": "#/components/schemas/PaginatedArticleRead"}


async def test_the_order_ends_with_the_primary_key() -> None:
    async with running(pagination_basic.router, modules=ARTICLES) as client:
        made = await make_articles(12, scores=[7])  # four articles share each day
        expected = [a.id for a in sorted(made, key=lambda a: (-a.published_at.timestamp(), a.id))]
        pages = await walk(client, "/articles?page_size=5")
        assert [row for page in pages for row in page] == expected


# --- pagination_classes.py ---------------------------------------------------------------------

CLASSES = (pagination_classes.by_page, pagination_classes.by_offset, pagination_classes.feed)


async def test_each_viewset_has_its_sizes() -> None:
    async with running(*CLASSES, modules=ARTICLES) as client:
        made = await make_articles(60, scores=[1, 2, 3])
        by_title = [a.id for a in sorted(made, key=lambda a: (a.title, a.id))]
        body = (await client.get("/by-page")).json()
        assert len(body["results"]) == 50
        assert (await client.get("/by-page?page_size=500")).status_code == 200
        assert (await client.get("/by-page?page_size=501")).status_code == 422

        body = (await client.get("/by-offset?limit=10&offset=20")).json()
        assert ids(body) == by_title[20:30]  # rows 21 to 30
        assert params_of(body["next"]) == {"limit": "10", "offset": "30"}
        assert params_of(body["previous"]) == {"limit": "10", "offset": "10"}
        body = (await client.get("/by-offset?limit=10&offset=10")).json()
        assert params_of(body["previous"]) == {"limit": "10"}
        assert len((await client.get("/by-offset")).json()["results"]) == 10
        assert (await client.get("/by-offset?limit=101")).status_code == 422

        body = (await client.get("/feed")).json()
        assert len(body["results"]) == 25


@pytest.mark.parametrize(
    ("rows", "url", "status", "body"),
    [
        (60, "/by-page?page=3", 404, {"detail": "Invalid page."}),
        (0, "/by-page?page=1", 200, {"count": 0, "next": None, "previous": None, "results": []}),
        (0, "/by-page?page=2", 404, {"detail": "Invalid page."}),
        (60, "/by-offset?offset=500", 200, None),
        (5, "/by-page?page=0", 422, "page"),
        (5, "/by-page?page=-1", 422, "page"),
        (5, "/by-page?page=two", 422, "page"),
        (5, "/by-page?page_size=0", 422, "page_size"),
        (5, "/by-page?page_size=1.5", 422, "page_size"),
        (5, "/by-offset?limit=0", 422, "limit"),
        (5, "/by-offset?offset=-1", 422, "offset"),
        (5, "/by-offset?offset=0", 200, None),
        (5, "/feed?page_size=101", 422, "page_size"),
        (5, "/feed?cursor=made-up", 404, {"detail": "Invalid cursor."}),
    ],
)
async def test_out_of_range_and_values_that_are_not_numbers(
    rows: int, url: str, status: int, body: Any
) -> None:
    async with running(*CLASSES, modules=ARTICLES) as client:
        await make_articles(rows, scores=[1])
        response = await client.get(url)
        assert response.status_code == status
        if isinstance(body, dict):
            assert response.json() == body
        elif isinstance(body, str):
            assert response.json()["detail"][0]["loc"] == ["query", body]
        elif "offset=500" in url:
            page = response.json()
            assert page["results"] == []
            assert page["count"] == 60
            assert page["next"] is None
            assert params_of(page["previous"]) == {"offset": "490"}


async def test_cursor_pages_forward_and_backward_without_count_or_offset() -> None:
    async with running(*CLASSES, modules=ARTICLES) as client:
        made = await make_articles(23, scores=[5, 5, 9])  # published_at repeats four times
        newest = [a.id for a in sorted(made, key=lambda a: (a.published_at, a.id), reverse=True)]
        with capture_queries() as queries:
            forward = await walk(client, "/feed?page_size=5")
        assert [row for page in forward for row in page] == newest
        assert len(queries) == len(forward)  # one query per page
        assert not any("COUNT(" in q or "OFFSET" in q for q in queries)

        last = (await client.get("/feed?page_size=5")).json()
        while last["next"]:
            last = (await client.get(last["next"])).json()
        backward = await walk(client, last["previous"], "previous")
        assert backward == forward[-2::-1]

        # ?ordering= with cursors: next keeps it; a cursor of one ordering is refused by another
        by_score = [a.id for a in sorted(made, key=lambda a: (-a.score, a.id))]
        body = (await client.get("/feed?ordering=-score&page_size=10")).json()
        assert ids(body) == by_score[:10]
        assert params_of(body["next"])["ordering"] == "-score"
        assert [r for p in await walk(client, body["next"]) for r in p] == by_score[10:]
        cursor = params_of(body["next"])["cursor"]
        response = await client.get(f"/feed?ordering=score&cursor={cursor}")
        assert response.status_code == 404
        assert response.json() == {
            "detail": "The cursor was made for another ordering; start again without it."
        }


async def test_openapi_of_the_classes() -> None:
    async with running(*CLASSES, modules=ARTICLES) as client:
        spec = (await client.get("/openapi.json")).json()
    responses = {path: spec["paths"][path]["get"]["responses"] for path in ("/by-page", "/feed")}
    assert {"200", "404", "422"} <= set(responses["/by-page"])
    # No ?search= or ?ordering= on that list: nothing it answers is a 400.
    assert "400" not in responses["/by-page"]
    assert responses["/feed"]["404"]["description"] == "Invalid cursor"
    schemas = spec["components"]["schemas"]
    assert list(schemas["CursorPaginatedArticleRead"]["properties"]) == [
        "next",
        "previous",
        "results",
    ]
    params = {p["name"]: p for p in query_parameters(spec["paths"]["/by-page"]["get"])}
    assert params["page_size"]["schema"]["anyOf"][0]["maximum"] == 500


@pytest.mark.parametrize(
    ("attrs", "refused"),
    [
        ({"ordering": ["-name"]}, False),
        ({"ordering_fields": ["size", "created_at"]}, False),
        ({"ordering": ["description"]}, True),  # nullable
        ({"ordering_fields": ["owner__username"]}, True),  # another model's
    ],
)
def test_cursor_orderings_must_be_non_null_own_columns(
    attrs: dict[str, Any], refused: bool
) -> None:
    cls = type(
        "Teams", (ReadOnlyModelViewSet,), {"model": Team, "pagination_class": CursorPagination}
    )
    register = viewset(APIRouter(prefix="/teams"))
    if refused:
        with pytest.raises(ImproperlyConfigured):
            register(type("Refused", (cls,), attrs))
    else:
        register(type("Fine", (cls,), attrs))


# --- pagination_cursor_index.py ----------------------------------------------------------------


async def make_activity(count: int) -> list[Activity]:
    start = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    return [
        await Activity.create(
            kind="login" if i % 3 else "logout",
            happened_at=start + datetime.timedelta(minutes=i // 3),
        )
        for i in range(count)
    ]


async def test_the_activity_feed_and_its_index() -> None:
    async with running(pagination_cursor_index.router, modules=ACTIVITY) as client:
        made = await make_activity(30)
        logins = [a for a in made if a.kind == "login"]
        expected = [a.id for a in sorted(logins, key=lambda a: (a.happened_at, a.id), reverse=True)]
        pages = await walk(client, "/activity?kind=login&page_size=4")
        assert [row for page in pages for row in page] == expected
        connection = connections.get("default")
        if IS_POSTGRES:
            rows = await connection.execute_query_dict(
                "SELECT indexdef FROM pg_indexes WHERE tablename = $1", [Activity._meta.db_table]
            )
            assert any(r["indexdef"].endswith("(happened_at, id)") for r in rows)
        else:
            indexes = await connection.execute_query_dict(
                f"PRAGMA index_list('{Activity._meta.db_table}')"
            )
            columns = [
                [
                    c["name"]
                    for c in await connection.execute_query_dict(f"PRAGMA index_info('{i}')")
                ]
                for i in (index["name"] for index in indexes)
            ]
            assert ["happened_at", "id"] in columns


def logged(query: str) -> tuple[str, list[Any]]:
    """The SQL and the values of a statement as Tortoise logs it (``SQL: [values]``)."""
    sql, _, values = query.rpartition(": [")
    namespace = {
        "datetime": datetime,
        "TzInfo": lambda seconds: datetime.timezone(datetime.timedelta(seconds=seconds)),
        "Decimal": Decimal,
        "UUID": uuid.UUID,
    }
    return sql, eval("[" + values, namespace)  # the values' reprs, from our own log


async def test_a_cursor_page_is_an_index_range_scan() -> None:
    async with running(pagination_cursor_index.router, modules=ACTIVITY) as client:
        await make_activity(30)
        first = (await client.get("/activity?page_size=5")).json()
        with capture_queries() as queries:
            await client.get(first["next"])
        sql, values = logged(queries.queries[0])
        async with in_transaction() as connection:
            if IS_POSTGRES:
                await connection.execute_script("SET LOCAL enable_seqscan = off")
                rows = await connection.execute_query_dict(f"EXPLAIN {sql}", values)
                plan = "\n".join(r["QUERY PLAN"] for r in rows)
                assert "Index Cond" in plan, plan
            else:
                rows = await connection.execute_query_dict(f"EXPLAIN QUERY PLAN {sql}", values)
                plan = "\n".join(r["detail"] for r in rows)
                assert plan.startswith("SEARCH"), plan
            assert "Sort" not in plan, plan
            assert "TEMP B-TREE" not in plan, plan


# --- pagination_default.py ---------------------------------------------------------------------


async def test_a_base_viewset_is_the_project_wide_default() -> None:
    routers = (pagination_default.articles, pagination_default.export)
    async with running(*routers, modules=ARTICLES) as client:
        await make_articles(30, scores=[1])
        body = (await client.get("/articles")).json()
        assert body["count"] == 30
        assert len(body["results"]) == 25
        assert (await client.get("/articles?page_size=201")).status_code == 422
        everything = (await client.get("/export")).json()
        assert isinstance(everything, list)
        assert len(everything) == 30


# --- pagination_custom.py ----------------------------------------------------------------------


async def test_a_pagination_class_of_ones_own_answers_a_plain_array_with_link_headers() -> None:
    async with running(pagination_custom.router, modules=ARTICLES) as client:
        made = await make_articles(23, scores=[1])
        by_title = [a.id for a in sorted(made, key=lambda a: (a.title, a.id))]
        with assert_num_queries(2):  # the count and the page
            first = await client.get("/headed")
        assert ids(first.json()) == by_title[:10]
        assert first.headers["x-total-count"] == "23"
        assert first.headers["link"] == '<http://testserver/headed?page=2>; rel="next"'
        second = await client.get("/headed?page=2")
        assert ids(second.json()) == by_title[10:20]
        assert second.headers["link"] == '<http://testserver/headed?page=3>; rel="next"'
        last = await client.get("/headed?page=3")
        assert ids(last.json()) == by_title[20:]
        assert "link" not in last.headers
        assert (await client.get("/headed?page=0")).status_code == 422
        spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/headed"]["get"]
    assert [p["name"] for p in query_parameters(operation)] == ["page"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["type"] == "array"


# --- pagination_signing.py ---------------------------------------------------------------------


async def test_cursors_signed_with_a_key_of_ones_own() -> None:
    routers = (pagination_signing.router, pagination_classes.feed)
    async with running(*routers, modules=ARTICLES) as client:
        made = await make_articles(9, scores=[1])
        pages = await walk(client, "/signed?page_size=4")
        assert sorted(row for page in pages for row in page) == sorted(a.id for a in made)
        # The same ordering signed with the default key (the /feed viewset's) is refused.
        cursor = params_of((await client.get("/feed?page_size=4")).json()["next"])["cursor"]
        assert (await client.get(f"/signed?page_size=4&cursor={cursor}")).status_code == 404


# --- pagination.md: queries --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "count"),
    [("/by-page?page_size=5", 2), ("/by-offset?offset=500", 1), ("/feed?page_size=5", 1)],
)
async def test_the_queries_of_each_class(url: str, count: int) -> None:
    async with running(*CLASSES, modules=ARTICLES) as client:
        await make_articles(20, scores=[1])
        with assert_num_queries(count):
            assert (await client.get(url)).status_code == 200


# --- filtering_fields.py -----------------------------------------------------------------------


async def make_teams() -> dict[str, Team]:
    ada = await Member.create(username="ada")
    bob = await Member.create(username="bob", is_admin=True)
    rows = [
        ("Core platform", "core", 5, ada, (2024, 1, 10)),
        ("Data", "core-data", 3, bob, (2024, 2, 1)),
        ("Growth 50%_off", "growth", 8, None, (2024, 3, 1)),
        ("Security", "sec", 5, bob, (2024, 1, 20)),
        ("Web", "web", 3, ada, (2024, 2, 15)),
    ]
    made = {}
    for name, slug, size, owner, day in rows:
        team = await Team.create(name=name, slug=slug, size=size, owner=owner, description=name)
        await Team.filter(id=team.id).update(created_at=datetime.datetime(*day, tzinfo=UTC))
        made[name] = team
    return made


ALL_TEAMS = ["Growth 50%_off", "Web", "Data", "Security", "Core platform"]  # -created_at


def names(body: Any) -> list[str]:
    rows = body["results"] if isinstance(body, dict) else body
    return [row["name"] for row in rows]


async def test_the_parameters_of_the_table() -> None:
    async with running(filtering_fields.router, modules=TEAMS) as client:
        spec = (await client.get("/openapi.json")).json()
    params = {p["name"]: p for p in query_parameters(spec["paths"]["/teams"]["get"])}
    assert list(params) == [
        "name",
        "name__icontains",
        "created_at__gte",
        "created_at__lte",
        "owner__username",
        "size__in",
        "search",
        "ordering",
    ]
    assert params["created_at__gte"]["schema"]["anyOf"][0] == {
        "type": "string",
        "format": "date-time",
    }
    assert all(p["description"] for p in params.values())
    assert "name, ^slug, =owner__username" in params["search"]["description"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ALL_TEAMS),
        ("size__in=3,5&owner__username=ada&ordering=name", ["Core platform", "Web"]),
        ("name=Core platform", ["Core platform"]),
        ("name__icontains=CORE", ["Core platform"]),
        ("created_at__gte=2024-02-01T00:00:00Z", ["Growth 50%_off", "Web", "Data"]),
        ("created_at__lte=2024-01-20T01:30:00%2B02:00", ["Core platform"]),  # in UTC
        ("created_at__gte=2024-02-15", ["Growth 50%_off", "Web"]),  # no offset: UTC
        ("ordering=-size,name", ["Growth 50%_off", "Core platform", "Security", "Data", "Web"]),
        ("search=core ada", ["Core platform"]),  # the example of the page
        ("search=core", ["Data", "Core platform"]),  # name contains, or slug starts with
        ("search=ore", ["Core platform"]),  # "core-data" does not start with "ore"
        ("search=BOB", ["Data", "Security"]),  # the owner's username, ignoring case
        ("search=bo", []),  # "=" is equality
        ("search=%_", ["Growth 50%_off"]),  # matched as themselves
        ("description=Data&owner__is_admin=true", ALL_TEAMS),  # not declared: ignored
    ],
)
async def test_filters_search_and_ordering(query: str, expected: list[str]) -> None:
    async with running(filtering_fields.router, modules=TEAMS) as client:
        await make_teams()
        response = await client.get(f"/teams?{query}")
        assert response.status_code == 200, response.text
        assert names(response.json()) == expected


@pytest.mark.parametrize(
    ("query", "status", "detail"),
    [
        ("size__in=3,x", 422, ["query", "size__in"]),
        ("created_at__gte=yesterday", 422, ["query", "created_at__gte"]),
        ("size__in=3,2147483648", 422, ["query", "size__in"]),
        ("name=a%00", 422, ["query", "name"]),
        (
            "ordering=secret",
            400,
            "Cannot order by 'secret'; ordering accepts: name, size, created_at (with '-' for "
            "descending).",
        ),
        ("search=" + "+".join("abcdefghijk"), 400, None),
    ],
)
async def test_the_errors_of_the_page(query: str, status: int, detail: Any) -> None:
    async with running(filtering_fields.router, modules=TEAMS) as client:
        response = await client.get(f"/teams?{query}")
        assert response.status_code == status
        if isinstance(detail, list):
            assert response.json()["detail"][0]["loc"] == detail
        elif detail is not None:
            assert response.json() == {"detail": detail}


# --- filtering_filterset.py --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("min_size=5", ["Core platform", "Growth 50%_off", "Security"]),
        ("owner=ADA", ["Core platform", "Web"]),
        ("staffed=false", ["Growth 50%_off"]),
        ("staffed=true&min_size=5", ["Core platform", "Security"]),
        ("name__icontains=w", ["Growth 50%_off", "Web"]),
    ],
)
async def test_the_filterset(query: str, expected: list[str]) -> None:
    async with running(filtering_filterset.router, modules=TEAMS) as client:
        await make_teams()
        response = await client.get(f"/teams?{query}")
        assert names(response.json()) == expected


async def test_the_filterset_in_openapi_and_its_bounds() -> None:
    async with running(filtering_filterset.router, modules=TEAMS) as client:
        spec = (await client.get("/openapi.json")).json()
        params = {p["name"]: p for p in query_parameters(spec["paths"]["/teams"]["get"])}
        assert list(params) == ["name__icontains", "min_size", "owner", "staffed"]
        assert params["min_size"]["description"] == "Teams of at least this size."
        assert params["staffed"]["schema"]["anyOf"][0] == {"type": "boolean"}
        assert params["owner"]["description"] == (
            "Rows whose owner.username equals, ignoring case, the value."
        )
        # min_size takes the column's type, bounds included
        response = await client.get("/teams?min_size=2147483648")
        assert response.status_code == 422
        assert (await client.get("/teams?staffed=perhaps")).status_code == 422


# --- filtering_list.py -------------------------------------------------------------------------


async def test_the_list_form_and_a_string_ordering() -> None:
    async with running(filtering_list.router, modules=TEAMS) as client:
        made = await make_teams()
        ada, bob = made["Core platform"].owner_id, made["Data"].owner_id
        assert names((await client.get("/teams")).json()) == ALL_TEAMS  # -created_at
        assert names((await client.get(f"/teams?owner={ada}")).json()) == ["Web", "Core platform"]
        body = (await client.get(f"/teams?owner={bob}&size=5&is_public=true")).json()
        assert names(body) == ["Security"]
        assert names((await client.get(f"/teams?owner_id={bob}")).json()) == ALL_TEAMS  # ignored
        response = await client.get("/teams?owner=ada")
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "owner"]

        spec = (await client.get("/openapi.json")).json()
        params = {p["name"]: p for p in query_parameters(spec["paths"]["/teams"]["get"])}
        assert list(params) == ["owner", "size", "is_public"]
        # The member's id: an IntField's range
        int32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
        assert params["owner"]["schema"]["anyOf"][0] == int32
        assert params["owner"]["description"] == "Rows whose owner.id equals the value."
        assert params["is_public"]["schema"]["anyOf"][0] == {"type": "boolean"}


# --- filtering_compose.py ----------------------------------------------------------------------


async def test_everything_composes() -> None:
    async with running(filtering_compose.router, modules=TEAMS) as client:
        ada = await Member.create(username="ada")
        made = []
        for i in range(40):
            made.append(
                await Team.create(
                    name=f"{'core' if i % 2 else 'edge'} team {i:02d}",
                    slug=f"t{i}",
                    size=i % 15,
                    description="mobile" if i % 5 == 0 else None,
                    is_public=i % 3 != 0,
                    is_archived=i % 7 == 0,
                    owner=ada if i % 4 == 0 else None,
                )
            )

        def expected(member: bool, large: bool = False) -> list[int]:
            rows = [
                t
                for t in made
                if not t.is_archived  # get_queryset()
                and (member or t.is_public)  # the permission's scoping
                and t.size >= (10 if large else 5)  # ?size__gte=5 (or the action's own)
                and "core" in t.name  # ?search=core
            ]
            return [t.id for t in sorted(rows, key=lambda t: (-t.size, t.id))]

        for headers, member in (({}, False), ({"x-member": "ada"}, True)):
            want = expected(member)
            url = "/teams?size__gte=5&search=core&ordering=-size&page_size=3"
            seen: list[int] = []
            body = (await client.get(url, headers=headers)).json()
            assert body["count"] == len(want)
            while True:
                seen += ids(body)
                if not body["next"]:
                    break
                body = (await client.get(body["next"], headers=headers)).json()
            assert seen == want
            body = (await client.get(f"/teams/large?{url[7:]}", headers=headers)).json()
            assert body["count"] == len(expected(member, large=True))
            assert ids(body) == expected(member, large=True)[:3]
        assert len(expected(False)) < len(expected(True))
