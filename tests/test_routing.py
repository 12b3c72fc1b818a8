"""``@viewset(router)``: paths, names, operation ids, tags and the routes it leaves alone."""

from __future__ import annotations

import uuid
import warnings
from typing import Any

import pytest
from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from fastapi_viewsets import (
    ImproperlyConfigured,
    ModelViewSet,
    ReadOnlyModelViewSet,
    RequestStateMiddleware,
    ViewSetRoute,
    action,
    viewset,
)
from tests.models import Company, Tag, User
from tests.utils import create_app, query_parameters, serve


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class CompanyWrite(BaseModel):
    name: str


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str


class UserWrite(BaseModel):
    username: str


class TagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str


def api_routes(router: APIRouter) -> list[APIRoute]:
    return [route for route in router.routes if isinstance(route, APIRoute)]


def method_paths(router: APIRouter) -> list[tuple[str, str]]:
    return [(next(iter(route.methods)), route.path) for route in api_routes(router)]


# --- the standard table -----------------------------------------------------------------------

router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    @action(detail=False)
    async def stats(self) -> dict[str, int]:
        return {"count": await self.get_queryset().count()}

    @action(methods=["POST"], detail=True)
    async def archive(self) -> CompanyRead:
        return CompanyRead.model_validate(await self.get_object())


def test_the_decorator_adds_the_documented_routes_in_order() -> None:
    rows = [
        (next(iter(route.methods)), route.path, route.name, route.operation_id)
        for route in api_routes(router)
    ]
    assert rows == [
        ("GET", "/companies/stats", "company-stats", "company_stats"),
        ("GET", "/companies", "company-list", "company_list"),
        ("POST", "/companies", "company-list", "company_create"),
        ("POST", "/companies/{id}/archive", "company-archive", "company_archive"),
        ("GET", "/companies/{id}", "company-detail", "company_retrieve"),
        ("PUT", "/companies/{id}", "company-detail", "company_update"),
        ("PATCH", "/companies/{id}", "company-detail", "company_partial_update"),
        ("DELETE", "/companies/{id}", "company-detail", "company_destroy"),
    ]
    assert all(isinstance(route, ViewSetRoute) for route in api_routes(router))


