"""``APIView`` and ``GenericViewSet`` seen per request: each request has its own instance, and
``apply_values`` decides what ``perform_update`` writes.

* Attributes set on ``self`` in ``initial()`` belong to that request: concurrent requests with
  different users never see each other's, and a later request does not see an earlier one's.
* An ``apply_values`` override that changes another column is saved with the body's columns,
  on the fast path and on the plain one, and the response shows it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict
from tortoise.queryset import QuerySet

from fastapi_viewsets import BaseStateManager, ModelViewSet, action, viewset
from fastapi_viewsets.testing import capture_queries
from tests.models import Company, User
from tests.utils import create_app, serve

USERS = ("alice", "bob", "carol", "dave", "erin", "frank")


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    size: int
    description: str | None
    owner_id: int | None


class CompanyWrite(BaseModel):
    name: str
    size: int = 0


async def current_user(x_user: str | None = Header(default=None)) -> None:
    user = await User.get_or_none(username=x_user) if x_user else None
    BaseStateManager.set_user(user)


# --- per-request attributes ---------------------------------------------------------------------

isolated = APIRouter(prefix="/isolated", dependencies=[Depends(current_user)])


@viewset(isolated)
class IsolatedViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    async def initial(self) -> None:
        await super().initial()
        if self.user is not None:
            self.username = self.user.username
            self.owner_id = self.user.id
        # Let the other requests run their initial() before this one goes on.
        await asyncio.sleep(0.02)

    def get_queryset(self) -> QuerySet[Company]:
        owner_id = getattr(self, "owner_id", None)
        if owner_id is None:
            return Company.filter(id__in=[])
        return Company.filter(owner_id=owner_id)

    @action(detail=False)
    async def me(self) -> dict[str, Any]:
        await asyncio.sleep(0.01)
        return {
            "username": getattr(self, "username", None),
            "state_user": self.user.username if self.user is not None else None,
            "action": self.action,
            "instance": id(self),
        }


async def seed_users() -> dict[str, User]:
    users = {name: await User.create(username=name) for name in USERS}
    for name, user in users.items():
        await Company.create(name=f"{name}-1", owner=user)
        await Company.create(name=f"{name}-2", owner=user)
    return users


async def test_attributes_set_in_initial_belong_to_their_request() -> None:
    async with serve(create_app(isolated)) as client:
        await seed_users()
        responses = await asyncio.gather(
            *(client.get("/isolated/me", headers={"X-User": name}) for name in USERS)
        )
        anonymous = await client.get("/isolated/me")
    for name, response in zip(USERS, responses, strict=True):
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["username"], body["state_user"], body["action"]) == (name, name, "me")
    # Each request had its own instance (their ids were taken while all of them were alive).
    assert len({r.json()["instance"] for r in responses}) == len(USERS)
    # A request after them sees nothing of theirs.
    assert anonymous.json()["username"] is None
    assert anonymous.json()["state_user"] is None
    assert not hasattr(IsolatedViewSet, "username")
    assert not hasattr(IsolatedViewSet, "owner_id")


async def test_concurrent_lists_and_retrieves_use_their_own_requests_attributes() -> None:
    async with serve(create_app(isolated)) as client:
        users = await seed_users()
        alices = await Company.filter(owner=users["alice"]).first()
        assert alices is not None
        requests = [client.get("/isolated", headers={"X-User": name}) for name in USERS]
        requests += [
            client.get(f"/isolated/{alices.id}", headers={"X-User": name}) for name in USERS
        ]
        responses = await asyncio.gather(*requests)
        anonymous = await client.get("/isolated")
    lists, retrieves = responses[: len(USERS)], responses[len(USERS) :]
    for name, response in zip(USERS, lists, strict=True):
        assert sorted(c["name"] for c in response.json()) == [f"{name}-1", f"{name}-2"]
        assert {c["owner_id"] for c in response.json()} == {users[name].id}
    for name, response in zip(USERS, retrieves, strict=True):
        # Only alice's get_queryset() holds alice's company; the others get a 404.
        expected = 200 if name == "alice" else 404
        assert response.status_code == expected, (name, response.text)
    assert anonymous.json() == []


# --- apply_values -------------------------------------------------------------------------------


class Stamping(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    def stamp(self, obj: Company) -> None:
        obj.description = f"edited by {self.action}"


class StampingBefore(Stamping):
    """Changes a column the body does not send, before the library's apply_values."""

    def apply_values(self, obj: Company, values: Mapping[str, Any]) -> None:
        self.stamp(obj)
        super().apply_values(obj, values)


