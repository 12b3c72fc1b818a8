"""The Tutorial (docs/tutorial/): each step's code, run as its page says, does what the page shows.

The code of step N is in docs/tutorial/code/stepNN/, holding only the files that step adds or
changes. The reader's project after step N is every step up to N copied over each other, in
order, which :func:`project` builds in a temporary directory. Each project's package is
``blog``, as in the pages, so a test imports it after forgetting the previous step's ``blog``.

In-process tests serve ``blog.main.create_app(db_url, apply_migrations=True)`` with httpx: on
SQLite a new in-memory database per test; on PostgreSQL (``TORTOISE_TEST_DB``) a scratch
database of this module's own whose blog tables are dropped before each test, so the step's
migrations build them again. The migration step runs the ``tortoise`` command in a temporary
directory, and the production step serves the project with ``uvicorn --workers 2``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.processes import answers, free_port, postgres, stop, wait_until_up
from tests.utils import IS_POSTGRES, serve

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT / "docs" / "tutorial" / "code"
BIN = Path(sys.executable).parent
TORTOISE = [str(BIN / "tortoise"), "-c", "blog.settings.TORTOISE_ORM"]
BLOG_TABLES = ("comment", "post", "token", "author", "tortoise_migrations")


def project(step: int, directory: Path) -> Path:
    """The reader's project after ``step``: the files of steps 1 to ``step``, later ones over
    earlier ones."""
    directory.mkdir(parents=True, exist_ok=True)
    for number in range(1, step + 1):
        source = CODE / f"step{number:02}"
        if source.exists():
            shutil.copytree(
                source,
                directory,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
    return directory


def _forget_blog() -> None:
    for name in [name for name in sys.modules if name == "blog" or name.startswith("blog.")]:
        del sys.modules[name]


@pytest.fixture
def load(tmp_path: Path) -> Iterator[Any]:
    """``load(step)`` imports the project of ``step`` and returns its ``blog`` package."""
    paths: list[str] = []

    def _load(step: int) -> ModuleType:
        directory = project(step, tmp_path / f"step{step:02}")
        _forget_blog()
        sys.path.insert(0, str(directory))
        paths.append(str(directory))
        importlib.import_module("blog.main")
        return sys.modules["blog"]

    yield _load
    for path in paths:
        sys.path.remove(path)
    _forget_blog()
    logger = logging.getLogger("blog")  # step 8's configure_logging() adds a handler to it
    for handler in logger.handlers[:]:
        logger.removeHandler(handler)


@pytest.fixture
def db_url(database_url: str) -> str:
    """A new, empty database for an in-process test (see the module's docstring)."""
    if not IS_POSTGRES:
        return "sqlite://:memory:"
    tables = ", ".join(f'"{table}"' for table in BLOG_TABLES)
    postgres(database_url, f"DROP TABLE IF EXISTS {tables} CASCADE")
    return database_url


@asynccontextmanager
async def running(blog: ModuleType, db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = blog.main.create_app(db_url, apply_migrations=True)
    async with serve(app) as client:
        yield client


def run(command: list[str], cwd: Path, **env: str) -> str:
    """Run ``command`` as the page shows it, in ``cwd``; its output, or a failure with it."""
    done = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{output}"
    return output


DRAFT = {"title": "D", "body": "."}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- step 1: install and project layout -------------------------------------------------------


async def test_step01_the_app_answers_health(load: Any) -> None:
    blog = load(1)
    async with serve(blog.main.app) as client:
        response = await client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


# --- step 2: models and migrations ------------------------------------------------------------


def test_step02_tortoise_cli_makes_and_applies_the_committed_migration(tmp_path: Path) -> None:
    directory = project(2, tmp_path / "project")
    committed = (directory / "blog/migrations/0001_initial.py").read_text()
    shutil.rmtree(directory / "blog/migrations")  # the reader starts without migrations
    database = tmp_path / "blog.sqlite3"
    env = {"DATABASE_URL": f"sqlite://{database}"}

    out = run([*TORTOISE, "init"], directory, **env)
    assert out.startswith("blog: blog.migrations -> "), out
    assert (directory / "blog/migrations/__init__.py").exists()

    out = run([*TORTOISE, "makemigrations"], directory, **env)
    assert "Created blog.0001_initial" in out, out
    assert (directory / "blog/migrations/0001_initial.py").read_text() == committed

    out = run([*TORTOISE, "migrate"], directory, **env)
    assert "Applying blog.0001_initial... OK" in out, out
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"author", "post", "comment", "tortoise_migrations"} <= tables

    assert "No changes detected" in run([*TORTOISE, "makemigrations"], directory, **env)
    assert "No migrations to apply" in run([*TORTOISE, "migrate"], directory, **env)
    assert "- blog 0001_initial" in run([*TORTOISE, "history"], directory, **env)


def test_step02_default_database_is_a_file_in_the_current_directory(load: Any) -> None:
    blog = load(2)
    assert {
        "connections": {"default": os.environ.get("DATABASE_URL", "sqlite://blog.sqlite3")},
        "apps": {"blog": {"models": ["blog.models"], "migrations": "blog.migrations"}},
    } == blog.settings.TORTOISE_ORM


async def test_step02_app_opens_the_migrated_database(load: Any, db_url: str) -> None:
    blog = load(2)
    async with running(blog, db_url) as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        author = await blog.models.Author.create(username="alice", name="Alice")
        post = await blog.models.Post.create(title="Hello", body="...", author=author)
        assert not post.published
        assert await blog.models.Post.filter(author__username="alice").count() == 1


# --- step 3: the first viewsets ---------------------------------------------------------------


async def test_step03_crud_of_posts_and_nested_comments(load: Any, db_url: str) -> None:
    blog = load(3)
    async with running(blog, db_url) as client:
        created = await client.post("/authors", json={"username": "alice", "name": "Alice"})
        assert created.status_code == 201
        alice = created.json()
        assert alice == {"id": alice["id"], "username": "alice", "name": "Alice"}

        draft = await client.post(
            "/posts", json={"title": "Hello", "body": "My first post.", "author_id": alice["id"]}
        )
        assert draft.status_code == 201
        post = draft.json()
        assert post == {
            "id": post["id"],
            "title": "Hello",
            "body": "My first post.",
            "published": False,
            "created_at": post["created_at"],
            "author": alice,
        }
        assert draft.headers["location"] == f"/posts/{post['id']}"

        # A draft is not listed, but its link works.
        assert (await client.get("/posts")).json() == []
        assert (await client.get(f"/posts/{post['id']}")).json() == post
        patched = await client.patch(f"/posts/{post['id']}", json={"published": True})
        assert (patched.status_code, patched.json()["published"]) == (200, True)
        assert [p["id"] for p in (await client.get("/posts")).json()] == [post["id"]]

        comment = await client.post(
            f"/posts/{post['id']}/comments", json={"body": "Nice!", "author_id": alice["id"]}
        )
        assert comment.status_code == 201
        assert comment.headers["location"] == f"/posts/{post['id']}/comments/{comment.json()['id']}"
        listed = await client.get(f"/posts/{post['id']}/comments")
        assert [c["body"] for c in listed.json()] == ["Nice!"]
        assert listed.json()[0]["author"] == alice

        missing = await client.get("/posts/99999/comments")
        assert (missing.status_code, missing.json()) == (
            404,
            {"detail": "No post matches the given query."},
        )
        orphan = {"title": "x", "body": "y", "author_id": 99999}
        no_author = await client.post("/posts", json=orphan)
        assert (no_author.status_code, no_author.json()) == (
            409,
            {"detail": "author_id: the referenced object does not exist."},
        )
        taken = await client.post("/authors", json={"username": "alice", "name": "Other"})
        assert taken.status_code == 409
        assert taken.json() == {"detail": "An author with this username already exists."}

        assert (await client.delete(f"/posts/{post['id']}")).status_code == 204
        assert (await client.get(f"/posts/{post['id']}")).status_code == 404


# --- step 4: authentication -------------------------------------------------------------------


def test_step04_migration_and_token_command(tmp_path: Path) -> None:
    directory = project(4, tmp_path / "project")
    committed = (directory / "blog/migrations/0002_add_token.py").read_text()
    (directory / "blog/migrations/0002_add_token.py").unlink()
    env = {"DATABASE_URL": f"sqlite://{tmp_path / 'blog.sqlite3'}"}

    out = run([*TORTOISE, "makemigrations", "-n", "add_token"], directory, **env)
    assert "Created blog.0002_add_token" in out, out
    assert (directory / "blog/migrations/0002_add_token.py").read_text() == committed
    out = run([*TORTOISE, "migrate"], directory, **env)
    assert "Applying blog.0002_add_token... OK" in out, out

    token = run([sys.executable, "-m", "blog.tokens", "alice", "Alice Liddell"], directory, **env)
    assert len(token.strip()) == 43  # 32 random bytes, URL-safe base64
    with sqlite3.connect(tmp_path / "blog.sqlite3") as connection:
        rows = connection.execute(
            "SELECT author.username, author.name, token.digest FROM token JOIN author"
            " ON author.id = token.author_id"
        ).fetchall()
    assert len(rows) == 1
    assert rows[0][:2] == ("alice", "Alice Liddell")
    assert token.strip() not in rows[0][2]  # only the digest is stored


async def test_step04_token_signs_requests_in(load: Any, db_url: str) -> None:
    blog = load(4)
    async with running(blog, db_url) as client:
        alice = await blog.models.Author.create(username="alice", name="Alice")
        token = await blog.auth.issue_token(alice)

        anonymous = await client.post("/posts", json={"title": "Hello", "body": "..."})
        assert (anonymous.status_code, anonymous.json()) == (
            401,
            {"detail": "Authentication credentials were not provided."},
        )
        assert anonymous.headers["www-authenticate"] == "Bearer"
        forged = await client.post(
            "/posts", json={"title": "Hello", "body": "..."}, headers=bearer("not-a-token")
        )
        assert forged.status_code == 401

        created = await client.post(
            "/posts", json={"title": "Hello", "body": "...", "author_id": 5}, headers=bearer(token)
        )
        assert created.status_code == 201
        assert created.json()["author"] == {"id": alice.id, "username": "alice", "name": "Alice"}
        comment = await client.post(
            f"/posts/{created.json()['id']}/comments", json={"body": "Hi"}, headers=bearer(token)
        )
        assert (comment.status_code, comment.json()["author"]["username"]) == (201, "alice")

        assert (await client.get("/authors")).status_code == 200
        assert (await client.post("/authors", json={})).status_code == 405
        health = await client.get("/health")
        assert health.json() == {"status": "ok"}
        assert "x-request-id" in health.headers


# --- steps 5 to 8: permissions, lists, actions, state -------------------------------------------


async def sign_in(blog: ModuleType, username: str, *, staff: bool = False) -> dict[str, str]:
    author = await blog.models.Author.create(username=username, name=username, is_staff=staff)
    return bearer(await blog.auth.issue_token(author))


async def test_step05_permissions(load: Any, db_url: str) -> None:
    blog = load(5)
    async with running(blog, db_url) as client:
        alice, bob = await sign_in(blog, "alice"), await sign_in(blog, "bob")
        carol = await sign_in(blog, "carol", staff=True)
        draft = (await client.post("/posts", json=DRAFT, headers=alice)).json()
        url = f"/posts/{draft['id']}"

        # A draft is its author's only: to anyone else it does not exist.
        assert (await client.get(url, headers=alice)).status_code == 200
        assert (await client.get(url, headers=bob)).status_code == 404
        assert (await client.get(url)).status_code == 404
        assert (await client.get(f"{url}/comments", headers=bob)).status_code == 404
        assert [p["id"] for p in (await client.get("/posts", headers=alice)).json()] == [
            draft["id"]
        ]
        assert (await client.get("/posts", headers=bob)).json() == []

        published = await client.patch(url, json={"published": True}, headers=alice)
        assert published.status_code == 200
        refused = await client.patch(url, json={"title": "Mine now"}, headers=bob)
        assert (refused.status_code, refused.json()) == (
            403,
            {"detail": "Only the author may do this."},
        )
        assert (await client.patch(url, json={"title": "x"})).status_code == 401
        assert (await client.delete(url, headers=bob)).status_code == 403
        comment = await client.post(f"{url}/comments", json={"body": "Hi"}, headers=bob)
        assert comment.status_code == 201
        comment_url = f"{url}/comments/{comment.json()['id']}"
        assert (await client.patch(comment_url, json={"body": "!"}, headers=alice)).status_code == (
            403
        )
        # Staff moderate: they delete anyone's comment and post, but edit none.
        assert (await client.patch(comment_url, json={"body": "!"}, headers=carol)).status_code == (
            403
        )
        assert (await client.delete(comment_url, headers=carol)).status_code == 204
        assert (await client.delete(url, headers=carol)).status_code == 204


async def test_step06_pagination_filters_search_ordering(load: Any, db_url: str) -> None:
    blog = load(6)
    async with running(blog, db_url) as client:
        alice = await sign_in(blog, "alice")
        await sign_in(blog, "bob")
        author = await blog.models.Author.get(username="alice")
        bob = await blog.models.Author.get(username="bob")
        for number in range(1, 13):
            await blog.models.Post.create(
                title=f"Post {number}", body=".", published=True, author=author
            )
        await blog.models.Post.create(title="Tortoise tips", body=".", published=True, author=bob)
        await blog.models.Post.create(title="Draft on tortoises", body=".", author=author)

        first = (await client.get("/posts")).json()
        assert first["count"] == 13
        assert first["previous"] is None
        assert first["next"] == "http://testserver/posts?page=2"
        assert first["results"][0]["title"] == "Tortoise tips"  # newest first
        assert len(first["results"]) == 10
        second = (await client.get("/posts", params={"page": 2})).json()
        assert len(second["results"]) == 3
        assert (await client.get("/posts", params={"page": 3})).status_code == 404

        found = (await client.get("/posts", params={"search": "tortoise"})).json()
        assert [p["title"] for p in found["results"]] == ["Tortoise tips"]
        mine = await client.get("/posts", params={"search": "tortoise"}, headers=alice)
        assert {p["title"] for p in mine.json()["results"]} == {
            "Tortoise tips",
            "Draft on tortoises",
        }
        drafts = await client.get("/posts", params={"published": "false"}, headers=alice)
        assert [p["title"] for p in drafts.json()["results"]] == ["Draft on tortoises"]
        by_bob = (await client.get("/posts", params={"author__username": "bob"})).json()
        assert [p["title"] for p in by_bob["results"]] == ["Tortoise tips"]
        ordered = await client.get("/posts", params={"ordering": "title", "page_size": 3})
        assert [p["title"] for p in ordered.json()["results"]] == ["Post 1", "Post 10", "Post 11"]
        bad = await client.get("/posts", params={"ordering": "body"})
        assert bad.status_code == 400

        post_id = first["results"][0]["id"]
        for number in range(25):
            await blog.models.Comment.create(post_id=post_id, author=bob, body=f"c{number}")
        page = (await client.get(f"/posts/{post_id}/comments")).json()
        assert set(page) == {"next", "previous", "results"}
        assert [c["body"] for c in page["results"]][:2] == ["c0", "c1"]
        assert len(page["results"]) == 20
        rest = (await client.get(page["next"])).json()
        assert [c["body"] for c in rest["results"]] == [f"c{n}" for n in range(20, 25)]
        assert rest["next"] is None


async def test_step07_publish_and_mine(load: Any, db_url: str) -> None:
    blog = load(7)
    async with running(blog, db_url) as client:
        alice, bob = await sign_in(blog, "alice"), await sign_in(blog, "bob")
        draft = (await client.post("/posts", json=DRAFT, headers=alice)).json()

        assert (await client.post(f"/posts/{draft['id']}/publish")).status_code == 401
        assert (await client.post(f"/posts/{draft['id']}/publish", headers=bob)).status_code == 404
        published = await client.post(f"/posts/{draft['id']}/publish", headers=alice)
        assert published.status_code == 200
        assert published.json() == {**draft, "published": True}
        refused = await client.post(f"/posts/{draft['id']}/publish", headers=bob)
        assert (refused.status_code, refused.json()) == (
            403,
            {"detail": "Only the author may do this."},
        )

        await client.post("/posts", json={"title": "Second", "body": "."}, headers=alice)
        mine = (await client.get("/posts/mine", headers=alice)).json()
        assert mine["count"] == 2
        assert [p["title"] for p in mine["results"]] == ["Second", "D"]
        drafts = await client.get("/posts/mine", params={"published": "false"}, headers=alice)
        assert [p["title"] for p in drafts.json()["results"]] == ["Second"]
        assert (await client.get("/posts/mine", headers=bob)).json()["count"] == 0
        assert (await client.get("/posts/mine")).status_code == 401


async def test_step08_logs_carry_the_request_id(
    load: Any, db_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    blog = load(8)
    async with running(blog, db_url) as client:
        alice = await sign_in(blog, "alice")
        user_id = (await blog.models.Author.get(username="alice")).id
        created = await client.post(
            "/posts",
            json={"title": "Hello", "body": "."},
            headers={**alice, "X-Request-ID": "req-create"},
        )
        assert created.headers["x-request-id"] == "req-create"
        published = await client.post(
            f"/posts/{created.json()['id']}/publish",
            headers={**alice, "X-Request-ID": "req-publish"},
        )
        assert published.headers["x-request-id"] == "req-publish"
    err = capfd.readouterr().err
    assert f"INFO [req-create user={user_id}] blog.views: alice wrote post " in err, err
    assert (
        f"INFO [req-publish user={user_id}] blog.notify: post {created.json()['id']} ('Hello') "
        "published by alice: readers notified"
    ) in err, err


# --- step 9: the project's own tests ----------------------------------------------------------


def test_step09_the_projects_tests_pass(tmp_path: Path) -> None:
    directory = project(9, tmp_path / "project")
    out = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], directory)
    assert "4 passed" in out, out


