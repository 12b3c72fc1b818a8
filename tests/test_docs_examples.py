"""Every code sample of the docs is a file in docs/examples/; these tests run each one.

Each test asserts what the page that includes the example says about it.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header
from pydantic import BaseModel
from tortoise.models import Model

from docs.examples import (
    actions,
    errors_body_limit,
    errors_conflict,
    errors_raise,
    overview,
    quickstart,
    schemas_nested,
    schemas_per_action,
    schemas_put_patch,
    testing_state,
    viewsets_hooks,
    viewsets_lookup,
    viewsets_mixins,
    viewsets_request,
    viewsets_router,
)

# The testing page's examples are tests themselves: importing them here lets pytest run them.
from docs.examples.testing_http import test_create_then_retrieve, test_unknown_company_is_a_404
from docs.examples.testing_queries import test_list_is_one_query, test_what_a_create_runs
from docs.examples.testing_state import test_audit_records_the_user
from fastapi_viewsets import (
    APIException,
    BaseStateManager,
    Conflict,
    ImproperlyConfigured,
    ListModelMixin,
    ModelViewSet,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    action,
    viewset,
)
from fastapi_viewsets.schemas import default_read_schema
from fastapi_viewsets.testing import assert_num_queries, capture_queries
from tests.utils import DB_URL, create_app, name_example_tables, prepare_database, serve

__all__ = [
    "test_audit_records_the_user",
    "test_create_then_retrieve",
    "test_list_is_one_query",
    "test_unknown_company_is_a_404",
    "test_what_a_create_runs",
]


@asynccontextmanager
async def running(module: ModuleType, **app_kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Serve the example's ``router`` (or its own ``create_app``) on an empty database."""
    if hasattr(module, "create_app"):
        app = module.create_app(DB_URL)
        async with serve(app) as client:
            await prepare_database([module.__name__])
            yield client
        return
    app = create_app(module.router, modules=[module.__name__], **app_kwargs)
    async with serve(app) as client:
        yield client


EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    }


def route_names(router: APIRouter) -> list[tuple[str, str, str]]:
    return [
        (next(iter(route.methods)), route.path, route.name)  # type: ignore[attr-defined]
        for route in router.routes
    ]


# --- index.md ---------------------------------------------------------------------------------


async def test_overview_serves_the_five_routes() -> None:
    async with running(overview) as client:
        created = await client.post("/companies", json={"name": "Acme"})
        assert created.status_code == 201
        company = created.json()
        assert company == {"id": company["id"], "name": "Acme"}
        assert (await client.get("/companies")).json() == [company]
        assert (await client.get(f"/companies/{company['id']}")).json() == company
        patched = await client.patch(f"/companies/{company['id']}", json={"name": "Acme Corp"})
        assert patched.json()["name"] == "Acme Corp"
        replaced = await client.put(f"/companies/{company['id']}", json={"name": "Acme"})
        assert replaced.status_code == 200
        assert (await client.delete(f"/companies/{company['id']}")).status_code == 204
        assert (await client.get(f"/companies/{company['id']}")).status_code == 404


# --- getting-started.md -----------------------------------------------------------------------


