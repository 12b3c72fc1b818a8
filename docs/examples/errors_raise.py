"""Raise the HTTP errors from hooks and actions; subclass APIException for your own."""

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model

from fastapi_viewsets import APIException, NotFound, ReadOnlyModelViewSet, action, viewset


class PaymentRequired(APIException):
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    default_detail = "This report needs a paid plan."
    default_code = "payment_required"


class Report(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=100)
    is_paid = fields.BooleanField(default=False)
    body = fields.TextField(null=True)


class ReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str


class ReportBody(BaseModel):
    text: str


router = APIRouter(prefix="/reports", tags=["reports"])


@viewset(router)
class ReportViewSet(ReadOnlyModelViewSet[Report]):
    model = Report
    read_schema = ReportRead

    @action(detail=True)
    async def download(self) -> ReportBody:
        report = await self.get_object()
        if not report.is_paid:
            raise PaymentRequired()  # {"detail": "This report needs a paid plan."}, 402
        if report.body is None:
            raise NotFound("This report has not been written yet.")
        return ReportBody(text=report.body)