class StampingAfter(Stamping):
    """The same change, after the library's apply_values."""

    def apply_values(self, obj: Company, values: Mapping[str, Any]) -> None:
        super().apply_values(obj, values)
        self.stamp(obj)


class PlainMixin:
    """Takes the plain path for the object to write: get_object is overridden."""

    async def get_object(self) -> Company:
        return await super().get_object()  # type: ignore[misc, no-any-return]


class PlainStampingBefore(PlainMixin, StampingBefore):
    pass


class PlainStampingAfter(PlainMixin, StampingAfter):
    pass


STAMPERS: dict[str, type[Any]] = {
    "/before": StampingBefore,
    "/after": StampingAfter,
    "/plain-before": PlainStampingBefore,
    "/plain-after": PlainStampingAfter,
}
STAMP_ROUTERS = []
for _prefix, _cls in STAMPERS.items():
    _router = APIRouter(prefix=_prefix)
    viewset(_router, basename=_prefix.strip("/"))(_cls)
    STAMP_ROUTERS.append(_router)


async def update_and_read(prefix: str, method: str) -> tuple[Any, dict[str, Any], list[str]]:
    async with serve(create_app(*STAMP_ROUTERS)) as client:
        company = await Company.create(name="acme", size=1, description="original")
        body = {"size": 2} if method == "PATCH" else {"name": "acme", "size": 2}
        with capture_queries() as queries:
            response = await client.request(method, f"{prefix}/{company.id}", json=body)
        [row] = await Company.filter(id=company.id).values("name", "size", "description")
    updates = [q for q in queries if q.upper().lstrip().startswith("UPDATE")]
    return response, row, updates


AFTER = [
    pytest.param(prefix, method, id=f"{prefix.strip('/')}-{method}")
    for prefix in ("/after", "/plain-after")
    for method in ("PUT", "PATCH")
]
BEFORE = [
    pytest.param(prefix, method, id=f"{prefix.strip('/')}-{method}")
    for prefix in ("/before", "/plain-before")
    for method in ("PUT", "PATCH")
]
ACTIONS = {"PUT": "update", "PATCH": "partial_update"}


@pytest.mark.parametrize(("prefix", "method"), AFTER)
async def test_a_column_apply_values_changes_after_super_is_saved(prefix: str, method: str) -> None:
    response, row, updates = await update_and_read(prefix, method)
    stamp = f"edited by {ACTIONS[method]}"
    assert response.status_code == 200, response.text
    assert response.json()["description"] == stamp
    assert response.json()["size"] == 2
    assert row == {"name": "acme", "size": 2, "description": stamp}
    # Only the columns that changed (and the auto_now one) are written.
    assert len(updates) == 1
    assert "description" in updates[0]
    assert '"name"' not in updates[0]


@pytest.mark.parametrize(("prefix", "method"), BEFORE)
async def test_a_column_apply_values_changes_before_super_is_saved(
    prefix: str, method: str
) -> None:
    response, row, _ = await update_and_read(prefix, method)
    stamp = f"edited by {ACTIONS[method]}"
    assert response.status_code == 200, response.text
    assert response.json()["description"] == stamp
    assert row == {"name": "acme", "size": 2, "description": stamp}
