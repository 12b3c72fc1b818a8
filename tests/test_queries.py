"""Nested read schemas are loaded in a fixed number of queries, whatever the number of rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from fastapi_viewsets import ModelViewSet, ReadOnlyModelViewSet, viewset
from fastapi_viewsets.testing import assert_num_queries, capture_queries
from tests.models import Company, Project, Tag, User
from tests.utils import create_app, serve


class OwnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str


class TagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class CompanyWithOwner(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    owner: OwnerRead | None


class CompanyWithProjects(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    projects: list[ProjectRead]


class ProjectWithTags(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    tags: list[TagRead]


class CompanyOfProject(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    owner: OwnerRead | None


class ProjectWithCompanyOwner(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    company: CompanyOfProject


class ProjectWithTagsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    tags: list[TagRead]


class CompanyEverything(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    owner: OwnerRead | None
    projects: list[ProjectWithTagsRead]


class CompanyWithOwnerAndProjects(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    owner: OwnerRead | None
    projects: list[ProjectRead]


class ProjectWithCompanyDetails(BaseModel):
    """A forward relation with both a forward and a reverse relation below it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    company: CompanyWithOwnerAndProjects


class CompanyWrite(BaseModel):
    name: str
    owner_id: int | None = None


router = APIRouter()


@viewset(router, prefix="/forward")
class Forward(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyWithOwner
    create_schema = CompanyWrite


@viewset(router, prefix="/reverse", basename="company_projects")
class Reverse(ReadOnlyModelViewSet[Company]):
    model = Company
    read_schema = CompanyWithProjects


@viewset(router, prefix="/m2m")
class ManyToMany(ReadOnlyModelViewSet[Project]):
    model = Project
    read_schema = ProjectWithTags


@viewset(router, prefix="/nested", basename="project_company_owner")
class Nested(ReadOnlyModelViewSet[Project]):
    model = Project
    read_schema = ProjectWithCompanyOwner


@viewset(router, prefix="/everything", basename="company_everything")
class Everything(ReadOnlyModelViewSet[Company]):
    model = Company
    read_schema = CompanyEverything


@viewset(router, prefix="/mixed", basename="project_company_details")
class Mixed(ReadOnlyModelViewSet[Project]):
    model = Project
    read_schema = ProjectWithCompanyDetails


async def seed(count: int) -> None:
    """``count`` companies, each with its own owner, two projects, and two tags per project."""
    red = await Tag.create(name="red")
    blue = await Tag.create(name="blue")
    for index in range(count):
        owner = await User.create(username=f"user{index}")
        company = await Company.create(name=f"company{index}", owner=owner)
        for number in range(2):
            project = await Project.create(name=f"p{index}.{number}", company=company)
            await project.tags.add(red, blue)


def check_company_with_owner(row: dict[str, Any]) -> None:
    assert row["owner"]["username"] == f"user{row['name'].removeprefix('company')}"


def check_company_with_projects(row: dict[str, Any]) -> None:
    index = row["name"].removeprefix("company")
    assert sorted(p["name"] for p in row["projects"]) == [f"p{index}.0", f"p{index}.1"]


def check_project_with_tags(row: dict[str, Any]) -> None:
    assert sorted(t["name"] for t in row["tags"]) == ["blue", "red"]


def check_project_with_company_owner(row: dict[str, Any]) -> None:
    index = row["name"][1:].split(".")[0]
    assert row["company"]["name"] == f"company{index}"
    assert row["company"]["owner"]["username"] == f"user{index}"


def check_everything(row: dict[str, Any]) -> None:
    check_company_with_owner(row)
    check_company_with_projects(row)
    for project in row["projects"]:
        check_project_with_tags(project)


def check_project_with_company_details(row: dict[str, Any]) -> None:
    check_project_with_company_owner(row)
    check_company_with_projects(row["company"])


Check = Callable[[dict[str, Any]], None]
CASES = [
    # path, rows per company, queries of a list and of a retrieve, check of a row
    pytest.param("/forward", 1, 1, check_company_with_owner, id="forward-fk"),
    pytest.param("/reverse", 1, 2, check_company_with_projects, id="reverse-fk"),
    pytest.param("/m2m", 2, 3, check_project_with_tags, id="many-to-many"),
    pytest.param("/nested", 2, 1, check_project_with_company_owner, id="two-levels"),
    pytest.param("/everything", 1, 4, check_everything, id="all-together"),
]


@pytest.mark.parametrize(("path", "per_company", "queries", "check"), CASES)
@pytest.mark.parametrize("count", [1, 20, 100])
async def test_a_list_runs_the_same_queries_for_any_number_of_rows(
    path: str, per_company: int, queries: int, check: Check, count: int
) -> None:
    async with serve(create_app(router)) as client:
        await seed(count)
        with assert_num_queries(queries):
            response = await client.get(path)
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == count * per_company
    for row in rows:
        check(row)


@pytest.mark.parametrize(("path", "per_company", "queries", "check"), CASES)
async def test_a_retrieve_runs_the_same_queries_as_a_list(
    path: str, per_company: int, queries: int, check: Check
) -> None:
    async with serve(create_app(router)) as client:
        await seed(3)
        model = Company if path in ("/forward", "/reverse", "/everything") else Project
        last = await model.all().order_by("-id").first()
        assert last is not None
        with assert_num_queries(queries):
            response = await client.get(f"{path}/{last.id}")
        with assert_num_queries(1):
            missing = await client.get(f"{path}/4242")
    assert response.status_code == 200
    check(response.json())
    assert missing.status_code == 404


async def test_writes_answer_with_relations_in_a_fixed_number_of_queries() -> None:
    async with serve(create_app(router)) as client:
        counts = []
        for index in range(3):
            owner = await User.create(username=f"owner{index}")
            with capture_queries() as created:
                response = await client.post(
                    "/forward", json={"name": f"c{index}", "owner_id": owner.id}
                )
            assert response.json()["owner"] == {"id": owner.id, "username": f"owner{index}"}
            with capture_queries() as patched:
                response = await client.patch(
                    f"/forward/{response.json()['id']}", json={"name": f"d{index}"}
                )
            assert response.json()["owner"]["username"] == f"owner{index}"
            counts.append((len(created), len(patched)))
    assert counts[0] == counts[1] == counts[2]


async def test_a_forward_relation_with_forward_and_reverse_relations_below_it() -> None:
    async with serve(create_app(router)) as client:
        await seed(1)
        with capture_queries() as few:
            small = await client.get("/mixed")
        await seed_more(19)
        with capture_queries() as many:
            large = await client.get("/mixed")
        last = await Project.all().order_by("-id").first()
        assert last is not None
        with capture_queries() as one:
            detail = await client.get(f"/mixed/{last.id}")
    assert (small.status_code, large.status_code, detail.status_code) == (200, 200, 200)
    assert len(large.json()) == 40
    for row in [*large.json(), detail.json()]:
        check_project_with_company_details(row)
    assert len(few) == len(many) == len(one)


async def seed_more(count: int) -> None:
    """``count`` more companies shaped as :func:`seed` makes them."""
    start = await Company.all().count()
    for index in range(start, start + count):
        owner = await User.create(username=f"user{index}")
        company = await Company.create(name=f"company{index}", owner=owner)
        for number in range(2):
            await Project.create(name=f"p{index}.{number}", company=company)
