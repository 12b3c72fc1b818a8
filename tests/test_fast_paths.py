"""The fast paths, seen from outside: what a client gets must not depend on which path served it.

* A retrieve answers from a row (prepared SQL, no model object) unless a permission checks objects
  or ``get_object`` is overridden; both paths answer the same JSON, the same 403s and 404s.
* Updates and deletes read the row's own columns through prepared SQL; refusals, scoping, the
  response after the write and ``auto_now`` columns behave as with ``get_object()``.
* A write whose hook is the default and whose model has no signal listeners opens no transaction;
  anything else still writes all or nothing.
* Headers and cookies that dependencies set on FastAPI's ``Response`` reach viewset responses.
* ``@action`` values are validated and dumped with the route's response model, as FastAPI does.
* Read schemas with serialisation aliases answer under the alias, as OpenAPI documents.

Transactions are observed at the driver: SQLite's trace callback (which sees the ``BEGIN``,
``COMMIT`` and ``ROLLBACK`` Tortoise sends through aiosqlite) and asyncpg's
``Connection.execute`` (which its ``Transaction`` uses for the same statements). Tortoise's own
``db_client`` log does not show them.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Response
from fastapi.exceptions import ResponseValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from tortoise import connections
from tortoise.queryset import QuerySet
from tortoise.signals import Signals

from fastapi_viewsets import (
    BasePermission,
    BaseStateManager,
    Conflict,
    IsAdminUser,
    IsAuthenticated,
    ModelViewSet,
    PermissionDenied,
    ReadOnlyModelViewSet,
    action,
    viewset,
)
from fastapi_viewsets.pagination import PageNumberPagination
from fastapi_viewsets.testing import assert_num_queries, capture_queries
from tests.models import (
    Company,
    Counter,
    Project,
    Sample,
    Tag,
    TicketPriority,
    TicketStatus,
    User,
)
from tests.utils import IS_POSTGRES, create_app, serve

NOT_AUTHENTICATED = "Authentication credentials were not provided."
DENIED = "You do not have permission to perform this action."
NOT_FOUND = "No company matches the given query."
TOO_BIG = 2**40  # beyond the IntField: the path parameter is bounded like its column (422)
NUL = "%00acme"  # a slug no text column can hold: it names no row and never reaches the database


# --- schemas ---------------------------------------------------------------------------------


class OwnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str


class CompanyRead(BaseModel):
    """Own columns only: a write answers with its model object."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    slug: str | None
    size: int
    is_public: bool
    owner_id: int | None
    created_at: Any
    updated_at: Any


class CompanyDeep(BaseModel):
    """A forward relation: a write answers with its row read again."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    slug: str | None
    size: int
    owner_id: int | None
    owner: OwnerRead | None
    updated_at: Any


class CompanyWrite(BaseModel):
    name: str
    slug: str | None = None
    size: int = 0
    is_public: bool = True
    owner_id: int | None = None


class OwnerAliased(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str = Field(serialization_alias="login")


class CompanyAliased(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str = Field(serialization_alias="companyName")
    owner: OwnerAliased | None


class Named(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str = Field(serialization_alias="companyName")
    description: str | None = None


class NamedWithSecret(Named):
    secret: str


# --- users, rows, apps -----------------------------------------------------------------------

bearer = HTTPBearer(auto_error=False)


async def current_user(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> User | None:
    user = await User.get_or_none(username=credentials.credentials) if credentials else None
    BaseStateManager.set_user(user)
    return user


def auth(username: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {username}"} if username else {}


def users_router(**kwargs: Any) -> APIRouter:
    """A router without a prefix (each viewset names its own) whose dependency sets the user."""
    return APIRouter(dependencies=[Depends(current_user)], **kwargs)


class World:
    alice: User
    bob: User
    admin: User
    acme: Company  # alice's, public, small
    globex: Company  # bob's, private
    initech: Company  # nobody's, public, big

    @classmethod
    async def create(cls) -> World:
        world = cls()
        world.alice = await User.create(username="alice")
        world.bob = await User.create(username="bob")
        world.admin = await User.create(username="admin", is_admin=True)
        world.acme = await Company.create(name="acme", slug="acme", owner=world.alice, size=10)
        world.globex = await Company.create(
            name="globex", slug="globex", owner=world.bob, is_public=False, size=20
        )
        world.initech = await Company.create(name="initech", size=500)
        return world


@asynccontextmanager
async def running(*routers: APIRouter) -> AsyncIterator[tuple[httpx.AsyncClient, World]]:
    async with serve(create_app(*routers)) as client:
        yield client, await World.create()


async def plain_json(schema: type[BaseModel], pk: int) -> Any:
    """What the read schema makes of the row's model object (FastAPI's own dump)."""
    obj = await Company.get(id=pk).prefetch_related("owner")
    return json.loads(schema.model_validate(obj).model_dump_json(by_alias=True))


async def snapshot(pk: int) -> dict[str, Any]:
    rows = await Company.filter(id=pk).values()
    return rows[0] if rows else {}


# --- permissions -----------------------------------------------------------------------------


class AllowObjects(BasePermission):
    """Checks objects (so the object path is taken) and allows every one."""

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        return True


class IsOwner(BasePermission):
    message = "Only the owner may do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return view.user is not None

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        return obj.owner_id == view.user.id


class Stranger(BasePermission):
    """Anonymous requests, and objects of someone else: ``~Stranger`` is "the owner"."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return view.user is None

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        return view.user is None or obj.owner_id != view.user.id