async def test_quickstart_walkthrough() -> None:
    async with running(quickstart) as client:
        owner = await client.post("/owners", json={"name": "Ada"})
        assert owner.status_code == 201
        owner_id = owner.json()["id"]
        assert owner.json() == {"id": owner_id, "name": "Ada"}

        created = await client.post(
            "/companies", json={"name": "Acme", "size": 12, "owner_id": owner_id}
        )
        assert created.status_code == 201
        assert "x-request-id" in created.headers
        acme = created.json()
        cid = acme["id"]
        assert acme == {"id": cid, "name": "Acme", "size": 12, "owner": owner.json()}

        listed = await client.get("/companies")
        assert (listed.status_code, listed.json()) == (200, [acme])
        assert (await client.get(f"/companies/{cid}")).json() == acme

        patched = await client.patch(f"/companies/{cid}", json={"size": 40})
        assert (patched.status_code, patched.json()) == (200, {**acme, "size": 40})

        replaced = await client.put(f"/companies/{cid}", json={"name": "Acme Corp"})
        assert replaced.status_code == 200
        assert replaced.json() == {"id": cid, "name": "Acme Corp", "size": 0, "owner": None}

        deleted = await client.delete(f"/companies/{cid}")
        assert (deleted.status_code, deleted.content) == (204, b"")
        missing = await client.get(f"/companies/{cid}")
        assert (missing.status_code, missing.json()) == (
            404,
            {"detail": "No company matches the given query."},
        )

        bad_id = await client.get("/companies/abc")
        assert bad_id.status_code == 422
        assert bad_id.json()["detail"][0]["type"] == "int_parsing"
        bad_size = await client.post("/companies", json={"name": "Acme", "size": -1})
        assert bad_size.status_code == 422
        assert bad_size.json()["detail"][0]["loc"] == ["body", "size"]

        no_owner = await client.post("/companies", json={"name": "Globex", "owner_id": 99999})
        assert (no_owner.status_code, no_owner.json()) == (
            409,
            {"detail": "owner_id: the referenced object does not exist."},
        )
        assert (await client.post("/companies", json={"name": "Globex"})).status_code == 201
        again = await client.post("/companies", json={"name": "Globex"})
        assert (again.status_code, again.json()) == (
            409,
            {"detail": "A company with this name already exists."},
        )


def test_quickstart_app_factory_defaults_to_a_sqlite_file() -> None:
    app = quickstart.create_app()
    assert isinstance(app, FastAPI)
    paths = set(operations(app.openapi()))
    assert ("GET", "/companies/{id}") in paths
    assert ("POST", "/owners") in paths


# --- viewsets.md ------------------------------------------------------------------------------


def test_route_table_of_a_model_viewset() -> None:
    assert route_names(overview.router) == [
        ("GET", "/companies", "company-list"),
        ("POST", "/companies", "company-list"),
        ("GET", "/companies/{id}", "company-detail"),
        ("PUT", "/companies/{id}", "company-detail"),
        ("PATCH", "/companies/{id}", "company-detail"),
        ("DELETE", "/companies/{id}", "company-detail"),
    ]
    app = FastAPI()
    app.include_router(overview.router)
    ops = operations(app.openapi())
    assert {key: op["operationId"] for key, op in ops.items()} == {
        ("GET", "/companies"): "company_list",
        ("POST", "/companies"): "company_create",
        ("GET", "/companies/{id}"): "company_retrieve",
        ("PUT", "/companies/{id}"): "company_update",
        ("PATCH", "/companies/{id}"): "company_partial_update",
        ("DELETE", "/companies/{id}"): "company_destroy",
    }
    assert app.url_path_for("company-detail", id=7) == "/companies/7"
    lookup = ops[("GET", "/companies/{id}")]["parameters"][0]["schema"]
    assert (lookup["type"], lookup["minimum"], lookup["maximum"]) == (
        "integer",
        -2147483648,
        2147483647,
    )


async def test_several_viewsets_on_one_router() -> None:
    assert route_names(viewsets_router.router) == [
        ("GET", "/api/health", "health"),
        ("GET", "/api/companies", "company-list"),
        ("POST", "/api/companies", "company-list"),
        ("GET", "/api/companies/{slug}", "company-detail"),
        ("PUT", "/api/companies/{slug}", "company-detail"),
        ("PATCH", "/api/companies/{slug}", "company-detail"),
        ("DELETE", "/api/companies/{slug}", "company-detail"),
        ("GET", "/api/directory", "directory-list"),
        ("GET", "/api/directory/{slug}", "directory-detail"),
    ]
    async with running(viewsets_router) as client:
        assert (await client.get("/api/health")).json() == {"status": "ok"}
        acme = {"slug": "acme", "name": "Acme", "is_public": True}
        assert (await client.post("/api/companies", json=acme)).status_code == 201
        hidden = {"slug": "hidden", "name": "Hidden", "is_public": False}
        assert (await client.post("/api/companies", json=hidden)).status_code == 201

        assert (await client.get("/api/companies/acme")).json() == acme
        assert len((await client.get("/api/companies")).json()) == 2
        assert (await client.get("/api/directory")).json() == [acme]
        assert (await client.get("/api/directory/hidden")).status_code == 404
        assert (await client.get(f"/api/companies/{'x' * 41}")).status_code == 422
        assert (await client.post("/api/directory", json=acme)).status_code == 405

        ops = operations((await client.get("/openapi.json")).json())
        assert ops[("GET", "/api/directory")]["operationId"] == "directory_list"
        assert ops[("GET", "/api/directory")]["tags"] == ["directory"]
        assert ops[("GET", "/api/companies/{slug}")]["tags"] == ["company"]
        slug = ops[("GET", "/api/companies/{slug}")]["parameters"][0]["schema"]
        assert (slug["type"], slug["maxLength"]) == ("string", 40)


