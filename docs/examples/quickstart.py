"""Getting started: companies and their owners, served from SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict, Field
from tortoise import fields
from tortoise.contrib.fastapi import RegisterTortoise
from tortoise.models import Model

from fastapi_viewsets import ModelViewSet, viewset

# --- models ----------------------------------------------------------------------------------


class Owner(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    size = fields.IntField(default=0)
    owner: fields.ForeignKeyNullableRelation[Owner] = fields.ForeignKeyField(
        "models.Owner", related_name="companies", null=True, on_delete=fields.SET_NULL
    )


# --- schemas ---------------------------------------------------------------------------------


class OwnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


class OwnerCreate(BaseModel):
    name: str = Field(max_length=100)


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    size: int
    owner: OwnerRead | None  # a relation: loaded in the same query, with select_related


class CompanyCreate(BaseModel):
    name: str = Field(max_length=100)
    size: int = Field(default=0, ge=0)
    owner_id: int | None = None  # write schemas name the column, not the relation


# --- viewsets --------------------------------------------------------------------------------

owners = APIRouter(prefix="/owners", tags=["owners"])
companies = APIRouter(prefix="/companies", tags=["companies"])


@viewset(owners)
class OwnerViewSet(ModelViewSet[Owner]):
    model = Owner
    read_schema = OwnerRead
    create_schema = OwnerCreate


@viewset(companies)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate


# --- the app ---------------------------------------------------------------------------------


# --8<-- [start:app]
def create_app(db_url: str = "sqlite://quickstart.sqlite3") -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with RegisterTortoise(
            app, db_url=db_url, modules={"models": [__name__]}, generate_schemas=True
        ):
            yield

    app = FastAPI(title="Companies", lifespan=lifespan)
    app.include_router(owners)
    app.include_router(companies)
    return app


# --8<-- [end:app]