# --- step 10: production: migrations once, then several workers sharing Redis ----------------


def test_step10_throttle_holds_across_workers(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    directory = project(10, tmp_path / "project")
    if IS_POSTGRES:  # this module's scratch database, which earlier tests used
        tables = ", ".join(f'"{table}"' for table in BLOG_TABLES)
        postgres(database_url, f"DROP TABLE IF EXISTS {tables} CASCADE")
    env = {"DATABASE_URL": database_url, "FASTAPI_VIEWSETS_STORE": redis_url}

    out = run([*TORTOISE, "migrate"], directory, **env)  # once, before the workers start
    assert "Applying blog.0002_add_token... OK" in out, out

    port = free_port()
    log = tmp_path / "uvicorn.log"
    command = [str(BIN / "uvicorn"), "blog.main:app", "--workers", "2", "--port", str(port)]
    with log.open("wb") as output:
        server = subprocess.Popen(
            command,
            cwd=directory,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(server, lambda: answers(f"{url}/health"), "uvicorn --workers 2", log)
        statuses = asyncio.run(_get_many(f"{url}/posts", 40))
    finally:
        stop(server)
    # AnonymousRate is 30/minute: exactly 30 of the 40 pass, whichever worker answered each.
    assert sorted(statuses) == [200] * 30 + [429] * 10, log.read_text()
    assert "Started parent process" in log.read_text()


async def _get_many(url: str, count: int) -> list[int]:
    # A new connection for each request, so the two workers share them out.
    async def get() -> int:
        async with httpx.AsyncClient() as client:
            return (await client.get(url)).status_code

    return list(await asyncio.gather(*(get() for _ in range(count))))
