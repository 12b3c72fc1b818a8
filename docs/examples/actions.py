"""Extra routes on a viewset with @action."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from fastapi_viewsets import IsAuthenticated, ModelViewSet, action, viewset


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    size = fields.IntField(default=0)
    is_archived = fields.BooleanField(default=False)
    is_pinned = fields.BooleanField(default=False)


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    size: int
    is_archived: bool
    is_pinned: bool


class CompanyCreate(BaseModel):
    name: str
    size: int = 0


class ArchiveRequest(BaseModel):
    reason: str = Field(min_length=3)


class SizeStats(BaseModel):
    count: int
    total_size: int


@dataclass
class SizeRange:
    min_size: int
    max_size: int | None


def size_range(
    min_size: int = Query(default=0, ge=0), max_size: int | None = Query(default=None)
) -> SizeRange:
    return SizeRange(min_size, max_size)


sent: list[str] = []  # stands in for an e-mail queue


def notify(message: str) -> None:
    sent.append(message)


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate

    # GET /companies/size-stats?min_size=10, route name "company-size-stats"
    @action(methods=["GET"], detail=False)
    async def size_stats(self, sizes: SizeRange = Depends(size_range)) -> SizeStats:
        queryset = self.get_queryset().filter(size__gte=sizes.min_size)
        if sizes.max_size is not None:
            queryset = queryset.filter(size__lte=sizes.max_size)
        companies = await queryset
        return SizeStats(count=len(companies), total_size=sum(c.size for c in companies))

    # GET /companies/search?q=ac: a query parameter, and a response_model for ORM objects
    @action(detail=False, response_model=list[CompanyRead])
    async def search(self, q: str = Query(min_length=2)) -> list[Company]:
        return await self.get_queryset().filter(name__icontains=q).order_by("name")

    # GET /companies/archived: it returns a queryset, so it is listed as `list` is
    @action(detail=False)
    async def archived(self) -> QuerySet[Company]:
        return self.get_queryset().filter(is_archived=True)

    # POST /companies/{id}/archive with a JSON body; the e-mail goes out after the response
    @action(methods=["POST"], detail=True)
    async def archive(self, body: ArchiveRequest, tasks: BackgroundTasks) -> CompanyRead:
        company = await self.get_object()  # 404 when the id is not in get_queryset()
        company.is_archived = True
        await company.save(update_fields=["is_archived"])
        tasks.add_task(notify, f"{company.name} was archived: {body.reason}")
        return CompanyRead.model_validate(company)

    # PUT and DELETE /companies/{id}/pin: one method, two routes, one route name
    @action(methods=["PUT", "DELETE"], detail=True, permission_classes=[IsAuthenticated])
    async def pin(self, request: Request) -> CompanyRead:
        company = await self.get_object()
        company.is_pinned = request.method == "PUT"
        await company.save(update_fields=["is_pinned"])
        return CompanyRead.model_validate(company)