async def test_lookup_url_kwarg_names_the_lookup_in_the_url() -> None:
    assert route_names(viewsets_lookup.router) == [
        ("GET", "/articles", "article-list"),
        ("POST", "/articles", "article-list"),
        ("GET", "/articles/{article_slug}/headline", "article-headline"),
        ("GET", "/articles/{article_slug}", "article-detail"),
        ("PUT", "/articles/{article_slug}", "article-detail"),
        ("PATCH", "/articles/{article_slug}", "article-detail"),
        ("DELETE", "/articles/{article_slug}", "article-detail"),
    ]
    async with running(viewsets_lookup) as client:
        first = {"slug": "first-post", "title": "First post"}
        assert (await client.post("/articles", json=first)).status_code == 201
        assert (await client.get("/articles/first-post")).json() == first
        assert (await client.get("/articles/first-post/headline")).json() == {
            "slug": "first-post",
            "headline": "FIRST POST",
        }
        assert (await client.get("/articles/other-post")).status_code == 404
        renamed = await client.patch("/articles/first-post", json={"title": "Renamed"})
        assert renamed.json() == {"slug": "first-post", "title": "Renamed"}
        assert (await client.delete("/articles/first-post")).status_code == 204

        spec = (await client.get("/openapi.json")).json()
        ops = operations(spec)
        (parameter,) = ops[("GET", "/articles/{article_slug}")]["parameters"][:1]
        assert parameter["name"] == "article_slug"
        assert parameter["in"] == "path"
        assert (parameter["schema"]["type"], parameter["schema"]["maxLength"]) == ("string", 60)
        too_long = await client.get(f"/articles/{'x' * 61}")
        assert too_long.json()["detail"][0]["loc"] == ["path", "article_slug"]


async def test_composed_mixins_and_generated_read_schema() -> None:
    async with running(viewsets_mixins) as client:
        await viewsets_mixins.Country.create(code="fr", name="France")
        assert (await client.get("/countries/fr")).json() == {"code": "fr", "name": "France"}
        assert (await client.get("/countries")).json() == [{"code": "fr", "name": "France"}]
        assert (await client.get("/countries/fra")).status_code == 422  # max_length=2

        created = await client.post("/events", json={"message": "deployed"})
        assert created.status_code == 201
        assert (await client.get("/events")).json() == [created.json()]
        assert (await client.get(f"/events/{created.json()['id']}")).status_code == 404
        assert (await client.put("/events", json={"message": "x"})).status_code == 405

        spec = (await client.get("/openapi.json")).json()
        assert "CountryRead" in spec["components"]["schemas"]


def test_generated_read_schemas_name_foreign_keys_by_their_column() -> None:
    assert list(default_read_schema(errors_conflict.Invoice).model_fields) == [
        "id",
        "amount",
        "company_id",
    ]


async def test_per_request_attributes_and_fresh_instances() -> None:
    async with running(viewsets_request) as client:
        ada = await viewsets_request.Note.create(author="ada", text="ada's")
        await viewsets_request.Note.create(author="bob", text="bob's")

        response = await client.get(
            f"/notes/{ada.id}/context", headers={"x-user": "ada", "x-request-id": "req-1"}
        )
        assert response.json() == {
            "note": ada.id,
            "action": "context",
            "kwargs": {"id": ada.id},
            "user": "ada",
            "path": f"/notes/{ada.id}/context",
            "request_id": "req-1",
        }
        assert response.headers["x-request-id"] == "req-1"
        bob = await client.get(f"/notes/{ada.id}/context", headers={"x-user": "bob"})
        assert bob.status_code == 404

        async def texts(user: str) -> list[str]:
            response = await client.get("/notes", headers={"x-user": user})
            return [note["text"] for note in response.json()]

        results = await asyncio.gather(*(texts(user) for user in ["ada", "bob"] * 10))
        assert results == [["ada's"], ["bob's"]] * 10
        assert await texts("carol") == []


