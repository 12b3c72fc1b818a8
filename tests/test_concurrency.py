"""Many requests at once through one ASGI client: each is answered with its own user and state."""

from __future__ import annotations

import asyncio
import random
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict

from fastapi_viewsets import BaseStateManager, ModelViewSet, action, viewset
from tests.models import Company, User
from tests.utils import create_app, serve

USERS = [f"user{index:02d}" for index in range(20)]
REQUESTS = 200
jitter = random.Random(20240601)


async def pause() -> None:
    await asyncio.sleep(jitter.uniform(0, 0.004))


async def user_from_header(x_user: Annotated[str | None, Header()] = None) -> None:
    BaseStateManager.set_user(x_user)
    await pause()


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class CompanyWrite(BaseModel):
    name: str


router = APIRouter(prefix="/companies")


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyWrite

    def get_queryset(self) -> Any:
        return Company.filter(owner__username=self.user)

    async def perform_create(self, obj: Company) -> Company:
        await pause()
        obj.owner = await User.get(username=self.user)
        await pause()
        return await super().perform_create(obj)

    @action(detail=False)
    async def whoami(self, n: int) -> dict[str, Any]:
        before = self.user
        await pause()
        return {
            "user": self.user,
            "before_sleep": before,
            "state_user": BaseStateManager.get_state().user,
            "n": n,
            "request_id": self.state.request_id,
            "action": self.state.action,
        }

    @action(detail=True)
    async def mine(self) -> dict[str, Any]:
        company = await self.get_object()
        await pause()
        return {"user": self.user, "company": company.name}


def app() -> Any:
    return create_app(router, dependencies=[Depends(user_from_header)])


async def test_200_concurrent_requests_from_20_users_each_see_their_own_user() -> None:
    async with serve(app()) as client:
        senders = [USERS[index % len(USERS)] for index in range(REQUESTS)]
        jitter.shuffle(senders)
        responses = await asyncio.gather(
            *(
                client.get("/companies/whoami", params={"n": n}, headers={"X-User": user})
                for n, user in enumerate(senders)
            )
        )
    assert [response.status_code for response in responses] == [200] * REQUESTS
    for n, (user, response) in enumerate(zip(senders, responses, strict=True)):
        body = response.json()
        assert body == {
            "user": user,
            "before_sleep": user,
            "state_user": user,
            "n": n,
            "request_id": response.headers["x-request-id"],
            "action": "whoami",
        }
    assert len({response.headers["x-request-id"] for response in responses}) == REQUESTS


async def test_concurrent_reads_and_writes_stay_with_their_user() -> None:
    async with serve(app()) as client:
        for user in USERS:
            await User.create(username=user)
        creates = await asyncio.gather(
            *(
                client.post("/companies", json={"name": f"{user}-co{k}"}, headers={"X-User": user})
                for user in USERS
                for k in range(3)
            )
        )
        assert [response.status_code for response in creates] == [201] * len(creates)
        owners = dict(
            await Company.all().values_list("name", "owner__username")  # type: ignore[arg-type]
        )
        assert owners == {f"{user}-co{k}": user for user in USERS for k in range(3)}

        ids = {response.json()["name"]: response.json()["id"] for response in creates}
        requests = []
        for index in range(REQUESTS):
            user = USERS[index % len(USERS)]
            kind = index % 3
            if kind == 0:
                requests.append((user, "list", client.get("/companies", headers={"X-User": user})))
            else:
                company_id = ids[f"{user}-co{kind}"]
                url = f"/companies/{company_id}/mine"
                requests.append((user, "mine", client.get(url, headers={"X-User": user})))
        responses = await asyncio.gather(*(request for _, _, request in requests))
    for (user, kind, _), response in zip(requests, responses, strict=True):
        assert response.status_code == 200
        if kind == "list":
            assert sorted(row["name"] for row in response.json()) == [
                f"{user}-co0",
                f"{user}-co1",
                f"{user}-co2",
            ]
        else:
            assert response.json()["user"] == user
            assert response.json()["company"].startswith(f"{user}-")
