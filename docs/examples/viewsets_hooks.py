"""The hooks a viewset overrides: scoping, filtering, permissions and the three writes."""

from collections.abc import Sequence

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from fastapi_viewsets import (
    BasePermission,
    BaseStateManager,
    Conflict,
    IsAuthenticated,
    ModelViewSet,
    PermissionDenied,
    viewset,
)

COMPANY_LIMITS = {"ada": 2}  # stands in for a billing service; everyone else may create 1


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    created_by = fields.CharField(max_length=50)
    is_locked = fields.BooleanField(default=False)
    is_archived = fields.BooleanField(default=False)


class AuditEntry(Model):
    id = fields.IntField(primary_key=True)
    event = fields.CharField(max_length=20)
    company_name = fields.CharField(max_length=100)
    user = fields.CharField(max_length=50)


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_by: str
    is_locked: bool


class CompanyCreate(BaseModel):
    name: str
    is_locked: bool = False


async def current_user(x_user: str | None = Header(default=None)) -> None:
    BaseStateManager.set_user(x_user)  # stands in for real authentication


router = APIRouter(prefix="/companies", tags=["companies"], dependencies=[Depends(current_user)])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    search_fields = ["name"]  # GET /companies?search=ac, see "Filtering, search and ordering"

    company_limit: int

    async def initial(self) -> None:
        await super().initial()  # the permission checks: an anonymous write stops here, a 401
        self.company_limit = COMPANY_LIMITS.get(self.user, 1)  # on self: this request's only

    def get_queryset(self) -> QuerySet[Company]:
        # Every action starts here: archived companies are a 404 for retrieve, update, destroy.
        return Company.filter(is_archived=False)

    def filter_queryset(self, queryset: QuerySet[Company]) -> QuerySet[Company]:
        # The list only: super() applies ?search=, then locked companies are left out of the
        # list. They are still found by id.
        return super().filter_queryset(queryset).filter(is_locked=False)

    def get_permissions(self) -> Sequence[BasePermission]:
        if self.action in ("list", "retrieve"):
            return []
        return [IsAuthenticated()]

    async def perform_create(self, obj: Company) -> Company:
        obj.created_by = self.user
        await super().perform_create(obj)
        await AuditEntry.create(event="create", company_name=obj.name, user=self.user)
        # Counted after the insert, inside the transaction: raising undoes both rows.
        if await Company.filter(created_by=self.user).count() > self.company_limit:
            raise Conflict(f"Company limit reached: your plan allows {self.company_limit}.")
        return obj

    async def perform_update(self, obj: Company) -> Company:
        await AuditEntry.create(event="update", company_name=obj.name, user=self.user)
        return await super().perform_update(obj)

    async def perform_destroy(self, obj: Company) -> None:
        if obj.is_locked:
            raise PermissionDenied("Locked companies cannot be deleted.")
        await AuditEntry.create(event="destroy", company_name=obj.name, user=self.user)
        await super().perform_destroy(obj)