def test_actions_are_registered_before_detail_routes() -> None:
    paths = [(next(iter(r.methods)), r.path) for r in actions.router.routes]  # type: ignore[attr-defined]
    assert paths.index(("GET", "/companies/size-stats")) < paths.index(("GET", "/companies/{id}"))
    assert paths.index(("GET", "/companies/search")) < paths.index(("GET", "/companies/{id}"))


# --- actions.md -------------------------------------------------------------------------------


async def test_actions() -> None:
    async with running(actions) as client:
        for name, size in [("Acme", 5), ("Acme Labs", 20), ("Globex", 50)]:
            await actions.Company.create(name=name, size=size)

        stats = await client.get("/companies/size-stats", params={"min_size": 10})
        assert stats.json() == {"count": 2, "total_size": 70}
        ranged = await client.get("/companies/size-stats?min_size=10&max_size=30")
        assert ranged.json() == {"count": 1, "total_size": 20}
        assert (await client.get("/companies/size-stats?min_size=-1")).status_code == 422

        found = await client.get("/companies/search", params={"q": "acme"})
        assert [c["name"] for c in found.json()] == ["Acme", "Acme Labs"]
        assert (await client.get("/companies/search?q=a")).status_code == 422

        acme = await actions.Company.get(name="Acme")
        actions.sent.clear()
        archived = await client.post(f"/companies/{acme.id}/archive", json={"reason": "merged"})
        assert archived.status_code == 200
        assert archived.json()["is_archived"] is True
        assert actions.sent == ["Acme was archived: merged"]
        assert (await client.get("/companies/archived")).json() == [archived.json()]
        short = await client.post(f"/companies/{acme.id}/archive", json={"reason": "x"})
        assert short.status_code == 422
        missing = await client.post("/companies/99999/archive", json={"reason": "merged"})
        assert missing.status_code == 404

        assert (await client.put(f"/companies/{acme.id}/pin")).status_code == 401

        ops = operations((await client.get("/openapi.json")).json())
        assert ops[("PUT", "/companies/{id}/pin")]["operationId"] == "company_pin_put"
        assert ops[("DELETE", "/companies/{id}/pin")]["operationId"] == "company_pin_delete"
        assert ops[("GET", "/companies/size-stats")]["operationId"] == "company_size_stats"
        listed = ops[("GET", "/companies/archived")]["responses"]["200"]["content"]
        assert listed["application/json"]["schema"]["items"] == {
            "$ref": "#/components/schemas/CompanyRead"
        }
        search = ops[("GET", "/companies/search")]["responses"]["200"]["content"]
        assert search["application/json"]["schema"]["items"] == {
            "$ref": "#/components/schemas/CompanyRead"
        }


async def test_action_permission_classes_replace_the_viewsets() -> None:
    async def a_user(x_user: str | None = Header(default=None)) -> None:
        BaseStateManager.set_user(x_user)

    async with running(actions, dependencies=[Depends(a_user)]) as client:
        company = await actions.Company.create(name="Acme")
        pinned = await client.put(f"/companies/{company.id}/pin", headers={"x-user": "ada"})
        assert pinned.json()["is_pinned"] is True
        unpinned = await client.delete(f"/companies/{company.id}/pin", headers={"x-user": "ada"})
        assert unpinned.json()["is_pinned"] is False


def test_action_route_names() -> None:
    app = FastAPI()
    app.include_router(actions.router)
    assert app.url_path_for("company-size-stats") == "/companies/size-stats"
    assert app.url_path_for("company-archive", id=3) == "/companies/3/archive"
    assert app.url_path_for("company-pin", id=3) == "/companies/3/pin"


