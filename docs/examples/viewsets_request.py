"""What a viewset instance knows about its request."""

from typing import Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from fastapi_viewsets import BaseStateManager, ReadOnlyModelViewSet, action, viewset


class Note(Model):
    id = fields.IntField(primary_key=True)
    author = fields.CharField(max_length=50)
    text = fields.TextField()


class NoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    text: str


async def current_user(x_user: str | None = Header(default=None)) -> str | None:
    """Stands in for real authentication: trusts the X-User header."""
    BaseStateManager.set_user(x_user)
    return x_user


router = APIRouter(prefix="/notes", tags=["notes"], dependencies=[Depends(current_user)])


@viewset(router)
class NoteViewSet(ReadOnlyModelViewSet[Note]):
    model = Note
    read_schema = NoteRead

    def get_queryset(self) -> QuerySet[Note]:
        # The router's dependency ran first, so self.user is known here.
        return Note.filter(author=self.user or "")

    @action(detail=True)
    async def context(self) -> dict[str, Any]:
        note = await self.get_object()
        return {
            "note": note.id,
            "action": self.action,
            "kwargs": self.kwargs,
            "user": self.user,
            "path": self.request.url.path,
            "request_id": self.state.request_id,
        }
