"""The detail URL's own name for the lookup: lookup_url_kwarg."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model

from fastapi_viewsets import ModelViewSet, action, viewset


class Article(Model):
    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=60, unique=True)
    title = fields.CharField(max_length=200)


class ArticleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    title: str


class ArticleWrite(BaseModel):
    slug: str
    title: str


router = APIRouter(prefix="/articles", tags=["articles"])


@viewset(router)
class ArticleViewSet(ModelViewSet[Article]):
    model = Article
    read_schema = ArticleRead
    create_schema = ArticleWrite
    lookup_field = "slug"  # the column get_object() looks the row up by
    lookup_url_kwarg = "article_slug"  # its name in the URL: /articles/{article_slug}

    @action(detail=True)  # GET /articles/{article_slug}/headline
    async def headline(self) -> dict[str, str]:
        article = await self.get_object()
        return {"slug": self.kwargs["article_slug"], "headline": article.title.upper()}
