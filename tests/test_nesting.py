"""Nested viewsets: ``parent_lookup_kwargs`` and the path parameters of a router's prefix."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict

from docs.examples import viewsets_nested
from docs.examples.viewsets_nested import Company as ExampleCompany
from docs.examples.viewsets_nested import Project as ExampleProject
from fastapi_viewsets import ImproperlyConfigured, ModelViewSet, action, viewset
from tests.models import Company, Project
from tests.utils import create_app, query_parameters, serve

# --- the example of viewsets.md, on its own models ---------------------------------------------


def example_app() -> FastAPI:
    return create_app(viewsets_nested.router, modules=[viewsets_nested.__name__])


async def example_companies() -> tuple[ExampleCompany, ExampleCompany, ExampleCompany]:
    acme = await ExampleCompany.create(name="acme")
    globex = await ExampleCompany.create(name="globex")
    hidden = await ExampleCompany.create(name="hidden", is_public=False)
    return acme, globex, hidden


async def test_the_list_holds_the_parents_rows_only() -> None:
    async with serve(example_app()) as client:
        acme, globex, _ = await example_companies()
        await ExampleProject.create(name="rocket", company=acme)
        await ExampleProject.create(name="anvil", company=globex)
        listed = await client.get(f"/companies/{acme.id}/projects")
    assert listed.status_code == 200
    assert [row["name"] for row in listed.json()] == ["rocket"]


async def test_a_row_of_another_parent_is_a_404_on_every_detail_action() -> None:
    async with serve(example_app()) as client:
        acme, globex, _ = await example_companies()
        anvil = await ExampleProject.create(name="anvil", company=globex)
        url = f"/companies/{acme.id}/projects/{anvil.id}"
        assert (await client.get(url)).status_code == 404
        assert (await client.patch(url, json={"name": "x"})).status_code == 404
        assert (await client.delete(url)).status_code == 404
        ok = await client.get(f"/companies/{globex.id}/projects/{anvil.id}")
        assert ok.status_code == 200
        assert (await ExampleProject.get(id=anvil.id)).name == "anvil"


async def test_a_create_belongs_to_the_parent_of_its_path() -> None:
    async with serve(example_app()) as client:
        acme, _, _ = await example_companies()
        created = await client.post(f"/companies/{acme.id}/projects", json={"name": "rocket"})
        assert created.status_code == 201, created.text
        assert created.json()["company_id"] == acme.id
        assert (
            created.headers["location"] == f"/companies/{acme.id}/projects/{created.json()['id']}"
        )
        assert (await client.get(created.headers["location"])).status_code == 200


async def test_a_parent_the_caller_may_not_see_is_a_404_and_nothing_is_written() -> None:
    async with serve(example_app()) as client:
        _, _, hidden = await example_companies()
        await ExampleProject.create(name="secret", company=hidden)
        base = f"/companies/{hidden.id}/projects"
        assert (await client.get(base)).status_code == 404
        assert (await client.post(base, json={"name": "x"})).status_code == 404
        assert (await client.get("/companies/999999/projects")).status_code == 404
        assert await ExampleProject.filter(name="x").count() == 0


async def test_a_parent_key_that_does_not_parse_is_a_422() -> None:
    async with serve(example_app()) as client:
        answer = await client.get("/companies/abc/projects")
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["path", "company_pk"]


def test_openapi_declares_the_parent_parameter_on_every_operation() -> None:
    spec = example_app().openapi()
    for path, item in spec["paths"].items():
        for operation in item.values():
            parent = next(p for p in query_parameters(operation) if p["name"] == "company_pk")
            assert parent["in"] == "path", path
            assert parent["required"] is True
            assert parent["schema"]["type"] == "integer"


# --- parent_lookup_kwargs itself, on the test models -------------------------------------------


async def companies() -> tuple[Company, Company, Company]:
    acme = await Company.create(name="acme")
    globex = await Company.create(name="globex")
    hidden = await Company.create(name="hidden", is_public=False)
    return acme, globex, hidden


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    company_id: int


class ProjectWriteWithCompany(BaseModel):
    name: str
    company_id: int | None = None


class NestedBase(ModelViewSet[Project]):
    model = Project
    read_schema = ProjectRead
    create_schema = ProjectWriteWithCompany


async def test_the_body_cannot_move_a_create_to_another_parent() -> None:
    router = APIRouter(prefix="/companies/{company_pk}/projects")
    viewset(router)(
        type(
            "ProjectViewSet", (NestedBase,), {"parent_lookup_kwargs": {"company_pk": "company_id"}}
        )
    )
    async with serve(create_app(router)) as client:
        acme, globex, _ = await companies()
        created = await client.post(
            f"/companies/{acme.id}/projects", json={"name": "r", "company_id": globex.id}
        )
    assert created.status_code == 201
    assert created.json()["company_id"] == acme.id


async def test_a_parameter_not_in_parent_lookup_kwargs_is_a_string_in_self_kwargs() -> None:
    router = APIRouter(prefix="/tenants/{tenant}/projects")

    @action(detail=False)
    async def whose(self: Any) -> dict[str, Any]:
        return {"tenant": self.kwargs["tenant"]}

    viewset(router)(type("ProjectViewSet", (NestedBase,), {"whose": whose}))
    app = create_app(router)
    async with serve(app) as client:
        answer = await client.get("/tenants/blue/projects/whose")
    assert answer.json() == {"tenant": "blue"}
    operation = app.openapi()["paths"]["/tenants/{tenant}/projects"]["get"]
    tenant = next(p for p in query_parameters(operation) if p["name"] == "tenant")
    assert tenant["schema"]["type"] == "string"


@pytest.mark.parametrize(
    ("prefix", "kwargs", "fragment"),
    [
        ("/companies/{company_pk}/projects", {"company": "company"}, "which the path"),
        ("/companies/{company_pk}/projects", {"company_pk": "nothing"}, "does not have"),
        ("/companies/{company_pk}/projects", ["company_pk"], "must map path parameters"),
        ("/companies/{id}/projects", {"id": "company"}, "lookup_url_kwarg"),
    ],
    ids=["not-in-path", "unknown-field", "not-a-mapping", "clashes-with-lookup"],
)
def test_mistakes_in_parent_lookup_kwargs_are_refused_at_registration(
    prefix: str, kwargs: Any, fragment: str
) -> None:
    with pytest.raises(ImproperlyConfigured) as raised:
        viewset(APIRouter(prefix=prefix))(
            type("ProjectViewSet", (NestedBase,), {"parent_lookup_kwargs": kwargs})
        )
    assert "ProjectViewSet" in str(raised.value)
    assert fragment in str(raised.value)


async def test_an_update_cannot_move_a_row_to_another_parent() -> None:
    router = APIRouter(prefix="/companies/{company_pk}/projects")
    viewset(router)(
        type("ProjectViewSet", (NestedBase,), {"parent_lookup_kwargs": {"company_pk": "company"}})
    )
    async with serve(create_app(router)) as client:
        acme, _, hidden = await companies()
        rocket = await Project.create(name="rocket", company=acme)
        url = f"/companies/{acme.id}/projects/{rocket.id}"
        moved = await client.put(url, json={"name": "rocket", "company_id": hidden.id})
        assert moved.status_code == 200
        assert moved.json()["company_id"] == acme.id
        patched = await client.patch(url, json={"company_id": hidden.id})
        assert patched.json()["company_id"] == acme.id
        assert (await Project.get(id=rocket.id)).company_id == acme.id  # type: ignore[attr-defined]


async def test_the_location_of_a_create_under_a_path_that_is_not_ascii() -> None:
    router = APIRouter(prefix="/tenants/{tenant}/projects")
    viewset(router)(type("ProjectViewSet", (NestedBase,), {}))
    async with serve(create_app(router)) as client:
        acme, _, _ = await companies()
        created = await client.post(
            "/tenants/€uro/projects", json={"name": "r", "company_id": acme.id}
        )
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        assert location == f"/tenants/%E2%82%ACuro/projects/{created.json()['id']}"
        assert (await client.get(location)).status_code == 200
