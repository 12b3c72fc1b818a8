"""The code samples of docs/throttling.md, run: each test checks what the page says of one.

The samples are the files docs/examples/throttling_*.py. They reuse the models, schemas and the
user dependency of permissions_app.py; the bearer token of a request is the username.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from docs.examples import (
    permissions_app,
    throttling_actions,
    throttling_basic,
    throttling_custom,
    throttling_scoped,
    throttling_store,
    throttling_testing,
)
from docs.examples.permissions_app import Company, User
from fastapi_viewsets import configure_store, get_store
from fastapi_viewsets.store import Store
from tests.utils import create_app, serve

ROOT = Path(__file__).resolve().parent.parent


def sample_app(module: ModuleType) -> FastAPI:
    return create_app(
        module.router,
        modules=[permissions_app.__name__],
        dependencies=permissions_app.app.router.dependencies,
    )


def auth(who: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {who}"} if who else {}


async def users(*names: str) -> None:
    for name in names:
        await User.create(username=name)


def policies(response: httpx.Response) -> list[str]:
    """The policy names of a response's RateLimit-Policy header, in order."""
    header = response.headers.get("ratelimit-policy")
    return [item.split(";")[0].strip().strip('"') for item in header.split(",")] if header else []


def remaining(response: httpx.Response, policy: str) -> int:
    for item in response.headers["ratelimit"].split(","):
        name, *params = item.strip().split(";")
        if name.strip('"') == policy:
            return int(dict(p.split("=") for p in params)["r"])
    raise AssertionError(f"no {policy} in {response.headers['ratelimit']}")


def operations(app: FastAPI) -> dict[str, dict[str, Any]]:
    spec = app.openapi()
    return {op["operationId"]: op for ops in spec["paths"].values() for op in ops.values()}


def test_the_page_includes_every_throttling_sample() -> None:
    page = (ROOT / "docs" / "throttling.md").read_text()
    samples = sorted((ROOT / "docs" / "examples").glob("throttling_*.py"))
    assert len(samples) == 6
    for sample in samples:
        assert f'```python\n--8<-- "docs/examples/{sample.name}"\n```' in page, sample.name


# --- throttling_basic.py -----------------------------------------------------------------------


async def test_basic_users_get_burst_and_sustained_quotas() -> None:
    async with serve(sample_app(throttling_basic)) as client:
        await users("alice", "bob")
        answers = [await client.get("/companies", headers=auth("alice")) for _ in range(61)]
        assert [a.status_code for a in answers] == [200] * 60 + [429]
        # The anonymous throttle counts no user: two policies, not three.
        assert policies(answers[0]) == ["burst", "sustained"]
        assert answers[0].headers["ratelimit-policy"] == (
            '"burst";q=60;w=60, "sustained";q=1000;w=86400'
        )
        assert remaining(answers[59], "burst") == 0
        assert remaining(answers[59], "sustained") == 940
        refused = answers[60]
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["detail"].startswith("Request was throttled. Expected available in")
        # bob has his own counts.
        other = await client.get("/companies", headers=auth("bob"))
        assert other.status_code == 200
        assert remaining(other, "burst") == 59


async def test_basic_anonymous_clients_get_ten_a_minute_by_address() -> None:
    async with serve(sample_app(throttling_basic)) as client:
        answers = [await client.get("/companies") for _ in range(11)]
        assert [a.status_code for a in answers] == [200] * 10 + [429]
        assert policies(answers[0]) == ["burst", "sustained", "anon"]
        assert remaining(answers[9], "anon") == 0


def test_basic_openapi_documents_429_and_the_headers() -> None:
    for operation in operations(sample_app(throttling_basic)).values():
        responses = operation["responses"]
        assert set(responses["429"]["headers"]) == {"Retry-After", "RateLimit", "RateLimit-Policy"}
        success = next(code for code in responses if code.startswith("2"))
        headers = set(responses[success]["headers"]) - {"ETag", "Idempotent-Replayed", "Location"}
        assert headers == {"RateLimit", "RateLimit-Policy"}
        # Every throttle lets requests through when Redis is down (a create's 503 is its
        # idempotency keys').
        assert "throttles" not in responses.get("503", {}).get("description", "")


# --- throttling_actions.py ---------------------------------------------------------------------


async def test_actions_only_create_and_the_report_are_throttled() -> None:
    async with serve(sample_app(throttling_actions)) as client:
        await users("alice")
        headers = auth("alice")
        reads = [await client.get("/companies", headers=headers) for _ in range(10)]
        assert {r.status_code for r in reads} == {200}
        assert "ratelimit" not in reads[0].headers
        creates = [
            await client.post("/companies", json={"name": f"c{i}"}, headers=headers)
            for i in range(6)
        ]
        assert [c.status_code for c in creates] == [201] * 5 + [429]
        assert policies(creates[0]) == ["creates"]
        assert await Company.all().count() == 5
        reports = [await client.get("/companies/report", headers=headers) for _ in range(3)]
        assert [r.status_code for r in reports] == [200, 200, 429]
        assert reports[0].json() == {"companies": 5}
        assert policies(reports[0]) == ["report"]


