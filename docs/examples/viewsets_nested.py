"""A nested viewset: a company's projects, under /companies/{company_pk}/projects."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from fastapi_viewsets import ModelViewSet, NotFound, viewset


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    is_public = fields.BooleanField(default=True)


class Project(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "models.Company", related_name="projects", on_delete=fields.CASCADE
    )


router = APIRouter(prefix="/companies/{company_pk}/projects", tags=["projects"])


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    company_id: int


class ProjectWrite(BaseModel):
    name: str


@viewset(router)
class ProjectViewSet(ModelViewSet[Project]):
    model = Project
    read_schema = ProjectRead
    create_schema = ProjectWrite
    # The path's company_pk names Project.company: rows are the company's, creates set it, and
    # the parameter is an integer in OpenAPI (/companies/abc/projects is a 422).
    parent_lookup_kwargs = {"company_pk": "company"}

    def get_queryset(self) -> QuerySet[Project]:
        return Project.all()

    async def initial(self) -> None:
        await super().initial()  # permissions and throttles first
        # Every action of a company the caller may not see is a 404, as if it did not exist:
        # its list, its projects, and a create under it (nothing is written).
        if not await Company.exists(id=self.kwargs["company_pk"], is_public=True):
            raise NotFound("Company not found.")
