"""Integrity errors become 409s that name the field and leak no SQL; writes are atomic with
their hooks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from tortoise.exceptions import IntegrityError

from fastapi_viewsets import ModelViewSet, PermissionDenied, viewset
from tests.models import AuditEntry, Badge, Company, Invoice, Membership, Project, Tag, User
from tests.utils import IS_POSTGRES, create_app, serve

SQL_WORDS = (
    "SELECT",
    "INSERT",
    "UPDATE ",
    "DELETE ",
    "t_company",
    "t_badge",
    "badge_code",
    "t_membership",
    "t_audit_entry",
    "constraint failed",
    "duplicate key",
    "Key (",
    "violates",
    "sqlite",
    "asyncpg",
)


def assert_clean_409(response: Any, detail: str) -> None:
    assert response.status_code == 409, response.text
    assert response.json() == {"detail": detail}
    for word in SQL_WORDS:
        assert word.lower() not in response.text.lower(), word


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    slug: str | None
    owner_id: int | None


class CompanyWrite(BaseModel):
    name: str
    slug: str | None = None
    owner_id: int | None = None


router = APIRouter(prefix="/companies")


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite


# --- unique -----------------------------------------------------------------------------------


async def test_a_unique_violation_on_create_is_409_naming_the_field() -> None:
    async with serve(create_app(router)) as client:
        await Company.create(name="acme")
        response = await client.post("/companies", json={"name": "acme"})
        assert await Company.all().count() == 1
    assert_clean_409(response, "A company with this name already exists.")


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_a_unique_violation_on_update_is_409_and_changes_nothing(method: str) -> None:
    async with serve(create_app(router)) as client:
        await Company.create(name="taken", slug="taken")
        mine = await Company.create(name="mine", slug="mine")
        by_name = await client.request(method, f"/companies/{mine.id}", json={"name": "taken"})
        by_slug = await client.request(
            method, f"/companies/{mine.id}", json={"name": "mine", "slug": "taken"}
        )
        await mine.refresh_from_db()
    assert_clean_409(by_name, "A company with this name already exists.")
    assert_clean_409(by_slug, "A company with this slug already exists.")
    assert (mine.name, mine.slug) == ("mine", "mine")


async def test_null_in_a_unique_nullable_column_is_not_a_duplicate() -> None:
    async with serve(create_app(router)) as client:
        first = await client.post("/companies", json={"name": "a", "slug": None})
        second = await client.post("/companies", json={"name": "b", "slug": None})
    assert (first.status_code, second.status_code) == (201, 201)


async def test_concurrent_creates_of_one_name_give_one_201_and_409s() -> None:
    async with serve(create_app(router)) as client:
        responses = await asyncio.gather(
            *(client.post("/companies", json={"name": "race"}) for _ in range(5))
        )
        assert await Company.all().count() == 1
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409, 409]


# --- foreign keys -----------------------------------------------------------------------------


async def test_a_missing_foreign_key_on_create_is_409_naming_the_field() -> None:
    async with serve(create_app(router)) as client:
        response = await client.post("/companies", json={"name": "acme", "owner_id": 4242})
        assert await Company.all().count() == 0
    assert_clean_409(response, "owner_id: the referenced object does not exist.")


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_a_missing_foreign_key_on_update_is_409(method: str) -> None:
    async with serve(create_app(router)) as client:
        bob = await User.create(username="bob")
        company = await Company.create(name="acme", owner=bob)
        response = await client.request(
            method, f"/companies/{company.id}", json={"name": "acme", "owner_id": 4242}
        )
        await company.refresh_from_db()
    assert_clean_409(response, "owner_id: the referenced object does not exist.")
    assert company.owner_id == bob.id  # type: ignore[attr-defined]


async def test_deleting_a_row_that_is_still_referenced_is_409() -> None:
    async with serve(create_app(router)) as client:
        company = await Company.create(name="billed")
        invoice = await Invoice.create(amount=10, company=company)
        refused = await client.delete(f"/companies/{company.id}")
        assert await Company.filter(id=company.id).exists()
        await invoice.delete()
        allowed = await client.delete(f"/companies/{company.id}")
        assert not await Company.filter(id=company.id).exists()
    assert_clean_409(
        refused, "This company cannot be deleted because other records still refer to it."
    )
    assert allowed.status_code == 204


# --- constraints over several columns, renamed columns, one-to-one ---------------------------


class MembershipRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    user_id: int
    company_id: int
    role: str


class MembershipWrite(BaseModel):
    user_id: int
    company_id: int
    role: str = "member"


class BadgeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    holder_id: int | None


class BadgeWrite(BaseModel):
    code: str
    holder_id: int | None = None


others = APIRouter()


@viewset(others, prefix="/memberships")
class MembershipViewSet(ModelViewSet[Membership]):
    model = Membership
    read_schema = MembershipRead
    create_schema = MembershipWrite


@viewset(others, prefix="/badges")
class BadgeViewSet(ModelViewSet[Badge]):
    model = Badge
    read_schema = BadgeRead
    create_schema = BadgeWrite


async def test_unique_together_names_both_fields() -> None:
    async with serve(create_app(others)) as client:
        bob = await User.create(username="bob")
        company = await Company.create(name="acme")
        body = {"user_id": bob.id, "company_id": company.id}
        first = await client.post("/memberships", json=body)
        second = await client.post("/memberships", json={**body, "role": "admin"})
        missing = await client.post("/memberships", json={**body, "company_id": 4242})
        assert await Membership.all().count() == 1
    assert first.status_code == 201
    assert second.status_code == 409
    detail = second.json()["detail"]
    # The fields in the order of the constraint's columns, which the database decides.
    assert detail in (
        "A membership with this user and company already exists.",
        "A membership with this company and user already exists.",
    )
    assert_clean_409(second, detail)
    assert_clean_409(missing, "company_id: the referenced object does not exist.")


async def test_a_renamed_column_is_reported_by_its_field_name() -> None:
    async with serve(create_app(others)) as client:
        await Badge.create(code="gold")
        response = await client.post("/badges", json={"code": "gold"})
    assert_clean_409(response, "A badge with this code already exists.")


async def test_one_to_one_duplicates_and_missing_targets() -> None:
    async with serve(create_app(others)) as client:
        bob = await User.create(username="bob")
        await Badge.create(code="gold", holder=bob)
        taken = await client.post("/badges", json={"code": "silver", "holder_id": bob.id})
        missing = await client.post("/badges", json={"code": "bronze", "holder_id": 4242})
        assert await Badge.all().count() == 1
    assert_clean_409(taken, "A badge with this holder already exists.")
    assert_clean_409(missing, "holder_id: the referenced object does not exist.")


# --- hooks run in the write's transaction ----------------------------------------------------


class Boom(Exception):
    pass


hooked = APIRouter(prefix="/hooked")


@viewset(hooked)
class Hooked(ModelViewSet[Company]):
    """Each hook saves, then fails as the request's ``X-Fail`` header says."""

    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    async def fail(self) -> None:
        how = self.request.headers.get("x-fail")
        if how == "error":
            raise Boom("after saving")
        if how == "http":
            raise PermissionDenied("Refused after saving.")
        if how == "integrity":
            raise IntegrityError("something the database refused")
        if how == "duplicate":  # a unique violation that does not say which key
            raise IntegrityError("duplicate key value violates unique constraint")
        if how == "foreign":  # a reference error that does not say which key
            raise IntegrityError("FOREIGN KEY constraint failed")

    async def perform_create(self, obj: Company) -> Company:
        await Tag.create(name="audit: create")
        await super().perform_create(obj)
        await self.fail()
        return obj

    async def perform_update(self, obj: Company) -> Company:
        await Tag.create(name="audit: update")
        await super().perform_update(obj)
        await self.fail()
        return obj

    async def perform_destroy(self, obj: Company) -> None:
        await Tag.create(name="audit: destroy")
        await super().perform_destroy(obj)
        await self.fail()


