"""The code samples of docs/concurrency.md, run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from docs.examples import (
    concurrency_etag,
    concurrency_idempotency,
    concurrency_if_match,
    permissions_app,
)
from docs.examples.permissions_app import Company
from tests.utils import create_app, serve

ROOT = Path(__file__).resolve().parent.parent


def test_the_page_includes_every_concurrency_sample() -> None:
    page = (ROOT / "docs" / "concurrency.md").read_text()
    samples = sorted((ROOT / "docs" / "examples").glob("concurrency_*.py"))
    assert samples
    for sample in samples:
        assert f'```python\n--8<-- "docs/examples/{sample.name}"\n```' in page, sample.name


async def test_the_caching_client_revalidates_with_the_etag() -> None:
    app = create_app(concurrency_etag.router, modules=[permissions_app.__name__])
    sent: list[int] = []
    async with serve(app) as http:
        http.event_hooks["response"].append(lambda r: _record(sent, r))
        client = concurrency_etag.CachingClient(http)
        company = await Company.create(name="acme")
        url = f"/companies/{company.id}"
        first = await client.get(url)
        second = await client.get(url)
        assert first == second
        assert sent == [200, 304]  # the second answer came without its body
        await Company.filter(id=company.id).update(name="acme 2")
        third = await client.get(url)
        assert b"acme 2" in third
        assert sent == [200, 304, 200]
        listed = await client.get("/companies")
        assert await client.get("/companies") == listed
        assert sent[-2:] == [200, 304]


async def _record(sent: list[int], response: object) -> None:
    sent.append(response.status_code)  # type: ignore[attr-defined]


async def test_the_editing_client_retries_on_412_and_loses_no_update() -> None:
    app = create_app(concurrency_if_match.router, modules=[permissions_app.__name__])
    async with serve(app) as http:
        company = await Company.create(name="acme")
        url = f"/companies/{company.id}"
        bare = await http.patch(url, json={"name": "no precondition"})
        assert bare.status_code == 428

        # Two editors at once, each appending a word to the name: with If-Match and a retry on
        # 412, both words survive, whoever writes first.
        await asyncio.gather(
            concurrency_if_match.edit(http, url, lambda row: {"name": row["name"] + " one"}),
            concurrency_if_match.edit(http, url, lambda row: {"name": row["name"] + " two"}),
        )
        name = (await Company.get(id=company.id)).name
        assert sorted(name.split()) == ["acme", "one", "two"]


class LosesFirstAnswer(httpx.AsyncBaseTransport):
    """Delivers every request, but loses the answer to the first POST: the client sees a
    timeout though the server ran it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = await self.inner.handle_async_request(request)
        if request.method == "POST" and not self.lost:
            self.lost += 1
            await answer.aread()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return answer


async def test_the_retrying_client_creates_once_when_an_answer_is_lost() -> None:
    app = create_app(concurrency_idempotency.router, modules=[permissions_app.__name__])
    async with serve(app) as http:
        bare = await http.post("/companies", json={"name": "acme"})
        assert bare.status_code == 400  # require_idempotency_key
        assert "Idempotency-Key" in bare.json()["detail"]
        lossy = LosesFirstAnswer(http._transport)
        async with httpx.AsyncClient(transport=lossy, base_url="http://testserver") as client:
            answer = await concurrency_idempotency.create_once(
                client, "/companies", {"name": "acme"}
            )
        assert lossy.lost == 1
        assert answer.status_code == 201
        assert answer.headers["Idempotent-Replayed"] == "true"  # the first answer, kept
        assert answer.json()["name"] == "acme"
        assert await Company.filter(name="acme").count() == 1
