"""The fast read path (rows read as values, no model objects) renders what the plain path does."""

from __future__ import annotations

import ast
import asyncio
import datetime
import decimal
import itertools
import logging
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model, model_validator
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.sqlite.client import SqliteClient
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction
from tortoise.utils import get_schema_sql

from fastapi_viewsets import BasePermission, ModelViewSet, ReadOnlyModelViewSet, viewset
from fastapi_viewsets._projection import Projection
from fastapi_viewsets.pagination import PageNumberPagination
from fastapi_viewsets.testing import assert_num_queries, capture_queries
from tests.models import (
    Company,
    Invoice,
    Project,
    Queue,
    Sample,
    Ticket,
    TicketPriority,
    TicketStatus,
    User,
)
from tests.utils import IS_POSTGRES, create_app


class OwnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    is_admin: bool


class SampleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    note: str | None
    count: int
    big: int | None
    ratio: float | None
    amount: decimal.Decimal | None
    flag: bool
    day: datetime.date | None
    at: datetime.datetime
    ref: uuid.UUID
    status: TicketStatus
    priority: TicketPriority
    payload: dict[str, Any] | list[Any] | None
    owner_id: int | None
    owner: OwnerRead | None
    missing_with_default: str = "default"


router = APIRouter(prefix="/samples")


@viewset(router)
class SampleViewSet(ReadOnlyModelViewSet[Sample]):
    model = Sample
    read_schema = SampleRead


paged = APIRouter(prefix="/paged")


@viewset(paged, basename="paged_sample")
class PagedSampleViewSet(ReadOnlyModelViewSet[Sample]):
    model = Sample
    read_schema = SampleRead
    pagination_class = PageNumberPagination


class SampleWrite(BaseModel):
    name: str
    note: str | None = None
    count: int = 0
    big: int | None = None
    ratio: float | None = None
    amount: decimal.Decimal | None = None
    flag: bool = False
    day: datetime.date | None = None
    at: datetime.datetime
    ref: uuid.UUID
    status: TicketStatus = TicketStatus.OPEN
    priority: TicketPriority = TicketPriority.NORMAL
    payload: dict[str, Any] | list[Any] | None = None
    owner_id: int | None = None


writable = APIRouter(prefix="/writable")


@viewset(writable, basename="writable_sample")
class WritableSampleViewSet(ModelViewSet[Sample]):
    model = Sample
    read_schema = SampleRead
    create_schema = SampleWrite


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(create_app(router, paged, writable)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def plain_json(objects: list[Sample]) -> Any:
    adapter = TypeAdapter(list[SampleRead])
    return httpx.Response(
        200, content=adapter.dump_json(adapter.validate_python(objects, from_attributes=True))
    ).json()


TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=30)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
ROW = st.fixed_dictionaries(
    {
        "name": TEXT,
        "note": st.none() | TEXT,
        "count": st.integers(-(2**31), 2**31 - 1),
        "big": st.none() | st.integers(-(2**63), 2**63 - 1),
        "ratio": st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32),
        "amount": st.none()
        | st.decimals(
            min_value=-99999999, max_value=99999999, places=4, allow_nan=False, allow_infinity=False
        ),
        "flag": st.booleans(),
        "day": st.none() | st.dates(datetime.date(1900, 1, 1), datetime.date(2200, 12, 31)),
        "at": st.datetimes(
            datetime.datetime(1970, 1, 2),
            datetime.datetime(2200, 1, 1),
            timezones=st.sampled_from(
                [datetime.timezone.utc, datetime.timezone(datetime.timedelta(hours=5, minutes=30))]
            ),
        ),
        "ref": st.uuids(),
        "status": st.sampled_from(list(TicketStatus)),
        "priority": st.sampled_from(list(TicketPriority)),
        "payload": st.none() | st.dictionaries(TEXT, JSON_VALUE, max_size=3),
        "owned": st.booleans(),
    }
)


@settings(
    max_examples=60 if IS_POSTGRES else 120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(ROW, max_size=8))
@example(rows=[])
async def test_the_fast_path_renders_what_the_plain_path_renders(
    client: httpx.AsyncClient, rows: list[dict[str, Any]]
) -> None:
    await Sample.all().delete()
    owner = await User.first() or await User.create(username="üñíçødé ✓", is_admin=True)
    for row in rows:
        values = dict(row)
        owned = values.pop("owned")
        await Sample.create(owner=owner if owned else None, **values)
    expected = plain_json(await Sample.all().order_by("id").select_related("owner"))

    response = await client.get("/samples")
    assert response.status_code == 200
    assert response.json() == expected
    paged_response = await client.get("/paged", params={"page_size": 100})
    assert paged_response.json()["results"] == expected


