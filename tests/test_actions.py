"""``@action``: extra routes beside the standard ones, with FastAPI's parameters.

This module evaluates its annotations eagerly; test_actions_future.py is the same with
``from __future__ import annotations``.
"""

import warnings
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict
from tortoise.queryset import QuerySet

from fastapi_viewsets import (
    AllowAny,
    BaseStateManager,
    DenyAll,
    GenericViewSet,
    ImproperlyConfigured,
    IsAuthenticated,
    ModelViewSet,
    ReadOnlyModelViewSet,
    action,
    viewset,
)
from fastapi_viewsets.actions import get_action_spec
from tests.models import Company
from tests.utils import create_app, serve


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    description: str | None


class CompanyWrite(BaseModel):
    name: str
    description: str | None = None


class CompanySummary(BaseModel):
    name: str


class Rename(BaseModel):
    name: str
    shout: bool = False


def multiplier(x_multiplier: Annotated[int, Header()] = 1) -> int:
    return x_multiplier


async def mark_notified(company_id: int, note: str) -> None:
    await Company.filter(id=company_id).update(description=note)


class StatsMixin:
    """An action inherited from a mixin is registered like one on the class."""

    @action(detail=False, url_path="inherited")
    async def inherited_stats(self) -> dict[str, str]:
        return {"from": "mixin"}


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(StatsMixin, ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    def get_queryset(self) -> Any:
        return Company.all()

    async def retrieve(self) -> Response:
        return await super().retrieve()

    @action(detail=False)
    async def stats(self, min_size: int = 0) -> dict[str, Any]:
        count = await self.get_queryset().filter(size__gte=min_size).count()
        return {"count": count, "min_size": min_size, "kwargs": self.kwargs}

    @action(methods=["post"], detail=True)
    async def rename(self, body: Rename) -> CompanyRead:
        company = await self.get_object()
        company.name = body.name.upper() if body.shout else body.name
        await company.save()
        return company  # type: ignore[return-value]  # an ORM object, read from attributes

    @action(detail=False)
    async def recent_activity(self) -> list[str]:
        return ["recent"]

    @action(detail=False, url_path="by-name/{name}", url_name="lookup-by-name")
    async def find_by_name(self, name: str) -> CompanyRead:
        company = await self.get_queryset().get_or_none(name=name)
        if company is None:
            return CompanyRead(id=0, name=name, description="missing")
        return CompanyRead.model_validate(company)

    @action(detail=False)
    async def calc(
        self, factor: Annotated[int, Depends(multiplier)], base: Annotated[int, Query(ge=1)] = 1
    ) -> dict[str, int]:
        return {"result": base * factor}

    @action(methods=["POST"], detail=True, status_code=202)
    async def notify(self, tasks: BackgroundTasks, note: str = "notified") -> dict[str, str]:
        company = await self.get_object()
        tasks.add_task(mark_notified, company.id, note)
        return {"queued": note}

    @action(detail=False)
    async def echo(self, request: Request) -> dict[str, Any]:
        return {
            "path": request.url.path,
            "probe": request.headers.get("x-probe"),
            "same_url": request.url == self.request.url,
            "q": dict(request.query_params),
        }

    @action(methods=["GET", "POST"], detail=True)
    async def flag(self) -> dict[str, Any]:
        return {"method": self.request.method, "action": self.action, "kwargs": self.kwargs}

    @action(detail=True, response_model=CompanySummary)
    async def summary(self) -> Any:
        company = await self.get_object()
        return {"name": company.name, "secret": "not in the response model"}

    @action(
        detail=False,
        summary="Custom summary",
        responses={418: {"description": "I'm a teapot"}},
        deprecated=True,
    )
    async def teapot(self) -> dict[str, bool]:
        """Brew a pot.

        The action's docstring is the operation's description.
        """
        return {"brewed": True}

    @action(detail=False, include_in_schema=False, response_class=PlainTextResponse)
    async def hidden(self) -> str:
        return "hidden"

    @action(detail=False)
    async def zzz_declared_last(self) -> str:
        return "not swallowed"


async def test_a_list_action_beside_the_detail_route_is_not_swallowed() -> None:
    async with serve(create_app(router)) as client:
        await Company.create(name="small", size=1)
        await Company.create(name="big", size=10)
        stats = await client.get("/companies/stats", params={"min_size": 5})
        last = await client.get("/companies/zzz-declared-last")
        inherited = await client.get("/companies/inherited")
    assert stats.status_code == 200
    assert stats.json() == {"count": 1, "min_size": 5, "kwargs": {}}
    assert last.json() == "not swallowed"
    assert inherited.json() == {"from": "mixin"}


async def test_action_query_params_are_validated() -> None:
    async with serve(create_app(router)) as client:
        response = await client.get("/companies/stats", params={"min_size": "lots"})
        low = await client.get("/companies/calc", params={"base": 0})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "min_size"]
    assert low.status_code == 422
    assert low.json()["detail"][0]["loc"] == ["query", "base"]


