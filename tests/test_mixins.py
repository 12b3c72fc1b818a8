"""The standard actions over HTTP: list, create, retrieve, update, partial_update, destroy."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from fastapi_viewsets import (
    CreateModelMixin,
    DestroyModelMixin,
    GenericViewSet,
    ModelViewSet,
    ReadOnlyModelViewSet,
    UpdateModelMixin,
    action,
    viewset,
)
from fastapi_viewsets.testing import capture_queries
from tests.models import Company, User
from tests.utils import create_app, serve


class OwnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    slug: str | None
    size: int
    description: str | None
    is_public: bool
    owner_id: int | None
    owner: OwnerRead | None


class CompanyWrite(BaseModel):
    name: str = Field(max_length=100)
    slug: str | None = None
    size: int = 0
    description: str | None = None
    is_public: bool = True
    owner_id: int | None = None


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite


async def make_company(**values: Any) -> Company:
    values.setdefault("name", "acme")
    return await Company.create(**values)


def body_of(company: Company, owner: User | None = None) -> dict[str, Any]:
    return {
        "id": company.id,
        "name": company.name,
        "slug": company.slug,
        "size": company.size,
        "description": company.description,
        "is_public": company.is_public,
        "owner_id": owner.id if owner else None,
        "owner": {"id": owner.id, "username": owner.username} if owner else None,
    }


# --- list -------------------------------------------------------------------------------------


async def test_list_empty() -> None:
    async with serve(create_app(router)) as client:
        response = await client.get("/companies")
    assert response.status_code == 200
    assert response.json() == []


async def test_list_returns_every_row_in_the_read_schema() -> None:
    async with serve(create_app(router)) as client:
        bob = await User.create(username="bob")
        first = await make_company(name="a", owner=bob, size=3)
        second = await make_company(name="b", description="second")
        response = await client.get("/companies")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert sorted(response.json(), key=lambda row: row["id"]) == [
        body_of(first, bob),
        body_of(second),
    ]


# --- create -----------------------------------------------------------------------------------


async def test_create_answers_201_with_the_read_schema() -> None:
    async with serve(create_app(router)) as client:
        bob = await User.create(username="bob")
        response = await client.post(
            "/companies", json={"name": "acme", "owner_id": bob.id, "size": 7}
        )
        assert response.status_code == 201
        created = await Company.get(name="acme")
    assert response.json() == {
        "id": created.id,
        "name": "acme",
        "slug": None,
        "size": 7,
        "description": None,
        "is_public": True,
        "owner_id": bob.id,
        "owner": {"id": bob.id, "username": "bob"},
    }
    assert created.size == 7
    assert created.owner_id == bob.id  # type: ignore[attr-defined]


class NameOnly(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str


async def perform_create_plainly(self: Any, obj: Company) -> Company:
    return await CompanyViewSet.perform_create(self, obj)


@pytest.mark.parametrize(
    "namespace",
    [
        pytest.param({}, id="fast path: one INSERT ... RETURNING"),
        pytest.param({"perform_create": perform_create_plainly}, id="plain path: perform_create"),
        pytest.param({"read_schema": NameOnly}, id="a read schema without the lookup field"),
        pytest.param({"lookup_field": "slug"}, id="lookup_field slug"),
    ],
)
async def test_create_answers_a_location_that_retrieve_answers(namespace: dict[str, Any]) -> None:
    companies = APIRouter(prefix="/v1/companies")
    viewset(companies, basename="company")(
        type("LocatedViewSet", (CompanyViewSet,), {"read_schema": CompanyRead, **namespace})
    )
    app = create_app()
    app.include_router(companies, prefix="/api")
    async with serve(app) as client:
        created = await client.post("/api/v1/companies", json={"name": "acme", "slug": "a c-é"})
        assert created.status_code == 201
        company = await Company.get(name="acme")
        lookup = {"slug": "a%20c-%C3%A9"}.get(namespace.get("lookup_field", "id"), company.id)
        assert created.headers["Location"] == f"/api/v1/companies/{lookup}"
        found = await client.get(created.headers["Location"])
        assert found.status_code == 200
        assert found.content == created.content


async def test_create_has_no_location_without_retrieve() -> None:
    companies = APIRouter(prefix="/companies")

    @viewset(companies)
    class CreateOnly(CreateModelMixin[Company], GenericViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite

    app = create_app(companies)
    async with serve(app) as client:
        created = await client.post("/companies", json={"name": "acme"})
        assert created.status_code == 201
        assert "location" not in created.headers
    assert "Location" not in app.openapi()["paths"]["/companies"]["post"]["responses"]["201"].get(
        "headers", {}
    )


def test_openapi_documents_the_location_of_a_create() -> None:
    operation = create_app(router).openapi()["paths"]["/companies"]["post"]
    assert operation["responses"]["201"]["headers"]["Location"]["schema"] == {
        "type": "string",
        "format": "uri-reference",
    }


async def test_create_ignores_read_only_fields_it_does_not_declare() -> None:
    async with serve(create_app(router)) as client:
        response = await client.post("/companies", json={"name": "acme", "id": 999})
        assert response.status_code == 201
        assert response.json()["id"] != 999
        assert await Company.filter(id=999).count() == 0


async def test_create_without_a_required_field_is_422_and_writes_nothing() -> None:
    async with serve(create_app(router)) as client:
        response = await client.post("/companies", json={"size": 3})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "name"]
        assert response.json()["detail"][0]["type"] == "missing"
        assert await Company.all().count() == 0


# --- retrieve ---------------------------------------------------------------------------------


async def test_retrieve_200() -> None:
    async with serve(create_app(router)) as client:
        bob = await User.create(username="bob")
        company = await make_company(owner=bob, slug="acme-inc")
        response = await client.get(f"/companies/{company.id}")
    assert response.status_code == 200
    assert response.json() == body_of(company, bob)


async def test_retrieve_missing_is_404() -> None:
    async with serve(create_app(router)) as client:
        response = await client.get("/companies/4242")
    assert response.status_code == 404
    assert response.json() == {"detail": "No company matches the given query."}


# --- update (PUT) -----------------------------------------------------------------------------


async def test_put_replaces_every_field() -> None:
    async with serve(create_app(router)) as client:
        bob = await User.create(username="bob")
        company = await make_company(
            slug="old", size=5, description="old", is_public=True, owner=bob
        )
        response = await client.put(f"/companies/{company.id}", json={"name": "renamed"})
        assert response.status_code == 200
        await company.refresh_from_db()
    # Fields left out take the write schema's defaults: a full replacement.
    assert response.json() == {
        "id": company.id,
        "name": "renamed",
        "slug": None,
        "size": 0,
        "description": None,
        "is_public": True,
        "owner_id": None,
        "owner": None,
    }
    assert (company.name, company.slug, company.size, company.description) == (
        "renamed",
        None,
        0,
        None,
    )
    assert company.owner_id is None  # type: ignore[attr-defined]


async def test_put_sets_a_relation_and_answers_with_it_loaded() -> None:
    async with serve(create_app(router)) as client:
        bob = await User.create(username="bob")
        company = await make_company()
        response = await client.put(
            f"/companies/{company.id}", json={"name": "acme", "owner_id": bob.id}
        )
    assert response.status_code == 200
    assert response.json()["owner"] == {"id": bob.id, "username": "bob"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty"),
        pytest.param({"description": "only this"}, id="required-missing"),
        pytest.param({"name": None}, id="required-null"),
    ],
)
async def test_put_requires_the_write_schemas_required_fields(body: dict[str, Any]) -> None:
    async with serve(create_app(router)) as client:
        company = await make_company(description="kept")
        response = await client.put(f"/companies/{company.id}", json=body)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "name"]
        await company.refresh_from_db()
    assert (company.name, company.description) == ("acme", "kept")


async def test_put_missing_is_404() -> None:
    async with serve(create_app(router)) as client:
        response = await client.put("/companies/4242", json={"name": "x"})
        assert response.status_code == 404
        assert await Company.all().count() == 0


# --- partial_update (PATCH) -------------------------------------------------------------------


async def test_patch_changes_only_the_fields_sent() -> None:
    async with serve(create_app(router)) as client:
        bob = await User.create(username="bob")
        company = await make_company(slug="s", size=5, description="d", owner=bob)
        response = await client.patch(f"/companies/{company.id}", json={"size": 6})
        assert response.status_code == 200
        await company.refresh_from_db()
    assert response.json() == {**body_of(company, bob), "size": 6}
    assert (company.name, company.slug, company.size, company.description) == (
        "acme",
        "s",
        6,
        "d",
    )
    assert company.owner_id == bob.id  # type: ignore[attr-defined]


async def test_patch_with_an_empty_body_changes_nothing() -> None:
    async with serve(create_app(router)) as client:
        company = await make_company(description="d", size=2)
        response = await client.patch(f"/companies/{company.id}", json={})
        await company.refresh_from_db()
    assert response.status_code == 200
    assert response.json() == body_of(company)
    assert (company.description, company.size) == ("d", 2)


@pytest.mark.parametrize("field", ["description", "slug", "owner_id"])
async def test_patch_honours_an_explicit_null_on_a_nullable_field(field: str) -> None:
    async with serve(create_app(router)) as client:
        bob = await User.create(username="bob")
        company = await make_company(description="d", slug="s", owner=bob)
        response = await client.patch(f"/companies/{company.id}", json={field: None})
        assert response.status_code == 200
        assert response.json()[field] is None
        values = await Company.filter(id=company.id).values(field, "name", "size")
    assert values == [{field: None, "name": "acme", "size": 0}]


@pytest.mark.parametrize("field", ["name", "size", "is_public"])
async def test_patch_null_on_a_non_nullable_field_is_422(field: str) -> None:
    async with serve(create_app(router)) as client:
        company = await make_company(size=4)
        response = await client.patch(f"/companies/{company.id}", json={field: None})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", field]
        await company.refresh_from_db()
    assert (company.name, company.size, company.is_public) == ("acme", 4, True)


async def test_patch_keeps_the_write_schemas_constraints() -> None:
    async with serve(create_app(router)) as client:
        company = await make_company()
        response = await client.patch(f"/companies/{company.id}", json={"name": "x" * 101})
        assert response.status_code == 422
        assert response.json()["detail"][0]["type"] == "string_too_long"
        response = await client.patch(f"/companies/{company.id}", json={"size": "many"})
        assert response.status_code == 422
        await company.refresh_from_db()
    assert (company.name, company.size) == ("acme", 0)


async def test_patch_missing_is_404() -> None:
    async with serve(create_app(router)) as client:
        response = await client.patch("/companies/4242", json={"size": 1})
    assert response.status_code == 404


# --- destroy ----------------------------------------------------------------------------------


async def test_delete_answers_204_with_an_empty_body_then_404() -> None:
    async with serve(create_app(router)) as client:
        company = await make_company()
        other = await make_company(name="other")
        response = await client.delete(f"/companies/{company.id}")
        assert response.status_code == 204
        assert response.content == b""
        assert "content-type" not in response.headers
        assert (await client.get(f"/companies/{company.id}")).status_code == 404
        assert (await client.delete(f"/companies/{company.id}")).status_code == 404
        assert (await client.patch(f"/companies/{company.id}", json={})).status_code == 404
        assert await Company.all().values_list("id", flat=True) == [other.id]


# --- composing mixins -------------------------------------------------------------------------

read_only_router = APIRouter(prefix="/read-only")


@viewset(read_only_router)
class ReadOnlyCompanies(ReadOnlyModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/read-only"),
        ("PUT", "/read-only/1"),
        ("PATCH", "/read-only/1"),
        ("DELETE", "/read-only/1"),
    ],
)
async def test_read_only_viewset_refuses_writes_with_405(method: str, path: str) -> None:
    async with serve(create_app(read_only_router)) as client:
        await make_company(id=1)
        response = await client.request(method, path, json={"name": "x"})
        assert response.status_code == 405
        assert await Company.all().values_list("name", flat=True) == ["acme"]


async def test_read_only_viewset_lists_and_retrieves() -> None:
    async with serve(create_app(read_only_router)) as client:
        company = await make_company()
        listing = await client.get("/read-only")
        detail = await client.get(f"/read-only/{company.id}")
    assert listing.json() == [body_of(company)]
    assert detail.json() == body_of(company)


class CompanyCreateOnly(BaseModel):
    name: str


class CompanyRenameOnly(BaseModel):
    name: str
    description: str | None = None


composed_router = APIRouter(prefix="/composed")


@viewset(composed_router)
class ComposedCompanies(
    CreateModelMixin[Company],
    UpdateModelMixin[Company],
    DestroyModelMixin[Company],
    GenericViewSet[Company],
):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreateOnly
    update_schema = CompanyRenameOnly


async def test_only_the_composed_mixins_have_routes() -> None:
    routes = {
        (method, route.path)
        for route in composed_router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert routes == {
        ("POST", "/composed"),
        ("PUT", "/composed/{id}"),
        ("PATCH", "/composed/{id}"),
        ("DELETE", "/composed/{id}"),
    }
    async with serve(create_app(composed_router)) as client:
        company = await make_company()
        assert (await client.get("/composed")).status_code == 405
        assert (await client.get(f"/composed/{company.id}")).status_code == 405


async def test_update_schema_is_used_by_put_and_patch_and_create_schema_by_post() -> None:
    async with serve(create_app(composed_router)) as client:
        # CompanyCreateOnly ignores the description.
        created = await client.post("/composed", json={"name": "a", "description": "ignored"})
        assert created.status_code == 201
        assert created.json()["description"] is None
        company_id = created.json()["id"]
        # CompanyRenameOnly has the description; it ignores the size.
        put = await client.put(
            f"/composed/{company_id}", json={"name": "b", "description": "d", "size": 9}
        )
        assert put.status_code == 200
        assert (put.json()["name"], put.json()["description"], put.json()["size"]) == (
            "b",
            "d",
            0,
        )
        patch = await client.patch(f"/composed/{company_id}", json={"description": "e"})
        assert (patch.json()["name"], patch.json()["description"]) == ("b", "e")


# --- hooks ------------------------------------------------------------------------------------

hooks_router = APIRouter(prefix="/hooked")


@viewset(hooks_router)
class HookedCompanies(ModelViewSet[Company]):
    """Hooks that change the object and return None, as a DRF user writes them."""

    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    def get_queryset(self) -> Any:
        return Company.filter(is_public=True)

    def filter_queryset(self, queryset: Any) -> Any:
        return queryset.exclude(name__startswith="unlisted")

    async def perform_create(self, obj: Company) -> None:  # type: ignore[override]
        obj.description = "made by perform_create"
        await obj.save()

    async def perform_update(self, obj: Company) -> None:  # type: ignore[override]
        obj.size = obj.size + 100
        await obj.save()


async def test_hooks_that_return_none_still_answer_with_the_object() -> None:
    async with serve(create_app(hooks_router)) as client:
        created = await client.post("/hooked", json={"name": "acme"})
        assert created.status_code == 201
        assert created.json()["description"] == "made by perform_create"
        updated = await client.patch(f"/hooked/{created.json()['id']}", json={"size": 1})
        assert updated.status_code == 200
        assert updated.json()["size"] == 101
        assert (await Company.get(id=created.json()["id"])).size == 101


async def test_get_queryset_limits_every_action() -> None:
    async with serve(create_app(hooks_router)) as client:
        hidden = await make_company(name="hidden", is_public=False)
        visible = await make_company(name="visible")
        assert [row["id"] for row in (await client.get("/hooked")).json()] == [visible.id]
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            response = await client.request(method, f"/hooked/{hidden.id}", json={"name": "x"})
            assert response.status_code == 404, method
        await hidden.refresh_from_db()
        assert (hidden.name, hidden.size) == ("hidden", 0)


async def test_filter_queryset_narrows_the_list_only() -> None:
    async with serve(create_app(hooks_router)) as client:
        unlisted = await make_company(name="unlisted-co")
        listed = await make_company(name="listed-co")
        listing = await client.get("/hooked")
        detail = await client.get(f"/hooked/{unlisted.id}")
    assert [row["id"] for row in listing.json()] == [listed.id]
    assert detail.status_code == 200
    assert detail.json()["name"] == "unlisted-co"


# --- updates save the columns that changed ----------------------------------------------------

slow_router = APIRouter(prefix="/slow")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    is_admin: bool


class UserWrite(BaseModel):
    username: str
    is_admin: bool = False


@viewset(slow_router, prefix="/companies")
class SlowCompanies(ModelViewSet[Company]):
    """Waits between reading the row and saving it, so two updates overlap."""

    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    async def perform_update(self, obj: Company) -> Company:
        await asyncio.sleep(0.05)
        return await super().perform_update(obj)

    @action(methods=["POST"], detail=True)
    async def grow(self) -> CompanyRead:
        company = await self.get_object()
        company.size += 10
        await self.perform_update(company)  # not after remember(): every column is saved
        return CompanyRead.model_validate(company)


@viewset(slow_router, prefix="/users")
class Users(ModelViewSet[User]):
    model = User
    read_schema = UserRead
    create_schema = UserWrite


async def test_two_overlapping_patches_of_different_fields_both_stick() -> None:
    async with serve(create_app(slow_router)) as client:
        company = await make_company(size=1, description="old")
        first, second = await asyncio.gather(
            client.patch(f"/slow/companies/{company.id}", json={"size": 2}),
            client.patch(f"/slow/companies/{company.id}", json={"description": "new"}),
        )
        await company.refresh_from_db()
    assert (first.status_code, second.status_code) == (200, 200)
    assert (company.size, company.description) == (2, "new")


async def test_a_patch_that_changes_nothing_writes_nothing() -> None:
    async with serve(create_app(slow_router)) as client:
        bob = await User.create(username="bob")
        with capture_queries() as queries:
            same = await client.patch(f"/slow/users/{bob.id}", json={"username": "bob"})
        assert same.json() == {"id": bob.id, "username": "bob", "is_admin": False}
        assert not [q for q in queries if q.lstrip().upper().startswith("UPDATE")]
        with capture_queries() as queries:
            changed = await client.patch(f"/slow/users/{bob.id}", json={"is_admin": True})
        (update,) = [q for q in queries if q.lstrip().upper().startswith("UPDATE")]
    assert changed.json()["is_admin"] is True
    assert "is_admin" in update
    assert "username" not in update


async def test_perform_update_outside_an_update_saves_the_object() -> None:
    async with serve(create_app(slow_router)) as client:
        company = await make_company(size=1)
        response = await client.post(f"/slow/companies/{company.id}/grow")
        await company.refresh_from_db()
    assert response.json()["size"] == 11
    assert company.size == 11


# --- one schema for reading and writing, primary key included ---------------------------------


class CompanyShared(BaseModel):
    """The pattern of one schema for both directions: the key is optional when writing."""

    model_config = ConfigDict(from_attributes=True)
    id: int | None = None
    name: str
    description: str | None = None


shared_router = APIRouter(prefix="/shared")


@viewset(shared_router)
class SharedSchema(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyShared
    create_schema = CompanyShared


async def test_create_without_the_key_generates_it() -> None:
    async with serve(create_app(shared_router)) as client:
        first = await client.post("/shared", json={"name": "a"})
        second = await client.post("/shared", json={"id": None, "name": "b"})
        ids = await Company.all().order_by("id").values_list("id", flat=True)
    assert (first.status_code, second.status_code) == (201, 201)
    assert [first.json()["id"], second.json()["id"]] == ids


async def test_put_without_the_key_replaces_the_row_the_url_names() -> None:
    async with serve(create_app(shared_router)) as client:
        company = await make_company(description="d")
        response = await client.put(f"/shared/{company.id}", json={"name": "renamed"})
        rows = await Company.all().values_list("id", "name", "description")
    assert response.status_code == 200
    assert response.json() == {"id": company.id, "name": "renamed", "description": None}
    assert rows == [(company.id, "renamed", None)]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_a_body_key_never_moves_or_overwrites_another_row(method: str) -> None:
    async with serve(create_app(shared_router)) as client:
        mine = await make_company(name="mine")
        other = await make_company(name="other")
        to_other = await client.request(
            method, f"/shared/{mine.id}", json={"id": other.id, "name": "mine2"}
        )
        to_new = await client.request(
            method, f"/shared/{mine.id}", json={"id": 4242, "name": "mine3"}
        )
        rows = dict(await Company.all().values_list("id", "name"))  # type: ignore[arg-type]
    # Refused, or the key ignored: either way the URL's row is the only one that may change.
    assert to_other.status_code in (200, 400, 409, 422), to_other.text
    assert to_new.status_code in (200, 400, 409, 422), to_new.text
    assert set(rows) == {mine.id, other.id}
    assert rows[other.id] == "other"


async def test_get_write_values_may_map_fields_that_are_not_columns() -> None:
    class SignUp(BaseModel):
        username: str
        admin_code: str = ""

    router = APIRouter(prefix="/users")

    @viewset(router)
    class UserViewSet(ModelViewSet[User]):
        model = User
        create_schema = SignUp

        def get_write_values(
            self, data: BaseModel, *, partial: bool = False, creating: bool = False
        ) -> dict[str, Any]:
            values = super().get_write_values(data, partial=partial, creating=creating)
            values["is_admin"] = values.pop("admin_code", "") == "letmein"
            return values

    async with serve(create_app(router)) as client:
        plain = await client.post("/users", json={"username": "ada"})
        admin = await client.post("/users", json={"username": "bob", "admin_code": "letmein"})
    assert plain.status_code == 201, plain.text
    assert (plain.json()["is_admin"], admin.json()["is_admin"]) == (False, True)


async def test_an_update_override_serves_put_and_not_patch() -> None:
    router = APIRouter(prefix="/put-only")
    calls: list[str] = []

    @viewset(router, basename="put-only")
    class PutOnly(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite

        async def update(self, data: BaseModel) -> Any:  # no `partial`: PATCH never comes here
            calls.append(self.action)
            return await super().update(data)

    async with serve(create_app(router)) as client:
        company = await Company.create(name="acme", size=1)
        put = await client.put(f"/put-only/{company.id}", json={"name": "bolt", "size": 2})
        patch = await client.patch(f"/put-only/{company.id}", json={"size": 3})
    assert (put.status_code, put.json()["name"]) == (200, "bolt")
    assert (patch.status_code, patch.json()["size"]) == (200, 3)
    assert calls == ["update"]