class SmallOnly(BasePermission):
    """Scopes rows, checks no object: the row path stays."""

    def filter_queryset(self, request: Any, view: Any, queryset: Any) -> Any:
        return queryset.filter(size__lt=100)


# --- retrieve: the row path and the object path ----------------------------------------------


async def test_retrieve_answers_the_same_json_on_the_row_and_the_object_path() -> None:
    router = users_router()

    @viewset(router, prefix="/rows", basename="rows")
    class Rows(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyDeep

    @viewset(router, prefix="/checked", basename="checked")
    class Checked(Rows):
        permission_classes = (AllowObjects,)

    @viewset(router, prefix="/own-get-object", basename="own_get_object")
    class OwnGetObject(Rows):
        async def get_object(self) -> Company:
            return await super().get_object()

    @viewset(router, prefix="/flat", basename="flat")
    class Flat(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead

    @viewset(router, prefix="/flat-checked", basename="flat_checked")
    class FlatChecked(Flat):
        permission_classes = (AllowObjects,)

    async with running(router) as (client, world):
        for company in (world.acme, world.initech):  # with an owner, and without
            deep = await plain_json(CompanyDeep, company.id)
            flat = await plain_json(CompanyRead, company.id)
            with assert_num_queries(1):
                row = await client.get(f"/rows/{company.id}")
            assert row.status_code == 200
            assert row.json() == deep
            for prefix in ("/checked", "/own-get-object"):
                response = await client.get(f"{prefix}/{company.id}")
                assert response.status_code == 200
                assert response.json() == deep
            with assert_num_queries(1):
                row = await client.get(f"/flat/{company.id}")
            assert row.json() == flat
            assert (await client.get(f"/flat-checked/{company.id}")).json() == flat
        assert deep["owner"] is None
        acme = (await client.get(f"/rows/{world.acme.id}")).json()
        assert acme["owner"] == {"id": world.alice.id, "username": "alice"}


async def test_retrieve_with_negated_and_or_permissions_checks_the_object() -> None:
    router = users_router()

    @viewset(router, prefix="/owners", basename="owners")
    class Owners(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyDeep
        permission_classes = (~Stranger,)

    @viewset(router, prefix="/not-admin", basename="not_admin")
    class NotAdmin(Owners):
        permission_classes = (~IsAdminUser,)

    @viewset(router, prefix="/either", basename="either")
    class Either(Owners):
        permission_classes = (IsAdminUser | IsOwner,)

    @viewset(router, prefix="/no-objects", basename="no_objects")
    class NoObjects(Owners):
        permission_classes = (IsAuthenticated | IsAdminUser,)

    async with running(router) as (client, world):
        acme = await plain_json(CompanyDeep, world.acme.id)
        globex = await plain_json(CompanyDeep, world.globex.id)

        async def get(path: str, user: str | None) -> httpx.Response:
            return await client.get(path, headers=auth(user))

        # ~Stranger: a user, and the object's owner.
        assert (await get(f"/owners/{world.acme.id}", None)).status_code == 401
        response = await get(f"/owners/{world.acme.id}", "alice")
        assert (response.status_code, response.json()) == (200, acme)
        response = await get(f"/owners/{world.globex.id}", "alice")
        assert (response.status_code, response.json()) == (403, {"detail": DENIED})
        assert (await get(f"/owners/{world.globex.id}", "bob")).json() == globex

        # ~IsAdminUser: as in DRF, the negated default object check refuses every object.
        assert (await get("/not-admin", "alice")).status_code == 200
        response = await get(f"/not-admin/{world.acme.id}", "alice")
        assert (response.status_code, response.json()) == (403, {"detail": DENIED})
        assert (await get(f"/not-admin/{world.acme.id}", "admin")).status_code == 403
        assert (await get(f"/not-admin/{world.acme.id}", None)).status_code == 401

        # IsAdminUser | IsOwner: the admin sees every object, a user their own only.
        assert (await get(f"/either/{world.globex.id}", "admin")).json() == globex
        assert (await get(f"/either/{world.acme.id}", "alice")).json() == acme
        response = await get(f"/either/{world.globex.id}", "alice")
        assert (response.status_code, response.json()) == (
            403,
            {"detail": "Only the owner may do this."},
        )
        assert (await get(f"/either/{world.acme.id}", None)).status_code == 401

        # No operand checks objects: the row path, one query for the user and one for the row.
        with assert_num_queries(2):
            response = await get(f"/no-objects/{world.globex.id}", "alice")
        assert response.json() == globex
        assert (await get(f"/no-objects/{world.globex.id}", None)).status_code == 401


async def test_retrieve_row_path_answers_404_outside_its_rows() -> None:
    router = users_router()

    @viewset(router, prefix="/public", basename="public")
    class Public(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyDeep
        permission_classes = (SmallOnly,)

        def get_queryset(self) -> QuerySet[Company]:
            return Company.filter(is_public=True)

    @viewset(router, prefix="/by-slug", basename="by_slug")
    class BySlug(Public):
        lookup_field = "slug"

    async with running(router) as (client, world):
        with assert_num_queries(1):
            response = await client.get(f"/public/{world.acme.id}")
        assert response.json() == await plain_json(CompanyDeep, world.acme.id)
        missing = max(c.id for c in (world.acme, world.globex, world.initech)) + 100
        for pk in (missing, world.globex.id, world.initech.id):  # none, private, scoped out
            response = await client.get(f"/public/{pk}")
            assert (response.status_code, response.json()) == (404, {"detail": NOT_FOUND})
        assert (await client.get("/public/-1")).status_code == 404
        # A value the column cannot hold: a 404 that never reaches the database.
        with assert_num_queries(0):
            response = await client.get(f"/by-slug/{NUL}")
        assert (response.status_code, response.json()) == (404, {"detail": NOT_FOUND})
        assert (await client.get("/by-slug/acme")).json()["id"] == world.acme.id
        assert (await client.get("/by-slug/globex")).status_code == 404
        # Values the path parameter refuses, like the column would, are FastAPI's 422.
        assert (await client.get("/public/abc")).status_code == 422
        assert (await client.get(f"/public/{TOO_BIG}")).status_code == 422
        assert (await client.get(f"/by-slug/{'x' * 51}")).status_code == 422


# --- update, partial_update, destroy ---------------------------------------------------------


def company_viewset(
    router: APIRouter, prefix: str, read_schema: type[BaseModel], **namespace: Any
) -> type[ModelViewSet[Company]]:
    """A ModelViewSet of companies at ``prefix``, with ``namespace`` on the class."""
    attrs = {"model": Company, "read_schema": read_schema, "create_schema": CompanyWrite}
    cls = type(f"Companies{prefix.strip('/').title()}", (CompanyViewSetBase,), attrs | namespace)
    return viewset(router, prefix=prefix, basename=prefix.strip("/").replace("-", "_"))(cls)


class CompanyViewSetBase(ModelViewSet[Company]):
    """``type()`` cannot subclass ``ModelViewSet[Company]`` directly; it can subclass this."""


async def test_writes_refused_by_an_object_permission_change_nothing() -> None:
    router = users_router()
    company_viewset(router, "/owned", CompanyDeep, permission_classes=(IsOwner,))
    async with running(router) as (client, world):
        before = await snapshot(world.acme.id)
        for method, body in (("PATCH", {"name": "x"}), ("PUT", {"name": "x"}), ("DELETE", None)):
            response = await client.request(
                method, f"/owned/{world.acme.id}", json=body, headers=auth("bob")
            )
            assert response.status_code == 403, method
            assert response.json() == {"detail": "Only the owner may do this."}
            assert await snapshot(world.acme.id) == before
        response = await client.request(
            "PATCH", f"/owned/{world.acme.id}", json={"name": "x"}, headers=auth(None)
        )
        assert response.status_code == 401
        assert await snapshot(world.acme.id) == before
        # The owner may.
        response = await client.patch(
            f"/owned/{world.acme.id}", json={"name": "acme2"}, headers=auth("alice")
        )
        assert response.status_code == 200
        assert response.json()["name"] == "acme2"
        response = await client.delete(f"/owned/{world.acme.id}", headers=auth("alice"))
        assert response.status_code == 204
        assert await snapshot(world.acme.id) == {}


async def test_writes_outside_the_scope_are_404_and_change_nothing() -> None:
    router = users_router()
    company_viewset(
        router,
        "/public",
        CompanyRead,
        permission_classes=(SmallOnly,),
        get_queryset=lambda self: Company.filter(is_public=True),
    )
    company_viewset(
        router,
        "/by-slug",
        CompanyRead,
        permission_classes=(SmallOnly,),
        get_queryset=lambda self: Company.filter(is_public=True),
        lookup_field="slug",
    )
    async with running(router) as (client, world):
        for path in (
            f"/public/{world.globex.id}",
            f"/public/{world.initech.id}",
            "/public/999999",
            "/by-slug/globex",
            f"/by-slug/{NUL}",
        ):
            before = {c.id: await snapshot(c.id) for c in (world.globex, world.initech)}
            for method, body in (
                ("PATCH", {"name": "x"}),
                ("PUT", {"name": "x"}),
                ("DELETE", None),
            ):
                response = await client.request(method, path, json=body)
                assert (response.status_code, response.json()) == (404, {"detail": NOT_FOUND})
            assert {c.id: await snapshot(c.id) for c in (world.globex, world.initech)} == before
        response = await client.patch(f"/public/{world.acme.id}", json={"size": 11})
        assert (response.status_code, response.json()["size"]) == (200, 11)
        response = await client.patch("/by-slug/acme", json={"size": 12})
        assert (response.status_code, response.json()["size"]) == (200, 12)
        with assert_num_queries(0):
            response = await client.delete(f"/by-slug/{NUL}")
        assert response.status_code == 404
        assert (await client.delete(f"/public/{TOO_BIG}")).status_code == 422
        assert await Company.all().count() == 3


async def test_write_responses_equal_a_following_get() -> None:
    router = users_router()
    company_viewset(router, "/deep", CompanyDeep)
    company_viewset(router, "/flat", CompanyRead)
    company_viewset(router, "/deep-checked", CompanyDeep, permission_classes=(AllowObjects,))
    company_viewset(router, "/flat-checked", CompanyRead, permission_classes=(AllowObjects,))
    company_viewset(router, "/by-slug", CompanyDeep, lookup_field="slug")
    async with running(router) as (client, world):
        for n, prefix in enumerate(("/deep", "/flat", "/deep-checked", "/flat-checked")):
            body = {"name": f"new-{n}", "slug": f"new-{n}", "owner_id": world.alice.id}
            created = await client.post(prefix, json=body)
            assert created.status_code == 201, created.text
            pk = created.json()["id"]
            assert created.json() == (await client.get(f"{prefix}/{pk}")).json()

            patched = await client.patch(f"{prefix}/{pk}", json={"owner_id": world.bob.id})
            assert patched.status_code == 200, patched.text
            assert patched.json()["owner_id"] == world.bob.id
            assert patched.json() == (await client.get(f"{prefix}/{pk}")).json()

            body = {"name": f"put-{n}", "size": 7, "owner_id": None}
            replaced = await client.put(f"{prefix}/{pk}", json=body)
            assert replaced.status_code == 200, replaced.text
            assert replaced.json() == (await client.get(f"{prefix}/{pk}")).json()
            assert (replaced.json()["slug"], replaced.json()["owner_id"]) == (None, None)

            if prefix.startswith("/deep"):
                assert created.json()["owner"] == {"id": world.alice.id, "username": "alice"}
                assert patched.json()["owner"] == {"id": world.bob.id, "username": "bob"}
                assert replaced.json()["owner"] is None

        # The lookup value itself changes: the response is read by primary key.
        response = await client.patch("/by-slug/acme", json={"slug": "acme-2"})
        assert response.status_code == 200
        assert response.json() == (await client.get("/by-slug/acme-2")).json()
        assert response.json()["owner"] == {"id": world.alice.id, "username": "alice"}
        assert (await client.get("/by-slug/acme")).status_code == 404


class CompanyBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class CompanyWithOwner(CompanyBrief):
    owner: OwnerRead | None


class ProjectShallow(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    company: CompanyBrief


class ProjectDeep(ProjectShallow):
    company: CompanyWithOwner


class ProjectWrite(BaseModel):
    name: str
    company_id: int


class ProjectViewSetBase(ModelViewSet[Project]):
    """``type()`` cannot subclass ``ModelViewSet[Project]`` directly; it can subclass this."""


@pytest.mark.parametrize(
    ("read_schema", "statements"),
    [(ProjectShallow, ["INSERT"]), (ProjectDeep, ["INSERT", "SELECT"])],
    ids=["one-level-is-one-statement", "two-levels-read-the-row-again"],
)
async def test_a_create_answers_as_a_following_get(
    read_schema: type[BaseModel], statements: list[str]
) -> None:
    router = APIRouter()
    attrs = {"model": Project, "read_schema": read_schema, "create_schema": ProjectWrite}
    viewset(router, prefix="/projects")(type("Projects", (ProjectViewSetBase,), attrs))
    async with running(router) as (client, world):
        for company in (world.acme, world.initech):  # an owner, and none
            with capture_queries() as queries:
                created = await client.post(
                    "/projects", json={"name": f"p-{company.name}", "company_id": company.id}
                )
            assert created.status_code == 201, created.text
            kinds = [q.split('"', 1)[0].split()[0] for q in queries.queries]
            assert [k if k != "WITH" else "INSERT" for k in kinds] == statements
            again = await client.get(f"/projects/{created.json()['id']}")
            assert created.json() == again.json()
        missing = await client.post("/projects", json={"name": "p", "company_id": 4242})
        assert missing.status_code == 409
        assert await Project.filter(name="p").count() == 0


class TagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str


class TagWrite(BaseModel):
    name: str


class TagViewSetBase(ModelViewSet[Tag]):
    """``type()`` cannot subclass ``ModelViewSet[Tag]`` directly; it can subclass this."""


async def test_a_create_with_a_primary_key_made_in_python_is_one_statement() -> None:
    router = APIRouter()
    attrs = {"model": Tag, "read_schema": TagRead, "create_schema": TagWrite}
    viewset(router, prefix="/tags")(type("Tags", (TagViewSetBase,), attrs))
    async with running(router) as (client, _):
        with capture_queries() as queries:
            created = await client.post("/tags", json={"name": "urgent"})
        assert created.status_code == 201, created.text
        assert len(queries) == 1
        tag = await Tag.get(name="urgent")
        assert created.json() == {"id": str(tag.id), "name": "urgent"}
        assert created.json() == (await client.get(f"/tags/{tag.id}")).json()


class CounterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    hits: int


class CounterWrite(BaseModel):
    name: str
    hits: int | None = None


class CounterViewSetBase(ModelViewSet[Counter]):
    """``type()`` cannot subclass ``ModelViewSet[Counter]`` directly; it can subclass this."""


async def test_a_create_that_leaves_a_column_to_its_database_default_reads_it_back() -> None:
    router = APIRouter()
    attrs = {"model": Counter, "read_schema": CounterRead, "create_schema": CounterWrite}

    def get_write_values(self: Any, data: BaseModel, **kwargs: Any) -> dict[str, Any]:
        return data.model_dump(exclude_none=True)  # no "hits": the database's default

    attrs["get_write_values"] = get_write_values
    viewset(router, prefix="/counters")(type("Counters", (CounterViewSetBase,), attrs))
    async with running(router) as (client, _):
        with capture_queries() as queries:
            defaulted = await client.post("/counters", json={"name": "a"})
        given = await client.post("/counters", json={"name": "b", "hits": 3})
        assert (defaulted.status_code, given.status_code) == (201, 201)
        assert defaulted.json()["hits"] == 7
        assert given.json()["hits"] == 3
        # Tortoise's own INSERT (it returns the defaulted column), not the one-statement create.
        assert not any('AS "c0"' in q for q in queries.queries)
        for created in (defaulted, given):
            assert created.json() == (await client.get(f"/counters/{created.json()['id']}")).json()


async def test_patch_writes_the_changed_columns_and_auto_now() -> None:
    router = users_router()
    company_viewset(router, "/flat", CompanyRead)
    company_viewset(router, "/deep", CompanyDeep)
    async with running(router) as (client, world):
        for prefix, statements, size in (("/flat", 2, 41), ("/deep", 2, 42)):
            before = await snapshot(world.acme.id)
            shown = (await client.get(f"{prefix}/{world.acme.id}")).json()
            await asyncio.sleep(0.01)
            # The row (with the relations the response shows) and the UPDATE.
            with assert_num_queries(statements) as captured:
                response = await client.patch(f"{prefix}/{world.acme.id}", json={"size": size})
            assert response.status_code == 200
            update = next(q for q in captured if q.lstrip().upper().startswith("UPDATE"))
            assert '"size"' in update
            assert '"updated_at"' in update
            assert '"name"' not in update
            assert '"created_at"' not in update
            after = await snapshot(world.acme.id)
            assert after["size"] == size
            assert after["updated_at"] > before["updated_at"]
            assert after["created_at"] == before["created_at"]
            again = (await client.get(f"{prefix}/{world.acme.id}")).json()
            assert response.json() == again
            assert again["updated_at"] != shown["updated_at"]
            assert again.get("created_at") == shown.get("created_at")


# --- transactions ----------------------------------------------------------------------------

TRANSACTION_WORDS = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "START TRANSACTION")


@asynccontextmanager
async def driver_statements(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[str]]:
    """Every statement the database driver sends while open, transaction control included."""
    seen: list[str] = []
    if IS_POSTGRES:
        import asyncpg.connection

        original = asyncpg.connection.Connection.execute

        async def execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            seen.append(query)
            return await original(self, query, *args, **kwargs)

        with monkeypatch.context() as patch:
            patch.setattr(asyncpg.connection.Connection, "execute", execute)
            yield seen
    else:
        connection = connections.get("default")._connection  # aiosqlite's
        await connection.set_trace_callback(seen.append)
        try:
            yield seen
        finally:
            await connection.set_trace_callback(None)


def transaction_control(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith(TRANSACTION_WORDS)]


async def test_default_writes_open_no_transaction_and_still_answer_409(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    router = users_router()
    company_viewset(router, "/plain", CompanyDeep)

    async def perform_create(self: Any, obj: Company) -> Company:
        return await ModelViewSet.perform_create(self, obj)

    company_viewset(router, "/hooked", CompanyDeep, perform_create=perform_create)
    async with running(router) as (client, world):
        async with driver_statements(monkeypatch) as seen:
            created = await client.post("/plain", json={"name": "hooli"})
            patched = await client.patch(f"/plain/{world.acme.id}", json={"size": 3})
        assert (created.status_code, patched.status_code) == (201, 200)
        assert transaction_control(seen) == []

        before = {c.id: await snapshot(c.id) for c in (world.acme, world.globex)}
        async with driver_statements(monkeypatch) as seen:
            clash = await client.post("/plain", json={"name": "globex"})
            patch_clash = await client.patch(f"/plain/{world.acme.id}", json={"name": "globex"})
        assert transaction_control(seen) == []
        for response in (clash, patch_clash):
            assert response.status_code == 409
            assert response.json() == {"detail": "A company with this name already exists."}
        assert await Company.filter(name="globex").count() == 1
        assert {c.id: await snapshot(c.id) for c in (world.acme, world.globex)} == before

        # The spy does see transactions: an overridden hook runs in one.
        async with driver_statements(monkeypatch) as seen:
            assert (await client.post("/hooked", json={"name": "pied"})).status_code == 201
        control = [s.split()[0].rstrip(";").upper() for s in transaction_control(seen)]
        assert control[0] == "BEGIN"
        assert control[-1] == "COMMIT"


async def test_an_overridden_hook_that_raises_after_writing_writes_nothing() -> None:
    router = users_router()

    async def perform_create(self: Any, obj: Company) -> Company:
        await ModelViewSet.perform_create(self, obj)
        await User.create(username=f"audit-{obj.name}")
        raise Conflict("Refused after writing.")

    async def perform_update(self: Any, obj: Company) -> Company:
        await ModelViewSet.perform_update(self, obj)
        await User.create(username=f"audit-{obj.name}")
        raise Conflict("Refused after writing.")

    async def perform_destroy(self: Any, obj: Company) -> None:
        await ModelViewSet.perform_destroy(self, obj)
        raise Conflict("Refused after writing.")

    company_viewset(
        router,
        "/hooked",
        CompanyDeep,
        perform_create=perform_create,
        perform_update=perform_update,
        perform_destroy=perform_destroy,
    )
    async with running(router) as (client, world):
        before = await snapshot(world.acme.id)
        users = await User.all().count()
        response = await client.post("/hooked", json={"name": "hooli"})
        assert (response.status_code, response.json()) == (
            409,
            {"detail": "Refused after writing."},
        )
        assert not await Company.filter(name="hooli").exists()
        response = await client.patch(f"/hooked/{world.acme.id}", json={"name": "renamed"})
        assert response.status_code == 409
        response = await client.delete(f"/hooked/{world.acme.id}")
        assert response.status_code == 409
        assert await snapshot(world.acme.id) == before
        assert await User.all().count() == users


@contextmanager
def listening(signal: Signals, listener: Callable[..., Any]) -> Iterator[None]:
    """``listener`` on ``signal`` of Company while open; removed after, for the other tests."""
    Company.register_listener(signal, listener)
    try:
        yield
    finally:
        listeners = Company._listeners[signal]
        listeners[Company].remove(listener)
        if not listeners[Company]:
            del listeners[Company]


async def test_a_signal_listener_that_raises_rolls_the_write_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    router = users_router()
    company_viewset(router, "/companies", CompanyDeep)

    async def refuse(*args: Any) -> None:
        raise PermissionDenied("A listener refused.")

    async with running(router) as (client, world):
        before = await snapshot(world.acme.id)
        with listening(Signals.post_save, refuse):
            async with driver_statements(monkeypatch) as seen:
                response = await client.post("/companies", json={"name": "hooli"})
            assert (response.status_code, response.json()) == (
                403,
                {"detail": "A listener refused."},
            )
            assert transaction_control(seen), "a listener makes the write transactional"
            assert not await Company.filter(name="hooli").exists()
            response = await client.patch(f"/companies/{world.acme.id}", json={"name": "x"})
            assert response.status_code == 403
            assert await snapshot(world.acme.id) == before
        assert Company not in Company._listeners[Signals.post_save]

        # A listener that writes, then a clash: its write is rolled back with the insert.
        async def audit(sender: Any, instance: Company, *args: Any) -> None:
            await User.create(username=f"audit-{instance.name}")

        with listening(Signals.pre_save, audit):
            response = await client.post("/companies", json={"name": "globex"})
            assert response.status_code == 409
            assert not await User.filter(username="audit-globex").exists()
            assert (await client.post("/companies", json={"name": "hooli"})).status_code == 201
            assert await User.filter(username="audit-hooli").exists()

        # Without listeners, writes are single statements again and still work.
        assert (await client.post("/companies", json={"name": "pied"})).status_code == 201


async def test_a_model_save_that_writes_twice_is_still_all_or_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    router = users_router()
    company_viewset(router, "/companies", CompanyDeep)
    original_save = Company.save

    async def save(self: Company, *args: Any, **kwargs: Any) -> None:
        await User.create(username=f"audit-{self.name}")  # e.g. an audit row the model writes
        await original_save(self, *args, **kwargs)

    async with running(router) as (client, world):
        monkeypatch.setattr(Company, "save", save)
        response = await client.post("/companies", json={"name": "globex"})
        assert response.status_code == 409
        response = await client.patch(f"/companies/{world.acme.id}", json={"name": "globex"})
        assert response.status_code == 409
        assert not await User.filter(username__startswith="audit-").exists()


# --- headers and cookies set by dependencies -------------------------------------------------


def stamp(response: Response) -> None:
    response.headers["X-Stamp"] = "stamped"
    response.set_cookie("seen", "yes")


def accept(response: Response) -> None:
    response.headers["X-Touched"] = "yes"
    response.status_code = 202


async def test_dependency_headers_reach_viewset_responses() -> None:
    router = APIRouter(prefix="/companies", dependencies=[Depends(stamp)])

    @viewset(router)
    class Companies(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyDeep
        create_schema = CompanyWrite

        @action(detail=False)
        async def summary(self) -> dict[str, int]:
            return {"count": await self.get_queryset().count()}

        @action(detail=True, methods=["POST"], dependencies=[Depends(accept)])
        async def touch(self) -> CompanyDeep:
            return await self.get_object()  # type: ignore[return-value]

        @action(detail=False)
        async def raw(self) -> JSONResponse:
            return JSONResponse({"raw": True})

    async with running(router) as (client, world):
        pk = world.acme.id
        responses = {
            "list": await client.get("/companies"),
            "create": await client.post("/companies", json={"name": "hooli"}),
            "retrieve": await client.get(f"/companies/{pk}"),
            "update": await client.put(f"/companies/{pk}", json={"name": "acme2"}),
            "partial_update": await client.patch(f"/companies/{pk}", json={"size": 1}),
            "summary": await client.get("/companies/summary"),
            "touch": await client.post(f"/companies/{pk}/touch"),
            "destroy": await client.delete(f"/companies/{world.initech.id}"),
        }
        statuses = {name: r.status_code for name, r in responses.items()}
        assert statuses == {
            "list": 200,
            "create": 201,
            "retrieve": 200,
            "update": 200,
            "partial_update": 200,
            "summary": 200,
            "touch": 202,
            "destroy": 204,
        }
        for name, response in responses.items():
            assert response.headers.get_list("x-stamp") == ["stamped"], name
            assert response.cookies.get("seen") == "yes", name
            if name != "destroy":
                assert response.headers.get_list("content-type") == ["application/json"], name
        assert responses["summary"].json() == {"count": 4}
        assert responses["touch"].headers["x-touched"] == "yes"
        assert responses["touch"].json() == await plain_json(CompanyDeep, pk)
        assert responses["destroy"].content == b""

        # An action's own Response goes out as it is, as in FastAPI.
        raw = await client.get("/companies/raw")
        assert (raw.status_code, raw.json()) == (200, {"raw": True})
        assert "x-stamp" not in raw.headers
        assert "set-cookie" not in raw.headers


async def test_an_action_may_take_fastapis_response_parameter() -> None:
    router = APIRouter(prefix="/companies")

    @viewset(router)
    class Companies(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyDeep

        @action(detail=True, methods=["POST"])
        async def touch(self, response: Response) -> CompanyDeep:
            response.headers["X-Touched"] = "yes"
            response.status_code = 202
            return await self.get_object()  # type: ignore[return-value]

    async with running(router) as (client, world):
        response = await client.post(f"/companies/{world.acme.id}/touch")
        assert response.status_code == 202
        assert response.headers["x-touched"] == "yes"
        assert response.json() == await plain_json(CompanyDeep, world.acme.id)


async def test_dependency_headers_reach_a_listing_action() -> None:
    router = APIRouter(prefix="/companies", dependencies=[Depends(stamp)])

    @viewset(router)
    class Companies(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyDeep

        @action(detail=False)
        async def public(self) -> QuerySet[Company]:
            return self.get_queryset().filter(is_public=True)

    async with running(router) as (client, _world):
        response = await client.get("/companies/public")
        assert response.status_code == 200
        assert [c["name"] for c in response.json()] == ["acme", "initech"]
        assert response.headers.get("x-stamp") == "stamped"
        assert response.cookies.get("seen") == "yes"


# --- @action values --------------------------------------------------------------------------


def action_values(world: World) -> dict[str, Any]:
    """What each action returns; FastAPI's plain routes return the same."""
    return {
        "aliased": {"id": world.acme.id, "name": "acme"},
        "subclass": NamedWithSecret(id=1, name="x", secret="hunter2"),
        "extra-keys": {"id": 1, "name": "x", "secret": "hunter2"},
        "sparse": {"id": 1, "name": "x", "description": None},
        "many": [{"id": 1, "name": "x"}, Named(id=2, name="y", description="d")],
        "broken": {"id": "not a number", "name": "x"},
    }


async def test_action_values_are_serialised_as_fastapi_does() -> None:
    router = users_router(prefix="/companies")
    plain = APIRouter(prefix="/plain")
    holder: dict[str, Any] = {}

    @viewset(router)
    class Companies(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyDeep

        @action(detail=True)
        async def named(self) -> Named:
            return await self.get_object()  # type: ignore[return-value]

        @action(detail=False)
        async def aliased(self) -> Named:
            return holder["aliased"]  # type: ignore[no-any-return]

        @action(detail=False)
        async def subclass(self) -> Named:
            return holder["subclass"]  # type: ignore[no-any-return]

        @action(detail=False, url_path="extra-keys")
        async def extra_keys(self) -> Named:
            return holder["extra-keys"]  # type: ignore[no-any-return]

        @action(detail=False, response_model_exclude_none=True)
        async def sparse(self) -> Named:
            return holder["sparse"]  # type: ignore[no-any-return]

        @action(detail=False, response_model=list[Named])
        async def many(self) -> Any:
            return holder["many"]

        @action(detail=False)
        async def broken(self) -> Named:
            return holder["broken"]  # type: ignore[no-any-return]

    def plain_route(path: str, **kwargs: Any) -> None:
        async def endpoint() -> Any:
            return holder[path]

        plain.add_api_route(f"/{path}", endpoint, response_model=Named, **kwargs)

    for path in ("aliased", "subclass", "extra-keys", "broken"):
        plain_route(path)
    plain_route("sparse", response_model_exclude_none=True)
    plain.add_api_route("/many", lambda: holder["many"], response_model=list[Named])

    async with running(router, plain) as (client, world):
        holder.update(action_values(world))
        for path in ("aliased", "subclass", "extra-keys", "sparse", "many"):
            ours = await client.get(f"/companies/{path}")
            theirs = await client.get(f"/plain/{path}")
            assert ours.status_code == theirs.status_code == 200, path
            assert ours.json() == theirs.json(), path
        assert (await client.get("/companies/aliased")).json() == {
            "id": world.acme.id,
            "companyName": "acme",
            "description": None,
        }
        assert "secret" not in (await client.get("/companies/subclass")).text
        assert "secret" not in (await client.get("/companies/extra-keys")).text
        assert (await client.get("/companies/sparse")).json() == {"id": 1, "companyName": "x"}
        named = await client.get(f"/companies/{world.acme.id}/named")
        assert named.json() == {"id": world.acme.id, "companyName": "acme", "description": None}

        with pytest.raises(ResponseValidationError) as ours_raised:
            await client.get("/companies/broken")
        with pytest.raises(ResponseValidationError) as theirs_raised:
            await client.get("/plain/broken")
        ours_errors = [(e["type"], tuple(e["loc"])) for e in ours_raised.value.errors()]
        theirs_errors = [(e["type"], tuple(e["loc"])) for e in theirs_raised.value.errors()]
        assert ours_errors == theirs_errors == [("int_parsing", ("response", "id"))]

        schema = (await client.get("/openapi.json")).json()
        ref = schema["paths"]["/companies/aliased"]["get"]["responses"]["200"]["content"][
            "application/json"
        ]["schema"]["$ref"]
        assert "companyName" in schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]


async def test_a_parameterless_action_checks_permissions_after_router_dependencies() -> None:
    router = users_router(prefix="/companies")
    ran: list[str | None] = []

    @viewset(router)
    class Companies(ReadOnlyModelViewSet[Company]):
        model = Company
        read_schema = CompanyDeep

        @action(detail=False, permission_classes=[IsAuthenticated])
        async def mine(self) -> dict[str, Any]:
            ran.append(self.user.username)
            owned = self.get_queryset().filter(owner_id=self.user.id)
            return {"user": self.user.username, "companies": await owned.count()}

        @action(detail=False, permission_classes=[IsAdminUser], methods=["POST"])
        async def purge(self) -> dict[str, Any]:
            ran.append("purge")
            return {"purged": await Company.filter(size__gte=100).delete()}

    async with running(router) as (client, _world):
        response = await client.get("/companies/mine")
        assert (response.status_code, response.json()) == (401, {"detail": NOT_AUTHENTICATED})
        assert response.headers["www-authenticate"] == "Bearer"
        response = await client.get("/companies/mine", headers=auth("alice"))
        assert (response.status_code, response.json()) == (200, {"user": "alice", "companies": 1})

        response = await client.post("/companies/purge", headers=auth("alice"))
        assert (response.status_code, response.json()) == (403, {"detail": DENIED})
        assert (await client.post("/companies/purge")).status_code == 401
        assert ran == ["alice"]
        assert await Company.filter(name="initech").exists()
        response = await client.post("/companies/purge", headers=auth("admin"))
        assert (response.status_code, response.json()) == (200, {"purged": 1})
        assert ran == ["alice", "purge"]


# --- aliases on the standard actions ---------------------------------------------------------


async def test_standard_actions_answer_under_serialisation_aliases() -> None:
    router = users_router()
    company_viewset(router, "/aliased", CompanyAliased)
    company_viewset(router, "/aliased-checked", CompanyAliased, permission_classes=(AllowObjects,))
    company_viewset(router, "/aliased-paged", CompanyAliased, pagination_class=PageNumberPagination)
    async with running(router) as (client, world):
        acme = {
            "id": world.acme.id,
            "companyName": "acme",
            "owner": {"id": world.alice.id, "login": "alice"},
        }
        assert await plain_json(CompanyAliased, world.acme.id) == acme
        for prefix in ("/aliased", "/aliased-checked"):
            response = await client.get(f"{prefix}/{world.acme.id}")
            assert response.json() == acme, prefix
            listed = await client.get(prefix)
            assert acme in listed.json()
            assert all("companyName" in row and "name" not in row for row in listed.json())
        page = (await client.get("/aliased-paged")).json()
        assert acme in page["results"]

        created = await client.post("/aliased", json={"name": "hooli", "owner_id": world.bob.id})
        assert created.status_code == 201
        assert created.json() == {
            "id": created.json()["id"],
            "companyName": "hooli",
            "owner": {"id": world.bob.id, "login": "bob"},
        }
        patched = await client.patch(f"/aliased/{world.acme.id}", json={"name": "acme2"})
        assert patched.json() == acme | {"companyName": "acme2"}

        schema = (await client.get("/openapi.json")).json()
        ref = schema["paths"]["/aliased/{id}"]["get"]["responses"]["200"]["content"][
            "application/json"
        ]["schema"]["$ref"]
        components = schema["components"]["schemas"]
        properties = components[ref.rsplit("/", 1)[1]]["properties"]
        assert set(properties) == {"id", "companyName", "owner"}
        list_schema = schema["paths"]["/aliased"]["get"]["responses"]["200"]["content"][
            "application/json"
        ]["schema"]
        assert list_schema["items"]["$ref"] == ref
        owner_ref = next(
            option["$ref"] for option in properties["owner"]["anyOf"] if "$ref" in option
        )
        assert set(components[owner_ref.rsplit("/", 1)[1]]["properties"]) == {"id", "login"}


# --- a row of every column kind through the write path ----------------------------------------


class SampleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    note: str | None
    count: int
    big: int | None
    ratio: float | None
    amount: decimal.Decimal | None
    flag: bool
    day: datetime.date | None
    at: datetime.datetime
    ref: uuid.UUID
    status: TicketStatus
    priority: TicketPriority
    payload: dict[str, Any] | list[Any] | None
    owner_id: int | None


class SampleWrite(BaseModel):
    name: str
    note: str | None = None
    count: int = 0
    big: int | None = None
    ratio: float | None = None
    amount: decimal.Decimal | None = None
    flag: bool = False
    day: datetime.date | None = None
    at: datetime.datetime
    status: TicketStatus = TicketStatus.OPEN
    priority: TicketPriority = TicketPriority.NORMAL
    payload: dict[str, Any] | list[Any] | None = None
    owner_id: int | None = None


async def test_a_row_of_every_column_kind_is_written_back_unchanged() -> None:
    router = APIRouter(prefix="/samples")

    @viewset(router)
    class Samples(ModelViewSet[Sample]):
        model = Sample
        read_schema = SampleRead
        create_schema = SampleWrite

    body = {
        "name": "s",
        "note": "n",
        "count": -7,
        "big": 2**62,
        "ratio": 0.25,
        "amount": "1234.5678",
        "flag": True,
        "day": "2024-02-29",
        "at": "2024-01-01T12:00:00+05:30",
        "status": "waiting",
        "priority": 3,
        "payload": {"a": [1, None, "x"], "b": {"c": True}},
    }
    async with running(router) as (client, world):
        created = await client.post("/samples", json=body | {"owner_id": world.alice.id})
        assert created.status_code == 201, created.text
        pk = created.json()["id"]
        before = (await Sample.filter(id=pk).values())[0]
        with assert_num_queries(2) as captured:
            patched = await client.patch(f"/samples/{pk}", json={"name": "renamed"})
        assert patched.status_code == 200
        update = next(q for q in captured if q.lstrip().upper().startswith("UPDATE"))
        assert update.split(" WHERE ")[0].count("=") == 1  # only the name is written
        assert (await Sample.filter(id=pk).values())[0] == before | {"name": "renamed"}
        assert patched.json() == (await client.get(f"/samples/{pk}")).json()
        assert patched.json() == created.json() | {"name": "renamed"}

        replaced = await client.put(f"/samples/{pk}", json=body | {"amount": "2.5", "flag": False})
        assert replaced.status_code == 200
        assert replaced.json() == (await client.get(f"/samples/{pk}")).json()
        assert (replaced.json()["amount"], replaced.json()["owner_id"]) == ("2.5000", None)
        assert (await client.delete(f"/samples/{pk}")).status_code == 204
        assert not await Sample.filter(id=pk).exists()
