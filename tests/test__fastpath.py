"""``fastapi_viewsets._fastpath``: which path an action takes, why (logged), and that cursor pages
on the fast path answer exactly what the plain path does.

* ``choose_path`` logs at DEBUG, once per action at registration, why an action takes the plain
  path (for its object, its list, its write); a viewset overriding nothing logs none of it.
* ``CursorPagination`` reads its rows through the projection (rows, not model objects), with its
  ordering columns added to each row when the read schema does not show them; the JSON (results,
  ``next``, ``previous``) is the plain path's, forward and backward, with ties broken by the
  primary key. A read schema that refuses unknown keys keeps the plain path.
* A cursor page is one query on the fast path: no ``COUNT``.
* ``overrides()`` reports the hooks a class defines otherwise than the library.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from tortoise.queryset import QuerySet

from fastapi_viewsets import (
    GenericViewSet,
    ListModelMixin,
    ModelViewSet,
    ReadOnlyModelViewSet,
    RetrieveModelMixin,
    action,
    viewset,
)
from fastapi_viewsets._fastpath import overrides
from fastapi_viewsets._projection import Projection
from fastapi_viewsets.pagination import CursorPagination
from fastapi_viewsets.testing import assert_num_queries, capture_queries
from tests.models import Company, User
from tests.utils import create_app, serve

# --- schemas ------------------------------------------------------------------------------------


class OwnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str


class CompanyCard(BaseModel):
    """Own columns and a forward relation; none of the columns the lists are ordered by."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    owner: OwnerRead | None


