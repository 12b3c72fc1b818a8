from typing import Any

from fastapi_viewsets import BasePermission
from starlette.requests import Request

from .models import Comment, Post


class IsAuthor(BasePermission):
    """The signed-in user wrote this post or comment."""

    message = "Only the author may do this."

    def has_object_permission(self, request: Request, view: Any, obj: Post | Comment) -> bool:
        return view.user is not None and obj.author_id == view.user.id
