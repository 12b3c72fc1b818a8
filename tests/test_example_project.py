"""The example project, driven over HTTP as a client would use it, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from tortoise import Tortoise, connections
from tortoise.context import TortoiseContext
from tortoise.contrib.fastapi import RegisterTortoise
from tortoise.migrations.autodetector import MigrationAutodetector

from example_project import auth
from example_project.app import MODELS, create_app
from example_project.db import TablesWithoutMigrations, apply_migrations, tortoise_config
from example_project.seed import DEMO_PASSWORDS
from tests.processes import answers, free_port, stop, wait_until_up
from tests.utils import DB_URL, IS_POSTGRES, serve


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # 600k PBKDF2 rounds per demo user would spend seconds per test; hashes record their
    # iteration count, so verification follows whatever count the hash was made with.
    monkeypatch.setattr(auth, "PASSWORD_ITERATIONS", 1_000)


async def drop_example_tables() -> None:
    """PostgreSQL keeps tables between apps: drop ours and the record of the migrations that
    made them, so each test migrates and seeds a fresh database."""
    await Tortoise.init(db_url=DB_URL, modules=MODELS)
    try:
        connection = connections.get("default")
        tables = [model._meta.db_table for model in Tortoise.apps["models"].values()]
        for table in [*tables, "tortoise_migrations"]:
            await connection.execute_script(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    finally:
        await Tortoise.close_connections()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    if IS_POSTGRES:
        await drop_example_tables()
    async with serve(create_app(db_url=DB_URL, seed=True)) as client:
        yield client


async def login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await client.post(
        "/auth/token", json={"username": username, "password": DEMO_PASSWORDS[username]}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.get("/users/me", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


async def names(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> set[str]:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return {row["name"] for row in response.json()["results"]}


async def organisation_id(client: httpx.AsyncClient, name: str, headers: dict[str, str]) -> int:
    response = await client.get("/organisations", headers=headers)
    return int(next(row["id"] for row in response.json()["results"] if row["name"] == name))


async def task_id(client: httpx.AsyncClient, title: str) -> int:
    response = await client.get("/tasks")
    return int(next(row["id"] for row in response.json()["results"] if row["title"] == title))


# --- authentication ------------------------------------------------------------------------


async def test_login_with_json_or_form_gives_a_bearer_token(client: httpx.AsyncClient) -> None:
    as_json = await client.post(
        "/auth/token", json={"username": "alice", "password": "alice-password"}
    )
    as_form = await client.post(
        "/auth/token", data={"username": "alice", "password": "alice-password"}
    )

    for response in (as_json, as_form):
        assert response.status_code == 200
        assert response.json()["token_type"] == "bearer"
        me = await client.get(
            "/users/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
        )
        assert me.json() == {"id": me.json()["id"], "username": "alice", "is_admin": False}


async def test_wrong_password_or_unknown_user_is_401(client: httpx.AsyncClient) -> None:
    wrong = await client.post("/auth/token", json={"username": "alice", "password": "nope"})
    unknown = await client.post("/auth/token", data={"username": "mallory", "password": "x"})
    missing = await client.post("/auth/token", json={"username": "alice"})

    assert (wrong.status_code, unknown.status_code) == (401, 401)
    assert wrong.json() == unknown.json() == {"detail": "Incorrect username or password."}
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert missing.status_code == 422


async def test_a_login_body_that_cannot_be_read_is_a_422(client: httpx.AsyncClient) -> None:
    # Found by the fuzz run (scripts/fuzz.py): bytes that are not UTF-8 were echoed in the
    # validation error, which could not be encoded: a 500.
    not_utf8 = await client.post(
        "/auth/token", content=b'{"username": "\xa5"}', headers={"Content-Type": "application/json"}
    )
    not_json = await client.post(
        "/auth/token",
        content=b'{"username": "alice", "password": "alice-password"}',
        headers={"Content-Type": "text/plain"},
    )
    no_body = await client.post("/auth/token")

    assert not_utf8.status_code == 422
    assert not_utf8.json() == {
        "detail": [{"type": "body_invalid", "loc": ["body"], "msg": "The body is not UTF-8 text."}]
    }
    assert not_json.status_code == no_body.status_code == 422
    assert not_json.json()["detail"][0]["msg"] == (
        "Send the username and password as JSON or as an HTML form."
    )


async def test_a_username_with_a_nul_is_unknown(client: httpx.AsyncClient) -> None:
    # PostgreSQL refuses a NUL in a query (a 500): no such name exists, nor is asked for.
    as_json = await client.post("/auth/token", json={"username": "ali\x00ce", "password": "x"})
    as_form = await client.post("/auth/token", data={"username": "\x00", "password": "x"})

    assert (as_json.status_code, as_form.status_code) == (401, 401)
    assert as_json.json() == {"detail": "Incorrect username or password."}


async def test_openapi_documents_the_login_route(client: httpx.AsyncClient) -> None:
    login = (await client.get("/openapi.json")).json()["paths"]["/auth/token"]["post"]

    assert set(login["responses"]) == {"200", "401", "422"}
    # Logging in reads no token, so it declares none (and Swagger UI draws no padlock).
    assert "security" not in login


async def test_write_bodies_are_not_coerced(client: httpx.AsyncClient) -> None:
    # The fuzz run sent {"is_public": 0}, which OpenAPI's boolean does not allow, and it was
    # read as false.
    alice = await login(client, "alice")
    acme = await organisation_id(client, "Acme", alice)

    answers = [
        await client.patch(f"/organisations/{acme}", json={"is_public": 0}, headers=alice),
        await client.put(
            f"/organisations/{acme}", json={"name": "Acme", "is_public": "true"}, headers=alice
        ),
        await client.post(
            "/projects", json={"name": "Typed", "organisation_id": str(acme)}, headers=alice
        ),
        await client.post("/tasks", json={"title": "Typed", "project_id": True}, headers=alice),
    ]

    assert [answer.status_code for answer in answers] == [422] * 4, [a.text for a in answers]
    assert await names(client, "/organisations") == {"Acme", "Bobworks"}  # still public


def _forge(token: str, user: int) -> str:
    """``token``'s signature on a payload that names another user."""
    payload, signature = token.split(".")
    expires = base64.urlsafe_b64decode(payload + "==").decode().split(":")[1]
    forged = base64.urlsafe_b64encode(f"{user}:{expires}".encode()).rstrip(b"=").decode()
    return f"{forged}.{signature}"


