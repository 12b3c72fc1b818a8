from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class AuthorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    name: str


class PostRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    published: bool
    created_at: datetime
    author: AuthorRead  # nested: loaded in the same query as the post


class PostWrite(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str
    published: bool = False


class CommentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    body: str
    created_at: datetime
    author: AuthorRead


class CommentWrite(BaseModel):
    body: str = Field(min_length=1)