class StrictCompanyCard(CompanyCard):
    """Refuses unknown keys: the paginator's extra columns cannot be added to its rows."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


class CompanyWrite(BaseModel):
    name: str
    size: int = 0


# --- choose_path's log --------------------------------------------------------------------------

#: What every line of choose_path's log ends with: the hooks that made (part of) an action plain.
PLAIN = " overridden"


def register(name: str, namespace: dict[str, Any]) -> type[Any]:
    """Register a ModelViewSet of companies named ``name`` with ``namespace`` on a new router."""
    attrs = {"model": Company, "create_schema": CompanyWrite, **namespace}
    cls = type(name, (ModelViewSet,), attrs)
    viewset(APIRouter(prefix=f"/{name.lower()}"))(cls)
    return cls


def plain_lines(caplog: pytest.LogCaptureFixture, owner: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "fastapi_viewsets"
        and record.levelno == logging.DEBUG
        and record.getMessage().startswith(f"{owner}.")
        and record.getMessage().endswith(PLAIN)
    ]


async def get_object(self: Any) -> Any:
    return await super(type(self), self).get_object()


async def load(self: Any, queryset: QuerySet[Any]) -> Any:
    return await super(type(self), self).load(queryset)


async def perform_create(self: Any, obj: Any) -> Any:
    return await super(type(self), self).perform_create(obj)


def test_overriding_get_object_logs_the_detail_actions_plain_path_for_their_object(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="fastapi_viewsets"):
        register("OwnObjectViewSet", {"get_object": get_object})
    lines = plain_lines(caplog, "OwnObjectViewSet")
    for name in ("retrieve", "update", "partial_update", "destroy"):
        line = (
            f"OwnObjectViewSet.{name} reads its object with get_object(): get_object is overridden"
        )
        assert line in lines, lines
    # The list and create find no object: get_object is not why they would be plain.
    assert not [
        line
        for line in lines
        if line.startswith(("OwnObjectViewSet.list", "OwnObjectViewSet.create"))
    ]
    assert all("get_object" in line for line in lines)


def test_overriding_load_logs_the_lists_plain_path(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="fastapi_viewsets"):
        register("OwnLoadViewSet", {"load": load})
    lines = plain_lines(caplog, "OwnLoadViewSet")
    assert "OwnLoadViewSet.list reads its list as model objects: load is overridden" in lines
    assert "OwnLoadViewSet.retrieve answers from model objects: load is overridden" in lines
    assert not [line for line in lines if line.startswith("OwnLoadViewSet.destroy")]
    assert all(line.endswith(": load is overridden") for line in lines)


def test_overriding_perform_create_logs_the_creates_write(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="fastapi_viewsets"):
        register("OwnCreateViewSet", {"perform_create": perform_create})
    lines = plain_lines(caplog, "OwnCreateViewSet")
    assert lines == [
        "OwnCreateViewSet.create writes in a transaction: perform_create is overridden"
    ]


def test_several_overridden_hooks_are_named_together(caplog: pytest.LogCaptureFixture) -> None:
    def check_object_permissions(self: Any, obj: Any) -> Any:
        return super(type(self), self).check_object_permissions(obj)

    with caplog.at_level(logging.DEBUG, logger="fastapi_viewsets"):
        register(
            "BothViewSet",
            {"get_object": get_object, "check_object_permissions": check_object_permissions},
        )
    lines = plain_lines(caplog, "BothViewSet")
    assert (
        "BothViewSet.retrieve reads its object with get_object(): get_object, "
        "check_object_permissions are overridden" in lines
    ), lines


def test_a_viewset_overriding_nothing_logs_no_plain_path(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="fastapi_viewsets"):
        register("PlainOldViewSet", {"read_schema": CompanyCard})
        register("PaginatedOldViewSet", {"pagination_class": CursorPagination})
    assert not [r for r in caplog.records if r.getMessage().endswith(PLAIN)], caplog.text


def test_overriding_an_action_logs_that_it_runs_the_mixins_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def retrieve(self: Any) -> Any:
        return await super(type(self), self).retrieve()

    with caplog.at_level(logging.DEBUG, logger="fastapi_viewsets"):
        register("OwnRetrieveViewSet", {"retrieve": retrieve})
    assert plain_lines(caplog, "OwnRetrieveViewSet") == [
        "OwnRetrieveViewSet.retrieve takes the plain path (the mixin's body): retrieve is "
        "overridden"
    ]


# --- overrides ----------------------------------------------------------------------------------


class Inheriting(ModelViewSet[Company]):
    model = Company


class Overriding(ModelViewSet[Company]):
    model = Company

    async def get_object(self) -> Company:
        return await super().get_object()

    async def perform_update(self, obj: Company) -> Company:
        return await super().perform_update(obj)


class InheritsAnOverride(Overriding):
    pass


class ComposedFromMixins(
    ListModelMixin[Company], RetrieveModelMixin[Company], GenericViewSet[Company]
):
    model = Company


HOOKS = ("load", "get_object", "perform_create", "perform_update", "list", "retrieve", "initial")


def test_overrides_reports_the_hooks_a_class_defines_otherwise() -> None:
    assert overrides(Overriding, *HOOKS) == ["get_object", "perform_update"]
    assert overrides(Overriding, "perform_update", "get_object") == ["perform_update", "get_object"]
    # Inheriting an override is still defining the hook otherwise than the library.
    assert overrides(InheritsAnOverride, *HOOKS) == ["get_object", "perform_update"]


def test_overrides_ignores_what_a_class_only_inherits_from_the_library() -> None:
    assert overrides(Inheriting, *HOOKS) == []
    assert overrides(ComposedFromMixins, "list", "retrieve", "load", "get_object") == []
    assert overrides(ModelViewSet, *HOOKS) == []
    assert overrides(ReadOnlyModelViewSet, *HOOKS) == []


# --- cursor pagination on the fast path ---------------------------------------------------------


class ThreePerPage(CursorPagination):
    page_size = 3
    max_page_size = 5


ORDERING_FIELDS = ["size", "name", "created_at", "is_public"]


class FastCardsViewSet(ReadOnlyModelViewSet[Company]):
    model = Company
    read_schema = CompanyCard
    pagination_class = ThreePerPage
    ordering_fields = ORDERING_FIELDS
    ordering = ["-size"]


class PlainCardsViewSet(FastCardsViewSet):
    """The same list through model objects: ``load`` is overridden (and only calls super)."""

    async def load(self, queryset: QuerySet[Company]) -> list[Company]:
        return await super().load(queryset)


class StrictCardsViewSet(FastCardsViewSet):
    read_schema = StrictCompanyCard


ROUTERS = {
    "/fast": APIRouter(prefix="/fast"),
    "/plain": APIRouter(prefix="/plain"),
    "/strict": APIRouter(prefix="/strict"),
}
viewset(ROUTERS["/fast"])(FastCardsViewSet)
viewset(ROUTERS["/plain"])(PlainCardsViewSet)
viewset(ROUTERS["/strict"])(StrictCardsViewSet)

# name, size, owner ("a" alice, "b" bob, None), is_public; sizes and created_at repeat.
ROWS = [
    ("delta", 5, "a", True),
    ("alpha", 5, None, False),
    ("echo", 1, "b", True),
    ("charlie", 5, "b", True),
    ("bravo", 9, None, True),
    ("golf", 1, "a", False),
    ("foxtrot", 9, "a", True),
    ("hotel", 0, None, True),
    ("india", 9, "b", False),
    ("juliet", 9, None, True),
]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_app(*ROUTERS.values())) as client:
        users = {
            "a": await User.create(username="alice"),
            "b": await User.create(username="bob"),
        }
        for name, size, owner, is_public in ROWS:
            await Company.create(
                name=name, size=size, owner=users.get(owner or ""), is_public=is_public
            )
        # created_at with ties, the primary key breaking them.
        moments = [
            datetime.datetime(2024, 1, d, 12, 30, 15, 123456, tzinfo=datetime.timezone.utc)
            for d in (3, 1, 2)
        ]
        for index, company in enumerate(await Company.all().order_by("id")):
            await Company.filter(id=company.id).update(created_at=moments[index % 3])
        yield client


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The querysets read through ``Projection.fetch`` (the fast path's rows)."""
    seen: list[Any] = []
    fetch = Projection.fetch

    async def counting_fetch(self: Projection, queryset: QuerySet[Any]) -> Any:
        seen.append(queryset)
        return await fetch(self, queryset)

    monkeypatch.setattr(Projection, "fetch", counting_fetch)
    return seen


