import logging

import httpx
import pytest
from fastapi_viewsets.testing import assert_num_queries, request_state

from blog.models import Author, Post
from blog.notify import notify_readers


async def test_a_draft_is_its_authors_only(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    created = await client.post("/posts", json={"title": "Draft", "body": "..."}, headers=alice)
    assert created.status_code == 201
    url = f"/posts/{created.json()['id']}"

    assert (await client.get(url, headers=alice)).status_code == 200
    assert (await client.get(url, headers=bob)).status_code == 404
    assert (await client.get(url)).status_code == 404


async def test_only_the_author_publishes(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    post = (await client.post("/posts", json={"title": "T", "body": "..."}, headers=alice)).json()

    refused = await client.post(f"/posts/{post['id']}/publish", headers=bob)
    assert refused.status_code == 404  # bob cannot even see alice's draft

    published = await client.post(f"/posts/{post['id']}/publish", headers=alice)
    assert (published.status_code, published.json()["published"]) == (200, True)
    assert (await client.get(f"/posts/{post['id']}")).status_code == 200  # public now


async def test_a_page_of_posts_is_two_queries(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    author = await Author.get(username="alice")
    for number in range(15):
        await Post.create(title=f"Post {number}", body="...", published=True, author=author)

    with assert_num_queries(2):  # the COUNT and the page, authors joined: not 1 + 10
        response = await client.get("/posts")
    assert response.json()["count"] == 15
    assert len(response.json()["results"]) == 10


@pytest.mark.usefixtures("client")  # the database
async def test_notify_readers_names_the_user(caplog: pytest.LogCaptureFixture) -> None:
    author = await Author.create(username="carol", name="Carol")
    # Outside a request there is no state: open one, as a queue worker or a script would.
    with request_state(user=author, request_id="job-1"), caplog.at_level(logging.INFO):
        await notify_readers(7, "Hello")
    assert "post 7 ('Hello') published by carol" in caplog.text
