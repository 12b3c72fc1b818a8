"""``fastapi_viewsets._tortoise``: the one module that reads Tortoise's private state.

* The installed Tortoise must be inside the range the module was checked against: this test
  fails on a new release, so that someone checks it (the message says how).
* Outside the range the fast path steps aside: the prepared SQL functions answer ``None``, the
  viewsets read model objects, the HTTP answers stay the same, and one warning says so.
* The accessors the rest of the package calls give what Tortoise holds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from importlib.metadata import version
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from tortoise.expressions import Q
from tortoise.functions import Lower
from tortoise.models import Model
from tortoise.signals import Signals

from fastapi_viewsets import ModelViewSet, _sql, _tortoise, viewset
from fastapi_viewsets._projection import Projection
from fastapi_viewsets.pagination import PageNumberPagination
from fastapi_viewsets.testing import capture_queries
from tests.models import Badge, Company, Project, User
from tests.utils import create_app, serve


@pytest.fixture
async def database() -> AsyncIterator[None]:
    """A fresh database with the test models (SQLite in memory, or TORTOISE_TEST_DB)."""
    async with LifespanManager(create_app()):
        yield


@pytest.fixture
def unchecked_tortoise(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checked range moved so that the installed Tortoise is outside it, as on a release
    this package was not checked against; the warning not yet given in this process."""
    installed = _tortoise.INSTALLED
    monkeypatch.setattr(_tortoise, "CHECKED", ((0,), installed))  # the upper bound excluded
    monkeypatch.setattr(_tortoise, "FAST_PATH", _tortoise.fast_path_supported())
    monkeypatch.setattr(_tortoise, "_warned", False)
    assert not _tortoise.FAST_PATH


def fast_path_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "fastapi_viewsets" and r.levelno == logging.WARNING and "fast path" in r.msg
    ]


# --- the version guard -----------------------------------------------------------------------


def test_the_installed_tortoise_is_inside_the_checked_range() -> None:
    lower, upper = (".".join(map(str, v)) for v in _tortoise.CHECKED)
    installed = version("tortoise-orm")
    assert _tortoise.fast_path_supported(), (
        f"tortoise-orm {installed} is outside the range fastapi_viewsets/_tortoise.py was checked "
        f"against (>={lower},<{upper}), so the fast path is off (slower, never wrong). Check the "
        f"new release: read every private attribute _tortoise.py reads in its source "
        f"(tortoise/queryset.py, models.py, expressions.py) and confirm each still exists and "
        f"means the same; run the suite on SQLite and PostgreSQL (test_sql.py and "
        f"test_projection.py compare prepared SQL with Tortoise's own); then widen CHECKED and "
        f"the range in _tortoise.py's docstring."
    )
    assert _tortoise.FAST_PATH


def test_the_range_includes_its_lower_bound_and_excludes_its_upper_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _tortoise._release(version("tortoise-orm")) == _tortoise.INSTALLED
    assert _tortoise._release("1.2.0rc1") == (1, 2, 0)
    assert _tortoise._release("1.1.10.post1") == (1, 1, 10)
    installed = _tortoise.INSTALLED
    for checked, inside in (
        ((installed, (*installed, 1)), True),
        ((installed[:2], (installed[0], installed[1] + 1)), True),
        (((0,), installed), False),
        (((*installed, 1), (installed[0] + 1,)), False),
    ):
        monkeypatch.setattr(_tortoise, "CHECKED", checked)
        assert _tortoise.fast_path_supported() is inside, checked


