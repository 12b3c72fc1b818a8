"""PUT replaces, PATCH changes what is sent; a separate update schema; foreign keys as <name>_id."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from tortoise import fields
from tortoise.models import Model

from fastapi_viewsets import ModelViewSet, viewset


class Owner(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    description = fields.TextField(null=True)
    size = fields.IntField(default=0)
    owner: fields.ForeignKeyRelation[Owner] = fields.ForeignKeyField(
        "models.Owner", related_name="companies"
    )


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    size: int
    owner_id: int  # the key alone: a column, so nothing more is loaded


class CompanyCreate(BaseModel):
    name: str = Field(max_length=100)
    description: str | None = None
    size: int = Field(default=0, ge=0)
    owner_id: int  # the foreign key column; `owner` would be refused at registration


class CompanyUpdate(BaseModel):
    """PUT body: a company cannot change owner. PATCH uses "PatchedCompanyUpdate"."""

    name: str = Field(max_length=100)
    description: str | None = None
    size: int = Field(default=0, ge=0)


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    update_schema = CompanyUpdate
