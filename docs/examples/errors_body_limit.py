"""Request bodies have a size limit: the viewset's max_body_size, and an action's own."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model

from fastapi_viewsets import ModelViewSet, action, viewset


class Document(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    text = fields.TextField(default="")


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    text: str


class DocumentCreate(BaseModel):
    title: str
    text: str = ""


class DocumentText(BaseModel):
    text: str


router = APIRouter(prefix="/documents")


@viewset(router)
class DocumentViewSet(ModelViewSet[Document]):
    model = Document
    read_schema = DocumentRead
    create_schema = DocumentCreate
    max_body_size = 64 * 1024  # bytes; None, the default, takes any size

    @action(methods=["POST"], detail=True, max_body_size=10 * 1024 * 1024)
    async def replace_text(self, body: DocumentText) -> DocumentRead:
        # This action takes up to 10 MiB; max_body_size=None would lift the limit.
        document = await self.get_object()
        document.text = body.text
        await document.save(update_fields=["text"])
        return DocumentRead.model_validate(document)