async def test_tampered_or_expired_tokens_are_anonymous(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await login(client, "alice")
    token = alice["Authorization"].removeprefix("Bearer ")
    bob_id = await user_id(client, await login(client, "bob"))
    alice_id = await user_id(client, alice)
    monkeypatch.setenv("EXAMPLE_SECRET_KEY", "another-key")
    other_key = auth.sign_token(alice_id)
    monkeypatch.delenv("EXAMPLE_SECRET_KEY")
    bad_tokens = {
        "forged user": _forge(token, bob_id),
        "flipped signature": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "junk appended": token + "!",
        "no signature": token.split(".")[0],
        "expired": auth.sign_token(alice_id, expires_in=-1),
        "other key": other_key,
        "garbage": "not-a-token",
    }

    for reason, bad in bad_tokens.items():
        headers = {"Authorization": f"Bearer {bad}"}
        write = await client.post("/organisations", json={"name": "Nope"}, headers=headers)
        assert write.status_code == 401, reason
        assert write.json() == {"detail": "Authentication credentials were not provided."}
        # Anonymous, not rejected: public reads still work and show public rows only.
        assert await names(client, "/organisations", headers) == {"Acme", "Bobworks"}, reason

    assert (await client.get("/users/me", headers=alice)).status_code == 200


async def test_a_401_tells_the_client_to_use_a_bearer_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/organisations", json={"name": "Anonymous Inc"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_signup_then_login(client: httpx.AsyncClient) -> None:
    created = await client.post("/users", json={"username": "dave", "password": "dave-password"})
    taken = await client.post("/users", json={"username": "dave", "password": "other-password"})
    token = await client.post("/auth/token", json={"username": "dave", "password": "dave-password"})

    assert created.status_code == 201
    assert created.json() == {"id": created.json()["id"], "username": "dave", "is_admin": False}
    assert "password" not in created.text
    assert taken.status_code == 409
    assert taken.json() == {"detail": "A user with this username already exists."}
    assert token.status_code == 200


# --- row scoping ---------------------------------------------------------------------------


async def test_anonymous_sees_only_public_organisations(client: httpx.AsyncClient) -> None:
    response = await client.get("/organisations")

    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ["Acme", "Bobworks"]
    acme = response.json()["results"][0]
    assert acme["owner"]["username"] == "alice"
    assert {p["name"] for p in acme["projects"]} == {"Website", "Mobile app"}
    assert await names(client, "/projects") == {"Website", "Mobile app", "Roadmap"}
    hidden = await client.get("/organisations/2")  # Alice Labs, private
    assert hidden.status_code == 404


async def test_a_user_sees_public_and_their_own(client: httpx.AsyncClient) -> None:
    alice = await login(client, "alice")
    bob = await login(client, "bob")
    carol = await login(client, "carol")

    assert await names(client, "/organisations", alice) == {"Acme", "Alice Labs", "Bobworks"}
    assert await names(client, "/organisations", bob) == {"Acme", "Bobworks", "Bob's Skunkworks"}
    assert len(await names(client, "/organisations", carol)) == 4  # carol is an admin
    labs = await organisation_id(client, "Alice Labs", alice)
    assert (await client.get(f"/organisations/{labs}", headers=alice)).status_code == 200
    assert (await client.get(f"/organisations/{labs}", headers=bob)).status_code == 404
    assert "Time machine" in await names(client, "/projects", alice)
    assert "Time machine" not in await names(client, "/projects", bob)


# --- writes --------------------------------------------------------------------------------


async def test_create_sets_the_owner_to_the_caller(client: httpx.AsyncClient) -> None:
    bob = await login(client, "bob")

    response = await client.post(
        "/organisations",
        json={"name": "Bob's Bakery", "is_public": False, "owner_id": 1},  # owner_id is ignored
        headers=bob,
    )

    assert response.status_code == 201
    assert response.json()["owner"]["username"] == "bob"
    assert response.json()["projects"] == []
    assert "Bob's Bakery" in await names(client, "/organisations", bob)
    assert "Bob's Bakery" not in await names(client, "/organisations")
    duplicate = await client.post("/organisations", json={"name": "Bobworks"}, headers=bob)
    assert duplicate.status_code == 409
    assert duplicate.json() == {
        "detail": "An organisation with this owner and name already exists."
    }


async def test_another_users_private_organisation_name_cannot_be_confirmed(
    client: httpx.AsyncClient,
) -> None:
    # Names are unique per owner: a 409 for "Alice Labs" would tell Bob that Alice has a
    # private organisation by that name. He gets his own organisation, as for any free name.
    bob = await login(client, "bob")
    alice = await login(client, "alice")

    for name in ("Alice Labs", "Acme"):
        response = await client.post("/organisations", json={"name": name}, headers=bob)
        assert response.status_code == 201, response.text
        assert response.json()["owner"]["username"] == "bob"
    labs = await organisation_id(client, "Bob's Skunkworks", bob)
    renamed = await client.patch(f"/organisations/{labs}", json={"name": "Bobworks"}, headers=bob)
    assert renamed.status_code == 409  # his own name: the conflict is his to know
    again = await client.post("/organisations", json={"name": "Alice Labs"}, headers=alice)
    assert again.status_code == 409


async def test_a_body_over_64_kib_is_refused_before_it_is_read(client: httpx.AsyncClient) -> None:
    bob = await login(client, "bob")
    before = await names(client, "/organisations", bob)

    response = await client.post(
        "/organisations", json={"name": "x" * 70_000, "is_public": True}, headers=bob
    )
    signup = await client.post("/users", json={"username": "eve", "password": "p" * 70_000})

    for refused in (response, signup):
        assert refused.status_code == 413
        assert refused.json() == {
            "detail": "The request body is too large: this endpoint takes at most 65536 bytes."
        }
    assert await names(client, "/organisations", bob) == before


async def test_a_retried_create_with_an_idempotency_key_runs_once(
    client: httpx.AsyncClient,
) -> None:
    alice = await login(client, "alice")
    acme = await organisation_id(client, "Acme", alice)
    keyed = {**alice, "Idempotency-Key": "4d7c1f0e-project"}
    body = {"name": "Rockets", "organisation_id": acme}

    first = await client.post("/projects", json=body, headers=keyed)
    again = await client.post("/projects", json=body, headers=keyed)

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert sorted(await names(client, "/projects", alice)).count("Rockets") == 1
    other = await client.post("/projects", json={**body, "name": "Jets"}, headers=keyed)
    assert other.status_code == 422
    assert other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    # Another user's key of the same value is theirs: bob's create is refused on its own
    # merits (not his organisation), not answered with alice's project.
    bob = await login(client, "bob")
    foreign = await client.post(
        "/projects", json=body, headers={**bob, "Idempotency-Key": "4d7c1f0e-project"}
    )
    assert foreign.status_code == 403


async def test_a_write_with_a_stale_etag_is_refused(client: httpx.AsyncClient) -> None:
    alice = await login(client, "alice")
    url = f"/organisations/{await organisation_id(client, 'Acme', alice)}"
    read = await client.get(url, headers=alice)
    tag = read.headers["etag"]
    assert (await client.get(url, headers={**alice, "If-None-Match": tag})).status_code == 304

    first = await client.patch(url, json={"name": "Acme 2"}, headers={**alice, "If-Match": tag})
    stale = await client.patch(url, json={"name": "Acme 3"}, headers={**alice, "If-Match": tag})

    assert first.status_code == 200
    assert first.headers["etag"] != tag
    assert stale.status_code == 412
    assert (await client.get(url, headers=alice)).json()["name"] == "Acme 2"


async def test_only_the_owner_may_change_an_organisation(client: httpx.AsyncClient) -> None:
    alice = await login(client, "alice")
    bob = await login(client, "bob")
    bobworks = await organisation_id(client, "Bobworks", bob)
    skunkworks = await organisation_id(client, "Bob's Skunkworks", bob)

    # By design: a row the caller can see but does not own is a 403 (IsOrganisationOwner); a
    # row outside the caller's scope is a 404, so private organisations are not revealed.
    visible = await client.patch(f"/organisations/{bobworks}", json={"name": "Mine"}, headers=alice)
    hidden = await client.patch(
        f"/organisations/{skunkworks}", json={"name": "Mine"}, headers=alice
    )
    deleted = await client.delete(f"/organisations/{bobworks}", headers=alice)
    by_owner = await client.patch(
        f"/organisations/{bobworks}", json={"is_public": False}, headers=bob
    )

    assert visible.status_code == 403
    assert visible.json() == {"detail": "Only the organisation's owner may change it."}
    assert hidden.status_code == 404
    assert deleted.status_code == 403
    assert by_owner.status_code == 200
    assert by_owner.json()["name"] == "Bobworks"
    assert by_owner.json()["is_public"] is False
    assert "Bobworks" not in await names(client, "/organisations")


async def test_projects_can_only_be_added_to_your_own_organisation(
    client: httpx.AsyncClient,
) -> None:
    alice = await login(client, "alice")
    acme = await organisation_id(client, "Acme", alice)
    bobworks = await organisation_id(client, "Bobworks", alice)

    mine = await client.post(
        "/projects", json={"name": "Docs", "organisation_id": acme}, headers=alice
    )
    theirs = await client.post(
        "/projects", json={"name": "Docs", "organisation_id": bobworks}, headers=alice
    )

    assert mine.status_code == 201
    assert mine.json()["organisation"] == {"id": acme, "name": "Acme", "is_public": True}
    assert theirs.status_code == 403
    assert "Docs" in await names(client, "/projects")
    assert len([n for n in await names(client, "/projects") if n == "Docs"]) == 1


# --- custom actions ------------------------------------------------------------------------


async def test_project_stats_count_what_the_caller_can_see(client: httpx.AsyncClient) -> None:
    alice = await login(client, "alice")
    acme = await organisation_id(client, "Acme", alice)

    anonymous = await client.get("/projects/stats")
    as_alice = await client.get("/projects/stats", headers=alice)
    only_acme = await client.get("/projects/stats", params={"organisation_id": acme})

    assert anonymous.status_code == 200
    assert anonymous.json() == {"projects": 3, "tasks": 5, "done": 1, "open": 4}
    assert as_alice.json() == {"projects": 4, "tasks": 6, "done": 1, "open": 5}
    assert only_acme.json() == {"projects": 2, "tasks": 3, "done": 1, "open": 2}


async def test_project_stats_refuses_an_id_beyond_the_column(client: httpx.AsyncClient) -> None:
    # PostgreSQL refused 2147483648 for the integer column (a 500); OpenAPI now bounds it.
    too_large = await client.get("/projects/stats", params={"organisation_id": 2**31})
    too_small = await client.get("/projects/stats", params={"organisation_id": -(2**31) - 1})
    largest = await client.get("/projects/stats", params={"organisation_id": 2**31 - 1})
    spec = (await client.get("/openapi.json")).json()

    assert (too_large.status_code, too_small.status_code) == (422, 422)
    assert largest.json() == {"projects": 0, "tasks": 0, "done": 0, "open": 0}
    [parameter] = spec["paths"]["/projects/stats"]["get"]["parameters"]
    bounds = next(s for s in parameter["schema"]["anyOf"] if s.get("type") == "integer")
    assert (bounds["minimum"], bounds["maximum"]) == (-(2**31), 2**31 - 1)


async def test_the_assignee_completes_a_task_and_the_owner_is_notified(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="example_project")
    bob = await login(client, "bob")
    task = await task_id(client, "Write the landing page")  # in alice's Acme, assigned to bob

    response = await client.post(f"/tasks/{task}/complete", headers=bob)
    again = await client.post(f"/tasks/{task}/complete", headers=bob)

    assert response.status_code == again.status_code == 200
    assert response.json()["done"] is True
    assert response.json()["assignee"]["username"] == "bob"
    assert (await client.get(f"/tasks/{task}")).json()["done"] is True
    # The notification ran as a background task, still inside the request's state.
    # Completing twice is harmless and notifies once.
    [notice] = [r for r in caplog.records if r.getMessage().startswith("notified alice")]
    assert "'Write the landing page' was completed by bob" in notice.getMessage()
    assert notice.request_id == response.headers["x-request-id"]  # type: ignore[attr-defined]


async def test_completing_needs_the_assignee_or_the_owner(client: httpx.AsyncClient) -> None:
    bob = await login(client, "bob")
    alice = await login(client, "alice")
    unassigned = await task_id(client, "Hire a designer")  # bob's Bobworks, nobody assigned
    bobs_task_in_acme = await task_id(client, "Fix the login screen")

    anonymous = await client.post(f"/tasks/{unassigned}/complete")
    stranger = await client.post(f"/tasks/{unassigned}/complete", headers=alice)
    owner = await client.post(f"/tasks/{bobs_task_in_acme}/complete", headers=alice)
    missing = await client.post("/tasks/999999/complete", headers=alice)

    assert anonymous.status_code == 401
    assert stranger.status_code == 403
    assert stranger.json() == {
        "detail": "Only the task's assignee or the organisation's owner may complete it."
    }
    assert owner.status_code == 200
    assert owner.json()["done"] is True
    assert missing.status_code == 404
    assert (await client.get(f"/tasks/{unassigned}", headers=bob)).json()["done"] is False


# --- request ids and logging ---------------------------------------------------------------


async def test_every_response_has_a_request_id(client: httpx.AsyncClient) -> None:
    listed = await client.get("/organisations")
    login_page = await client.post("/auth/token", json={"username": "x", "password": "y"})
    unknown = await client.get("/no-such-page")
    echoed = await client.get("/organisations", headers={"X-Request-ID": "trace-42"})

    for response in (listed, login_page, unknown):
        assert len(response.headers["x-request-id"]) == 36  # a uuid4
    assert listed.headers["x-request-id"] != unknown.headers["x-request-id"]
    assert echoed.headers["x-request-id"] == "trace-42"


async def test_log_records_carry_the_request_id_and_user(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="example_project")
    bob = await login(client, "bob")
    bob_id = await user_id(client, bob)

    response = await client.post(
        "/organisations",
        json={"name": "Logged Ltd"},
        headers={**bob, "X-Request-ID": "req-logged-ltd"},
    )

    assert response.status_code == 201
    assert response.headers["x-request-id"] == "req-logged-ltd"
    [record] = [r for r in caplog.records if "organisation_created" in r.getMessage()]
    assert record.request_id == "req-logged-ltd"  # type: ignore[attr-defined]
    assert record.user_id == bob_id  # type: ignore[attr-defined]
    [handler] = logging.getLogger("example_project").handlers  # what app.py configured
    assert f"[req req-logged-ltd user {bob_id}] example_project.views" in handler.format(record)


async def test_openapi_documents_the_api(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()

    login_body = spec["paths"]["/auth/token"]["post"]["requestBody"]["content"]
    assert set(login_body) == {"application/json", "application/x-www-form-urlencoded"}
    assert spec["paths"]["/projects/stats"]["get"]["operationId"] == "project_stats"
    assert "/tasks/{id}/complete" in spec["paths"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "password_hash" not in str(spec)


# --- throttling ----------------------------------------------------------------------------


async def test_anonymous_reads_are_throttled_per_address(client: httpx.AsyncClient) -> None:
    answers = [await client.get("/organisations") for _ in range(100)]
    assert {a.status_code for a in answers} == {200}
    assert answers[0].headers["ratelimit-policy"] == '"anon";q=100;w=60'
    assert answers[0].headers["ratelimit"].startswith('"anon";r=99;')
    # Organisations, projects and tasks share the visitor's 100 a minute.
    refused = await client.get("/projects")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["detail"].startswith("Request was throttled.")

    # A signed-in user is not counted, and gets no RateLimit headers.
    alice = await login(client, "alice")
    mine = await client.get("/organisations", headers=alice)
    assert mine.status_code == 200
    assert "ratelimit" not in mine.headers

    # The login route is not a viewset's: not throttled.
    assert (
        await client.post("/auth/token", json={"username": "x", "password": "y"})
    ).status_code == 401


async def test_openapi_documents_the_throttled_reads(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "429" in spec["paths"]["/organisations"]["get"]["responses"]
    assert "429" in spec["paths"]["/tasks/{id}"]["get"]["responses"]
    assert "429" not in spec["paths"]["/auth/token"]["post"]["responses"]


async def test_the_docs_pages_load_their_assets_from_the_app_itself(
    client: httpx.AsyncClient,
) -> None:
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
        assert assets, page
        for asset in assets:
            assert asset.startswith("/"), asset  # the app's own path, no CDN
            answer = await client.get(asset)
            assert answer.status_code == 200, asset
            assert len(answer.content) > 1000, asset


def test_the_command_line_takes_a_host_and_a_port(capsys: pytest.CaptureFixture[str]) -> None:
    from example_project.__main__ import parse_args

    assert (parse_args([]).host, parse_args([]).port) == ("127.0.0.1", 8000)
    args = parse_args(["--host", "0.0.0.0", "--port", "8080"])
    assert (args.host, args.port) == ("0.0.0.0", 8080)
    with pytest.raises(SystemExit):
        parse_args(["--port", "70000"])
    assert "give a port from 1 to 65535" in capsys.readouterr().err
    assert parse_args([]).workers == 1
    assert parse_args(["--workers", "4"]).workers == 4
    with pytest.raises(SystemExit):
        parse_args(["--workers", "0"])
    assert "give at least 1" in capsys.readouterr().err


async def test_a_create_refused_with_409_is_not_logged_as_made(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="example_project")
    bob = await login(client, "bob")
    taken = await client.post("/organisations", json={"name": "Bobworks"}, headers=bob)
    assert taken.status_code == 409
    assert not [r for r in caplog.records if "organisation_created" in r.getMessage()]


async def test_a_token_for_an_id_the_column_cannot_hold_is_no_one(
    client: httpx.AsyncClient,
) -> None:
    # Signed with the key the server uses (the public development key, here): a forgery.
    forged = auth.sign_token(2**40)
    answer = await client.get("/users/me", headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401
    assert auth.verify_token(auth.sign_token(2**31 - 1)) == 2**31 - 1


def test_the_development_key_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("EXAMPLE_SECRET_KEY", raising=False)
    assert auth.warn_if_development_key() is True
    assert "EXAMPLE_SECRET_KEY is not set" in caplog.text
    monkeypatch.setenv("EXAMPLE_SECRET_KEY", "x" * 64)
    assert auth.warn_if_development_key() is False


# --- lists: pages, filters, search, ordering ----------------------------------------------


async def test_organisations_come_in_numbered_pages(client: httpx.AsyncClient) -> None:
    alice = await login(client, "alice")

    first = await client.get("/organisations?page_size=2", headers=alice)
    second = await client.get(first.json()["next"], headers=alice)

    assert first.status_code == second.status_code == 200
    assert first.json()["count"] == second.json()["count"] == 3
    assert [row["name"] for row in first.json()["results"]] == ["Acme", "Alice Labs"]
    assert [row["name"] for row in second.json()["results"]] == ["Bobworks"]
    assert first.json()["previous"] is None
    assert second.json()["next"] is None
    too_large = await client.get("/organisations?page_size=101")
    assert too_large.status_code == 422


async def test_organisations_are_filtered_searched_and_ordered(client: httpx.AsyncClient) -> None:
    bob = await login(client, "bob")

    private = await client.get("/organisations?is_public=false", headers=bob)
    searched = await client.get("/organisations?search=BOB", headers=bob)
    ordered = await client.get("/organisations?ordering=-name", headers=bob)

    assert [row["name"] for row in private.json()["results"]] == ["Bob's Skunkworks"]
    assert {row["name"] for row in searched.json()["results"]} == {"Bobworks", "Bob's Skunkworks"}
    assert [row["name"] for row in ordered.json()["results"]] == [
        "Bobworks",
        "Bob's Skunkworks",
        "Acme",
    ]
    # Filters and search run inside the caller's rows: anonymous searches find no private one.
    assert await names(client, "/organisations?search=labs") == set()
    unknown = await client.get("/organisations?ordering=owner_id")
    assert unknown.status_code == 400


async def test_projects_are_filtered_by_organisation_and_date(client: httpx.AsyncClient) -> None:
    alice = await login(client, "alice")
    acme = await organisation_id(client, "Acme", alice)

    assert await names(client, f"/projects?organisation_id={acme}") == {"Website", "Mobile app"}
    assert await names(client, "/projects?search=time", alice) == {"Time machine"}
    assert await names(client, "/projects?search=time") == set()  # private for anonymous
    future = await client.get("/projects?created_at__gte=2999-01-01T00:00:00Z")
    assert future.json()["results"] == []
    assert future.json()["count"] == 0
    past = await client.get("/projects?created_at__lt=2999-01-01T00:00:00Z")
    assert past.json()["count"] == 3


async def test_tasks_are_a_cursor_feed_newest_first(client: httpx.AsyncClient) -> None:
    alice = await login(client, "alice")
    project = (await client.get("/projects?search=website")).json()["results"][0]["id"]
    newest = await client.post(
        "/tasks", json={"title": "Ship it", "project_id": project}, headers=alice
    )
    assert newest.status_code == 201

    seen: list[dict[str, object]] = []
    url: str | None = "/tasks?page_size=2"
    while url is not None:
        page = await client.get(url, headers=alice)
        assert page.status_code == 200, page.text
        assert set(page.json()) == {"next", "previous", "results"}  # no count of the table
        seen.extend(page.json()["results"])
        url = page.json()["next"]

    assert seen[0]["title"] == "Ship it"
    assert [row["id"] for row in seen] == sorted((row["id"] for row in seen), reverse=True)
    assert len(seen) == 7  # alice's six visible tasks and hers, each once
    forged = await client.get("/tasks?cursor=not-a-cursor")
    assert forged.status_code == 404


async def test_tasks_are_filtered_and_searched(client: httpx.AsyncClient) -> None:
    bob = await login(client, "bob")
    bob_id = await user_id(client, bob)

    open_for_bob = await client.get(f"/tasks?done=false&assignee_id={bob_id}", headers=bob)
    searched = await client.get("/tasks?search=landing")
    by_title = await client.get("/tasks?ordering=title")

    assert {row["title"] for row in open_for_bob.json()["results"]} == {
        "Write the landing page",
        "Fix the login screen",
        "Plan Q3",
        "Build the prototype",
    }
    assert [row["title"] for row in searched.json()["results"]] == ["Write the landing page"]
    titles = [row["title"] for row in by_title.json()["results"]]
    assert titles == sorted(titles)
    assert (await client.get("/tasks?done=perhaps")).status_code == 422


async def test_users_come_in_slices(client: httpx.AsyncClient) -> None:
    carol = await login(client, "carol")

    page = await client.get("/users?limit=1&offset=1", headers=carol)
    found = await client.get("/users?search=car", headers=carol)

    assert page.json()["count"] == 3
    assert [row["username"] for row in page.json()["results"]] == ["bob"]
    assert [row["username"] for row in found.json()["results"]] == ["carol"]
    assert (await client.get("/users")).status_code == 401


# --- the nested route ------------------------------------------------------------------------


async def test_an_organisations_projects_live_under_it(client: httpx.AsyncClient) -> None:
    alice = await login(client, "alice")
    acme = await organisation_id(client, "Acme", alice)
    bobworks = await organisation_id(client, "Bobworks", alice)

    assert await names(client, f"/organisations/{acme}/projects") == {"Website", "Mobile app"}
    created = await client.post(
        f"/organisations/{acme}/projects", json={"name": "Docs"}, headers=alice
    )
    assert created.status_code == 201, created.text
    assert created.json()["organisation"]["name"] == "Acme"
    location = f"/organisations/{acme}/projects/{created.json()['id']}"
    assert created.headers["location"] == location
    assert (await client.get(location)).json()["name"] == "Docs"
    # Another organisation's project is not found under this one.
    roadmap = (await client.get(f"/organisations/{bobworks}/projects")).json()["results"][0]
    elsewhere = await client.get(f"/organisations/{acme}/projects/{roadmap['id']}")
    assert elsewhere.status_code == 404


async def test_the_nested_route_keeps_the_organisations_rules(client: httpx.AsyncClient) -> None:
    alice = await login(client, "alice")
    bob = await login(client, "bob")
    acme = await organisation_id(client, "Acme", alice)
    labs = await organisation_id(client, "Alice Labs", alice)

    # Alice Labs is private: its projects, and a create under it, do not exist for Bob.
    assert (await client.get(f"/organisations/{labs}/projects", headers=bob)).status_code == 404
    hidden = await client.post(f"/organisations/{labs}/projects", json={"name": "X"}, headers=bob)
    assert hidden.status_code == 404
    # Acme is public but Alice's: Bob sees its projects and may not add one.
    refused = await client.post(f"/organisations/{acme}/projects", json={"name": "X"}, headers=bob)
    assert refused.status_code == 403
    assert await names(client, f"/organisations/{acme}/projects") == {"Website", "Mobile app"}
    assert (await client.get("/organisations/abc/projects")).status_code == 422


# --- the schema comes from migrations --------------------------------------------------------


async def test_the_tables_are_made_by_the_committed_migrations(client: httpx.AsyncClient) -> None:
    _, rows = await connections.get("default").execute_query(
        'SELECT "app", "name" FROM "tortoise_migrations"'
    )
    assert [(row["app"], row["name"]) for row in rows] == [("models", "0001_initial")]


async def test_the_migrations_match_the_models() -> None:
    # What `tortoise makemigrations` would write: nothing, or a model changed without one.
    config = tortoise_config("sqlite://:memory:")
    async with TortoiseContext() as context:
        await context.init(config=config)
        assert context.apps is not None
        writers = await MigrationAutodetector(context.apps, config["apps"]).changes()
    assert [writer.name for writer in writers] == []


def tortoise_command(*arguments: str, db_url: str) -> str:
    """Run Tortoise's command line on the example's configuration; return what it printed."""
    tortoise = Path(sys.executable).with_name("tortoise")
    done = subprocess.run(
        [tortoise, "-c", "example_project.db.TORTOISE_ORM", *arguments],
        env={**os.environ, "DATABASE_URL": db_url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(IS_POSTGRES, reason="the command line on a SQLite file is enough")
async def test_the_command_line_migrates_a_database_before_the_workers_start(
    tmp_path: Path,
) -> None:
    url = f"sqlite://{tmp_path / 'example.sqlite3'}"

    assert "models.0001_initial" in tortoise_command("migrate", db_url=url)

    async with serve(create_app(url, migrate=False)) as client:
        assert await names(client, "/organisations") == {"Acme", "Bobworks"}


async def test_tables_made_without_migrations_are_refused_with_what_to_do() -> None:
    # What versions of the example before its migrations left behind: tables from the models.
    if IS_POSTGRES:
        await drop_example_tables()
    url = DB_URL if IS_POSTGRES else "sqlite://:memory:"

    @asynccontextmanager
    async def old_tables(app: FastAPI) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=tortoise_config(url), generate_schemas=True):
            await apply_migrations()
            yield

    with pytest.raises(TablesWithoutMigrations, match="delete it"):
        async with serve(FastAPI(lifespan=old_tables)):
            pass
    if IS_POSTGRES:
        await drop_example_tables()


@pytest.mark.skipif(IS_POSTGRES, reason="the command line on a SQLite file is enough")
def test_the_command_line_serves_several_workers_on_one_prepared_database(
    tmp_path: Path,
) -> None:
    port = free_port()
    log = tmp_path / "workers.log"
    environment = {k: v for k, v in os.environ.items() if k != "FASTAPI_VIEWSETS_STORE"}
    environment["DATABASE_URL"] = f"sqlite://{tmp_path / 'example.sqlite3'}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "example_project", "--workers", "2", "--port", str(port)],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, lambda: answers(f"{url}/openapi.json"), "the workers", log)
        public = httpx.get(f"{url}/organisations").json()
        assert {row["name"] for row in public["results"]} == {"Acme", "Bobworks"}
        # Two worker processes, and the migrations applied once, before they started.
        started = re.findall(r"Started server process \[(\d+)\]", log.read_text())
        deadline = time.monotonic() + 20
        while len(set(started)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            started = re.findall(r"Started server process \[(\d+)\]", log.read_text())
        assert len(set(started)) == 2, log.read_text()
    finally:
        stop(process)
    assert "Traceback" not in log.read_text()