async def walk(client: httpx.AsyncClient, url: str) -> tuple[list[Any], list[Any]]:
    """Every page from ``url`` following ``next``, then from the last one back following
    ``previous``; both in the order they were read."""
    forward = [await get_page(client, url)]
    while forward[-1]["next"] is not None:
        forward.append(await get_page(client, forward[-1]["next"]))
    backward = [forward[-1]]
    while backward[-1]["previous"] is not None:
        backward.append(await get_page(client, backward[-1]["previous"]))
    return forward, backward


async def get_page(client: httpx.AsyncClient, url: str) -> Any:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    return response.json()


def same_links(pages: list[Any], prefix: str) -> Any:
    """``pages`` with ``prefix`` in their links written as ``/fast``, to compare them."""
    return json.loads(
        json.dumps(pages).replace(f"http://testserver{prefix}", "http://testserver/fast")
    )


async def expected_names(ordering: list[str]) -> list[str]:
    names = await Company.all().order_by(*ordering, "id").values_list("name", flat=True)
    return list(names)


ORDERINGS = [
    pytest.param(None, ["-size"], id="default"),
    pytest.param("size", ["size"], id="size"),
    pytest.param("-size", ["-size"], id="-size"),
    pytest.param("created_at", ["created_at"], id="created_at"),
    pytest.param("-created_at", ["-created_at"], id="-created_at"),
    pytest.param("-is_public,name", ["-is_public", "name"], id="-is_public,name"),
]


@pytest.mark.parametrize(("param", "ordering"), ORDERINGS)
async def test_cursor_pages_on_the_fast_path_answer_what_the_plain_path_does(
    client: httpx.AsyncClient, fetches: list[Any], param: str | None, ordering: list[str]
) -> None:
    query = f"?ordering={param}" if param else ""
    fast, fast_back = await walk(client, f"/fast{query}")
    fast_reads = len(fetches)
    fetches.clear()
    plain, plain_back = await walk(client, f"/plain{query}")

    # The fast list read every page's rows through the projection; the plain one none.
    assert fast_reads == len(fast) + len(fast_back) - 1
    assert fetches == []
    # Forward: every row once, in the ordering, ties broken by the primary key.
    names = [company["name"] for page in fast for company in page["results"]]
    assert names == await expected_names(ordering)
    assert [len(page["results"]) for page in fast] == [3, 3, 3, 1]
    # Backward from the last page: the same pages, the same links.
    assert list(reversed(fast_back)) == fast
    # The same JSON as the plain path's, links included, both ways.
    assert same_links(plain, "/plain") == fast
    assert same_links(plain_back, "/plain") == fast_back
    assert fast[0]["previous"] is None
    assert fast[-1]["next"] is None


