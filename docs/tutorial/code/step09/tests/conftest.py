from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from blog.auth import issue_token
from blog.main import create_app
from blog.models import Author


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The app on a new in-memory database, built by the project's migrations."""
    app = create_app("sqlite://:memory:", apply_migrations=True)
    async with LifespanManager(app):  # runs the lifespan: opens the database, migrates
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def sign_in(username: str, *, staff: bool = False) -> dict[str, str]:
    """An author and the header that signs their requests in."""
    author = await Author.create(username=username, name=username.title(), is_staff=staff)
    return {"Authorization": f"Bearer {await issue_token(author)}"}


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> dict[str, str]:
    return await sign_in("alice")


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> dict[str, str]:
    return await sign_in("bob")