async def table_state() -> tuple[list[Any], list[str]]:
    companies = await Company.all().order_by("id").values_list("id", "name", "slug")
    audit = await Tag.all().values_list("name", flat=True)
    return companies, audit  # type: ignore[return-value]


WRITES = [
    pytest.param("POST", "/hooked", {"name": "new"}, id="create"),
    pytest.param("PUT", "/hooked/{id}", {"name": "replaced", "slug": "s"}, id="update"),
    pytest.param("PATCH", "/hooked/{id}", {"slug": "patched"}, id="partial_update"),
    pytest.param("DELETE", "/hooked/{id}", None, id="destroy"),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_a_hook_that_raises_after_saving_writes_nothing(
    method: str, path: str, body: dict[str, Any] | None
) -> None:
    async with serve(create_app(hooked)) as client:
        company = await Company.create(name="acme", slug="acme")
        before = await table_state()
        url = path.format(id=company.id)
        with pytest.raises(Boom):
            await client.request(method, url, json=body, headers={"X-Fail": "error"})
        assert await table_state() == before
        assert before[1] == []


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_an_http_error_from_a_hook_answers_and_writes_nothing(
    method: str, path: str, body: dict[str, Any] | None
) -> None:
    async with serve(create_app(hooked)) as client:
        company = await Company.create(name="acme", slug="acme")
        before = await table_state()
        url = path.format(id=company.id)
        response = await client.request(method, url, json=body, headers={"X-Fail": "http"})
        assert await table_state() == before
    assert response.status_code == 403
    assert response.json() == {"detail": "Refused after saving."}


@pytest.mark.parametrize("how", ["integrity", "duplicate", "foreign"])
@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_an_integrity_error_from_a_hook_is_a_409_and_writes_nothing(
    method: str, path: str, body: dict[str, Any] | None, how: str
) -> None:
    async with serve(create_app(hooked)) as client:
        company = await Company.create(name="acme", slug="acme")
        before = await table_state()
        url = path.format(id=company.id)
        response = await client.request(method, url, json=body, headers={"X-Fail": how})
        assert await table_state() == before
    if method == "DELETE":
        expected = "This company cannot be deleted because other records still refer to it."
    else:
        expected = (
            "This company conflicts with existing data (a uniqueness or reference constraint)."
        )
    assert_clean_409(response, expected)


WRITES_BY_METHOD = {
    "POST": "create",
    "PUT": "update",
    "PATCH": "update",
    "DELETE": "destroy",
}


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_hooks_that_succeed_commit_with_the_write(
    method: str, path: str, body: dict[str, Any] | None
) -> None:
    async with serve(create_app(hooked)) as client:
        company = await Company.create(name="acme", slug="acme")
        response = await client.request(method, path.format(id=company.id), json=body)
        companies, audit = await table_state()
    assert response.status_code < 300
    assert audit == [f"audit: {WRITES_BY_METHOD[method]}"]
    assert len(companies) == (0 if method == "DELETE" else 2 if method == "POST" else 1)


async def test_a_conflict_rolls_back_what_the_hook_wrote_before_it() -> None:
    async with serve(create_app(hooked)) as client:
        await Company.create(name="acme")
        response = await client.post("/hooked", json={"name": "acme"})
        assert await Tag.all().count() == 0
    assert_clean_409(response, "A company with this name already exists.")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str


class UserWrite(BaseModel):
    username: str


users = APIRouter(prefix="/users")


@viewset(users)
class UserViewSet(ModelViewSet[User]):
    model = User
    read_schema = UserRead
    create_schema = UserWrite


async def test_deleting_follows_cascade_and_set_null() -> None:
    async with serve(create_app(router, users)) as client:
        bob = await User.create(username="bob")
        company = await Company.create(name="acme", owner=bob)
        await Project.create(name="p", company=company)
        user_deleted = await client.delete(f"/users/{bob.id}")
        await company.refresh_from_db()
        assert company.owner_id is None  # type: ignore[attr-defined]
        company_deleted = await client.delete(f"/companies/{company.id}")
        assert await Project.all().count() == 0
    assert (user_deleted.status_code, company_deleted.status_code) == (204, 204)


async def test_a_model_field_validator_is_a_422_naming_the_field() -> None:
    async with serve(create_app(others)) as client:
        created = await client.post("/badges", json={"code": "gold"})
        refused = await client.post("/badges", json={"code": "gold!"})
        patched = await client.patch(f"/badges/{created.json()['id']}", json={"code": "no way"})
        assert await Badge.all().values_list("code", flat=True) == ["gold"]
    assert created.status_code == 201
    for response in (refused, patched):
        assert response.status_code == 422
        assert [error["loc"] for error in response.json()["detail"]] == [["body", "code"]]


# --- the model a conflict names: the one whose table refused the write ----------------------

audited = APIRouter(prefix="/audited")


@viewset(audited)
class AuditedViewSet(ModelViewSet[Company]):
    """Each write also records the request's ``X-Note`` in the audit table (notes are unique)."""

    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    async def perform_create(self, obj: Company) -> Company:
        await super().perform_create(obj)
        await AuditEntry.create(note=self.request.headers["x-note"])
        return obj

    async def perform_update(self, obj: Company) -> Company:
        await AuditEntry.create(note=self.request.headers["x-note"])
        return await super().perform_update(obj)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", "/audited", {"name": "new"}, id="create"),
        pytest.param("PATCH", "/audited/{id}", {"name": "renamed"}, id="partial_update"),
    ],
)
async def test_a_conflict_in_a_hooks_write_names_that_model(
    method: str, path: str, body: dict[str, Any]
) -> None:
    async with serve(create_app(audited)) as client:
        company = await Company.create(name="acme")
        await AuditEntry.create(note="taken")
        before = await table_state()
        response = await client.request(
            method, path.format(id=company.id), json=body, headers={"X-Note": "taken"}
        )
        assert await table_state() == before
        assert await AuditEntry.all().count() == 1
    # "an": the model's name starts with a vowel.
    assert_clean_409(response, "An auditentry with this note already exists.")


