# --8<-- [start:imports]
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
    action,
    viewset,
)
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from .models import Author, Comment, Post
from .pagination import CommentPagination, PostPagination
from .permissions import IsAuthor
from .schemas import AuthorRead, CommentRead, CommentWrite, PostRead, PostWrite

# --8<-- [end:imports]

authors = APIRouter(prefix="/authors", tags=["authors"])
posts = APIRouter(prefix="/posts", tags=["posts"])
comments = APIRouter(prefix="/posts/{post_pk}/comments", tags=["comments"])

routers = [authors, posts, comments]


def visible_posts(user: Author | None) -> QuerySet[Post]:
    """Published posts, and the user's own drafts."""
    if user is None:
        return Post.filter(published=True)
    return Post.filter(Q(published=True) | Q(author_id=user.id))


# --8<-- [start:permissions]
def permissions_for(name: str | None) -> Sequence[BasePermission]:
    """Who may do what, for posts and comments alike."""
    if name in ("list", "retrieve"):
        return [AllowAny()]
    if name in ("create", "mine"):
        return [IsAuthenticated()]
    if name == "destroy":  # staff moderate: any published post, and its comments
        return [IsAuthenticated(), IsAuthor() | IsAdminUser()]
    return [IsAuthenticated(), IsAuthor()]  # update, partial_update, publish
    # --8<-- [end:permissions]


@viewset(authors)
class AuthorViewSet(ReadOnlyModelViewSet[Author]):
    model = Author
    read_schema = AuthorRead


@viewset(posts)
class PostViewSet(ModelViewSet[Post]):
    model = Post
    read_schema = PostRead
    create_schema = PostWrite
    pagination_class = PostPagination
    filterset_fields = {
        "published": ["exact"],
        "author__username": ["exact"],
        "created_at": ["gte", "lt"],
    }
    search_fields = ["title"]
    ordering_fields = ["created_at", "title"]
    ordering = "-created_at"  # newest first, unless ?ordering= says otherwise

    def get_permissions(self) -> Sequence[BasePermission]:
        return permissions_for(self.action)

    def get_queryset(self) -> QuerySet[Post]:
        return visible_posts(self.user)  # someone else's draft is a 404, as if it did not exist

    async def perform_create(self, obj: Post) -> Post:
        obj.author = self.user
        return await super().perform_create(obj)

    # --8<-- [start:actions]
    @action(methods=["POST"], detail=True)
    async def publish(self) -> PostRead:
        """Publish a draft: POST /posts/{id}/publish."""
        post = await self.get_object()  # 404 if not visible, then IsAuthor: 403 if not yours
        post.published = True
        await post.save(update_fields=["published"])
        return PostRead.model_validate(post)

    @action(detail=False)
    async def mine(self) -> QuerySet[Post]:
        """GET /posts/mine: your posts, drafts included, paginated and filtered like the list."""
        return Post.filter(author_id=self.user.id)

    # --8<-- [end:actions]


@viewset(comments)
class CommentViewSet(ModelViewSet[Comment]):
    model = Comment
    read_schema = CommentRead
    create_schema = CommentWrite
    parent_lookup_kwargs = {"post_pk": "post"}
    pagination_class = CommentPagination

    def get_permissions(self) -> Sequence[BasePermission]:
        return permissions_for(self.action)

    async def initial(self) -> None:
        await super().initial()
        if not await visible_posts(self.user).filter(id=self.kwargs["post_pk"]).exists():
            raise NotFound("No post matches the given query.")

    async def perform_create(self, obj: Comment) -> Comment:
        obj.author = self.user
        return await super().perform_create(obj)