# --- schemas.md -------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 20])
async def test_nested_read_schema_has_a_fixed_query_count(rows: int) -> None:
    async with running(schemas_nested) as client:
        owner = await schemas_nested.Owner.create(name="Ada")
        for number in range(rows):
            company = await schemas_nested.Company.create(name=f"C{number}", owner=owner)
            await schemas_nested.Project.create(name="P", company=company)

        with assert_num_queries(2):  # companies JOIN owners, then all their projects
            listed = await client.get("/companies")
        assert len(listed.json()) == rows
        first = listed.json()[0]
        assert first["owner"] == {"id": owner.id, "name": "Ada"}
        assert [p["name"] for p in first["projects"]] == ["P"]

        with capture_queries() as queries:
            await client.get(f"/companies/{first['id']}")
        assert len(queries) == 2


async def test_put_replaces_and_patch_changes_what_is_sent() -> None:
    async with running(schemas_put_patch) as client:
        owner = await schemas_put_patch.Owner.create(name="Ada")
        created = await client.post(
            "/companies",
            json={"name": "Acme", "description": "Anvils", "size": 10, "owner_id": owner.id},
        )
        assert created.status_code == 201
        url = f"/companies/{created.json()['id']}"

        patched = await client.patch(url, json={"size": 11})
        assert patched.json() == {**created.json(), "size": 11}
        cleared = await client.patch(url, json={"description": None})
        assert cleared.json()["description"] is None
        refused = await client.patch(url, json={"name": None})
        assert refused.status_code == 422

        replaced = await client.put(url, json={"name": "Acme"})
        assert replaced.json() == {**created.json(), "description": None, "size": 0}
        assert (await client.put(url, json={"size": 3})).status_code == 422  # name is required
        moved = await client.patch(url, json={"owner_id": 12345})  # not in CompanyUpdate
        assert moved.json()["owner_id"] == owner.id

        ops = operations((await client.get("/openapi.json")).json())
        body = ops[("PATCH", "/companies/{id}")]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": "#/components/schemas/PatchedCompanyUpdate"}
        body = ops[("PUT", "/companies/{id}")]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": "#/components/schemas/CompanyUpdate"}


def test_write_schemas_name_foreign_keys_by_their_column() -> None:
    class WithRelation(BaseModel):
        name: str
        owner: int

    with pytest.raises(ImproperlyConfigured) as error:

        @viewset(APIRouter(prefix="/companies"))
        class CompanyViewSet(ModelViewSet[schemas_put_patch.Company]):
            model = schemas_put_patch.Company
            create_schema = WithRelation

    assert str(error.value) == (
        "CompanyViewSet: write schema WithRelation has a field 'owner' that is not a column of "
        "Company. Name the field 'owner_id' and send the related object's key."
    )


async def test_schema_per_action() -> None:
    async with running(schemas_per_action) as client:
        created = await client.post("/companies", json={"name": "Acme", "size": 3})
        assert created.json() == {
            "id": created.json()["id"],
            "name": "Acme",
            "description": "",
            "size": 3,
        }
        assert (await client.get("/companies")).json() == [
            {"id": created.json()["id"], "name": "Acme"}
        ]
        detail = await client.get(f"/companies/{created.json()['id']}")
        assert detail.json() == created.json()

        ops = operations((await client.get("/openapi.json")).json())
        listed = ops[("GET", "/companies")]["responses"]["200"]["content"]["application/json"]
        assert listed["schema"]["items"] == {"$ref": "#/components/schemas/CompanySummary"}
        one = ops[("GET", "/companies/{id}")]["responses"]["200"]["content"]["application/json"]
        assert one["schema"] == {"$ref": "#/components/schemas/CompanyDetail"}


# --- hooks.md ---------------------------------------------------------------------------------


