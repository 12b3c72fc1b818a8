"""Several viewsets on one router, beside a plain FastAPI route."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from fastapi_viewsets import ModelViewSet, ReadOnlyModelViewSet, viewset


class Company(Model):
    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=40, unique=True)
    name = fields.CharField(max_length=100)
    is_public = fields.BooleanField(default=False)


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str
    is_public: bool


class CompanyCreate(BaseModel):
    slug: str = Field(max_length=40, pattern=r"^[a-z0-9-]+$")
    name: str
    is_public: bool = False


router = APIRouter(prefix="/api")


@router.get("/health")  # a route of your own: the viewsets below leave it alone
async def health() -> dict[str, str]:
    return {"status": "ok"}


@viewset(router, prefix="/companies")
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    lookup_field = "slug"  # GET /api/companies/{slug}; a str of at most 40 characters


@viewset(router, prefix="/directory", basename="directory")
class DirectoryViewSet(ReadOnlyModelViewSet[Company]):
    """The same model again, read-only and public rows only: it needs its own basename."""

    model = Company
    read_schema = CompanyRead
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet[Company]:
        return Company.filter(is_public=True)