async def test_a_detail_action_with_a_body_uses_get_object() -> None:
    async with serve(create_app(router)) as client:
        company = await Company.create(name="acme")
        response = await client.post(
            f"/companies/{company.id}/rename", json={"name": "new", "shout": True}
        )
        assert response.status_code == 200
        assert response.json() == {"id": company.id, "name": "NEW", "description": None}
        assert (await Company.get(id=company.id)).name == "NEW"
        missing = await client.post("/companies/4242/rename", json={"name": "x"})
        assert missing.status_code == 404
        assert missing.json() == {"detail": "No company matches the given query."}
        bad_body = await client.post(f"/companies/{company.id}/rename", json={"shout": 1})
        assert bad_body.status_code == 422
        assert bad_body.json()["detail"][0]["loc"] == ["body", "name"]
        bad_id = await client.post("/companies/abc/rename", json={"name": "x"})
        assert bad_id.status_code == 422
        assert bad_id.json()["detail"][0]["loc"] == ["path", "id"]


async def test_url_path_defaults_to_the_name_with_dashes() -> None:
    app = create_app(router)
    assert app.url_path_for("company-recent-activity") == "/companies/recent-activity"
    async with serve(app) as client:
        assert (await client.get("/companies/recent-activity")).json() == ["recent"]
        assert (await client.get("/companies/recent_activity")).status_code == 422


async def test_custom_url_path_with_a_path_parameter_and_url_name() -> None:
    app = create_app(router)
    assert app.url_path_for("company-lookup-by-name", name="acme") == "/companies/by-name/acme"
    async with serve(app) as client:
        company = await Company.create(name="acme")
        found = await client.get("/companies/by-name/acme")
        missing = await client.get("/companies/by-name/nobody")
    assert found.json() == {"id": company.id, "name": "acme", "description": None}
    assert missing.json() == {"id": 0, "name": "nobody", "description": "missing"}


async def test_an_action_with_depends() -> None:
    async with serve(create_app(router)) as client:
        default = await client.get("/companies/calc", params={"base": 3})
        header = await client.get(
            "/companies/calc", params={"base": 3}, headers={"X-Multiplier": "5"}
        )
        bad = await client.get("/companies/calc", headers={"X-Multiplier": "x"})
    assert default.json() == {"result": 3}
    assert header.json() == {"result": 15}
    assert bad.status_code == 422


async def test_an_action_with_background_tasks_and_a_status_code() -> None:
    async with serve(create_app(router)) as client:
        company = await Company.create(name="acme")
        response = await client.post(f"/companies/{company.id}/notify", params={"note": "done"})
        assert response.status_code == 202
        assert response.json() == {"queued": "done"}
        assert (await Company.get(id=company.id)).description == "done"
        missing = await client.post("/companies/4242/notify")
        assert missing.status_code == 404


async def test_an_action_with_the_request() -> None:
    async with serve(create_app(router)) as client:
        response = await client.get("/companies/echo?a=1", headers={"X-Probe": "yes"})
    assert response.json() == {
        "path": "/companies/echo",
        "probe": "yes",
        "same_url": True,
        "q": {"a": "1"},
    }


async def test_a_multi_method_action_answers_each_method() -> None:
    app = create_app(router)
    assert app.url_path_for("company-flag", id=1) == "/companies/1/flag"
    async with serve(app) as client:
        get = await client.get("/companies/1/flag")
        post = await client.post("/companies/1/flag")
        put = await client.put("/companies/1/flag")
        spec = (await client.get("/openapi.json")).json()
    assert get.json() == {"method": "GET", "action": "flag", "kwargs": {"id": 1}}
    assert post.json() == {"method": "POST", "action": "flag", "kwargs": {"id": 1}}
    assert put.status_code == 405
    item = spec["paths"]["/companies/{id}/flag"]
    assert set(item) == {"get", "post"}
    assert item["get"]["operationId"] == "company_flag_get"
    assert item["post"]["operationId"] == "company_flag_post"
    assert item["get"]["summary"] == "Flag"