async def test_hooks() -> None:
    Company, AuditEntry = viewsets_hooks.Company, viewsets_hooks.AuditEntry
    ada = {"x-user": "ada"}
    async with running(viewsets_hooks) as client:
        assert (await client.post("/companies", json={"name": "Acme"})).status_code == 401

        acme = await client.post("/companies", json={"name": "Acme"}, headers=ada)
        assert acme.status_code == 201
        assert acme.json()["created_by"] == "ada"
        locked = await client.post(
            "/companies", json={"name": "Vault", "is_locked": True}, headers=ada
        )
        assert locked.status_code == 201

        third = await client.post("/companies", json={"name": "Globex"}, headers=ada)
        assert (third.status_code, third.json()) == (
            409,
            {"detail": "Company limit reached: your plan allows 2."},
        )
        assert await Company.filter(name="Globex").count() == 0  # the insert was undone
        assert await AuditEntry.filter(company_name="Globex").count() == 0  # and the audit row

        listed = await client.get("/companies", params={"search": "ac"})
        assert [c["name"] for c in listed.json()] == ["Acme"]
        assert [c["name"] for c in (await client.get("/companies")).json()] == ["Acme"]

        vault = f"/companies/{locked.json()['id']}"
        assert (await client.get(vault)).json()["name"] == "Vault"  # not listed, still found
        refused = await client.delete(vault, headers=ada)
        assert (refused.status_code, refused.json()) == (
            403,
            {"detail": "Locked companies cannot be deleted."},
        )
        assert (await client.patch(vault, json={"name": "Safe"}, headers=ada)).status_code == 200
        assert await AuditEntry.filter(event="update", company_name="Safe").count() == 1

        await Company.filter(name="Acme").update(is_archived=True)
        url = f"/companies/{acme.json()['id']}"
        assert (await client.get(url)).status_code == 404
        assert (await client.patch(url, json={"name": "X"}, headers=ada)).status_code == 404
        assert (await client.delete(url, headers=ada)).status_code == 404
        assert (await client.get("/companies")).json() == []

        events = await AuditEntry.all().order_by("id").values_list("event", "company_name")
        assert events == [("create", "Acme"), ("create", "Vault"), ("update", "Safe")]

        bob = {"x-user": "bob"}
        assert (
            await client.post("/companies", json={"name": "B1"}, headers=bob)
        ).status_code == 201
        second = await client.post("/companies", json={"name": "B2"}, headers=bob)
        assert (second.status_code, second.json()) == (
            409,
            {"detail": "Company limit reached: your plan allows 1."},
        )


async def test_request_order_permission_before_body_validation() -> None:
    async with running(viewsets_hooks) as client:
        anonymous = await client.post("/companies", json={"name": 5})
        assert anonymous.status_code == 401
        malformed = await client.post(
            "/companies", content=b"{", headers={"content-type": "application/json"}
        )
        assert malformed.status_code == 422
        authenticated = await client.post("/companies", json={"name": 5}, headers={"x-user": "a"})
        assert authenticated.status_code == 422


# --- errors.md --------------------------------------------------------------------------------


async def test_integrity_errors_are_409s() -> None:
    async with running(errors_conflict) as client:
        acme = (await client.post("/companies", json={"name": "Acme"})).json()
        duplicate = await client.post("/companies", json={"name": "Acme"})
        assert (duplicate.status_code, duplicate.json()) == (
            409,
            {"detail": "A company with this name already exists."},
        )
        globex = (await client.post("/companies", json={"name": "Globex"})).json()
        renamed = await client.patch(f"/companies/{globex['id']}", json={"name": "Acme"})
        assert renamed.status_code == 409

        orphan = await client.post("/invoices", json={"amount": 10, "company_id": 99999})
        assert (orphan.status_code, orphan.json()) == (
            409,
            {"detail": "company_id: the referenced object does not exist."},
        )
        invoice = await client.post("/invoices", json={"amount": 10, "company_id": acme["id"]})
        assert invoice.status_code == 201

        protected = await client.delete(f"/companies/{acme['id']}")
        assert (protected.status_code, protected.json()) == (
            409,
            {"detail": "This company cannot be deleted because other records still refer to it."},
        )
        assert (await client.get(f"/companies/{acme['id']}")).status_code == 200

        batch = await client.post("/companies/bulk-create", json={"names": ["Initech", "Acme"]})
        assert (batch.status_code, batch.json()) == (
            409,
            {"detail": "A company with this name already exists."},
        )
        assert await errors_conflict.Company.filter(name="Initech").count() == 0
        batch = await client.post("/companies/bulk-create", json={"names": ["Initech", "Hooli"]})
        assert batch.status_code == 201
        assert [c["name"] for c in batch.json()] == ["Initech", "Hooli"]