async def test_the_ordering_column_the_read_schema_lacks_is_read_but_not_shown(
    client: httpx.AsyncClient, fetches: list[Any]
) -> None:
    """Ordered by ``size``, which CompanyCard does not show: the cursor is made from it (an
    extra column of each row), and the JSON has only the schema's fields."""
    forward, backward = await walk(client, "/fast?ordering=size")
    assert len(fetches) == len(forward) + len(backward) - 1
    for page in forward:
        for company in page["results"]:
            assert set(company) == {"id", "name", "owner"}
    owners = {c["name"]: c["owner"] for page in forward for c in page["results"]}
    assert owners["delta"] == {"id": owners["delta"]["id"], "username": "alice"}
    assert owners["alpha"] is None
    assert owners["echo"]["username"] == "bob"


@pytest.mark.parametrize(("param", "ordering"), ORDERINGS)
async def test_a_read_schema_refusing_unknown_keys_pages_through_the_plain_path(
    client: httpx.AsyncClient, fetches: list[Any], param: str | None, ordering: list[str]
) -> None:
    query = f"?ordering={param}" if param else ""
    strict, strict_back = await walk(client, f"/strict{query}")
    fast, fast_back = await walk(client, f"/fast{query}")
    assert len(fetches) == len(fast) + len(fast_back) - 1  # only the fast list's pages
    names = [company["name"] for page in strict for company in page["results"]]
    assert names == await expected_names(ordering)
    assert same_links(strict, "/strict") == fast
    assert list(reversed(strict_back)) == strict


async def test_why_a_read_schema_refusing_unknown_keys_keeps_the_plain_path_is_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    extra = ThreePerPage.page_fields(FastCardsViewSet)
    assert set(extra) == {"size", "name", "created_at", "is_public", "id"}
    with caplog.at_level(logging.DEBUG, logger="fastapi_viewsets"):
        assert Projection.for_schema(StrictCompanyCard, Company, "Owner", extra) is None
    assert "Owner: StrictCompanyCard is read through model objects" in caplog.text
    assert "does not ignore unknown keys" in caplog.text
    assert "size" in caplog.text
    # Without columns to add, or with a schema that ignores them, rows serve it.
    assert Projection.for_schema(StrictCompanyCard, Company, "Owner", ("id", "name")) is not None
    projection = Projection.for_schema(CompanyCard, Company, "Owner", extra)
    assert projection is not None
    assert {"size", "created_at", "is_public"} <= set(projection.columns)


async def test_a_cursor_page_is_one_query_on_the_fast_path(client: httpx.AsyncClient) -> None:
    with assert_num_queries(1) as first_page:
        first = await get_page(client, "/fast?ordering=size")
    with assert_num_queries(1):
        second = await get_page(client, first["next"])
    with assert_num_queries(1):
        back = await get_page(client, second["previous"])
    assert back == first
    assert not any("COUNT" in query.upper() for query in first_page)
    # The relation comes with the rows (a JOIN), not from a query per row or per page.
    with capture_queries() as queries:
        await walk(client, "/fast?ordering=-created_at")
    assert not any("COUNT(" in query.upper() for query in queries)


# --- an overridden list_response ------------------------------------------------------------------


async def test_an_overridden_list_response_answers_the_list_and_the_listing_actions() -> None:
    router = APIRouter(prefix="/counted")

    @viewset(router, basename="counted")
    class Counted(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyCard

        async def list_response(self, queryset: QuerySet[Company]) -> Any:
            response = await super().list_response(queryset)
            response.headers["X-Listed-By"] = "override"
            return response

        @action(detail=False)
        async def big(self) -> QuerySet[Company]:
            return self.get_queryset().filter(size__gte=5)

    async with serve(create_app(router)) as client:
        await Company.create(name="small", size=1)
        big = await Company.create(name="big", size=9)
        listed = await client.get("/counted")
        bigs = await client.get("/counted/big")
    assert listed.headers["x-listed-by"] == "override"
    assert [row["name"] for row in listed.json()] == ["small", "big"]
    assert bigs.headers["x-listed-by"] == "override"
    assert [row["id"] for row in bigs.json()] == [big.id]
