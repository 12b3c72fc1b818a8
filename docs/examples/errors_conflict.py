"""Integrity errors answer 409 and name the field: unique names, missing and protected rows."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model

from fastapi_viewsets import ModelViewSet, action, viewset


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)


class Invoice(Model):
    id = fields.IntField(primary_key=True)
    amount = fields.IntField()
    # RESTRICT: a company that has invoices cannot be deleted.
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "models.Company", related_name="invoices", on_delete=fields.RESTRICT
    )


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


class CompanyCreate(BaseModel):
    name: str


class CompanyBatch(BaseModel):
    names: list[str]


class InvoiceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    amount: int
    company_id: int


class InvoiceCreate(BaseModel):
    amount: int
    company_id: int


router = APIRouter()


@viewset(router, prefix="/companies")
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate

    @action(methods=["POST"], detail=False, status_code=201)
    async def bulk_create(self, body: CompanyBatch) -> list[CompanyRead]:
        # Your own writes get the same transaction, and the same 409, with self.atomic().
        async with self.atomic():
            companies = [await Company.create(name=name) for name in body.names]
        return [CompanyRead.model_validate(company) for company in companies]


@viewset(router, prefix="/invoices")
class InvoiceViewSet(ModelViewSet[Invoice]):
    model = Invoice
    read_schema = InvoiceRead
    create_schema = InvoiceCreate