async def test_bad_input_is_a_422() -> None:
    async with running(errors_conflict) as client:
        malformed = await client.post(
            "/companies", content=b'{"name": ', headers={"content-type": "application/json"}
        )
        assert malformed.status_code == 422
        assert malformed.json()["detail"][0]["type"] == "json_invalid"
        too_long = await client.post("/companies", json={"name": "x" * 101})
        assert too_long.status_code == 422
        assert too_long.json()["detail"][0]["loc"] == ["body", "name"]
        assert too_long.json()["detail"][0]["msg"] == (
            "Ensure this value has at most 100 characters."
        )
        wrong_type = await client.post("/companies", json={"name": ["Acme"]})
        assert wrong_type.status_code == 422
        assert wrong_type.json()["detail"][0]["loc"] == ["body", "name"]
        missing = await client.post("/invoices", json={"amount": 3})
        assert missing.json()["detail"][0]["type"] == "missing"
        bad_lookup = await client.get("/companies/abc")
        assert bad_lookup.status_code == 422
        huge = await client.get("/companies/99999999999")
        assert huge.status_code == 422
        assert huge.json()["detail"][0]["type"] == "less_than_equal"
        unknown = await client.get("/companies/12345")
        assert (unknown.status_code, unknown.json()) == (
            404,
            {"detail": "No company matches the given query."},
        )


async def test_request_bodies_have_a_size_limit() -> None:
    async def chunked(body: bytes) -> Any:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    too_large = {
        "detail": "The request body is too large: this endpoint takes at most 65536 bytes."
    }
    async with running(errors_body_limit) as client:
        big = {"title": "Q1", "text": "x" * 100_000}
        refused = await client.post("/documents", json=big)
        assert (refused.status_code, refused.json()) == (413, too_large)
        body = json.dumps(big).encode()
        refused = await client.post(
            "/documents", content=chunked(body), headers={"content-type": "application/json"}
        )
        assert (refused.status_code, refused.json()) == (413, too_large)
        assert await errors_body_limit.Document.all().count() == 0

        created = await client.post("/documents", json={"title": "Q1"})
        assert created.status_code == 201
        replaced = await client.post(
            f"/documents/{created.json()['id']}/replace-text", json={"text": "y" * 1_000_000}
        )
        assert replaced.status_code == 200
        assert len(replaced.json()["text"]) == 1_000_000

        spec = (await client.get("/openapi.json")).json()
        assert "413" in spec["paths"]["/documents"]["post"]["responses"]
        assert "413" not in spec["paths"]["/documents"]["get"]["responses"]


async def test_raising_api_exceptions() -> None:
    async with running(errors_raise) as client:
        unpaid = await errors_raise.Report.create(title="Q1")
        empty = await errors_raise.Report.create(title="Q2", is_paid=True)
        ready = await errors_raise.Report.create(title="Q3", is_paid=True, body="All good.")

        response = await client.get(f"/reports/{unpaid.id}/download")
        assert (response.status_code, response.json()) == (
            402,
            {"detail": "This report needs a paid plan."},
        )
        response = await client.get(f"/reports/{empty.id}/download")
        assert (response.status_code, response.json()) == (
            404,
            {"detail": "This report has not been written yet."},
        )
        response = await client.get(f"/reports/{ready.id}/download")
        assert response.json() == {"text": "All good."}


def test_exception_tree() -> None:
    table = [
        (NotAuthenticated, 401, "not_authenticated"),
        (PermissionDenied, 403, "permission_denied"),
        (NotFound, 404, "not_found"),
        (Conflict, 409, "conflict"),
    ]
    for cls, status_code, code in table:
        error = cls()
        assert isinstance(error, APIException)
        assert (error.status_code, error.code, error.detail) == (
            status_code,
            code,
            cls.default_detail,
        )
    custom = errors_raise.PaymentRequired("Upgrade to download.", code="upgrade")
    assert (custom.status_code, custom.detail, custom.code) == (
        402,
        "Upgrade to download.",
        "upgrade",
    )


