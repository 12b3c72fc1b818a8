"""A short schema for the list, a full one for everything else, chosen with get_schema_class."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.contrib.pydantic import pydantic_model_creator
from tortoise.models import Model

from fastapi_viewsets import ModelViewSet, viewset


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    description = fields.TextField(default="")
    size = fields.IntField(default=0)


class CompanySummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


# Tortoise can write the schema too: every column of Company.
CompanyDetail = pydantic_model_creator(Company, name="CompanyDetail")
CompanyCreate = pydantic_model_creator(Company, name="CompanyCreate", exclude_readonly=True)


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyDetail
    create_schema = CompanyCreate

    @classmethod
    def get_schema_class(cls, action: str, *, write: bool = False) -> type[BaseModel] | None:
        if action == "list" and not write:
            return CompanySummary
        return super().get_schema_class(action, write=write)
