from fastapi_viewsets import BaseStateManager

from .models import Author


class BlogState(BaseStateManager[Author]):
    """The request's state, with the blog's own questions about it."""

    @property
    def username(self) -> str:
        return self.user.username if self.user is not None else "anonymous"

    @property
    def is_staff(self) -> bool:
        return self.user is not None and self.user.is_staff
