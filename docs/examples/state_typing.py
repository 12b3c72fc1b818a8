"""A typed state: ``state_class`` picks the class at run time, ``state:`` tells the type checker.

``mypy --strict`` reads ``self.state.organization_id`` as ``int | None`` and ``self.user`` as
``User | None`` here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Header
from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from fastapi_viewsets import BaseStateManager, ReadOnlyModelViewSet, viewset


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=50, unique=True)


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    is_public = fields.BooleanField(default=True)
    owner: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="companies", null=True, on_delete=fields.SET_NULL
    )


class AppState(BaseStateManager[User]):
    @property
    def organization_id(self) -> int | None:
        return self.user.id if self.user else None


async def authenticate(x_user: str | None = Header(None)) -> None:
    AppState.set_user(await User.get_or_none(username=x_user) if x_user else None)


router = APIRouter(prefix="/companies")


@viewset(router)
class CompanyViewSet(ReadOnlyModelViewSet[Company]):
    model = Company
    state_class = AppState  # what self.state is at run time
    state: AppState  # what the type checker knows it is

    @property
    def user(self) -> User | None:
        return self.state.user

    def get_queryset(self) -> QuerySet[Company]:
        organization_id = self.state.organization_id
        if organization_id is None:
            return Company.filter(is_public=True)
        return Company.filter(owner_id=organization_id)


def create_app(**kwargs: Any) -> FastAPI:
    from fastapi import Depends

    app = FastAPI(dependencies=[Depends(authenticate)], **kwargs)
    app.include_router(router)
    return app
