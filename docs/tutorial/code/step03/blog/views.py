from fastapi import APIRouter
from fastapi_viewsets import ModelViewSet, NotFound, viewset
from tortoise.queryset import QuerySet

from .models import Author, Comment, Post
from .schemas import AuthorRead, AuthorWrite, CommentRead, CommentWrite, PostRead, PostWrite

authors = APIRouter(prefix="/authors", tags=["authors"])
posts = APIRouter(prefix="/posts", tags=["posts"])
comments = APIRouter(prefix="/posts/{post_pk}/comments", tags=["comments"])

routers = [authors, posts, comments]


@viewset(authors)
class AuthorViewSet(ModelViewSet[Author]):
    model = Author
    read_schema = AuthorRead
    create_schema = AuthorWrite


@viewset(posts)
class PostViewSet(ModelViewSet[Post]):
    model = Post
    read_schema = PostRead
    create_schema = PostWrite

    def get_queryset(self) -> QuerySet[Post]:
        if self.action == "list":
            return Post.filter(published=True)  # drafts stay out of the list...
        return Post.all()  # ...but their link works, to preview them


@viewset(comments)
class CommentViewSet(ModelViewSet[Comment]):
    model = Comment
    read_schema = CommentRead
    create_schema = CommentWrite
    # {post_pk} in the path names Comment.post: the list shows that post's comments only,
    # and a create sets the post from the path.
    parent_lookup_kwargs = {"post_pk": "post"}

    async def initial(self) -> None:
        await super().initial()
        if not await Post.exists(id=self.kwargs["post_pk"]):
            raise NotFound("No post matches the given query.")
