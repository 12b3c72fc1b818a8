"""Schemas: generated and Tortoise-made read schemas, per-action schemas, PATCH schemas, OpenAPI."""

from __future__ import annotations

import datetime
import uuid
import warnings
from typing import Annotated, Any, Optional

import pytest
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel
from tortoise.contrib.pydantic import pydantic_model_creator

from fastapi_viewsets import (
    GenericViewSet,
    ImproperlyConfigured,
    ModelViewSet,
    ReadOnlyModelViewSet,
    action,
    viewset,
)
from fastapi_viewsets.schemas import LoadPlan, default_read_schema, partial_schema
from fastapi_viewsets.testing import assert_num_queries, capture_queries
from tests.models import Badge, Company, Project, Tag, User
from tests.utils import create_app, query_parameters, serve


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


class CompanySummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class CompanyDetail(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    description: str | None
    owner: OwnerRead | None


class CompanyCreate(BaseModel):
    name: str = Field(max_length=100, description="The company's name.", examples=["Acme"])
    description: str | None = None
    owner_id: int | None = None

    @field_validator("name")
    @classmethod
    def strip_name(cls, value: str) -> str:
        return value.strip()


class CompanyUpdate(BaseModel):
    description: str | None
    size: int = Field(ge=0)


class CompanyRead(BaseModel):
    """Named as the schema generated for Company."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


async def openapi(client: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def json_schema(operation: dict[str, Any], code: str) -> Any:
    return operation["responses"][code]["content"]["application/json"]["schema"]


def body_schema(operation: dict[str, Any]) -> Any:
    return operation["requestBody"]["content"]["application/json"]["schema"]


# --- the generated read schema ----------------------------------------------------------------

generated = APIRouter(prefix="/generated")


@viewset(generated)
class Generated(ModelViewSet[Company]):
    model = Company
    create_schema = CompanyCreate


async def test_a_missing_read_schema_is_generated_from_the_models_columns() -> None:
    async with serve(create_app(generated)) as client:
        created = await client.post("/generated", json={"name": "acme", "description": "d"})
        listing = await client.get("/generated")
        spec = await openapi(client)
    assert created.status_code == 201
    row = listing.json()[0]
    assert row == created.json()
    assert {k: row[k] for k in ("name", "slug", "is_public", "size", "description")} == {
        "name": "acme",
        "slug": None,
        "is_public": True,
        "size": 0,
        "description": "d",
    }
    assert {"id", "created_at", "updated_at"} <= set(row)
    assert not {"owner", "projects", "invoices"} & set(row)
    schema_name = json_schema(spec["paths"]["/generated"]["post"], "201")["$ref"].rsplit("/")[-1]
    assert schema_name == "CompanyRead"
    assert Generated.get_schema_class("list") is default_read_schema(Company)
    assert default_read_schema(Company) is default_read_schema(Company)


async def test_the_generated_read_schema_has_foreign_keys_as_ids() -> None:
    async with serve(create_app(generated)) as client:
        bob = await User.create(username="bob")
        created = await client.post("/generated", json={"name": "acme", "owner_id": bob.id})
    assert created.json()["owner_id"] == bob.id


# --- a schema made by Tortoise's pydantic_model_creator ---------------------------------------


async def test_a_pydantic_model_creator_schema_works_as_read_schema() -> None:
    local = APIRouter(prefix="/made")
    async with serve(create_app(local)) as client:
        # Made after Tortoise is initialised, so it has the relations, reverse ones included.
        made = pydantic_model_creator(Company, name="CompanyMade")
        assert {"owner", "projects", "invoices"} <= set(made.model_fields)

        @viewset(local)
        class Made(ReadOnlyModelViewSet[Company]):
            model = Company
            read_schema = made

        bob = await User.create(username="bob")
        red = await Tag.create(name="red")
        counts = []
        for index in range(3):
            company = await Company.create(name=f"c{index}", owner=bob)
            project = await Project.create(name=f"p{index}", company=company)
            await project.tags.add(red)
            with capture_queries() as queries:
                listing = await client.get("/made")
            counts.append(len(queries))
            assert len(listing.json()) == index + 1
        detail = await client.get(f"/made/{company.id}")
    # companies with their owner, invoices, projects, the projects' tags (through table, tags).
    assert counts == [5, 5, 5]
    assert listing.status_code == 200
    assert detail.json()["owner"]["username"] == "bob"
    assert [p["name"] for p in detail.json()["projects"]] == ["p2"]
    assert detail.json()["projects"][0]["tags"][0]["name"] == "red"
    assert detail.json()["invoices"] == []


module_made = pydantic_model_creator(Tag, name="TagMadeAtImport")
made_router = APIRouter(prefix="/made-tags")


@viewset(made_router)
class MadeTags(ReadOnlyModelViewSet[Tag]):
    model = Tag
    read_schema = module_made


async def test_a_pydantic_model_creator_schema_made_at_import() -> None:
    async with serve(create_app(made_router)) as client:
        tag = await Tag.create(name="red")
        response = await client.get(f"/made-tags/{tag.id}")
    assert response.json() == {"id": str(tag.id), "name": "red"}


# --- a schema per action ----------------------------------------------------------------------

per_action = APIRouter(prefix="/companies")


@viewset(per_action)
class PerAction(ModelViewSet[Company]):
    model = Company
    create_schema = CompanyCreate
    update_schema = CompanyUpdate

    @classmethod
    def get_schema_class(cls, action: str, *, write: bool = False) -> type[BaseModel] | None:
        if not write and action in ("list", "headline"):
            return CompanySummary
        if not write:
            return CompanyDetail
        return super().get_schema_class(action, write=write)

    @action(detail=True)
    async def headline(self) -> Any:
        return self.make_response(await self.get_object())


async def test_get_schema_class_picks_a_schema_per_action() -> None:
    async with serve(create_app(per_action)) as client:
        bob = await User.create(username="bob")
        created = await client.post("/companies", json={"name": "  acme ", "owner_id": bob.id})
        company_id = created.json()["id"]
        listing = await client.get("/companies")
        detail = await client.get(f"/companies/{company_id}")
        headline = await client.get(f"/companies/{company_id}/headline")
        put = await client.put(f"/companies/{company_id}", json={"description": "d", "size": 2})
        bad_put = await client.put(f"/companies/{company_id}", json={"size": 2})
        patch = await client.patch(f"/companies/{company_id}", json={"size": 3})
        assert (await Company.get(id=company_id)).size == 3
    owner = {"id": bob.id, "username": "bob"}
    assert created.status_code == 201
    assert created.json() == {"id": company_id, "name": "acme", "description": None, "owner": owner}
    assert listing.json() == [{"id": company_id, "name": "acme"}]
    assert detail.json() == created.json()
    assert headline.json() == {"id": company_id, "name": "acme"}
    assert put.json() == {"id": company_id, "name": "acme", "description": "d", "owner": owner}
    assert bad_put.status_code == 422  # description is required by CompanyUpdate
    assert patch.status_code == 200


async def test_openapi_shows_the_schema_each_action_uses() -> None:
    async with serve(create_app(per_action)) as client:
        spec = await openapi(client)
    paths = spec["paths"]
    assert json_schema(paths["/companies"]["get"], "200")["items"] == ref("CompanySummary")
    assert json_schema(paths["/companies"]["post"], "201") == ref("CompanyDetail")
    assert body_schema(paths["/companies"]["post"]) == ref("CompanyCreate")
    detail = paths["/companies/{id}"]
    assert json_schema(detail["get"], "200") == ref("CompanyDetail")
    assert json_schema(detail["put"], "200") == ref("CompanyDetail")
    assert body_schema(detail["put"]) == ref("CompanyUpdate")
    assert body_schema(detail["patch"]) == ref("PatchedCompanyUpdate")
    assert "requestBody" not in detail["get"]
    assert "requestBody" not in detail["delete"]
    assert "CompanyRead" not in spec["components"]["schemas"]


# --- PATCH schemas ----------------------------------------------------------------------------

patching = APIRouter(prefix="/patching")


@viewset(patching)
class Patching(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyDetail
    create_schema = CompanyCreate


async def test_the_patch_schema_is_named_patched_and_has_every_field_optional() -> None:
    async with serve(create_app(patching)) as client:
        spec = await openapi(client)
    components = spec["components"]["schemas"]
    assert body_schema(spec["paths"]["/patching/{id}"]["patch"]) == ref("PatchedCompanyCreate")
    assert body_schema(spec["paths"]["/patching/{id}"]["put"]) == ref("CompanyCreate")
    original = components["CompanyCreate"]
    patched = components["PatchedCompanyCreate"]
    assert original["required"] == ["name"]
    assert "required" not in patched
    assert set(patched["properties"]) == set(original["properties"])
    name = patched["properties"]["name"]
    assert (name["maxLength"], name["description"], name["examples"]) == (
        100,
        "The company's name.",
        ["Acme"],
    )


async def test_the_patch_schema_keeps_validators_and_constraints() -> None:
    async with serve(create_app(patching)) as client:
        company = await Company.create(name="acme", description="d")
        stripped = await client.patch(f"/patching/{company.id}", json={"name": "  new  "})
        too_long = await client.patch(f"/patching/{company.id}", json={"name": "x" * 101})
        await company.refresh_from_db()
    assert stripped.json()["name"] == "new"
    assert too_long.status_code == 422
    assert (company.name, company.description) == ("new", "d")


def test_partial_schema_is_made_once_and_subclasses_the_original() -> None:
    patched = partial_schema(CompanyUpdate)
    assert patched is partial_schema(CompanyUpdate)
    assert patched.__name__ == "PatchedCompanyUpdate"
    assert issubclass(patched, CompanyUpdate)
    assert patched().model_dump(exclude_unset=True) == {}
    assert patched(size=1).model_dump(exclude_unset=True) == {"size": 1}
    assert patched(description=None).model_dump(exclude_unset=True) == {"description": None}
    with pytest.raises(ValueError, match="greater than or equal"):
        patched(size=-1)
    with pytest.raises(ValueError, match="valid integer"):
        patched(size=None)


class CamelCompany(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    name: str
    owner_id: int | None = None


async def test_a_write_schema_with_camel_case_aliases() -> None:
    local = APIRouter(prefix="/camel")

    @viewset(local)
    class Camel(ModelViewSet[Company]):
        model = Company
        read_schema = CompanySummary
        create_schema = CamelCompany

    async with serve(create_app(local)) as client:
        bob = await User.create(username="bob")
        response = await client.post("/camel", json={"name": "acme", "ownerId": bob.id})
        assert response.status_code == 201
        assert (await Company.get(name="acme")).owner_id == bob.id  # type: ignore[attr-defined]


# --- relations in read schemas ----------------------------------------------------------------


class CompanyWithAliases(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str = Field(validation_alias="name")
    boss: Optional[OwnerRead] = Field(validation_alias="owner")  # noqa: UP045
    work: Annotated[list[ProjectRead], Field(validation_alias="projects")]


class ProjectWithTags(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tags: tuple[Annotated[TagRead, Field(description="A tag")], ...]
    company: CompanySummary


aliased = APIRouter(prefix="/aliased")


@viewset(aliased)
class Aliased(ReadOnlyModelViewSet[Company]):
    model = Company
    read_schema = CompanyWithAliases


tagged = APIRouter(prefix="/tagged")


@viewset(tagged)
class Tagged(ReadOnlyModelViewSet[Project]):
    model = Project
    read_schema = ProjectWithTags


async def test_relations_behind_aliases_optional_sequences_and_annotated_are_loaded() -> None:
    async with serve(create_app(aliased, tagged)) as client:
        bob = await User.create(username="bob")
        company = await Company.create(name="acme", owner=bob)
        project = await Project.create(name="p", company=company)
        red = await Tag.create(name="red")
        await project.tags.add(red)
        with assert_num_queries(2):
            companies = await client.get("/aliased")
        with assert_num_queries(3):
            projects = await client.get("/tagged")
    assert companies.json() == [
        {
            "id": company.id,
            "title": "acme",
            "boss": {"id": bob.id, "username": "bob"},
            "work": [{"id": project.id, "name": "p"}],
        }
    ]
    assert projects.json() == [
        {
            "id": project.id,
            "tags": [{"id": str(red.id), "name": "red"}],
            "company": {"id": company.id, "name": "acme"},
        }
    ]


class CompanyOwnerAsInt(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    owner: int | None


class CompanyWithExtra(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    not_a_column: str


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        (CompanyOwnerAsInt, ["OwnerAsInt", "'owner'", "owner_id"]),
        (CompanyWithExtra, ["OwnerAsInt", "'not_a_column'", "CompanyWithExtra"]),
    ],
)
def test_a_read_schema_is_checked_at_registration(
    schema: type[BaseModel], words: list[str]
) -> None:
    # Registered before Tortoise knows the relations (as at import time), and still checked.
    class OwnerAsInt(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = schema

    with pytest.raises(ImproperlyConfigured) as raised:
        viewset(APIRouter(prefix="/deferred"))(OwnerAsInt)
    for word in words:
        assert word in str(raised.value)


class CompanyTitleByAlias(BaseModel):
    id: int
    name: str = Field(alias="title")


def test_an_aliased_field_the_model_lacks_is_named_by_its_alias() -> None:
    class TitleByAlias(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyTitleByAlias

    with pytest.raises(ImproperlyConfigured) as raised:
        viewset(APIRouter(prefix="/by-alias"))(TitleByAlias)
    assert "'name' (read as its alias 'title')" in str(raised.value)
    assert "use serialization_alias" in str(raised.value)


class CompanyProjectIds(BaseModel):
    id: int
    projects: list[int]


async def test_a_reverse_relation_typed_as_keys_is_refused_at_the_first_request() -> None:
    # Reverse relations are known only once Tortoise has every model, so the check waits for
    # the first request; its message offers no '<name>_id' field, which would not exist.
    router = APIRouter(prefix="/project-ids")

    @viewset(router)
    class ProjectIds(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyProjectIds

    with pytest.raises(ImproperlyConfigured) as raised:
        async with serve(create_app(router)) as client:
            await client.get("/project-ids")
    message = str(raised.value)
    assert "'projects'" in message
    assert "no key column" in message
    assert "projects_id" not in message


# --- lookups ----------------------------------------------------------------------------------

by_slug = APIRouter(prefix="/by-slug")


@viewset(by_slug)
class BySlug(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyDetail
    create_schema = CompanyCreate
    lookup_field = "slug"


async def test_a_string_lookup_field() -> None:
    app = create_app(by_slug)
    assert app.url_path_for("company-detail", slug="acme") == "/by-slug/acme"
    async with serve(app) as client:
        company = await Company.create(name="acme", slug="acme-inc")
        await Company.create(name="other", slug="other")
        found = await client.get("/by-slug/acme-inc")
        by_id = await client.get(f"/by-slug/{company.id}")
        patched = await client.patch("/by-slug/acme-inc", json={"description": "d"})
        deleted = await client.delete("/by-slug/acme-inc")
        gone = await client.get("/by-slug/acme-inc")
        assert await Company.all().values_list("slug", flat=True) == ["other"]
    assert found.json()["id"] == company.id
    assert by_id.status_code == 404
    assert patched.json()["description"] == "d"
    assert (deleted.status_code, gone.status_code) == (204, 404)


async def test_a_uuid_lookup_field() -> None:
    local = APIRouter(prefix="/tags")

    @viewset(local)
    class Tags(ReadOnlyModelViewSet[Tag]):
        model = Tag
        read_schema = TagRead

    async with serve(create_app(local)) as client:
        tag = await Tag.create(name="red")
        found = await client.get(f"/tags/{tag.id}")
        upper = await client.get(f"/tags/{str(tag.id).upper()}")
        missing = await client.get(f"/tags/{uuid.uuid4()}")
    assert found.json() == {"id": str(tag.id), "name": "red"}
    assert upper.json() == found.json()
    assert missing.status_code == 404


async def test_a_users_schema_and_a_generated_one_with_the_same_name_coexist() -> None:
    local = APIRouter(prefix="/mine")

    @viewset(local, basename="mine")
    class Mine(GenericViewSet[Company]):
        model = Company
        read_schema = CompanyRead

        @action(detail=False, response_model=CompanyRead)
        async def first(self) -> Any:
            return CompanyRead(id=1, name="x")

    async with serve(create_app(local, generated)) as client:
        spec = await openapi(client)
        assert (await client.get("/mine/first")).json() == {"id": 1, "name": "x"}
    first = json_schema(spec["paths"]["/mine/first"]["get"], "200")["$ref"]
    listed = json_schema(spec["paths"]["/generated"]["get"], "200")["items"]["$ref"]
    assert first != listed


class BadgeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    issued: datetime.date | None


by_date = APIRouter(prefix="/badges")


@viewset(by_date)
class BadgesByDate(ReadOnlyModelViewSet[Badge]):
    model = Badge
    read_schema = BadgeRead
    lookup_field = "issued"


async def test_a_lookup_field_of_another_type_parses_as_that_type() -> None:
    async with serve(create_app(by_date)) as client:
        await Badge.create(code="gold", issued=datetime.date(2024, 2, 29))
        found = await client.get("/badges/2024-02-29")
        missing = await client.get("/badges/2024-03-01")
        invalid = await client.get("/badges/2023-02-29")
        spec = await openapi(client)
    assert found.json() == {"code": "gold", "issued": "2024-02-29"}
    assert missing.status_code == 404
    assert invalid.status_code == 422
    (parameter,) = query_parameters(spec["paths"]["/badges/{issued}"]["get"])
    assert parameter["schema"]["format"] == "date"


class UserNode(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    companies: list[CompanyNode]


class CompanyNode(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    owner: UserNode | None


UserNode.model_rebuild()


async def test_a_recursive_read_schema_gives_a_finite_load_plan() -> None:
    async with serve(create_app()):  # reverse relations are known once Tortoise is initialised
        plan = LoadPlan.for_schema(UserNode, User, "Recursive")
    assert plan.select_related == ()
    assert plan.prefetch_related == ("companies__owner",)
    assert plan.relations == frozenset({"companies"})


async def test_a_string_lookup_is_url_decoded() -> None:
    async with serve(create_app(by_slug)) as client:
        company = await Company.create(name="acme", slug="acme inc ü")
        response = await client.get("/by-slug/acme%20inc%20%C3%BC")
        plain = await client.get("/by-slug/acme inc")
    assert plain.status_code == 404
    assert response.status_code == 200, response.text
    assert response.json()["id"] == company.id


# --- integer fields bounded like their columns ---------------------------------------------


class SizedRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    size: int


class SizedWrite(BaseModel):
    name: str
    size: int = 0


class SmallWrite(BaseModel):
    name: str
    size: int = Field(0, ge=0, le=500)  # its own bounds, kept


def sized_router(write: type[BaseModel]) -> APIRouter:
    router = APIRouter(prefix="/companies")

    @viewset(router)
    class SizedViewSet(ModelViewSet[Company]):
        model = Company
        read_schema = SizedRead
        create_schema = write

        @action(methods=["POST"], detail=False)
        async def echo(self, data: SizedWrite) -> SizedWrite:  # the user's class, unbounded
            return data

    return router


async def test_integer_fields_show_and_hold_their_columns_bounds() -> None:
    app = create_app(sized_router(SizedWrite))
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    # The class in the action and its bounded copy share a name: FastAPI names both by module.
    bodies = [s for n, s in schemas.items() if "SizedWrite" in n and "Patched" not in n]
    bounded = [s for s in bodies if "maximum" in s["properties"]["size"]]
    assert len(bounded) == 1
    assert (
        bounded[0]["properties"]["size"]["minimum"],
        bounded[0]["properties"]["size"]["maximum"],
    ) == (
        -(2**31),
        2**31 - 1,
    )
    patched = next(s for n, s in schemas.items() if n.startswith("Patched"))
    size = patched["properties"]["size"]
    assert "maximum" in str(size)
    async with serve(app) as client:
        big = await client.post("/companies", json={"name": "a", "size": 2**31})
        assert big.status_code == 422
        assert big.json()["detail"][0]["loc"] == ["body", "size"]
        assert (
            await client.post("/companies", json={"name": "a", "size": 2**31 - 1})
        ).status_code == 201
        # The user's own class, in an action, is left as it is.
        assert (
            await client.post("/companies/echo", json={"name": "b", "size": 2**40})
        ).status_code == 200


def test_a_field_with_bounds_of_its_own_keeps_them() -> None:
    spec = create_app(sized_router(SmallWrite)).openapi()
    size = spec["components"]["schemas"]["SmallWrite"]["properties"]["size"]
    assert (size["minimum"], size["maximum"]) == (0, 500)
