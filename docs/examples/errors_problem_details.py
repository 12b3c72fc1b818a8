"""Errors as RFC 9457 problem details: one switch on the app, for all its errors."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.contrib.fastapi import RegisterTortoise
from tortoise.models import Model

from fastapi_viewsets import ModelViewSet, action, install_problem_details, viewset
from fastapi_viewsets.problems import problem_response


class Book(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200, unique=True)
    in_print = fields.BooleanField(default=True)


class BookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    in_print: bool


class BookCreate(BaseModel):
    title: str
    in_print: bool = True


class OutOfPrint(Exception):
    """An error of the app's own domain."""


router = APIRouter(prefix="/books")


@viewset(router)
class BookViewSet(ModelViewSet[Book]):
    model = Book
    read_schema = BookRead
    create_schema = BookCreate

    @action(methods=["POST"], detail=True)
    async def order(self) -> BookRead:
        book = await self.get_object()
        if not book.in_print:
            raise OutOfPrint()
        return BookRead.model_validate(book)


def create_app(db_url: str = "sqlite://books.sqlite3") -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with RegisterTortoise(
            app, db_url=db_url, modules={"models": [__name__]}, generate_schemas=True
        ):
            yield

    app = FastAPI(title="Books", lifespan=lifespan)
    # The switch: before the app serves, whether its routers are included before or after.
    install_problem_details(app, type_base="https://api.example.com/problems/")
    app.include_router(router)

    @app.exception_handler(OutOfPrint)
    async def out_of_print(request: Request, exc: OutOfPrint) -> Response:
        # An error of your own, in the same shape.
        return problem_response(request, 409, "This book is out of print.", code="out_of_print")

    return app
