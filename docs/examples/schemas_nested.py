"""A read schema with nested relations: the viewset loads them in a fixed number of queries."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model

from fastapi_viewsets import ReadOnlyModelViewSet, viewset


class Owner(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    owner: fields.ForeignKeyRelation[Owner] = fields.ForeignKeyField(
        "models.Owner", related_name="companies"
    )

    projects: fields.ReverseRelation[Project]


class Project(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "models.Company", related_name="projects"
    )


class OwnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    owner: OwnerRead  # forward relation: select_related("owner"), a JOIN
    projects: list[ProjectRead]  # reverse relation: prefetch_related("projects"), one query


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ReadOnlyModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
