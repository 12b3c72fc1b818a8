from fastapi import APIRouter
from fastapi_viewsets import (
    IsAuthenticatedOrReadOnly,
    ModelViewSet,
    NotFound,
    ReadOnlyModelViewSet,
    viewset,
)
from tortoise.queryset import QuerySet

from .models import Author, Comment, Post
from .schemas import AuthorRead, CommentRead, CommentWrite, PostRead, PostWrite

authors = APIRouter(prefix="/authors", tags=["authors"])
posts = APIRouter(prefix="/posts", tags=["posts"])
comments = APIRouter(prefix="/posts/{post_pk}/comments", tags=["comments"])

routers = [authors, posts, comments]


@viewset(authors)
class AuthorViewSet(ReadOnlyModelViewSet[Author]):  # authors come from `python -m blog.tokens`
    model = Author
    read_schema = AuthorRead


@viewset(posts)
class PostViewSet(ModelViewSet[Post]):
    model = Post
    read_schema = PostRead
    create_schema = PostWrite
    permission_classes = [IsAuthenticatedOrReadOnly]  # anyone reads; writing needs a token

    def get_queryset(self) -> QuerySet[Post]:
        if self.action == "list":
            return Post.filter(published=True)
        return Post.all()

    async def perform_create(self, obj: Post) -> Post:
        obj.author = self.user  # the signed-in author, not a field of the body
        return await super().perform_create(obj)


@viewset(comments)
class CommentViewSet(ModelViewSet[Comment]):
    model = Comment
    read_schema = CommentRead
    create_schema = CommentWrite
    parent_lookup_kwargs = {"post_pk": "post"}
    permission_classes = [IsAuthenticatedOrReadOnly]

    async def initial(self) -> None:
        await super().initial()
        if not await Post.exists(id=self.kwargs["post_pk"]):
            raise NotFound("No post matches the given query.")

    async def perform_create(self, obj: Comment) -> Comment:
        obj.author = self.user
        return await super().perform_create(obj)
