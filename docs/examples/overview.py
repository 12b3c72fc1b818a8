"""The example on the home page: a company API in one class."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model

from fastapi_viewsets import ModelViewSet, viewset


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


class CompanyCreate(BaseModel):
    name: str


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