@pytest.mark.parametrize(
    ("attributes", "router", "message"),
    [
        (
            {},
            APIRouter(prefix="/companies"),
            "CompanyViewSet has no model. Set `model = <your Tortoise model>` on the class.",
        ),
        (
            {"model": errors_conflict.Company},
            APIRouter(prefix="/companies"),
            "CompanyViewSet has a create action but no create_schema. Set `create_schema = "
            "<a Pydantic model>` or leave out the mixin that provides create.",
        ),
        (
            {"model": errors_conflict.Company, "create_schema": errors_conflict.CompanyCreate},
            APIRouter(),
            "CompanyViewSet: the router has no prefix, so the list route would have no path. "
            "Give the router a prefix (APIRouter(prefix='/...')) or pass "
            "@viewset(router, prefix='/...').",
        ),
        (
            {
                "model": errors_conflict.Company,
                "create_schema": errors_conflict.CompanyCreate,
                "lookup_field": "slug",
            },
            APIRouter(prefix="/companies"),
            "CompanyViewSet: lookup_field = 'slug' is not a column of Company. "
            "Use one of: id, name.",
        ),
    ],
)
def test_improperly_configured_messages(
    attributes: dict[str, Any], router: APIRouter, message: str
) -> None:
    with pytest.raises(ImproperlyConfigured) as error:
        viewset(router)(type("CompanyViewSet", (ModelViewSet,), attributes))
    assert str(error.value) == message
    assert router.routes == []  # a failed registration adds nothing


def test_improperly_configured_sync_action() -> None:
    with pytest.raises(ImproperlyConfigured) as error:

        @viewset(APIRouter(prefix="/companies"))
        class CompanyViewSet(ListModelMixin[errors_conflict.Company]):
            model = errors_conflict.Company

            @action(detail=False)
            def stats(self) -> dict[str, int]:
                return {}

    assert str(error.value) == (
        "CompanyViewSet.stats is decorated with @action but is not `async def`. "
        "Write it as `async def stats(self, ...)`."
    )


def test_improperly_configured_duplicate_basename() -> None:
    router = APIRouter(prefix="/companies")
    viewset(router)(
        type(
            "CompanyViewSet",
            (ModelViewSet,),
            {"model": overview.Company, "create_schema": overview.CompanyCreate},
        )
    )
    with pytest.raises(ImproperlyConfigured) as error:
        viewset(router, prefix="/again")(
            type("OtherViewSet", (ListModelMixin,), {"model": overview.Company})
        )
    assert str(error.value) == (
        "OtherViewSet: the basename 'company' is already used on this router by CompanyViewSet. "
        "Pass a distinct basename: @viewset(router, basename='...')."
    )


# --- testing.md -------------------------------------------------------------------------------


async def test_request_state_in_a_worker() -> None:
    assert await testing_state.send_reports(["ada", "bob"]) == [
        "ada: report sent",
        "bob: report sent",
    ]


# --- all examples -----------------------------------------------------------------------------


def test_each_example_model_has_a_table_of_its_own() -> None:
    """The examples name no tables, as a user's models would not; the tests give each model
    ``t_doc_<example>_<model>`` (tests.utils.name_example_tables), so that on PostgreSQL no
    two examples' ``Company`` share a table, nor one the example project's ``user``."""
    tables: dict[str, str] = {}
    for path in sorted(EXAMPLES.glob("*.py")):
        module = importlib.import_module(f"docs.examples.{path.stem}")
        name_example_tables()
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Model)
                and value.__module__ == module.__name__
            ):
                table = value._meta.db_table
                # A Meta.table in an example is noise for a reader, and might meet another.
                assert table == f"t_doc_{path.stem}_{value.__name__.lower()}", table
                assert table not in tables, f"{value.__qualname__} and {tables[table]}"
                tables[table] = value.__qualname__
    assert len(tables) > 20


def test_no_example_imports_the_test_suite() -> None:
    """A reader copies an example into a project that has no ``tests`` package of this library:
    an example's models are its own, or those of an example beside it on the page."""
    imports: list[str] = []
    for path in sorted(EXAMPLES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            imports += [f"{path.name}: {name}" for name in names if name.split(".")[0] == "tests"]
    assert imports == []