async def test_an_actions_response_model_filters_its_answer() -> None:
    async with serve(create_app(router)) as client:
        company = await Company.create(name="acme")
        response = await client.get(f"/companies/{company.id}/summary")
        spec = (await client.get("/openapi.json")).json()
    assert response.json() == {"name": "acme"}
    ok = spec["paths"]["/companies/{id}/summary"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CompanySummary"
    }


async def test_route_keyword_arguments_reach_fastapi() -> None:
    async with serve(create_app(router)) as client:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            spec = (await client.get("/openapi.json")).json()
        hidden = await client.get("/companies/hidden")
        teapot = await client.get("/companies/teapot")
    operation = spec["paths"]["/companies/teapot"]["get"]
    assert operation["summary"] == "Custom summary"
    assert operation["deprecated"] is True
    assert operation["description"].startswith("Brew a pot.")
    assert operation["responses"]["418"]["description"] == "I'm a teapot"
    assert operation["operationId"] == "company_teapot"
    assert "/companies/hidden" not in spec["paths"]
    assert (hidden.text, hidden.headers["content-type"].split(";")[0]) == ("hidden", "text/plain")
    assert teapot.json() == {"brewed": True}


async def test_detail_action_responses_merge_404_with_the_actions_own() -> None:
    local = APIRouter(prefix="/merged")

    @viewset(local)
    class Merged(GenericViewSet[Company]):
        model = Company
        read_schema = CompanyRead

        @action(detail=True, responses={410: {"description": "Gone"}})
        async def gone(self) -> CompanyRead:
            return CompanyRead.model_validate(await self.get_object())

    async with serve(create_app(local)) as client:
        spec = (await client.get("/openapi.json")).json()
    responses = spec["paths"]["/merged/{id}/gone"]["get"]["responses"]
    assert {"200", "404", "410", "422"} == set(responses)


async def test_a_viewset_with_only_actions_has_only_action_routes() -> None:
    local = APIRouter(prefix="/only")

    @viewset(local)
    class OnlyActions(GenericViewSet[Company]):
        model = Company

        @action(detail=False)
        async def ping(self) -> str:
            return "pong"

    assert [(route.path, route.name) for route in local.routes if isinstance(route, APIRoute)] == [
        ("/only/ping", "company-ping")
    ]
    async with serve(create_app(local)) as client:
        assert (await client.get("/only/ping")).json() == "pong"
        assert (await client.get("/only")).status_code == 404