def test_actions_openapi_documents_429_only_where_it_can_happen() -> None:
    found = {
        operation_id
        for operation_id, operation in operations(sample_app(throttling_actions)).items()
        if "429" in operation["responses"]
    }
    assert found == {"company_create", "company_report"}


# --- throttling_scoped.py ----------------------------------------------------------------------


async def test_scoped_exports_are_counted_apart() -> None:
    async with serve(sample_app(throttling_scoped)) as client:
        await users("alice")
        headers = auth("alice")
        exports = [await client.get("/companies/export", headers=headers) for _ in range(4)]
        assert [e.status_code for e in exports] == [200, 200, 200, 429]
        assert exports[0].headers["ratelimit-policy"] == '"exports";q=3;w=3600'
        listed = await client.get("/companies", headers=headers)
        assert listed.status_code == 200
        assert listed.headers["ratelimit-policy"] == '"companies";q=100;w=3600'
        assert remaining(listed, "companies") == 99


# --- throttling_store.py -----------------------------------------------------------------------


async def test_store_counts_in_memory_without_redis_url() -> None:
    assert get_store().url == "memory://"
    async with serve(sample_app(throttling_store)) as client:
        await users("alice")
        answer = await client.get("/companies", headers=auth("alice"))
        assert answer.headers["ratelimit-policy"] == (
            '"strict";q=100;w=3600, "large";q=100000;w=86400'
        )
        assert remaining(answer, "strict") == 99
        assert remaining(answer, "large") == 99999


async def test_store_redis_down_refuses_with_503_for_the_strict_throttle(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 1: the store cannot be reached.
    down = Store("redis://127.0.0.1:1/0")
    monkeypatch.setattr(throttling_store.StrictRate, "store", down)
    async with serve(sample_app(throttling_store)) as client:
        await users("alice")
        answer = await client.get("/companies", headers=auth("alice"))
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert answer.json() == {
            "detail": "The rate limit cannot be checked right now; retry shortly."
        }
    operation = operations(sample_app(throttling_store))["company_list"]
    assert "503" in operation["responses"]


async def test_store_redis_down_lets_the_default_throttle_through(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    down = Store("redis://127.0.0.1:1/0")
    monkeypatch.setattr(throttling_store.LargeRate, "store", down)
    async with serve(sample_app(throttling_store)) as client:
        await users("alice")
        with caplog.at_level(logging.WARNING, logger="fastapi_viewsets.throttling"):
            answers = [await client.get("/companies", headers=auth("alice")) for _ in range(3)]
        assert {a.status_code for a in answers} == {200}
        # Only the strict throttle, counted in memory, has headers.
        assert policies(answers[0]) == ["strict"]
        warnings = [r for r in caplog.records if r.name == "fastapi_viewsets.throttling"]
        assert len(warnings) == 1
        assert "LargeRate let a request through" in warnings[0].getMessage()


async def test_store_redis_url_names_a_shared_store(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_store(redis_url)
    async with serve(sample_app(throttling_store)) as first:
        await users("alice")
        await first.get("/companies", headers=auth("alice"))
        # A second app (another worker; the database is already open) on the same Redis sees
        # the first one's count.
        other = FastAPI(dependencies=permissions_app.app.router.dependencies)
        other.include_router(throttling_store.router)
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as second:
            answer = await second.get("/companies", headers=auth("alice"))
            assert remaining(answer, "strict") == 98


# --- throttling_custom.py ----------------------------------------------------------------------


async def test_custom_api_key_rate_counts_by_key_only() -> None:
    async with serve(sample_app(throttling_custom)) as client:
        keyed = await client.get("/companies", headers={"X-API-Key": "k1"})
        assert keyed.headers["ratelimit-policy"] == '"api-key";q=1000;w=3600'
        assert remaining(keyed, "api-key") == 999
        again = await client.get("/companies", headers={"X-API-Key": "k1"})
        assert remaining(again, "api-key") == 998
        other = await client.get("/companies", headers={"X-API-Key": "k2"})
        assert remaining(other, "api-key") == 999
        keyless = await client.get("/companies")
        assert keyless.status_code == 200
        assert "ratelimit" not in keyless.headers


async def test_custom_read_only_hours_refuse_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttling_custom.ReadOnlyHours, "import_running", True)
    async with serve(sample_app(throttling_custom)) as client:
        write = await client.post("/companies", json={"name": "acme"})
        assert write.status_code == 429
        assert write.headers["retry-after"] == "600"
        assert write.json() == {
            "detail": "Request was throttled. Expected available in 600 seconds."
        }
        assert (await client.get("/companies")).status_code == 200
        assert await Company.all().count() == 0


# --- throttling_testing.py ---------------------------------------------------------------------


def test_the_testing_fixture_starts_an_empty_store() -> None:
    before = get_store()
    fixture: Any = throttling_testing.fresh_throttle_counts
    fixture.__wrapped__()  # the function under pytest's fixture decorator
    assert get_store() is not before
    assert get_store().url == "memory://"
