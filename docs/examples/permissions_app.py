"""Permissions: the models, the schemas and the dependency that tells who the user is."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model

from fastapi_viewsets import BaseStateManager


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=50, unique=True)
    is_admin = fields.BooleanField(default=False)
    is_active = fields.BooleanField(default=True)


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    is_public = fields.BooleanField(default=True)
    owner: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="companies", null=True, on_delete=fields.SET_NULL
    )


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    is_public: bool
    owner_id: int | None


class CompanyCreate(BaseModel):
    name: str
    is_public: bool = True


# auto_error=False: a request without a token goes on, anonymous; the permissions decide.
bearer = HTTPBearer(auto_error=False)


async def current_user(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> User | None:
    # A real app verifies a signed token here; this example takes the token as the username.
    token = credentials.credentials if credentials else None
    user = await User.get_or_none(username=token) if token else None
    BaseStateManager.set_user(user)  # what view.user and self.user answer from now on
    return user


# An app-level dependency runs before every route's own: the user is known to permissions.
app = FastAPI(dependencies=[Depends(current_user)])
