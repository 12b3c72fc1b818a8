"""The code samples of docs/permissions.md, run: each test checks what the page says of one.

The samples are the files docs/examples/permissions_*.py. They share the models, schemas and the
user dependency of permissions_app.py; the token of a request is the username.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from docs.examples import (
    permissions_app,
    permissions_async,
    permissions_basic,
    permissions_classes,
    permissions_composition,
    permissions_objects,
    permissions_scoping,
)
from docs.examples.permissions_app import Company, User
from tests.utils import create_app, serve

ROOT = Path(__file__).resolve().parent.parent
NOT_AUTHENTICATED = "Authentication credentials were not provided."
DENIED = "You do not have permission to perform this action."


class People:
    """alice owns acme (public), bob owns globex (private); admin is an admin; carol is
    disabled."""

    alice: User
    bob: User
    admin: User
    carol: User
    acme: Company
    globex: Company

    @classmethod
    async def create(cls) -> People:
        people = cls()
        people.alice = await User.create(username="alice")
        people.bob = await User.create(username="bob")
        people.admin = await User.create(username="admin", is_admin=True)
        people.carol = await User.create(username="carol", is_active=False)
        people.acme = await Company.create(name="acme", owner=people.alice)
        people.globex = await Company.create(name="globex", owner=people.bob, is_public=False)
        return people

    def path(self, template: str) -> str:
        return template.format(acme=self.acme.id, globex=self.globex.id)


def sample_app(module: ModuleType) -> FastAPI:
    """The sample's router in an app with permissions_app's dependencies, on the test DB."""
    return create_app(
        module.router,
        modules=[permissions_app.__name__],
        dependencies=permissions_app.app.router.dependencies,
    )


@asynccontextmanager
async def running(module: ModuleType) -> AsyncIterator[tuple[httpx.AsyncClient, People]]:
    async with serve(sample_app(module)) as client:
        yield client, await People.create()


def auth(who: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {who}"} if who else {}


async def send(
    client: httpx.AsyncClient, people: People, method: str, path: str, who: str | None, **kw: Any
) -> httpx.Response:
    return await client.request(method, people.path(path), headers=auth(who), **kw)


def operations(app: FastAPI) -> dict[str, dict[str, Any]]:
    spec = app.openapi()
    return {op["operationId"]: op for ops in spec["paths"].values() for op in ops.values()}


def refusing(app: FastAPI) -> set[str]:
    """The operations that document a refusal: a 401 (a request without a user), a 403 (one
    with a user), or both, as the permissions can give them."""
    return {
        operation_id
        for operation_id, operation in operations(app).items()
        if {"401", "403"} & set(operation["responses"])
    }


# --- the page itself ---------------------------------------------------------------------------


def test_the_page_includes_every_permissions_sample() -> None:
    page = (ROOT / "docs" / "permissions.md").read_text()
    samples = sorted((ROOT / "docs" / "examples").glob("permissions_*.py"))
    assert samples
    for sample in samples:
        assert f'```python\n--8<-- "docs/examples/{sample.name}"\n```' in page, sample.name


# --- permissions_app.py: who the user is -------------------------------------------------------


def test_the_app_dependency_declares_the_bearer_scheme() -> None:
    assert [d.dependency for d in permissions_app.app.router.dependencies] == [
        permissions_app.current_user
    ]
    app = sample_app(permissions_basic)
    spec = app.openapi()
    assert spec["components"]["securitySchemes"] == {
        "HTTPBearer": {"type": "http", "scheme": "bearer"}
    }
    for operation in operations(app).values():
        # The bearer token everywhere; optional ({}: no credentials) where no permission can
        # refuse a request without one, which is where no 401 is documented.
        public = "401" not in operation["responses"]
        expected = [{"HTTPBearer": []}, {}] if public else [{"HTTPBearer": []}]
        assert operation["security"] == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 401),
        ({"Authorization": "Bearer nobody"}, 401),
        ({"Authorization": "Basic YWxpY2U6eA=="}, 401),
        ({"Authorization": "Bearer alice"}, 201),
    ],
    ids=["no-token", "unknown-user", "other-scheme", "alice"],
)
async def test_the_user_is_the_bearer_tokens(headers: dict[str, str], expected: int) -> None:
    async with running(permissions_basic) as (client, _):
        response = await client.post("/companies", json={"name": "initech"}, headers=headers)
        assert response.status_code == expected
        if expected == 401:
            assert response.json() == {"detail": NOT_AUTHENTICATED}
            assert response.headers["www-authenticate"] == "Bearer"


# --- permissions_basic.py: get_permissions() by action ------------------------------------------

BASIC = [
    ("GET", "/companies", None, 200),
    ("GET", "/companies/{globex}", None, 200),
    ("POST", "/companies", None, 401),
    ("POST", "/companies", "bob", 201),
    ("PUT", "/companies/{acme}", None, 401),
    ("PUT", "/companies/{acme}", "bob", 200),
    ("PATCH", "/companies/{acme}", None, 401),
    ("PATCH", "/companies/{acme}", "bob", 200),
    ("DELETE", "/companies/{acme}", None, 401),
    ("DELETE", "/companies/{acme}", "bob", 403),
    ("DELETE", "/companies/{acme}", "admin", 403),
    ("DELETE", "/companies/{acme}", "alice", 204),
    ("DELETE", "/companies/987654", "alice", 404),
]


@pytest.mark.parametrize(("method", "path", "who", "expected"), BASIC)
async def test_basic(method: str, path: str, who: str | None, expected: int) -> None:
    body = {"name": "renamed"} if method in ("POST", "PUT", "PATCH") else None
    async with running(permissions_basic) as (client, people):
        response = await send(client, people, method, path, who, json=body)
        assert response.status_code == expected, response.text
        if expected == 403:
            assert response.json() == {"detail": "Only the owner may do this."}
        if method == "POST" and expected == 201:
            assert response.json()["owner_id"] == people.bob.id


async def test_basic_checks_permissions_before_the_body() -> None:
    async with running(permissions_basic) as (client, people):
        anonymous = await send(client, people, "POST", "/companies", None, json={"name": 5})
        assert anonymous.status_code == 401
        permitted = await send(client, people, "POST", "/companies", "bob", json={"name": 5})
        assert permitted.status_code == 422


def test_basic_openapi_documents_401_and_403_where_get_permissions_can_refuse() -> None:
    assert refusing(sample_app(permissions_basic)) == {
        "company_create",
        "company_update",
        "company_partial_update",
        "company_destroy",
    }


# --- permissions_classes.py: permission_classes and @action(permission_classes=...) ------------

CLASSES = [
    ("GET", "/companies", None, 200),
    ("GET", "/companies/{acme}", None, 200),
    ("POST", "/companies", None, 401),
    ("POST", "/companies", "bob", 201),
    ("PATCH", "/companies/{acme}", "bob", 200),  # any user: no object permission here
    ("DELETE", "/companies/{acme}", None, 401),
    ("GET", "/companies/stats", None, 401),
    ("GET", "/companies/stats", "alice", 403),
    ("GET", "/companies/stats", "admin", 200),
    ("GET", "/companies/ping", None, 200),
]


@pytest.mark.parametrize(("method", "path", "who", "expected"), CLASSES)
async def test_classes(method: str, path: str, who: str | None, expected: int) -> None:
    body = {"name": "renamed"} if method in ("POST", "PATCH") else None
    async with running(permissions_classes) as (client, people):
        response = await send(client, people, method, path, who, json=body)
        assert response.status_code == expected, response.text
        if path == "/companies/stats" and expected == 200:
            assert response.json() == {"companies": 2, "private": 1}
        if expected == 403:
            assert response.json() == {"detail": DENIED}


def test_classes_openapi() -> None:
    documented = refusing(sample_app(permissions_classes))
    assert "company_stats" in documented
    assert "company_create" in documented
    assert "company_ping" not in documented


# --- permissions_composition.py: &, | and ~ ----------------------------------------------------

COMPOSITION = [
    ("GET", "/companies/{acme}", None, 401, NOT_AUTHENTICATED),
    ("GET", "/companies/{acme}", "bob", 403, DENIED),  # `|` refuses with its second's message
    ("GET", "/companies/{acme}", "alice", 200, None),
    ("GET", "/companies/{acme}", "admin", 200, None),
    ("PATCH", "/companies/{acme}", "bob", 403, DENIED),
    ("PATCH", "/companies/{acme}", "admin", 200, None),
    ("GET", "/companies", "bob", 200, None),  # IsOwner has no opinion on a list
    ("GET", "/companies/mine", None, 401, NOT_AUTHENTICATED),
    ("GET", "/companies/mine", "admin", 403, DENIED),
]


@pytest.mark.parametrize(("method", "path", "who", "expected", "detail"), COMPOSITION)
async def test_composition(
    method: str, path: str, who: str | None, expected: int, detail: str | None
) -> None:
    body = {"name": "renamed"} if method == "PATCH" else None
    async with running(permissions_composition) as (client, people):
        response = await send(client, people, method, path, who, json=body)
        assert response.status_code == expected, response.text
        if detail is not None:
            assert response.json() == {"detail": detail}


async def test_composition_mine_lists_the_users_own_companies() -> None:
    async with running(permissions_composition) as (client, people):
        response = await send(client, people, "GET", "/companies/mine", "bob")
        assert [c["name"] for c in response.json()] == ["globex"]


# --- permissions_async.py ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "who", "expected", "detail"),
    [
        ("GET", "/companies", None, 401, NOT_AUTHENTICATED),
        ("GET", "/companies", "carol", 403, "This account is disabled."),
        ("GET", "/companies", "bob", 200, None),
        ("GET", "/companies/{acme}", "bob", 403, "Only the owner may do this."),
        ("GET", "/companies/{acme}", "alice", 200, None),
    ],
)
async def test_async(
    method: str, path: str, who: str | None, expected: int, detail: str | None
) -> None:
    async with running(permissions_async) as (client, people):
        response = await send(client, people, method, path, who)
        assert response.status_code == expected, response.text
        if detail is not None:
            assert response.json() == {"detail": detail}


async def test_async_asks_the_database_on_each_request() -> None:
    async with running(permissions_async) as (client, people):
        assert (await send(client, people, "GET", "/companies", "alice")).status_code == 200
        await User.filter(id=people.alice.id).update(is_active=False)
        refused = await send(client, people, "GET", "/companies", "alice")
        assert (refused.status_code, refused.json()) == (
            403,
            {"detail": "This account is disabled."},
        )


# --- permissions_objects.py ----------------------------------------------------------------------

OBJECTS = [
    ("GET", "/companies/{acme}", None, None, 200),
    ("PATCH", "/companies/{acme}", None, {"name": "x"}, 401),
    ("PATCH", "/companies/{acme}", "bob", {"name": "x"}, 403),
    ("PATCH", "/companies/{acme}", "alice", {"name": "x"}, 200),
    ("PUT", "/companies/{acme}", "bob", {"name": "x"}, 403),
    ("DELETE", "/companies/{acme}", "bob", None, 403),
    ("DELETE", "/companies/{acme}", "alice", None, 204),
    ("POST", "/companies/{acme}/transfer", None, {"owner_id": 1}, 401),
    ("POST", "/companies/{acme}/transfer", "bob", {"owner_id": 1}, 403),
    ("POST", "/companies/987654/transfer", "bob", {"owner_id": 1}, 404),
    ("POST", "/companies/{acme}/transfer", None, {}, 401),  # 401 before the body's 422
    ("POST", "/companies/{acme}/transfer", "bob", {}, 422),
]


@pytest.mark.parametrize(("method", "path", "who", "body", "expected"), OBJECTS)
async def test_objects(method: str, path: str, who: str | None, body: Any, expected: int) -> None:
    async with running(permissions_objects) as (client, people):
        response = await send(client, people, method, path, who, json=body)
        assert response.status_code == expected, response.text
        if expected == 403:
            assert response.json() == {"detail": "Only the owner may change this company."}
        if expected >= 400:
            await people.acme.refresh_from_db()
            assert (people.acme.name, people.acme.owner_id) == ("acme", people.alice.id)


async def test_objects_transfer_hands_the_company_over() -> None:
    async with running(permissions_objects) as (client, people):
        path = "/companies/{acme}/transfer"
        moved = await send(client, people, "POST", path, "alice", json={"owner_id": people.bob.id})
        assert (moved.status_code, moved.json()["owner_id"]) == (200, people.bob.id)
        again = await send(client, people, "POST", path, "alice", json={"owner_id": 1})
        assert again.status_code == 403  # alice is not the owner any more


# --- permissions_scoping.py ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "visible"),
    [(None, ["acme"]), ("alice", ["acme"]), ("bob", ["acme", "globex"])],
    ids=["anonymous", "alice", "bob"],
)
async def test_scoping_list(who: str | None, visible: list[str]) -> None:
    async with running(permissions_scoping) as (client, people):
        response = await send(client, people, "GET", "/companies", who)
        assert [c["name"] for c in response.json()] == visible


SCOPING = [
    ("GET", "/companies/{globex}", None, 404),  # private, not theirs: as if it did not exist
    ("GET", "/companies/{globex}", "alice", 404),
    ("GET", "/companies/{globex}", "bob", 200),
    ("PATCH", "/companies/{globex}", "alice", 404),  # 404, not 403: alice cannot see it
    ("DELETE", "/companies/{globex}", "alice", 404),
    ("PATCH", "/companies/{acme}", "bob", 403),  # bob sees acme but does not own it
    ("PATCH", "/companies/{acme}", None, 401),
    ("PATCH", "/companies/{globex}", None, 401),  # refused before any row is looked at
    ("DELETE", "/companies/{globex}", "bob", 204),
]


@pytest.mark.parametrize(("method", "path", "who", "expected"), SCOPING)
async def test_scoping_detail(method: str, path: str, who: str | None, expected: int) -> None:
    body = {"name": "renamed"} if method == "PATCH" else None
    async with running(permissions_scoping) as (client, people):
        response = await send(client, people, method, path, who, json=body)
        assert response.status_code == expected, response.text
        if expected == 404:
            assert response.json() == {"detail": "No company matches the given query."}
