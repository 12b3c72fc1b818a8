"""``python -m fastapi_viewsets routes``: the route table of an app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict

from fastapi_viewsets import (
    IsAdminUser,
    IsAuthenticated,
    ModelViewSet,
    ReadOnlyModelViewSet,
    UserRateThrottle,
    action,
    viewset,
)
from fastapi_viewsets.__main__ import load, main
from fastapi_viewsets.route_table import format_table, route_table
from tests.models import Company

ROOT = Path(__file__).resolve().parent.parent


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class CompanyWrite(BaseModel):
    name: str


companies = APIRouter(prefix="/companies")


@viewset(companies)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite
    permission_classes = [IsAuthenticated | IsAdminUser]
    throttle_classes = [UserRateThrottle("100/minute")]

    @action(methods=["POST"], detail=True, permission_classes=[IsAdminUser])
    async def archive(self) -> CompanyRead:
        return CompanyRead.model_validate(await self.get_object())


dynamic = APIRouter(prefix="/public")


@viewset(dynamic)
class PublicViewSet(ReadOnlyModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead

    def get_permissions(self) -> list[IsAuthenticated]:
        return [IsAuthenticated()] if self.request.method == "POST" else []


def make_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(companies, prefix="/v1")

    @app.get("/health", name="health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    admin = FastAPI()
    admin.include_router(dynamic)
    app.mount("/admin", admin)
    return app


app = make_app()


def test_each_method_of_each_route_is_a_row() -> None:
    rows = {(r.method, r.path): r for r in route_table(app)}
    listing = rows[("GET", "/v1/companies")]
    assert (listing.viewset, listing.action) == ("CompanyViewSet", "list")
    assert listing.permissions == "(IsAuthenticated | IsAdminUser)"
    assert listing.throttles == "UserRateThrottle(100/minute)"
    archive = rows[("POST", "/v1/companies/{id}/archive")]
    assert (archive.action, archive.permissions) == ("archive", "IsAdminUser")
    assert {m for m, p in rows if p == "/v1/companies/{id}"} == {"GET", "PUT", "PATCH", "DELETE"}
    health = rows[("GET", "/health")]
    assert (health.viewset, health.action, health.permissions) == ("-", "health", "-")
    # A mounted app's routes, under the mount's path; a get_permissions() that needs the request.
    public = rows[("GET", "/admin/public")]
    assert (public.viewset, public.permissions, public.throttles) == (
        "PublicViewSet",
        "get_permissions()",
        "-",
    )


def test_the_table_is_aligned_under_its_header() -> None:
    lines = format_table(route_table(app)).splitlines()
    assert lines[0].split() == ["METHOD", "PATH", "VIEWSET", "ACTION", "PERMISSIONS", "THROTTLES"]
    start = lines[0].index("PATH")
    assert all(line[start - 2 : start] == "  " for line in lines)
    assert any(line.startswith("GET     /v1/companies ") for line in lines)


def test_load_takes_an_app_or_a_factory() -> None:
    assert load("tests.test_route_table:app") is app
    assert isinstance(load("tests.test_route_table:make_app", factory=True), FastAPI)


@pytest.mark.parametrize(
    ("target", "factory", "message"),
    [
        ("tests.test_route_table", False, "MODULE:NAME"),
        ("tests.nowhere:app", False, "cannot import"),
        ("tests.test_route_table:nothing", False, "has no 'nothing'"),
        ("tests.test_route_table:make_app", False, "Add --factory"),
        ("tests.test_route_table:ROOT", True, "needs a function"),
    ],
)
def test_a_target_that_does_not_load_says_why(target: str, factory: bool, message: str) -> None:
    with pytest.raises(SystemExit) as raised:
        load(target, factory=factory)
    assert message in str(raised.value)


def test_main_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "tests.test_route_table:make_app", "--factory"]) == 0
    out = capsys.readouterr().out
    assert "POST    /v1/companies/{id}/archive" in out


def test_the_command_runs_as_a_module() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastapi_viewsets",
            "routes",
            "example_project.app:create_app",
            "--factory",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "OrganisationViewSet" in done.stdout
    assert "/auth/token" in done.stdout
