from collections.abc import Sequence

from fastapi import APIRouter
from fastapi_viewsets import (
    AllowAny,
    BasePermission,
    IsAdminUser,
    IsAuthenticated,
    ModelViewSet,
    NotFound,
    ReadOnlyModelViewSet,
    viewset,
)
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from .models import Author, Comment, Post
from .permissions import IsAuthor
from .schemas import AuthorRead, CommentRead, CommentWrite, PostRead, PostWrite

authors = APIRouter(prefix="/authors", tags=["authors"])
posts = APIRouter(prefix="/posts", tags=["posts"])
comments = APIRouter(prefix="/posts/{post_pk}/comments", tags=["comments"])

routers = [authors, posts, comments]


def visible_posts(user: Author | None) -> QuerySet[Post]:
    """Published posts, and the user's own drafts."""
    if user is None:
        return Post.filter(published=True)
    return Post.filter(Q(published=True) | Q(author_id=user.id))


def permissions_for(name: str | None) -> Sequence[BasePermission]:
    """Who may do what, for posts and comments alike."""
    if name in ("list", "retrieve"):
        return [AllowAny()]
    if name == "create":
        return [IsAuthenticated()]
    if name == "destroy":  # staff moderate: any published post, and its comments
        return [IsAuthenticated(), IsAuthor() | IsAdminUser()]
    return [IsAuthenticated(), IsAuthor()]  # update, partial_update


@viewset(authors)
class AuthorViewSet(ReadOnlyModelViewSet[Author]):
    model = Author
    read_schema = AuthorRead


@viewset(posts)
class PostViewSet(ModelViewSet[Post]):
    model = Post
    read_schema = PostRead
    create_schema = PostWrite

    def get_permissions(self) -> Sequence[BasePermission]:
        return permissions_for(self.action)

    def get_queryset(self) -> QuerySet[Post]:
        return visible_posts(self.user)  # someone else's draft is a 404, as if it did not exist

    async def perform_create(self, obj: Post) -> Post:
        obj.author = self.user
        return await super().perform_create(obj)


@viewset(comments)
class CommentViewSet(ModelViewSet[Comment]):
    model = Comment
    read_schema = CommentRead
    create_schema = CommentWrite
    parent_lookup_kwargs = {"post_pk": "post"}

    def get_permissions(self) -> Sequence[BasePermission]:
        return permissions_for(self.action)

    async def initial(self) -> None:
        await super().initial()
        if not await visible_posts(self.user).filter(id=self.kwargs["post_pk"]).exists():
            raise NotFound("No post matches the given query.")

    async def perform_create(self, obj: Comment) -> Comment:
        obj.author = self.user
        return await super().perform_create(obj)