def test_the_decorator_returns_the_class_unchanged() -> None:
    local = APIRouter(prefix="/x")

    class Plain(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead

    def own(cls: type) -> dict[str, Any]:
        # Python creates an empty __annotations__ on first access; that is no change.
        return {k: v for k, v in vars(cls).items() if k != "__annotations__"}

    before = own(Plain)
    assert viewset(local)(Plain) is Plain
    assert own(Plain) == before


async def test_url_path_for_and_url_for_know_the_route_names() -> None:
    probe = APIRouter()

    @probe.get("/probe/{company_id}", name="probe")
    async def probe_route(request: Request, company_id: int) -> dict[str, str]:
        return {
            "list": str(request.url_for("company-list")),
            "detail": str(request.url_for("company-detail", id=company_id)),
            "stats": str(request.url_for("company-stats")),
            "archive": str(request.url_for("company-archive", id=company_id)),
        }

    app = create_app(router, probe)
    assert app.url_path_for("company-list") == "/companies"
    assert app.url_path_for("company-detail", id=3) == "/companies/3"
    assert app.url_path_for("company-stats") == "/companies/stats"
    assert app.url_path_for("company-archive", id=3) == "/companies/3/archive"
    async with serve(app) as client:
        response = await client.get("/probe/7")
    assert response.json() == {
        "list": "http://testserver/companies",
        "detail": "http://testserver/companies/7",
        "stats": "http://testserver/companies/stats",
        "archive": "http://testserver/companies/7/archive",
    }


async def test_a_router_included_under_a_prefix_keeps_working() -> None:
    app = create_app()
    app.include_router(router, prefix="/api/v1")
    assert app.url_path_for("company-detail", id=3) == "/api/v1/companies/3"
    async with serve(app) as client:
        created = await client.post("/api/v1/companies", json={"name": "acme"})
        assert created.status_code == 201
        company_id = created.json()["id"]
        assert (await client.get(f"/api/v1/companies/{company_id}")).json()["name"] == "acme"
        assert (await client.get("/api/v1/companies/stats")).json() == {"count": 1}
        assert (await client.get("/companies")).status_code == 404


# --- several viewsets on one router -----------------------------------------------------------

shared = APIRouter(prefix="/v1", tags=["v1"])


@shared.get("/health", name="health-check")
async def health() -> dict[str, str]:
    return {"status": "ok"}


ROUTES_BEFORE = list(shared.routes)


@viewset(shared, prefix="/companies")
class SharedCompanies(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite


@viewset(shared, prefix="users/")
class SharedUsers(ModelViewSet[User]):
    model = User
    read_schema = UserRead
    create_schema = UserWrite

    @action(detail=False)
    async def count(self) -> int:
        return await self.get_queryset().count()


@shared.get("/companies/{company_id}/ping", name="ping")
async def ping(company_id: int) -> dict[str, int]:
    return {"pong": company_id}


def test_unrelated_routes_keep_their_place_and_name() -> None:
    routes = list(shared.routes)
    assert routes[: len(ROUTES_BEFORE)] == ROUTES_BEFORE
    assert routes[0] is ROUTES_BEFORE[0]
    first = routes[0]
    assert isinstance(first, APIRoute)
    assert (first.path, first.name, first.methods) == ("/v1/health", "health-check", {"GET"})
    assert not isinstance(first, ViewSetRoute)
    last = routes[-1]
    assert isinstance(last, APIRoute)
    assert (last.path, last.name) == ("/v1/companies/{company_id}/ping", "ping")
    assert {route.name for route in api_routes(shared)} == {
        "health-check",
        "company-list",
        "company-detail",
        "user-list",
        "user-detail",
        "user-count",
        "ping",
    }


async def test_two_viewsets_on_one_router_each_answer_on_their_prefix() -> None:
    app = create_app(shared)
    assert app.url_path_for("health-check") == "/v1/health"
    assert app.url_path_for("user-detail", id=1) == "/v1/users/1"
    assert app.url_path_for("company-detail", id=1) == "/v1/companies/1"
    async with serve(app) as client:
        assert (await client.get("/v1/health")).json() == {"status": "ok"}
        assert (await client.get("/v1/companies/5/ping")).json() == {"pong": 5}
        company = await client.post("/v1/companies", json={"name": "acme"})
        user = await client.post("/v1/users", json={"username": "bob"})
        assert (company.status_code, user.status_code) == (201, 201)
        assert (await client.get("/v1/companies")).json() == [company.json()]
        assert (await client.get("/v1/users")).json() == [user.json()]
        assert (await client.get("/v1/users/count")).json() == 1
        assert (await client.get(f"/v1/users/{user.json()['id']}")).json()["username"] == "bob"
        assert (await client.delete(f"/v1/companies/{company.json()['id']}")).status_code == 204
        assert await Company.all().count() == 0
        assert await User.all().count() == 1


def test_a_duplicate_basename_on_one_router_is_improperly_configured() -> None:
    local = APIRouter(prefix="/api")

    @viewset(local, prefix="/companies")
    class FirstCompanies(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead

    class SecondCompanies(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead

    before = list(local.routes)
    with pytest.raises(ImproperlyConfigured, match="SecondCompanies") as raised:
        viewset(local, prefix="/firms")(SecondCompanies)
    assert "'company'" in str(raised.value)
    assert "FirstCompanies" in str(raised.value)
    assert "basename=" in str(raised.value)
    assert local.routes == before


async def test_a_custom_basename_names_routes_and_operations() -> None:
    local = APIRouter(prefix="/api")

    @viewset(local, prefix="/companies")
    class Companies(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead

    @viewset(local, prefix="/firms", basename="firm")
    class Firms(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead

        @action(detail=True, url_path="card")
        async def business_card(self) -> CompanyRead:
            return CompanyRead.model_validate(await self.get_object())

    # Route names take the basename (the model's name unless given), operation ids the class's
    # name unless a basename is given.
    assert {(route.name, route.operation_id) for route in api_routes(local)} == {
        ("company-list", "companies_list"),
        ("company-detail", "companies_retrieve"),
        ("firm-list", "firm_list"),
        ("firm-detail", "firm_retrieve"),
        ("firm-business-card", "firm_business_card"),
    }
    app = create_app(local)
    assert app.url_path_for("firm-detail", id=2) == "/api/firms/2"
    assert app.url_path_for("firm-business-card", id=2) == "/api/firms/2/card"
    async with serve(app) as client:
        company = await Company.create(name="acme")
        assert (await client.get(f"/api/firms/{company.id}")).json()["name"] == "acme"
        assert (await client.get(f"/api/firms/{company.id}/card")).json()["name"] == "acme"
        assert (await client.get(f"/api/companies/{company.id}")).json()["name"] == "acme"
        spec = (await client.get("/openapi.json")).json()
    assert spec["paths"]["/api/firms"]["get"]["tags"] == ["firm"]
    assert spec["paths"]["/api/companies"]["get"]["tags"] == ["company"]


def test_a_basename_that_extends_another_is_not_a_duplicate() -> None:
    local = APIRouter(prefix="/api")

    @viewset(local, prefix="/company-invoices", basename="company-invoice")
    class CompanyInvoices(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead

    @viewset(local, prefix="/companies", basename="company")
    class Companies(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead

    assert {route.name for route in api_routes(local)} >= {"company-list", "company-invoice-list"}


def test_a_failed_registration_leaves_the_router_unchanged() -> None:
    local = APIRouter(prefix="/companies")

    @local.get("/before")
    async def before_route() -> None:
        return None

    before = list(local.routes)

    class Broken(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead

    with pytest.raises(ImproperlyConfigured, match="Broken"):
        viewset(local)(Broken)
    assert local.routes == before


@pytest.mark.parametrize(
    ("router_prefix", "prefix", "path"),
    [
        ("", "/things", "/things"),
        ("", "things/", "/things"),
        ("", "/things/", "/things"),
        ("/api", None, "/api"),
        ("/api", "", "/api"),
        ("/api", "/", "/api"),
        ("/api", "/things", "/api/things"),
    ],
)
def test_prefix_is_normalised(router_prefix: str, prefix: str | None, path: str) -> None:
    local = APIRouter(prefix=router_prefix)

    @viewset(local, prefix=prefix)
    class Things(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead

    assert method_paths(local) == [("GET", path), ("GET", f"{path}/{{id}}")]


# --- request state around the route -----------------------------------------------------------


@pytest.mark.parametrize("with_middleware", [False, True])
async def test_viewset_routes_answer_with_a_request_id(with_middleware: bool) -> None:
    app = create_app(router)
    if with_middleware:
        app.add_middleware(RequestStateMiddleware)
    async with serve(app) as client:
        created = await client.post("/companies", json={"name": "acme"})
        echoed = await client.get("/companies", headers={"X-Request-ID": "abc-123"})
    assert created.status_code == 201
    assert len(created.headers.get_list("x-request-id")) == 1
    assert uuid.UUID(created.headers["x-request-id"])
    assert echoed.headers.get_list("x-request-id") == ["abc-123"]


# --- OpenAPI ----------------------------------------------------------------------------------


async def openapi_of(*routers: APIRouter) -> dict[str, Any]:
    async with serve(create_app(*routers)) as client:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            response = await client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }


async def test_openapi_responses_of_every_standard_route() -> None:
    ops = operations(await openapi_of(router))
    one = {"$ref": "#/components/schemas/CompanyRead"}
    error = {"$ref": "#/components/schemas/ErrorResponse"}

    def schema(operation: dict[str, Any], code: str) -> Any:
        return operation["responses"][code]["content"]["application/json"]["schema"]

    list_op = ops[("GET", "/companies")]
    assert set(list_op["responses"]) == {"200", "304"}  # 304: If-None-Match
    assert schema(list_op, "200")["type"] == "array"
    assert schema(list_op, "200")["items"] == one

    create_op = ops[("POST", "/companies")]
    # 400 and 503: a malformed Idempotency-Key, its store unreachable.
    assert set(create_op["responses"]) == {"201", "400", "409", "422", "503"}
    assert schema(create_op, "201") == one
    assert schema(create_op, "409") == error

    for method in ("GET", "PUT", "PATCH"):
        operation = ops[(method, "/companies/{id}")]
        assert schema(operation, "200") == one
        assert schema(operation, "404") == error
        assert "422" in operation["responses"]
    assert "409" not in ops[("GET", "/companies/{id}")]["responses"]
    assert "409" in ops[("PUT", "/companies/{id}")]["responses"]
    assert "409" in ops[("PATCH", "/companies/{id}")]["responses"]
    for method in ("PUT", "PATCH"):
        assert schema(ops[(method, "/companies/{id}")], "412") == error

    destroy = ops[("DELETE", "/companies/{id}")]
    assert set(destroy["responses"]) == {"204", "404", "409", "412", "422"}  # 412: If-Match
    assert "content" not in destroy["responses"]["204"]

    def body(operation: dict[str, Any]) -> Any:
        assert operation["requestBody"]["required"] is True
        return operation["requestBody"]["content"]["application/json"]["schema"]

    assert body(create_op) == {"$ref": "#/components/schemas/CompanyWrite"}
    assert body(ops[("PUT", "/companies/{id}")]) == {"$ref": "#/components/schemas/CompanyWrite"}
    assert body(ops[("PATCH", "/companies/{id}")]) == {
        "$ref": "#/components/schemas/PatchedCompanyWrite"
    }
    for key in [("GET", "/companies"), ("GET", "/companies/{id}"), ("DELETE", "/companies/{id}")]:
        assert "requestBody" not in ops[key]

    archive = ops[("POST", "/companies/{id}/archive")]
    assert schema(archive, "200") == one
    assert schema(archive, "404") == error
    stats = ops[("GET", "/companies/stats")]
    assert "404" not in stats["responses"]


async def test_openapi_operation_ids_are_unique_and_named_after_the_class() -> None:
    spec = await openapi_of(router, untagged, slug_router)
    ids = [operation["operationId"] for operation in operations(spec).values()]
    assert len(ids) == len(set(ids))
    assert set(ids) == {
        "company_list",
        "company_create",
        "company_retrieve",
        "company_update",
        "company_partial_update",
        "company_destroy",
        "company_stats",
        "company_archive",
        "tag_list",
        "tag_retrieve",
        "tag_popular",
        "tag_custom",
        "company_by_slug_list",
        "company_by_slug_retrieve",
    }
    spec = await openapi_of(shared)
    ids = [operation["operationId"] for operation in operations(spec).values()]
    assert len(ids) == len(set(ids))
    assert {
        "shared_companies_list",
        "shared_users_list",
        "shared_users_count",
        "shared_companies_destroy",
    } <= set(ids)


async def test_two_viewsets_over_one_model_on_two_routers_have_distinct_operation_ids() -> None:
    public, admin = APIRouter(prefix="/companies"), APIRouter(prefix="/admin/companies")

    @viewset(public)
    class CompanyViewSet(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite

    @viewset(admin)
    class AdminCompanyViewSet(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite

    # FastAPI warns of a duplicate operation id, and this suite turns warnings into errors.
    spec = await openapi_of(public, admin)
    ids = {
        (method.upper(), path): operation["operationId"]
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }
    assert ids[("GET", "/companies")] == "company_list"
    assert ids[("GET", "/admin/companies")] == "admin_company_list"
    assert ids[("DELETE", "/admin/companies/{id}")] == "admin_company_destroy"
    assert len(set(ids.values())) == len(ids)


def test_two_classes_giving_one_operation_id_on_one_router_are_refused() -> None:
    local = APIRouter(prefix="/api")

    @viewset(local, prefix="/companies")
    class ThingViewSet(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead

    class Other(ReadOnlyModelViewSet[User]):
        model = User
        read_schema = UserRead

    with pytest.raises(ImproperlyConfigured) as raised:
        viewset(local, prefix="/users")(type("ThingViewSet", (Other,), {}))
    assert "ThingViewSet: its operation ids (thing_list, ...)" in str(raised.value)
    assert "basename=" in str(raised.value)


async def test_openapi_summaries() -> None:
    ops = operations(await openapi_of(router))
    assert ops[("GET", "/companies")]["summary"] == "List company objects"
    assert ops[("POST", "/companies")]["summary"] == "Create a company"
    assert ops[("GET", "/companies/{id}")]["summary"] == "Retrieve a company"
    assert ops[("PUT", "/companies/{id}")]["summary"] == "Replace a company"
    assert ops[("PATCH", "/companies/{id}")]["summary"] == "Update some fields of a company"
    assert ops[("DELETE", "/companies/{id}")]["summary"] == "Delete a company"
    assert ops[("GET", "/companies/stats")]["summary"] == "Stats"


untagged = APIRouter(prefix="/tags")


@viewset(untagged)
class TagViewSet(ReadOnlyModelViewSet[Tag]):
    model = Tag
    read_schema = TagRead

    @action(detail=False)
    async def popular(self) -> list[TagRead]:
        return []

    @action(detail=False, tags=["custom"])
    async def custom(self) -> list[TagRead]:
        return []


async def test_openapi_tags_default_to_the_routers_else_the_basename() -> None:
    ops = operations(await openapi_of(router, untagged))
    for (_, path), operation in ops.items():
        if path.startswith("/companies"):
            assert operation["tags"] == ["companies"], path
    assert ops[("GET", "/tags")]["tags"] == ["tag"]
    assert ops[("GET", "/tags/{id}")]["tags"] == ["tag"]
    assert ops[("GET", "/tags/popular")]["tags"] == ["tag"]
    assert ops[("GET", "/tags/custom")]["tags"] == ["custom"]


slug_router = APIRouter(prefix="/by-slug")


@viewset(slug_router, basename="company_by_slug")
class CompanyBySlug(ReadOnlyModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    lookup_field = "slug"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/companies/{id}",
            {"type": "integer", "minimum": -2147483648, "maximum": 2147483647},
        ),
        ("/tags/{id}", {"type": "string", "format": "uuid"}),
        ("/by-slug/{slug}", {"type": "string", "maxLength": 50}),
    ],
)
async def test_openapi_path_parameter_follows_the_model_field(
    path: str, expected: dict[str, Any]
) -> None:
    ops = operations(await openapi_of(router, untagged, slug_router))
    (parameter,) = query_parameters(ops[("GET", path)])
    assert parameter["in"] == "path"
    assert parameter["required"] is True
    assert parameter["name"] == path.rsplit("{", 1)[1].rstrip("}")
    assert {key: parameter["schema"][key] for key in expected} == expected


async def test_a_path_parameter_that_does_not_fit_is_422_not_404() -> None:
    async with serve(create_app(router, untagged, slug_router)) as client:
        await Company.create(name="acme", slug="acme")
        too_long = await client.get(f"/by-slug/{'x' * 51}")
        bad_uuid = await client.get("/tags/123")
        too_big = await client.get("/companies/2147483648")
        fits = await client.get("/by-slug/acme")
    assert (too_long.status_code, bad_uuid.status_code, too_big.status_code) == (422, 422, 422)
    assert too_big.json()["detail"][0]["loc"] == ["path", "id"]
    assert fits.status_code == 200


# --- lookup_url_kwarg --------------------------------------------------------------------------

kwarg_router = APIRouter(prefix="/kwarg")


@viewset(kwarg_router, basename="kwarg")
class CompanyByKwarg(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite
    lookup_field = "slug"
    lookup_url_kwarg = "company_slug"

    @action(methods=["POST"], detail=True)
    async def archive(self) -> CompanyRead:
        return CompanyRead.model_validate(await self.get_object())


def test_lookup_url_kwarg_names_the_detail_paths() -> None:
    assert [
        (method, path, route.name)
        for (method, path), route in zip(
            method_paths(kwarg_router), api_routes(kwarg_router), strict=True
        )
    ] == [
        ("GET", "/kwarg", "kwarg-list"),
        ("POST", "/kwarg", "kwarg-list"),
        ("POST", "/kwarg/{company_slug}/archive", "kwarg-archive"),
        ("GET", "/kwarg/{company_slug}", "kwarg-detail"),
        ("PUT", "/kwarg/{company_slug}", "kwarg-detail"),
        ("PATCH", "/kwarg/{company_slug}", "kwarg-detail"),
        ("DELETE", "/kwarg/{company_slug}", "kwarg-detail"),
    ]
    app = create_app(kwarg_router)
    assert app.url_path_for("kwarg-detail", company_slug="acme") == "/kwarg/acme"
    assert app.url_path_for("kwarg-archive", company_slug="acme") == "/kwarg/acme/archive"


async def test_openapi_names_the_path_parameter_after_lookup_url_kwarg() -> None:
    ops = operations(await openapi_of(kwarg_router))
    for method, path in [
        ("GET", "/kwarg/{company_slug}"),
        ("PUT", "/kwarg/{company_slug}"),
        ("PATCH", "/kwarg/{company_slug}"),
        ("DELETE", "/kwarg/{company_slug}"),
        ("POST", "/kwarg/{company_slug}/archive"),
    ]:
        (parameter,) = query_parameters(ops[(method, path)])
        assert parameter["name"] == "company_slug"
        assert parameter["in"] == "path"
        assert parameter["required"] is True
        # The type and the description are the lookup field's.
        assert parameter["schema"]["type"] == "string"
        assert parameter["schema"]["maxLength"] == 50
        assert parameter["description"] == "The slug of the kwarg."


async def test_lookup_url_kwarg_serves_the_detail_routes() -> None:
    async with serve(create_app(kwarg_router)) as client:
        company = await Company.create(name="acme", slug="acme")
        assert (await client.get("/kwarg/acme")).json() == {"id": company.id, "name": "acme"}
        archived = await client.post("/kwarg/acme/archive")
        assert archived.json() == {"id": company.id, "name": "acme"}
        assert (await client.post("/kwarg/nope/archive")).status_code == 404
        too_long = await client.get(f"/kwarg/{'x' * 51}")
        assert too_long.status_code == 422
        assert too_long.json()["detail"][0]["loc"] == ["path", "company_slug"]


@pytest.mark.parametrize("value", ["company slug", "class", 3, "fastapi_viewsets_view"])
def test_a_lookup_url_kwarg_that_cannot_name_a_path_parameter_is_improperly_configured(
    value: Any,
) -> None:
    class Badly(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        lookup_url_kwarg = value

    with pytest.raises(ImproperlyConfigured, match=r"Badly: lookup_url_kwarg = .* Use a Python"):
        viewset(APIRouter(prefix="/badly"))(Badly)


def test_an_action_parameter_named_like_the_lookup_url_kwarg_is_improperly_configured() -> None:
    class Clash(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        lookup_url_kwarg = "company"

        @action(detail=True)
        async def peek(self, company: str) -> None:
            return None

    with pytest.raises(ImproperlyConfigured, match="'company' clashes with the lookup"):
        viewset(APIRouter(prefix="/clash"))(Clash)
