"""``GenericViewSet``: what an instance knows per request, and the hooks every action uses."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, Header
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from fastapi_viewsets import BaseStateManager, GenericViewSet, ModelViewSet, action, viewset
from fastapi_viewsets.schemas import default_read_schema
from tests.models import Company, User
from tests.utils import create_app, serve


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    size: int


class CompanyWrite(BaseModel):
    name: str
    size: int = 0


class CompanyUpdate(BaseModel):
    size: int


async def user_from_header(x_user: Annotated[str | None, Header()] = None) -> None:
    BaseStateManager.set_user(x_user)


def app_with(*routers: APIRouter) -> Any:
    return create_app(*routers, dependencies=[Depends(user_from_header)])


class ShoutingState(BaseStateManager[str]):
    @property
    def loud_user(self) -> str | None:
        return self.user.upper() if self.user else None


router = APIRouter(prefix="/companies")


@viewset(router)
class ProbeViewSet(ModelViewSet[Company]):
    """Answers every action with what the instance knew, in an X-View header."""

    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite
    state_class = ShoutingState

    def describe(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "kwargs": self.kwargs,
            "user": self.user,
            "method": self.request.method,
            "path": self.request.url.path,
            "state_action": self.state.action,
            "loud_user": self.state.loud_user,  # type: ignore[attr-defined]
        }

    def make_response(self, data: Any, *, many: bool = False, status_code: int = 200) -> Response:
        response = super().make_response(data, many=many, status_code=status_code)
        response.headers["X-View"] = json.dumps(self.describe())
        return response

    async def destroy(self) -> Response:
        response = await super().destroy()
        response.headers["X-View"] = json.dumps(self.describe())
        return response

    @action(detail=True)
    async def inspect(self) -> dict[str, Any]:
        await self.get_object()
        return self.describe()

    @action(methods=["POST"], detail=False)
    async def whoami(self) -> dict[str, Any]:
        return self.describe()

    @action(detail=False)
    async def memo(self, value: str) -> dict[str, Any]:
        previous = getattr(self, "remembered", None)
        self.remembered = value
        return {"previous": previous, "now": self.remembered}


@pytest.mark.parametrize(
    ("method", "path", "action_name", "detail"),
    [
        ("GET", "/companies", "list", False),
        ("POST", "/companies", "create", False),
        ("GET", "/companies/{id}", "retrieve", True),
        ("PUT", "/companies/{id}", "update", True),
        ("PATCH", "/companies/{id}", "partial_update", True),
        ("DELETE", "/companies/{id}", "destroy", True),
        ("GET", "/companies/{id}/inspect", "inspect", True),
        ("POST", "/companies/whoami", "whoami", False),
    ],
)
@pytest.mark.parametrize("user", [None, "alice"])
async def test_action_request_kwargs_and_user_are_set_per_action(
    method: str, path: str, action_name: str, detail: bool, user: str | None
) -> None:
    async with serve(app_with(router)) as client:
        company = await Company.create(name="acme")
        url = path.format(id=company.id)
        headers = {"X-User": user} if user else {}
        response = await client.request(method, url, json={"name": "b"}, headers=headers)
    assert response.status_code < 300, response.text
    seen = response.json() if "inspect" in path or "whoami" in path else None
    if seen is None:
        seen = json.loads(response.headers["X-View"])
    assert seen == {
        "action": action_name,
        "kwargs": {"id": company.id} if detail else {},
        "user": user,
        "method": method,
        "path": url,
        "state_action": action_name,
        "loud_user": user.upper() if user else None,
    }


async def test_each_request_gets_a_new_instance() -> None:
    async with serve(app_with(router)) as client:
        first = await client.get("/companies/memo", params={"value": "one"})
        second = await client.get("/companies/memo", params={"value": "two"})
    assert first.json() == {"previous": None, "now": "one"}
    assert second.json() == {"previous": None, "now": "two"}
    assert "remembered" not in vars(ProbeViewSet)


async def test_kwargs_are_known_in_initial() -> None:
    seen: list[dict[str, Any]] = []
    local = APIRouter(prefix="/early")

    @viewset(local)
    class Early(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite

        async def initial(self) -> None:
            seen.append(dict(self.kwargs))
            await super().initial()

    async with serve(create_app(local)) as client:
        company = await Company.create(name="acme")
        assert (await client.get(f"/early/{company.id}")).status_code == 200
    # The raw path value (as DRF's URL kwargs) or the parsed one: either names the row.
    assert [{key: str(value) for key, value in kwargs.items()} for kwargs in seen] == [
        {"id": str(company.id)}
    ]


# --- per-user querysets -----------------------------------------------------------------------

owned = APIRouter(prefix="/mine")


@viewset(owned)
class MyCompanies(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite
    update_schema = CompanyUpdate

    def get_queryset(self) -> Any:
        if self.user is None:
            return Company.filter(id__in=[])
        return Company.filter(owner__username=self.user)

    async def perform_create(self, obj: Company) -> Company:
        obj.owner = await User.get(username=self.user)
        return await super().perform_create(obj)


async def test_get_queryset_and_hooks_see_the_user() -> None:
    async with serve(app_with(owned)) as client:
        await User.create(username="alice")
        await User.create(username="bob")
        alice = {"X-User": "alice"}
        bob = {"X-User": "bob"}
        created = await client.post("/mine", json={"name": "alice-co"}, headers=alice)
        assert created.status_code == 201
        company_id = created.json()["id"]
        assert (await Company.get(id=company_id).prefetch_related("owner")).owner.username == (
            "alice"
        )
        assert [c["id"] for c in (await client.get("/mine", headers=alice)).json()] == [company_id]
        assert (await client.get("/mine", headers=bob)).json() == []
        assert (await client.get("/mine")).json() == []
        assert (await client.get(f"/mine/{company_id}", headers=bob)).status_code == 404
        put = await client.put(f"/mine/{company_id}", json={"size": 3}, headers=bob)
        assert put.status_code == 404
        put = await client.put(f"/mine/{company_id}", json={"size": 3}, headers=alice)
        assert put.json()["size"] == 3
        assert (await client.delete(f"/mine/{company_id}", headers=bob)).status_code == 404
        assert (await client.delete(f"/mine/{company_id}", headers=alice)).status_code == 204


# --- the helpers an action can use -------------------------------------------------------------

helpers = APIRouter(prefix="/helpers")


@viewset(helpers)
class Helpers(GenericViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    lookup_field = "slug"

    def get_lookup_value(self) -> Any:
        return self.kwargs["slug"].lower()

    @action(detail=False)
    async def big(self, min_size: int = 5) -> Response:
        rows = await self.load(self.get_queryset().filter(size__gte=min_size).order_by("id"))
        return self.make_response(rows, many=True)

    @action(detail=True)
    async def raw(self) -> Response:
        company = await self.get_object()
        return Response(self.serialize(company), media_type="application/json", status_code=203)

    @action(methods=["POST"], detail=False)
    async def clone(self, name: str) -> Response:
        async with self.atomic({"name": name}):
            copy = await Company.create(name=name)
        return self.make_response(copy, status_code=201)


async def test_load_serialize_make_response_atomic_and_get_lookup_value() -> None:
    async with serve(create_app(helpers)) as client:
        await Company.create(name="small", size=1, slug="small")
        big = await Company.create(name="big", size=9, slug="big")
        listing = await client.get("/helpers/big")
        raw = await client.get("/helpers/BIG/raw")
        cloned = await client.post("/helpers/clone", params={"name": "copy"})
        duplicate = await client.post("/helpers/clone", params={"name": "big"})
        assert await Company.all().count() == 3
    assert listing.json() == [{"id": big.id, "name": "big", "size": 9}]
    assert listing.headers["content-type"] == "application/json"
    assert (raw.status_code, raw.json()) == (203, {"id": big.id, "name": "big", "size": 9})
    assert cloned.status_code == 201
    assert cloned.json()["name"] == "copy"
    assert duplicate.status_code == 409
    assert duplicate.json() == {"detail": "A company with this name already exists."}


def test_get_schema_class_defaults() -> None:
    class Defaults(GenericViewSet[Company]):
        model = Company
        create_schema = CompanyWrite

    class WithUpdate(Defaults):
        update_schema = CompanyUpdate
        read_schema = CompanyRead

    assert Defaults.get_schema_class("list") is default_read_schema(Company)
    assert Defaults.get_schema_class("create", write=True) is CompanyWrite
    assert Defaults.get_schema_class("update", write=True) is CompanyWrite
    assert Defaults.get_schema_class("partial_update", write=True) is CompanyWrite
    assert WithUpdate.get_schema_class("retrieve") is CompanyRead
    assert WithUpdate.get_schema_class("create", write=True) is CompanyWrite
    assert WithUpdate.get_schema_class("update", write=True) is CompanyUpdate
    assert WithUpdate.get_schema_class("partial_update", write=True) is CompanyUpdate
    assert GenericViewSet.get_schema_class("my_action", write=True) is None


# --- lookup_url_kwarg: the URL's name for the lookup -----------------------------------------


class SlugWrite(BaseModel):
    name: str
    slug: str
    size: int = 0


class KwargViewSet(ModelViewSet[Company]):
    """Looks companies up by slug, named ``company`` in the URL; answers with what it saw."""

    model = Company
    read_schema = CompanyRead
    create_schema = SlugWrite
    lookup_field = "slug"
    lookup_url_kwarg = "company"

    def finalize_response(self, response: Response) -> Response:
        response.headers["X-Kwargs"] = json.dumps(self.kwargs)
        return super().finalize_response(response)

    @action(detail=True)
    async def seen(self) -> dict[str, Any]:
        company = await self.get_object()
        return {"kwargs": self.kwargs, "value": self.get_lookup_value(), "name": company.name}


class KwargViewSetPlain(KwargViewSet):
    """The same, on the plain path: every standard action reads its object with the mixins'
    get_object()."""

    async def get_object(self) -> Company:
        return await super().get_object()


by_kwarg = APIRouter(prefix="/by-kwarg")
viewset(by_kwarg, basename="by-kwarg")(KwargViewSet)
by_kwarg_plain = APIRouter(prefix="/by-kwarg-plain")
viewset(by_kwarg_plain, basename="by-kwarg-plain")(KwargViewSetPlain)


async def answers_by_kwarg(client: Any, prefix: str) -> list[tuple[int, Any, Any]]:
    """What a client sees through every detail route of ``prefix``."""
    await Company.create(name="acme", slug="acme", size=1)
    await Company.create(name="other", slug="other", size=2)
    requests = [
        ("GET", "/acme", None),
        ("GET", "/nope", None),
        ("GET", f"/{'x' * 51}", None),  # beyond the column: a 422 naming the URL's parameter
        ("GET", "/acme/seen", None),
        ("GET", "/nope/seen", None),
        ("PATCH", "/acme", {"size": 5}),
        ("PUT", "/other", {"name": "other", "slug": "other", "size": 7}),
        ("PUT", "/nope", {"name": "nope", "slug": "nope"}),
        ("DELETE", "/acme", None),
        ("GET", "/acme", None),
        ("DELETE", "/acme", None),
    ]
    answers = []
    for method, path, body in requests:
        response = await client.request(method, prefix + path, json=body)
        content = response.json() if response.content else None
        if isinstance(content, dict) and "id" in content:
            content = {k: v for k, v in content.items() if k != "id"}
        answers.append((response.status_code, content, response.headers.get("x-kwargs")))
    return answers


async def test_lookup_url_kwarg_names_the_url_value_that_get_object_looks_up() -> None:
    async with serve(create_app(by_kwarg)) as client:
        answers = await answers_by_kwarg(client, "/by-kwarg")
    not_found = {"detail": "No company matches the given query."}
    # X-Kwargs: self.kwargs, as finalize_response() saw it (errors do not pass there).
    assert answers == [
        (200, {"name": "acme", "size": 1}, '{"company": "acme"}'),
        (404, not_found, None),
        (422, answers[2][1], None),
        (
            200,
            {"kwargs": {"company": "acme"}, "value": "acme", "name": "acme"},
            '{"company": "acme"}',
        ),
        (404, not_found, None),
        (200, {"name": "acme", "size": 5}, '{"company": "acme"}'),
        (200, {"name": "other", "size": 7}, '{"company": "other"}'),
        (404, not_found, None),
        (204, None, '{"company": "acme"}'),
        (404, not_found, None),
        (404, not_found, None),
    ]
    assert answers[2][1]["detail"][0]["loc"] == ["path", "company"]


async def test_lookup_url_kwarg_answers_the_same_on_the_plain_path() -> None:
    async with serve(create_app(by_kwarg)) as client:
        fast = await answers_by_kwarg(client, "/by-kwarg")
    async with serve(create_app(by_kwarg_plain)) as client:
        plain = await answers_by_kwarg(client, "/by-kwarg-plain")
    assert plain == fast


async def test_lookup_url_kwarg_alone_renames_the_primary_key() -> None:
    local = APIRouter(prefix="/renamed")

    @viewset(local)
    class Renamed(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyWrite
        lookup_url_kwarg = "company_id"

    async with serve(create_app(local)) as client:
        company = await Company.create(name="acme")
        response = await client.get(f"/renamed/{company.id}")
        assert response.json() == {"id": company.id, "name": "acme", "size": 0}
        response = await client.patch(f"/renamed/{company.id}", json={"name": "b"})
        assert response.json()["name"] == "b"
        assert (await client.get("/renamed/x")).json()["detail"][0]["loc"] == [
            "path",
            "company_id",
        ]
        assert (await client.delete(f"/renamed/{company.id}")).status_code == 204