async def test_detail_actions_with_a_slug_lookup() -> None:
    local = APIRouter(prefix="/by-slug")

    @viewset(local)
    class BySlug(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        lookup_field = "slug"

        @action(detail=True)
        async def card(self) -> dict[str, Any]:
            company = await self.get_object()
            return {"name": company.name, "kwargs": self.kwargs}

    async with serve(create_app(local)) as client:
        await Company.create(name="acme", slug="acme-inc")
        found = await client.get("/by-slug/acme-inc/card")
        missing = await client.get("/by-slug/nope/card")
    assert found.json() == {"name": "acme", "kwargs": {"slug": "acme-inc"}}
    assert missing.status_code == 404


async def test_a_204_action_returning_none() -> None:
    local = APIRouter(prefix="/no-content")

    @viewset(local)
    class NoContent(GenericViewSet[Company]):
        model = Company

        @action(methods=["POST"], detail=False, status_code=204)
        async def reset(self) -> None:
            return None

    async with serve(create_app(local)) as client:
        response = await client.post("/no-content/reset")
    assert response.status_code == 204
    assert response.content == b""


async def test_response_model_none_disables_the_return_annotation() -> None:
    local = APIRouter(prefix="/raw")

    @viewset(local)
    class Raw(GenericViewSet[Company]):
        model = Company

        @action(detail=False, response_model=None)
        async def either(self, raw: bool = False) -> Response | dict[str, int]:
            return PlainTextResponse("raw") if raw else {"a": 1}

    async with serve(create_app(local)) as client:
        assert (await client.get("/raw/either")).json() == {"a": 1}
        assert (await client.get("/raw/either?raw=1")).text == "raw"


# --- mistakes found at decoration -------------------------------------------------------------


def sync_action() -> type:
    class SyncAction(GenericViewSet[Company]):
        model = Company

        @action(detail=False)
        def stats(self) -> int:
            return 1

    return SyncAction


def standard_name() -> type:
    class StandardName(ReadOnlyModelViewSet[Company]):
        model = Company

        @action(detail=False)
        async def list(self) -> Any:  # type: ignore[override]
            return []

    return StandardName


def var_args() -> type:
    class VarArgs(GenericViewSet[Company]):
        model = Company

        @action(detail=False)
        async def stats(self, *names: str) -> int:
            return 1

    return VarArgs


def var_kwargs() -> type:
    class VarKwargs(GenericViewSet[Company]):
        model = Company

        @action(detail=False)
        async def stats(self, **names: str) -> int:
            return 1

    return VarKwargs


def lookup_clash() -> type:
    class LookupClash(GenericViewSet[Company]):
        model = Company

        @action(detail=True)
        async def stats(self, id: int) -> int:
            return id

    return LookupClash


def view_param_clash() -> type:
    class ViewParamClash(GenericViewSet[Company]):
        model = Company

        @action(detail=False)
        async def stats(self, fastapi_viewsets_view: int = 0) -> int:
            return 1

    return ViewParamClash


def unresolvable_annotation() -> type:
    class Unresolvable(GenericViewSet[Company]):
        model = Company

        @action(detail=False)
        async def stats(self, q: "NotDefinedAnywhere") -> int:  # type: ignore[name-defined]  # noqa: F821
            return 1

    return Unresolvable


@pytest.mark.parametrize(
    ("make", "owner", "words"),
    [
        pytest.param(sync_action, "SyncAction.stats", "async def", id="sync"),
        pytest.param(
            standard_name, "StandardName.list", "viewset method or hook", id="standard-name"
        ),
        pytest.param(var_args, "VarArgs.stats", "'names'", id="var-args"),
        pytest.param(var_kwargs, "VarKwargs.stats", "'names'", id="var-kwargs"),
        pytest.param(lookup_clash, "LookupClash.stats", "'id'", id="lookup-clash"),
        pytest.param(view_param_clash, "ViewParamClash.stats", "clashes", id="view-param"),
        pytest.param(
            unresolvable_annotation, "Unresolvable.stats", "cannot be resolved", id="hint"
        ),
    ],
)
def test_action_mistakes_are_improperly_configured_at_decoration(
    make: Any, owner: str, words: str
) -> None:
    local = APIRouter(prefix="/broken")
    cls = make()
    with pytest.raises(ImproperlyConfigured) as raised:
        viewset(local)(cls)
    assert owner in str(raised.value)
    assert words in str(raised.value)


def test_a_lookup_named_parameter_is_fine_on_a_list_action() -> None:
    local = APIRouter(prefix="/fine")

    @viewset(local)
    class Fine(GenericViewSet[Company]):
        model = Company

        @action(detail=False)
        async def by_id(self, id: int) -> int:
            return id

    assert [route.path for route in local.routes if isinstance(route, APIRoute)] == ["/fine/by-id"]


# --- permissions per action, and actions that list --------------------------------------------

guarded = APIRouter(prefix="/guarded")


@viewset(guarded)
class Guarded(ReadOnlyModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    permission_classes = (DenyAll,)

    @action(detail=False, permission_classes=[AllowAny])
    async def public(self) -> dict[str, str]:
        return {"action": self.action}

    @action(detail=False)
    async def private(self) -> dict[str, str]:
        return {"action": self.action}

    @action(detail=False, permission_classes=[AllowAny])
    async def recent(self) -> QuerySet[Company]:
        return self.get_queryset().filter(size__gte=5).order_by("id")

    @action(detail=False, permission_classes=[AllowAny])
    async def recent_or_gone(self, gone: bool = False) -> QuerySet[Company]:
        if gone:  # a listing action may still answer with a response of its own
            return PlainTextResponse("gone", status_code=410)  # type: ignore[return-value]
        return self.get_queryset().order_by("id")


@viewset(guarded, prefix="/by-user", basename="company_by_user")
class GuardedByUser(ReadOnlyModelViewSet[Company]):
    """Permissions that depend on the request cannot be known at registration."""

    model = Company
    read_schema = CompanyRead

    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self.user == "admin" else [DenyAll()]


async def test_an_actions_permission_classes_replace_the_viewsets() -> None:
    async with serve(create_app(guarded)) as client:
        big = await Company.create(name="big", size=9)
        await Company.create(name="small", size=1)
        public = await client.get("/guarded/public")
        private = await client.get("/guarded/private")
        listing = await client.get("/guarded")
        recent = await client.get("/guarded/recent")
        listed = await client.get("/guarded/recent-or-gone")
        gone = await client.get("/guarded/recent-or-gone", params={"gone": True})
        spec = (await client.get("/openapi.json")).json()
    assert public.json() == {"action": "public"}
    assert private.status_code == 401
    assert listing.status_code == 401
    assert recent.json() == [{"id": big.id, "name": "big", "description": None}]
    assert [c["name"] for c in listed.json()] == ["big", "small"]
    assert (gone.status_code, gone.text) == (410, "gone")
    paths = spec["paths"]
    assert {"401", "403"} <= set(paths["/guarded/private"]["get"]["responses"])
    assert {"401", "403"} <= set(paths["/guarded"]["get"]["responses"])
    assert not {"401", "403"} & set(paths["/guarded/public"]["get"]["responses"])
    assert {"401", "403"} <= set(paths["/guarded/by-user"]["get"]["responses"])
    recent_ok = paths["/guarded/recent"]["get"]["responses"]["200"]
    assert recent_ok["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/CompanyRead"
    }


async def user_from_header(x_user: Annotated[str | None, Header()] = None) -> str | None:
    BaseStateManager.set_user(x_user)
    return x_user


seen_dependencies: list[str] = []


def note_dependency() -> None:
    seen_dependencies.append("ran")


ordered = APIRouter(prefix="/ordered")


@viewset(ordered)
class Ordered(GenericViewSet[Company]):
    model = Company
    permission_classes = (IsAuthenticated,)

    @action(detail=False)
    async def me(self, who: Annotated[str | None, Depends(user_from_header)]) -> dict[str, Any]:
        return {"who": who, "user": self.user}

    @action(detail=False, dependencies=[Depends(note_dependency)], permission_classes=[AllowAny])
    async def noted(self) -> int:
        return len(seen_dependencies)


async def test_an_actions_own_dependencies_run_before_its_permissions() -> None:
    async with serve(create_app(ordered)) as client:
        signed_in = await client.get("/ordered/me", headers={"X-User": "alice"})
        anonymous = await client.get("/ordered/me")
    assert signed_in.json() == {"who": "alice", "user": "alice"}
    assert anonymous.status_code == 401


async def test_router_dependencies_run_before_the_viewset() -> None:
    local = APIRouter(prefix="/routed", dependencies=[Depends(user_from_header)])

    @viewset(local)
    class Routed(GenericViewSet[Company]):
        model = Company
        permission_classes = (IsAuthenticated,)

        @action(detail=False)
        async def me(self) -> dict[str, Any]:
            return {"user": self.user}

    async with serve(create_app(local)) as client:
        signed_in = await client.get("/routed/me", headers={"X-User": "bob"})
        anonymous = await client.get("/routed/me")
    assert signed_in.json() == {"user": "bob"}
    assert anonymous.status_code == 401


async def test_route_dependencies_given_to_action_run() -> None:
    seen_dependencies.clear()
    async with serve(create_app(ordered)) as client:
        first = await client.get("/ordered/noted")
        second = await client.get("/ordered/noted")
    assert (first.json(), second.json()) == (1, 2)


@pytest.mark.parametrize("hook", ["apply_values", "get_object", "get_queryset", "serialize"])
def test_an_action_that_shadows_a_viewset_hook_is_improperly_configured(hook: str) -> None:
    async def shadow(self: Any) -> int:
        return 1

    shadow.__name__ = hook
    cls = type("Shadowing", (GenericViewSet,), {"model": Company, hook: action()(shadow)})
    with pytest.raises(ImproperlyConfigured) as raised:
        viewset(APIRouter(prefix="/shadow"))(cls)
    assert "Shadowing" in str(raised.value)
    assert hook in str(raised.value)


def test_action_records_what_it_was_given() -> None:
    async def stats(self: Any) -> int:
        return 1

    spec = get_action_spec(action(methods=["get", "post"], url_path="/s/")(stats))
    assert spec is not None
    assert (spec.methods, spec.url_path, spec.url_name, spec.detail) == (
        ("GET", "POST"),
        "s",
        "stats",
        False,
    )
    assert "NOT_GIVEN" in repr(spec)
    assert get_action_spec(stats) is spec
    assert get_action_spec(len) is None