@pytest.mark.usefixtures("unchecked_tortoise")
async def test_outside_the_range_prepared_sql_and_projections_step_aside(
    database: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fastapi_viewsets")
    plan = _sql.SelectPlan.for_paths(Company, ["id", "name", "owner__username"])
    assert _sql.select(Company.all(), plan) is None
    assert _sql.select(Company.filter(size__gt=1).order_by("name").limit(5), plan) is None
    assert _sql.count(Company.all()) is None
    assert _sql.select_pk(plan, 1) is None
    assert _sql.insert_returning(Company(name="hooli"), plan) is None
    assert Projection.for_schema(CompanyRead, Company, "Test") is None
    await Company.create(name="acme")
    assert await _sql.count_rows(Company.all()) == 1  # through Tortoise
    [warning] = fast_path_warnings(caplog)
    assert warning.getMessage() == (
        f"fastapi_viewsets: the installed tortoise-orm "
        f"{'.'.join(map(str, _tortoise.INSTALLED))} is outside the range checked for the "
        f"fast path (>=0,<{'.'.join(map(str, _tortoise.INSTALLED))}); the fast path is off: "
        f"queries run through Tortoise, slower, never wrong."
    )


# --- the same HTTP answers with the fast path off --------------------------------------------


class OwnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class CompanyRead(BaseModel):
    """Own columns, a forward relation (a JOIN) and a reverse one (one more query per page)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    slug: str | None
    size: int
    is_public: bool
    owner: OwnerRead | None
    projects: list[ProjectRead]


class CompanyFlat(BaseModel):
    """Own columns and a forward relation: a create is one INSERT ... RETURNING."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    size: int
    owner: OwnerRead | None


class CompanyWrite(BaseModel):
    name: str
    slug: str | None = None
    size: int = 0
    is_public: bool = True
    owner_id: int | None = None


def companies(router: APIRouter, prefix: str) -> None:
    """Company viewsets at ``prefix`` (nested read schema) and ``prefix-flat``."""

    @viewset(router, prefix=prefix, basename=prefix.strip("/"))
    class Companies(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite
        pagination_class = PageNumberPagination
        filterset_fields = {"size": ["gte", "in"], "is_public": ["exact"]}
        ordering_fields = ("name", "size")
        ordering = ("name",)

    @viewset(router, prefix=f"{prefix}-flat", basename=f"{prefix.strip('/')}_flat")
    class Flat(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyFlat
        create_schema = CompanyWrite


async def answers(
    client: httpx.AsyncClient, prefix: str, world: dict[str, Any]
) -> list[tuple[int, Any]]:
    """Status and JSON of reads and writes on the viewsets at ``prefix``, with the prefix
    taken out of links; rows written have names of their own per prefix."""
    acme, initech, alice = world["acme"], world["initech"], world["alice"]
    tag = prefix.strip("/")
    out: list[tuple[int, Any]] = []

    async def call(method: str, path: str, body: Any = None) -> Any:
        response = await client.request(method, f"{prefix}{path}", json=body)
        text = response.text.replace(f"http://testserver{prefix}", "http://testserver/PREFIX")
        data = json.loads(text) if text else None
        out.append((response.status_code, data))
        return data

    for path in (
        "",
        "?page=2&page_size=2",
        "?page=9",
        "?size__gte=10&ordering=-size",
        "?size__in=10,500&is_public=true",
        f"/{acme.id}",
        f"/{initech.id}",
        "/999999",
        "/abc",
        f"-flat/{acme.id}",
        "-flat",
    ):
        await call("GET", path)
    for path in ("", "-flat"):
        created = await call("POST", path, {"name": f"{tag}{path}", "owner_id": alice.id})
        out[-1] = (out[-1][0], {**created, "id": "new", "name": "same"})
        created_id = created["id"]
        await call("PATCH", f"{path}/{created_id}", {"size": 3})
        out[-1] = (out[-1][0], {**out[-1][1], "id": "new", "name": "same"})
        await call("PUT", f"{path}/{created_id}", {"name": f"{tag}{path}-2", "size": 4})
        out[-1] = (out[-1][0], {**out[-1][1], "id": "new", "name": "same"})
        await call("DELETE", f"{path}/{created_id}")
        await call("GET", f"{path}/{created_id}")
    await call("PATCH", f"/{acme.id}", {"size": 11})  # an existing row, with its relations
    await call("PATCH", f"/{acme.id}", {"size": 10})
    await call("POST", "", {"name": "acme"})  # a conflict
    return out


async def test_outside_the_range_the_answers_are_the_same_and_one_warning_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    router = APIRouter()
    companies(router, "/fast")
    companies(router, "/slow")
    caplog.set_level(logging.WARNING, logger="fastapi_viewsets")
    async with serve(create_app(router)) as client:
        alice = await User.create(username="alice")
        acme = await Company.create(name="acme", slug="acme", owner=alice, size=10)
        initech = await Company.create(name="initech", size=500, is_public=False)
        await Company.create(name="globex", size=20)
        await Project.create(name="rockets", company=acme)
        await Project.create(name="anvils", company=acme)
        world = {"alice": alice, "acme": acme, "initech": initech}

        with capture_queries() as fast_queries:
            fast = await answers(client, "/fast", world)
        assert not fast_path_warnings(caplog)

        # As on a Tortoise release outside the checked range (fixtures cannot be used here:
        # the fast viewsets must run first).
        monkeypatch.setattr(_tortoise, "CHECKED", ((0,), _tortoise.INSTALLED))
        monkeypatch.setattr(_tortoise, "FAST_PATH", _tortoise.fast_path_supported())
        monkeypatch.setattr(_tortoise, "_warned", False)
        monkeypatch.setattr(_sql, "_sql_cache", {})  # what prepared SQL renders goes here
        with capture_queries() as slow_queries:
            slow = await answers(client, "/slow", world)
        slow_again = await answers(client, "/slow", world)

    assert slow == fast
    assert slow_again == fast
    assert {status for status, _ in fast} == {200, 201, 204, 404, 409, 422}
    # No prepared SQL, and more statements: prefetches, reads after writes.
    assert _sql._sql_cache == {}
    assert len(slow_queries) > len(fast_queries)
    assert len(fast_path_warnings(caplog)) == 1


# --- the accessors -----------------------------------------------------------------------------


async def test_the_accessors_give_what_the_queryset_holds(database: None) -> None:
    queryset = Company.filter(Q(size=1) | ~Q(name="x"), is_public=True).order_by("-name")
    page = queryset.offset(40).limit(20)
    assert _tortoise.queryset_is_plain(page)
    assert _tortoise.orderings(page)[0][0] == "name"
    assert str(_tortoise.orderings(page)[0][1].value).upper() == "DESC"
    assert _tortoise.orderings(Company.all()) == []
    assert (_tortoise.limit(page), _tortoise.offset(page)) == (20, 40)
    assert (_tortoise.limit(queryset), _tortoise.offset(queryset)) == (None, None)
    trees = _tortoise.q_objects(queryset)
    assert len(trees) == 2
    assert [_tortoise.is_negated(q) for tree in trees for q in tree.children] == [False, True]
    assert not any(_tortoise.is_negated(tree) for tree in trees)
    assert _tortoise.is_negated(~trees[0])
    assert _tortoise.choose_db(queryset) is Company._meta.db
    not_plain: list[Any] = [
        queryset.distinct(),
        queryset.prefetch_related("owner"),
        queryset.only("id", "name"),
        queryset.annotate(n=Lower("name")),
        queryset.group_by("size"),
        queryset.first(),
    ]
    if queryset.capabilities.support_for_update:  # else select_for_update() does nothing
        not_plain.append(queryset.select_for_update())
    if queryset.capabilities.support_index_hint:  # MySQL only
        not_plain += [queryset.force_index("x"), queryset.use_index("x")]
    for other in not_plain:
        assert not _tortoise.queryset_is_plain(other)


async def test_the_accessors_give_what_models_and_objects_hold(
    database: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _tortoise.is_inited(Company)
    company = _tortoise.init_from_db(Company, id=7, name="acme", size=3, owner_id=None)
    assert type(company) is Company
    assert (company.pk, company.name, company.size, company.owner_id) == (7, "acme", 3, None)
    assert company._saved_in_db

    fresh = Company(name="hooli")
    assert not _tortoise.custom_generated_pk(fresh)
    assert _tortoise.custom_generated_pk(Company(id=5, name="hooli"))
    assert _tortoise.await_when_save(fresh) == {}
    assert _tortoise.choose_db_for_write(fresh) is Company._meta.db

    async def handler(*args: Any) -> None:
        pass

    # Tortoise keeps one map of listeners for all models; the test's entry goes away after it.
    monkeypatch.setitem(Model._listeners[Signals.post_save], Badge, [])
    assert _tortoise.signal_listeners(Badge) == {}
    Badge.register_listener(Signals.post_save, handler)
    assert _tortoise.signal_listeners(Badge) == {Signals.post_save: [handler]}
    assert Signals.post_save not in _tortoise.signal_listeners(Company)
