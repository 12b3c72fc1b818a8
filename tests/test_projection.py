"""The fast read path (rows read as values, no model objects) renders what the plain path does."""

from __future__ import annotations

import datetime
import decimal
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from fastapi_viewsets import ReadOnlyModelViewSet, viewset
from fastapi_viewsets._projection import Projection
from fastapi_viewsets.pagination import PageNumberPagination
from fastapi_viewsets.testing import assert_num_queries
from tests.models import Company, Project, Sample, TicketPriority, TicketStatus, User
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


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(create_app(router, paged)) as manager:
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