@settings(
    max_examples=40 if IS_POSTGRES else 80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(row=ROW)
async def test_a_create_is_one_insert_that_answers_what_the_plain_path_renders(
    client: httpx.AsyncClient, row: dict[str, Any]
) -> None:
    owner = await User.first() or await User.create(username="üñíçødé ✓", is_admin=True)
    values = dict(row)
    values["owner_id"] = owner.id if values.pop("owned") else None
    body = TypeAdapter(SampleWrite).dump_python(SampleWrite(**values), mode="json")
    with capture_queries() as queries:
        response = await client.post("/writable", json=body)
    assert response.status_code == 201, response.text
    assert len(queries) == 1
    assert "RETURNING" in queries.queries[0]
    created = await Sample.get(id=response.json()["id"]).select_related("owner")
    assert response.json() == plain_json([created])[0]


async def test_the_fast_path_is_taken_and_runs_one_query(client: httpx.AsyncClient) -> None:
    owner = await User.create(username="ada")
    for index in range(5):
        await Sample.create(
            name=f"s{index}", at=datetime.datetime.now(datetime.timezone.utc), owner=owner
        )
    projection = Projection.for_schema(SampleRead, Sample, "SampleViewSet")
    assert projection is not None
    assert "owner__username" in projection.columns
    with assert_num_queries(1) as queries:
        response = await client.get("/samples")
    assert len(response.json()) == 5
    assert "LEFT OUTER JOIN" in queries.queries[0]


class WithProperty(BaseModel):
    id: int
    pk: int


class WithAlias(BaseModel):
    id: int
    title: str = Field(alias="name")


class WithBeforeValidator(BaseModel):
    id: int

    @model_validator(mode="before")
    @classmethod
    def look(cls, data: Any) -> Any:
        return data


class Tiny(BaseModel):
    id: int


class WithReverse(BaseModel):
    id: int
    projects: list[Tiny]


class WithOptionalReverse(BaseModel):
    id: int
    projects: list[Tiny] | None = None


class ProjectWithMembers(BaseModel):
    id: int
    company: WithReverse


class WithListOfForward(BaseModel):
    id: int
    owner: list[Tiny]


class WithDefaultedMissing(BaseModel):
    id: int
    shown: str = "yes"


@pytest.mark.parametrize(
    ("schema", "model", "reason"),
    [
        (WithProperty, Company, "'pk'"),
        (WithAlias, Company, "alias"),
        (WithBeforeValidator, Company, "model_validator"),
        (WithOptionalReverse, Company, "not a list of a nested schema"),
        (ProjectWithMembers, Project, "'projects'"),
        (WithListOfForward, Company, "not a nested schema"),
    ],
)
async def test_schemas_that_need_model_objects_keep_the_plain_path(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    schema: type[BaseModel],
    model: Any,
    reason: str,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="fastapi_viewsets"):
        assert Projection.for_schema(schema, model, "Owner") is None
    assert reason in caplog.text
    assert "Owner" in caplog.text


async def test_a_defaulted_field_the_model_lacks_is_left_to_its_default(
    client: httpx.AsyncClient,
) -> None:
    projection = Projection.for_schema(WithDefaultedMissing, Company, "Owner")
    assert projection is not None
    assert projection.columns == ("id",)


class Level3(BaseModel):
    id: int
    owner: OwnerRead | None


class Level2(BaseModel):
    id: int
    company: Level3


async def test_two_levels_of_forward_relations_are_joined(client: httpx.AsyncClient) -> None:
    projection = Projection.for_schema(Level2, Project, "Owner")
    assert projection is not None
    assert "company__owner__username" in projection.columns
    ada = await User.create(username="ada")
    company = await Company.create(name="acme", owner=ada)
    lonely = await Company.create(name="lonely")
    await Project.create(name="p", company=company)
    await Project.create(name="q", company=lonely)
    objects = await Project.all().order_by("id").select_related("company__owner")
    plain = TypeAdapter(list[Level2]).validate_python(objects, from_attributes=True)
    prepared = await projection.fetch(Project.all().order_by("id"))
    # distinct() is outside what prepared SQL serves: Tortoise's values() reads the rows.
    through_values = await projection.fetch(Project.all().order_by("id").distinct())
    assert TypeAdapter(list[Level2]).validate_python(prepared) == plain
    assert TypeAdapter(list[Level2]).validate_python(through_values) == plain


async def test_an_overridden_load_keeps_the_plain_path() -> None:
    seen: list[str] = []
    overridden = APIRouter(prefix="/overridden")

    @viewset(overridden)
    class Overridden(ReadOnlyModelViewSet[Company]):
        model = Company

        async def load(self, queryset: Any) -> list[Company]:
            seen.append("load")
            return await super().load(queryset)

    async with LifespanManager(create_app(overridden)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            await Company.create(name="acme")
            response = await c.get("/overridden")
    assert [row["name"] for row in response.json()] == ["acme"]
    assert seen == ["load"]


# --- lists of a reverse foreign key at the top level of the read schema -------------------------
#
# Children come in their model's Meta.ordering, else by primary key. No child of a reverse foreign
# key in tests/models.py (Project, Invoice, Ticket) has a Meta.ordering, so the HTTP tests expect
# primary-key order; test_children_follow_the_child_models_meta_ordering gives Project a default
# ordering for one test (monkeypatch, restored after it) to reach the other branch.


class ProjectRow(BaseModel):
    id: int
    name: str
    company_id: int


class InvoiceRow(BaseModel):
    id: int
    amount: int


class CompanyWithChildren(BaseModel):
    id: int
    name: str
    owner: OwnerRead | None
    projects: list[ProjectRow]
    invoices: list[InvoiceRow]


class CompanyWithProjects(BaseModel):
    id: int
    owner: OwnerRead | None
    projects: list[ProjectRow]


class AllowEveryObject(BasePermission):
    """Allows everything, but checks objects: a retrieve then goes through a model object."""

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        return True


def family_router(
    prefix: str, schema: type[BaseModel], *bases: type, **attributes: Any
) -> APIRouter:
    """A router with a viewset of companies at ``/<prefix>``; ``bases`` come before
    ReadOnlyModelViewSet (a get_queryset() of theirs wins)."""
    router = APIRouter(prefix=f"/{prefix}")
    name = "".join(part.title() for part in prefix.split("-")) + "ViewSet"
    attributes = {"model": Company, "read_schema": schema, **attributes}
    viewset(router, basename=prefix)(type(name, (*bases, ReadOnlyModelViewSet), attributes))
    return router


class _Public:
    def get_queryset(self) -> QuerySet[Company]:
        return Company.filter(is_public=True)


class _OwnedByAda:
    def get_queryset(self) -> QuerySet[Company]:
        # A lookup through a relation: prepared SQL does not serve it, Tortoise's values() does.
        return Company.filter(owner__username="ada")


PAGED = {"pagination_class": PageNumberPagination}
FAMILY_ROUTERS = [
    family_router("families", CompanyWithChildren, **PAGED),
    family_router("family-rows", CompanyWithChildren),
    family_router("family-objects", CompanyWithChildren, permission_classes=(AllowEveryObject,)),
    family_router("family-projects", CompanyWithProjects, **PAGED),
    family_router("public-families", CompanyWithChildren, _Public, **PAGED),
    family_router("ada-families", CompanyWithChildren, _OwnedByAda, **PAGED),
]


@pytest.fixture
async def family_client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(*FAMILY_ROUTERS)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@asynccontextmanager
async def random_endpoint(
    schema: type[BaseModel], model: type[Model]
) -> AsyncIterator[httpx.AsyncClient]:
    """A list and retrieve endpoint at /random serving ``schema``, registered now, in an app
    without a lifespan (Tortoise is already up: the test's fixture started it)."""
    router = APIRouter(prefix="/random")
    viewset(router, basename="random")(
        type(
            "RandomViewSet",
            (ReadOnlyModelViewSet,),
            {"model": model, "read_schema": schema, "pagination_class": PageNumberPagination},
        )
    )
    app = FastAPI()
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def sort_children(objects: Iterable[Model], *relations: str) -> None:
    """Put the prefetched children of ``objects`` in primary-key order (Tortoise's prefetch
    leaves their order to the database)."""
    for obj in objects:
        for relation in relations:
            getattr(obj, relation).related_objects.sort(key=lambda child: child.pk)


def dump_plain(schema: type[BaseModel], objects: list[Model]) -> Any:
    """The plain path's JSON: validated from model objects, as the brief of the property asks."""
    adapter = TypeAdapter(list[schema])  # type: ignore[valid-type]
    return adapter.dump_python(adapter.validate_python(objects, from_attributes=True), mode="json")


async def plain_companies(schema: type[BaseModel], queryset: QuerySet[Company]) -> Any:
    objects = await queryset.prefetch_related("owner", "projects__company__owner", "invoices")
    sort_children(objects, "projects", "invoices")
    return dump_plain(schema, objects)


def children_queries(queries: Iterable[str], table: str) -> list[str]:
    return [q for q in queries if f'FROM "{table}"' in q]


def query_params(query: str) -> list[Any]:
    """The parameters Tortoise logged with a statement (``"<sql>: [1, 2]"``)."""
    return list(ast.literal_eval(query.rpartition(": ")[2]))


# Random schemas: a random subset of the columns (nullable ones included), random relations.

COMPANY_COLUMNS: dict[str, Any] = {
    "id": int,
    "name": str,
    "slug": str | None,
    "is_public": bool,
    "size": int,
    "description": str | None,
    "owner_id": int | None,
    "created_at": datetime.datetime,
}
PROJECT_COLUMNS: dict[str, Any] = {"id": int, "name": str, "company_id": int}
INVOICE_COLUMNS: dict[str, Any] = {"id": int, "amount": int, "company_id": int}
QUEUE_COLUMNS: dict[str, Any] = {"id": int, "name": str, "is_public": bool}
TICKET_COLUMNS: dict[str, Any] = {
    "id": int,
    "title": str,
    "status": TicketStatus,
    "priority": TicketPriority,
    "rank": int,
    "score": float,
    "price": decimal.Decimal,
    "is_urgent": bool,
    "due": datetime.date | None,
    "opened_at": datetime.datetime,
    "ref": uuid.UUID,
    "note": str | None,
    "queue_id": int | None,
}
_schema_numbers = itertools.count()


def some_columns(columns: Mapping[str, Any]) -> st.SearchStrategy[list[str]]:
    names = list(columns)
    return st.lists(st.sampled_from(names), unique=True).map(
        lambda picked: [name for name in names if name in picked]
    )


def make_schema(
    name: str, columns: Mapping[str, Any], picked: list[str], **relations: Any
) -> type[BaseModel]:
    fields: dict[str, Any] = {column: (columns[column], ...) for column in picked}
    fields.update({key: (annotation, ...) for key, annotation in relations.items()})
    return create_model(f"{name}{next(_schema_numbers)}", **fields)


NESTED_COMPANY = st.fixed_dictionaries(
    {"columns": some_columns(COMPANY_COLUMNS), "owner": st.booleans()}
)
COMPANY_SCHEMA = st.fixed_dictionaries(
    {
        "parent": some_columns(COMPANY_COLUMNS),
        "owner": st.booleans(),
        "project": some_columns(PROJECT_COLUMNS),
        "project_company": st.none() | NESTED_COMPANY,
        "invoice": st.none() | some_columns(INVOICE_COLUMNS),
    }
)
FULL_COMPANY_SCHEMA = {
    "parent": list(COMPANY_COLUMNS),
    "owner": True,
    "project": list(PROJECT_COLUMNS),
    "project_company": {"columns": list(COMPANY_COLUMNS), "owner": True},
    "invoice": list(INVOICE_COLUMNS),
}


def company_schema(spec: dict[str, Any]) -> type[BaseModel]:
    project_relations: dict[str, Any] = {}
    nested = spec["project_company"]
    if nested is not None:
        owner = {"owner": OwnerRead | None} if nested["owner"] else {}
        project_relations["company"] = make_schema(
            "ProjectCompany", COMPANY_COLUMNS, nested["columns"], **owner
        )
    project = make_schema("ProjectChild", PROJECT_COLUMNS, spec["project"], **project_relations)
    relations: dict[str, Any] = {"projects": list[project]}  # type: ignore[valid-type]
    if spec["owner"]:
        relations["owner"] = OwnerRead | None
    if spec["invoice"] is not None:
        invoice = make_schema("InvoiceChild", INVOICE_COLUMNS, spec["invoice"])
        relations["invoices"] = list[invoice]  # type: ignore[valid-type]
    return make_schema("CompanyFamily", COMPANY_COLUMNS, spec["parent"], **relations)


NAME = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=12)
COMPANY_ROW = st.fixed_dictionaries(
    {
        "name": NAME,
        "slug": st.booleans(),
        "description": st.none() | TEXT,
        "is_public": st.booleans(),
        "size": st.integers(-(2**31), 2**31 - 1),
        "owner": st.sampled_from([None, 0, 1]),
        "projects": st.lists(NAME, max_size=4),
        "invoices": st.lists(st.integers(-(2**31), 2**31 - 1), max_size=3),
    }
)


def round_robin(groups: list[list[Any]]) -> list[tuple[int, Any]]:
    """(group index, item) for every item, a round over the groups at a time: a group's items
    keep their order, and a group's items are not consecutive among all of them."""
    out = []
    for position in range(max((len(g) for g in groups), default=0)):
        out += [(index, g[position]) for index, g in enumerate(groups) if position < len(g)]
    return out


async def seed_companies(rows: list[dict[str, Any]]) -> list[Company]:
    await Invoice.all().delete()
    await Project.all().delete()
    await Company.all().delete()
    users = [(await User.get_or_create(username=name))[0] for name in ("ada", "bob ✓")]
    companies = []
    for index, row in enumerate(rows):
        owner = None if row["owner"] is None else users[row["owner"]]
        company = await Company.create(
            name=f"c{index} {row['name']}",
            slug=f"s{index}" if row["slug"] else None,
            description=row["description"],
            is_public=row["is_public"],
            size=row["size"],
            owner=owner,
        )
        companies.append(company)
    # Inserted one at a time, in order: primary-key order is each company's list order.
    for index, name in round_robin([row["projects"] for row in rows]):
        await Project.create(name=name, company=companies[index])
    for index, amount in round_robin([row["invoices"] for row in rows]):
        await Invoice.create(amount=amount, company=companies[index])
    return companies


@settings(
    max_examples=80 if IS_POSTGRES else 120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    spec=COMPANY_SCHEMA,
    rows=st.lists(COMPANY_ROW, max_size=6),
    page_size=st.integers(1, 4),
    page=st.integers(1, 6),
)
@example(spec=FULL_COMPANY_SCHEMA, rows=[], page_size=1, page=1)
@example(
    spec=FULL_COMPANY_SCHEMA,
    rows=[
        {
            "name": "",
            "slug": True,
            "description": None,
            "is_public": True,
            "size": 0,
            "owner": 0,
            "projects": ["b", "a", "c"],
            "invoices": [],
        },
        {
            "name": "x",
            "slug": False,
            "description": "d",
            "is_public": False,
            "size": 1,
            "owner": None,
            "projects": [],
            "invoices": [3, 1],
        },
        {
            "name": "y",
            "slug": False,
            "description": None,
            "is_public": True,
            "size": 2,
            "owner": 1,
            "projects": ["z", "y"],
            "invoices": [2],
        },
    ],
    page_size=2,
    page=1,
)
async def test_reverse_lists_render_what_the_plain_path_renders(
    family_client: httpx.AsyncClient,
    spec: dict[str, Any],
    rows: list[dict[str, Any]],
    page_size: int,
    page: int,
) -> None:
    schema = company_schema(spec)
    assert Projection.for_schema(schema, Company, "random") is not None  # the fast path
    reverse_keys = 1 + (spec["invoice"] is not None)
    companies = await seed_companies(rows)
    expected = await plain_companies(schema, Company.all().order_by("id"))
    page = min(page, max(1, -(-len(rows) // page_size)))
    async with random_endpoint(schema, Company) as client:
        with capture_queries() as queries:
            response = await client.get("/random", params={"page": page, "page_size": page_size})
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == len(rows)
        assert body["results"] == expected[(page - 1) * page_size : page * page_size]
        # count, page, and one query per reverse foreign key unless the page is empty
        assert len(queries) == 2 + (reverse_keys if body["results"] else 0)

        for company, shown in zip(companies, expected, strict=True):
            with capture_queries() as queries:
                response = await client.get(f"/random/{company.id}")
            assert response.status_code == 200
            assert response.json() == shown
            assert len(queries) == 1 + reverse_keys
        missing = await client.get(f"/random/{max((c.id for c in companies), default=0) + 1}")
        assert missing.status_code == 404


QUEUE_SCHEMA = st.fixed_dictionaries(
    {
        "parent": some_columns(QUEUE_COLUMNS),
        "ticket": some_columns(TICKET_COLUMNS),
        "ticket_queue": st.none() | some_columns(QUEUE_COLUMNS),
    }
)


def queue_schema(spec: dict[str, Any]) -> type[BaseModel]:
    relations: dict[str, Any] = {}
    if spec["ticket_queue"] is not None:
        queue = make_schema("TicketQueue", QUEUE_COLUMNS, spec["ticket_queue"])
        relations["queue"] = queue | None
    ticket = make_schema("TicketChild", TICKET_COLUMNS, spec["ticket"], **relations)
    return make_schema("QueueFamily", QUEUE_COLUMNS, spec["parent"], tickets=list[ticket])  # type: ignore[valid-type]


ROW_AT = st.datetimes(
    datetime.datetime(1970, 1, 2),
    datetime.datetime(2200, 1, 1),
    timezones=st.sampled_from(
        [datetime.timezone.utc, datetime.timezone(datetime.timedelta(hours=-3))]
    ),
)
TICKET_ROW = st.fixed_dictionaries(
    {
        "title": TEXT,
        "status": st.sampled_from(list(TicketStatus)),
        "priority": st.sampled_from(list(TicketPriority)),
        "rank": st.integers(-(2**31), 2**31 - 1),
        "score": st.floats(allow_nan=False, allow_infinity=False, width=32),
        "price": st.decimals(
            min_value=-99999999, max_value=99999999, places=2, allow_nan=False, allow_infinity=False
        ),
        "is_urgent": st.booleans(),
        "due": st.none() | st.dates(datetime.date(1900, 1, 1), datetime.date(2200, 12, 31)),
        "opened_at": ROW_AT,
        "ref": st.uuids(),
        "note": st.none() | TEXT,
    }
)
QUEUE_ROW = st.fixed_dictionaries(
    {"name": NAME, "is_public": st.booleans(), "tickets": st.lists(TICKET_ROW, max_size=3)}
)


@settings(
    max_examples=40 if IS_POSTGRES else 60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    spec=QUEUE_SCHEMA,
    rows=st.lists(QUEUE_ROW, max_size=4),
    orphans=st.lists(TICKET_ROW, max_size=2),
    page_size=st.integers(1, 3),
    page=st.integers(1, 4),
)
@example(
    spec={"parent": [], "ticket": list(TICKET_COLUMNS), "ticket_queue": list(QUEUE_COLUMNS)},
    rows=[],
    orphans=[],
    page_size=1,
    page=1,
)
async def test_reverse_lists_of_every_column_type_render_what_the_plain_path_renders(
    family_client: httpx.AsyncClient,
    spec: dict[str, Any],
    rows: list[dict[str, Any]],
    orphans: list[dict[str, Any]],
    page_size: int,
    page: int,
) -> None:
    """Tickets: nullable columns, enums, decimals, dates, UUIDs; a nullable foreign key whose
    orphans (no queue) belong to no parent; a parent schema that may not show its key."""
    schema = queue_schema(spec)
    assert Projection.for_schema(schema, Queue, "random") is not None
    await Ticket.all().delete()
    await Queue.all().delete()
    queues = [await Queue.create(name=row["name"], is_public=row["is_public"]) for row in rows]
    for orphan in orphans:
        await Ticket.create(**orphan)
    for index, ticket in round_robin([row["tickets"] for row in rows]):
        await Ticket.create(queue=queues[index], **ticket)
    objects = await Queue.all().order_by("id").prefetch_related("tickets__queue")
    sort_children(objects, "tickets")
    expected = dump_plain(schema, objects)
    page = min(page, max(1, -(-len(rows) // page_size)))
    async with random_endpoint(schema, Queue) as client:
        response = await client.get("/random", params={"page": page, "page_size": page_size})
        assert response.status_code == 200
        assert response.json()["results"] == expected[(page - 1) * page_size : page * page_size]
        for queue, shown in zip(queues, expected, strict=True):
            assert (await client.get(f"/random/{queue.id}")).json() == shown


# --- query counts --------------------------------------------------------------------------------


async def seed_families(size: int, *, projects: int = 2) -> list[Company]:
    ada = await User.create(username="ada")
    await Company.bulk_create(
        [Company(name=f"c{i:03}", owner=ada if i % 2 else None) for i in range(size)]
    )
    companies = await Company.all().order_by("id")
    await Project.bulk_create(
        [Project(name=f"p{j}", company=c) for j in range(projects) for c in companies]
    )
    await Invoice.bulk_create([Invoice(amount=i, company=c) for i, c in enumerate(companies)])
    return list(companies)


@pytest.mark.parametrize("size", [1, 20, 100])
async def test_a_page_reads_its_children_with_one_query_per_reverse_foreign_key(
    family_client: httpx.AsyncClient, size: int
) -> None:
    companies = await seed_families(size + 3)
    page_ids = [c.id for c in companies[size : 2 * size]]  # page 2: an offset too

    # count, page, projects, invoices: the same for 1, 20 and 100 companies
    with assert_num_queries(4) as queries:
        response = await family_client.get("/families", params={"page_size": size, "page": 2})
    results = response.json()["results"]
    assert [row["id"] for row in results] == page_ids
    assert all(len(row["projects"]) == 2 and len(row["invoices"]) == 1 for row in results)
    assert all(p["company_id"] == row["id"] for row in results for p in row["projects"])
    (projects_query,) = children_queries(queries, "t_project")
    (invoices_query,) = children_queries(queries, "t_invoice")
    assert sorted(query_params(projects_query)) == page_ids
    assert sorted(query_params(invoices_query)) == page_ids

    # count, page, projects: one reverse foreign key in the schema, one children query
    with assert_num_queries(3):
        response = await family_client.get(
            "/family-projects", params={"page_size": size, "page": 2}
        )
    assert [row["id"] for row in response.json()["results"]] == page_ids


async def test_an_empty_page_reads_no_children(family_client: httpx.AsyncClient) -> None:
    with assert_num_queries(2) as queries:  # count, page
        response = await family_client.get("/families")
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert not children_queries(queries, "t_project")
    assert not children_queries(queries, "t_invoice")

    with assert_num_queries(1):  # without pagination: the rows only
        assert (await family_client.get("/family-rows")).json() == []

    # Rows exist, but get_queryset() keeps none of them.
    hidden = await Company.create(name="hidden", is_public=False)
    await Project.create(name="p", company=hidden)
    with assert_num_queries(2):
        response = await family_client.get("/public-families")
    assert response.json()["results"] == []


async def test_parents_without_children_get_empty_lists(family_client: httpx.AsyncClient) -> None:
    await seed_families(3, projects=0)
    await Invoice.all().delete()
    with assert_num_queries(4):
        response = await family_client.get("/families")
    results = response.json()["results"]
    assert len(results) == 3
    assert all(row["projects"] == [] and row["invoices"] == [] for row in results)


# --- ordering of the children --------------------------------------------------------------------


def test_no_child_of_a_reverse_foreign_key_in_the_test_models_has_a_meta_ordering() -> None:
    """Why the HTTP tests expect primary-key order: no such model orders itself."""
    children = {Project, Invoice, Ticket}
    assert all(not model._meta._default_ordering for model in children)
    for model in (Company, Queue, User, Sample):
        for name in model._meta.backward_fk_fields:
            related = model._meta.fields_map[name].related_model  # type: ignore[attr-defined]
            assert not related._meta._default_ordering, related


async def seed_out_of_name_order() -> tuple[Company, Company]:
    acme = await Company.create(name="acme")
    bolt = await Company.create(name="bolt")
    # Interleaved, and in no alphabetical order: "zeta" has the smallest key of acme's.
    for name, company in [
        ("zeta", acme),
        ("yak", bolt),
        ("alpha", acme),
        ("beta", bolt),
        ("mid", acme),
        ("aardvark", bolt),
    ]:
        await Project.create(name=name, company=company)
    return acme, bolt


async def test_children_without_a_meta_ordering_come_in_primary_key_order(
    family_client: httpx.AsyncClient,
) -> None:
    acme, _bolt = await seed_out_of_name_order()
    with capture_queries() as queries:
        response = await family_client.get("/families")
    shown = {
        row["name"]: [p["name"] for p in row["projects"]] for row in response.json()["results"]
    }
    assert shown == {"acme": ["zeta", "alpha", "mid"], "bolt": ["yak", "beta", "aardvark"]}
    for row in response.json()["results"]:
        ids = [p["id"] for p in row["projects"]]
        assert ids == sorted(ids)
    (projects_query,) = children_queries(queries, "t_project")
    assert 'ORDER BY "t_project"."id" ASC' in projects_query

    retrieved = (await family_client.get(f"/family-rows/{acme.id}")).json()
    assert [p["name"] for p in retrieved["projects"]] == ["zeta", "alpha", "mid"]


async def test_children_follow_the_child_models_meta_ordering(
    family_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Project given ``ordering = ["-name"]`` for this test only (tests/models.py has no child
    model with a Meta.ordering): the rows follow it, as Tortoise's prefetch does."""
    acme, _bolt = await seed_out_of_name_order()
    monkeypatch.setattr(
        Project._meta, "_default_ordering", (QuerySet._resolve_ordering_string("-name"),)
    )
    assert Project._meta.ordering
    with capture_queries() as queries:
        response = await family_client.get("/families")
    shown = {
        row["name"]: [p["name"] for p in row["projects"]] for row in response.json()["results"]
    }
    assert shown == {"acme": ["zeta", "mid", "alpha"], "bolt": ["yak", "beta", "aardvark"]}
    (projects_query,) = children_queries(queries, "t_project")
    assert 'ORDER BY "t_project"."name" DESC' in projects_query
    assert '"t_project"."id" ASC' not in projects_query

    objects = await Company.all().order_by("id").prefetch_related("owner", "projects", "invoices")
    assert response.json()["results"] == dump_plain(CompanyWithChildren, objects)
    retrieved = (await family_client.get(f"/family-rows/{acme.id}")).json()
    assert [p["name"] for p in retrieved["projects"]] == ["zeta", "mid", "alpha"]


# --- retrieve: the row path and the object path --------------------------------------------------


async def test_retrieve_reads_the_same_children_from_rows_as_from_objects(
    family_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = await User.create(username="ada")
    acme = await Company.create(name="acme", owner=ada)
    empty = await Company.create(name="empty")
    other = await Company.create(name="other")
    for name, company in [("b", acme), ("x", other), ("a", acme), ("c", acme)]:
        await Project.create(name=name, company=company)
    await Invoice.create(amount=5, company=acme)
    await Invoice.create(amount=-1, company=other)
    await Invoice.create(amount=7, company=acme)

    fetches: list[Any] = []
    fetch = Projection.fetch

    async def counting_fetch(self: Projection, queryset: Any) -> Any:
        fetches.append(queryset)
        return await fetch(self, queryset)

    monkeypatch.setattr(Projection, "fetch", counting_fetch)
    for company in (acme, empty, other):
        with assert_num_queries(3):  # the row, its projects, its invoices
            by_rows = await family_client.get(f"/family-rows/{company.id}")
        assert len(fetches) == 1  # through the projection: rows
        fetches.clear()
        by_objects = await family_client.get(f"/family-objects/{company.id}")
        assert not fetches  # has_object_permission needs the model object
        assert by_rows.status_code == by_objects.status_code == 200
        objects_json = by_objects.json()
        for relation in ("projects", "invoices"):  # the object path's order is the database's
            objects_json[relation].sort(key=lambda child: child["id"])
        assert by_rows.json() == objects_json

        expected = await plain_companies(CompanyWithChildren, Company.filter(id=company.id))
        assert [by_rows.json()] == expected

    acme_json = (await family_client.get(f"/family-rows/{acme.id}")).json()
    assert [p["name"] for p in acme_json["projects"]] == ["b", "a", "c"]  # primary-key order
    missing = other.id + 1
    assert (await family_client.get(f"/family-rows/{missing}")).status_code == 404
    assert (await family_client.get(f"/family-objects/{missing}")).status_code == 404


# --- a forward relation on the parent, and get_queryset() -----------------------------------------


async def seed_owned_families() -> dict[str, Company]:
    ada = await User.create(username="ada")
    bob = await User.create(username="bob")
    companies = {}
    for name, owner, public in [
        ("a-public", ada, True),
        ("b-private", ada, False),
        ("c-public", bob, True),
        ("d-public", None, True),
        ("e-private", bob, False),
        ("f-public", ada, True),
    ]:
        companies[name] = await Company.create(name=name, owner=owner, is_public=public)
    for round_ in range(2):
        for name, company in companies.items():
            await Project.create(name=f"{name}-{round_}", company=company)
            await Invoice.create(amount=round_, company=company)
    return companies


@pytest.mark.parametrize(
    ("prefix", "kept"),
    [
        ("public-families", ["a-public", "c-public", "d-public", "f-public"]),
        ("ada-families", ["a-public", "b-private", "f-public"]),
    ],
)
async def test_get_queryset_filters_the_parents_and_so_their_children(
    family_client: httpx.AsyncClient, prefix: str, kept: list[str]
) -> None:
    companies = await seed_owned_families()
    kept_ids = [companies[name].id for name in kept]
    queryset = Company.filter(id__in=kept_ids).order_by("id")
    expected = await plain_companies(CompanyWithChildren, queryset)
    assert {row["owner"]["username"] if row["owner"] else None for row in expected} != {None}

    with capture_queries() as queries:
        response = await family_client.get(f"/{prefix}", params={"page_size": 100})
    body = response.json()
    assert body["count"] == len(kept)
    assert body["results"] == expected
    assert all(p["company_id"] == row["id"] for row in body["results"] for p in row["projects"])
    (projects_query,) = children_queries(queries, "t_project")
    assert sorted(query_params(projects_query)) == kept_ids

    # A page of the filtered parents: the children of that page's parents only.
    with capture_queries() as queries:
        response = await family_client.get(f"/{prefix}", params={"page_size": 2, "page": 2})
    assert response.json()["results"] == expected[2:4]
    (projects_query,) = children_queries(queries, "t_project")
    assert sorted(query_params(projects_query)) == kept_ids[2:4]

    # Retrieve stays within get_queryset(), children and all.
    for name, company in companies.items():
        response = await family_client.get(f"/{prefix}/{company.id}")
        if name in kept:
            assert response.json() == expected[kept.index(name)]
        else:
            assert response.status_code == 404


# --- the connection children are read from -------------------------------------------------------

_OTHER_DB: list[BaseDBAsyncClient] = []


class _OtherDatabase:
    def get_queryset(self) -> QuerySet[Company]:
        return Company.all().using_db(_OTHER_DB[-1])


FAMILY_ROUTERS.append(family_router("other-db-families", CompanyWithProjects, _OtherDatabase))


class _Rollback(Exception):
    pass


@asynccontextmanager
async def other_connection() -> AsyncIterator[BaseDBAsyncClient]:
    """A connection whose rows the default connection does not see: on SQLite another in-memory
    database with the same tables; on PostgreSQL a transaction that another task holds open
    (its rows uncommitted, and the default connection of this task stays the pool)."""
    if not IS_POSTGRES:
        other = SqliteClient(":memory:", connection_name="other")
        await other.create_connection(with_db=True)
        await other.execute_script(get_schema_sql(connections.get("default"), safe=False))
        try:
            yield other
        finally:
            await other.close()
        return
    ready: asyncio.Future[BaseDBAsyncClient] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def hold() -> None:
        try:
            async with in_transaction() as transaction:
                ready.set_result(transaction)
                await done.wait()
                raise _Rollback
        except _Rollback:
            pass

    task = asyncio.create_task(hold())
    try:
        yield await ready
    finally:
        done.set()
        await task


async def test_children_are_read_through_the_parents_connection(
    family_client: httpx.AsyncClient,
) -> None:
    home = await Company.create(name="home")
    await Project.create(name="home's project", company=home)
    async with other_connection() as other:
        elsewhere = await Company.create(name="elsewhere", using_db=other)
        await Project.create(name="elsewhere's project", company=elsewhere, using_db=other)
        queryset = Company.all().using_db(other).order_by("id")
        objects = await queryset.prefetch_related("owner", "projects")
        sort_children(objects, "projects")
        expected = dump_plain(CompanyWithProjects, objects)
        _OTHER_DB.append(other)
        try:
            listed = await family_client.get("/other-db-families")
            retrieved = await family_client.get(f"/other-db-families/{elsewhere.id}")
        finally:
            _OTHER_DB.pop()
    shown = [row for row in expected if row["id"] == elsewhere.id]
    assert [p["name"] for p in shown[0]["projects"]] == ["elsewhere's project"]
    assert retrieved.json() == shown[0]
    assert listed.json() == expected