async def test_the_viewsets_own_conflicts_still_name_its_model() -> None:
    async with serve(create_app(audited, users)) as client:
        await Company.create(name="acme")
        company = await client.post("/audited", json={"name": "acme"}, headers={"X-Note": "n"})
        await client.post("/users", json={"username": "bob"})
        user = await client.post("/users", json={"username": "bob"})
        assert await AuditEntry.all().count() == 0
    assert_clean_409(company, "A company with this name already exists.")
    assert_clean_409(user, "A user with this username already exists.")  # "a user", not "an"


clearing = APIRouter(prefix="/clearing")


@viewset(clearing)
class ClearingUserViewSet(ModelViewSet[User]):
    """Deleting a user first deletes the companies it owns."""

    model = User
    read_schema = UserRead
    create_schema = UserWrite

    async def perform_destroy(self, obj: User) -> None:
        await Company.filter(owner_id=obj.id).delete()
        await super().perform_destroy(obj)


async def test_a_hooks_delete_of_a_row_still_referred_to_names_its_model() -> None:
    async with serve(create_app(clearing)) as client:
        bob = await User.create(username="bob")
        company = await Company.create(name="acme", owner=bob)
        await Invoice.create(amount=10, company=company)
        response = await client.delete(f"/clearing/{bob.id}")
        assert await User.all().count() == 1
        assert await Company.all().count() == 1
    # PostgreSQL names the table of the row deleted; SQLite says only that a key failed.
    name = "company" if IS_POSTGRES else "user"
    assert_clean_409(
        response, f"This {name} cannot be deleted because other records still refer to it."
    )
