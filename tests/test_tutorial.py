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

Beyond each step's behaviour: :func:`test_story_the_pages_ids_and_counts` plays the requests of
pages 3 to 8 in order on one database, as a reader does, and checks the ids, counts and titles
the pages show; :func:`test_snippets_show_what_they_use` checks that a page showing part of a
file also shows where each name that part uses comes from (on that page or an earlier one).
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import json
import logging
import os
import re
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
PAGES = ROOT / "docs" / "tutorial"


def page(number: int) -> str:
    (path,) = PAGES.glob(f"{number:02}-*.md")
    return path.read_text()


def shows(number: int, *fragments: str) -> None:
    """Page ``number`` shows each fragment, as it is."""
    text = page(number)
    for fragment in fragments:
        assert fragment in text, f"page {number} does not show {fragment!r}"


def compact(value: Any, *keys: str) -> str:
    """``value`` as curl prints it; with ``keys``, only those, and open-ended as the pages
    write it: ``{"id":3,"title":"D"``."""
    if keys:
        return json.dumps({key: value[key] for key in keys}, separators=(",", ":"))[:-1]
    return json.dumps(value, separators=(",", ":"))


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

    # An author who exists keeps their name and staff flag, unless the command gives new ones.
    def author(username: str) -> tuple[str, int, int]:
        with sqlite3.connect(tmp_path / "blog.sqlite3") as connection:
            return connection.execute(
                "SELECT author.name, author.is_staff, count(*) FROM author JOIN token"
                " ON author.id = token.author_id WHERE username = ?",
                (username,),
            ).fetchone()

    tokens = [sys.executable, "-m", "blog.tokens"]
    run([*tokens, "alice"], directory, **env)
    assert author("alice") == ("Alice Liddell", 0, 2)
    run([*tokens, "carol", "Carol", "--staff"], directory, **env)
    assert author("carol") == ("Carol", 1, 1)
    run([*tokens, "carol"], directory, **env)  # no flag: still staff
    assert author("carol") == ("Carol", 1, 2)
    run([*tokens, "carol", "Carol B.", "--no-staff"], directory, **env)
    assert author("carol") == ("Carol B.", 0, 3)
    run([*tokens, "dave"], directory, **env)  # a new author without a name: the username
    assert author("dave") == ("dave", 0, 1)

    # --help keeps the docstring's example lines as they are written.
    usage = run([*tokens, "--help"], directory, **env)
    assert '  python -m blog.tokens alice "Alice Liddell"   a new author' in usage, usage
    assert "  python -m blog.tokens carol --no-staff " in usage, usage


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
        # Staff moderate what is public: a draft is hidden from them too.
        hidden = await client.delete(url, headers=carol)
        assert (hidden.status_code, hidden.json()) == (
            404,
            {"detail": "No post matches the given query."},
        )

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
    # Exactly the page's command: `pytest`, not `python -m pytest`, which would put the
    # current directory on sys.path and hide a missing `pythonpath`.
    shows(9, "$ pytest -q\n")
    env = {"PYTHONPATH": "", "PYTEST_ADDOPTS": "", "PYTEST_PLUGINS": ""}
    out = run([str(BIN / "pytest"), "-q"], directory, **env)
    assert re.search(r"^4 passed in [\d.]+s$", out, re.MULTILINE), out
    assert "warning" not in out.lower(), out  # the page shows none


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
    # The new database has no authors: the page issues their tokens again.
    shows(10, 'python -m blog.tokens alice "Alice Liddell"')
    token = run([sys.executable, "-m", "blog.tokens", "alice", "Alice Liddell"], directory, **env)

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
        refused = httpx.get(f"{url}/posts")
        mine = httpx.get(f"{url}/posts/mine", headers=bearer(token.strip()))
    finally:
        stop(server)
    # AnonymousRate is 30/minute: exactly 30 of the 40 pass, whichever worker answered each.
    assert sorted(statuses) == [200] * 30 + [429] * 10, log.read_text()
    assert "Started parent process" in log.read_text()
    # The 41st, as the page shows it: "user" counted all 41, the refused ones too.
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-policy"] == '"anon";q=30;w=60, "user";q=120;w=60'
    shown = re.search(r"^ratelimit: (.*)$", page(10), re.MULTILINE)
    assert shown is not None
    sent = refused.headers["ratelimit"]
    assert re.sub(r"t=\d+", "t=60", sent) == shown[1] == '"anon";r=0;t=60, "user";r=79;t=60'
    # The token issued on the new database signs requests in (anonymous requests are spent).
    assert (mine.status_code, mine.json()["count"]) == (200, 0)


async def _get_many(url: str, count: int) -> list[int]:
    # A new connection for each request, so the two workers share them out.
    async def get() -> int:
        async with httpx.AsyncClient() as client:
            return (await client.get(url)).status_code

    return list(await asyncio.gather(*(get() for _ in range(count))))


# --- the pages in order: the ids and counts a reader gets ------------------------------------


async def test_story_the_pages_ids_and_counts(
    load: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Pages 3 to 8 in order, on one database as a reader goes through them: each page's
    project serves the data the earlier pages made, and its commands (``python -m
    blog.tokens``, ``python -m blog.seed``) run beside it. Always on a SQLite file, the
    reader's database: on PostgreSQL a refused insert (page 3's 409s) uses up a sequence
    value, so the ids would differ from the pages'."""
    url = f"sqlite://{tmp_path / 'blog.sqlite3'}"

    def command(blog: ModuleType, *args: str) -> str:
        directory = Path(blog.__file__).parent.parent
        return run([sys.executable, "-m", *args], directory, DATABASE_URL=url).strip()

    def body(response: httpx.Response) -> str:
        return response.text.replace("http://testserver", "http://localhost:8000")

    # Page 3: alice, her first post, published, and a comment on it.
    blog = load(3)
    async with running(blog, url) as client:
        alice = (await client.post("/authors", json={"username": "alice", "name": "Alice"})).json()
        shows(3, compact(alice))
        hello = {"title": "Hello", "body": "My first post.", "author_id": 1}
        first = await client.post("/posts", json=hello)
        shows(3, f"location: {first.headers['location']}", compact(first.json(), "id", "title"))
        await client.patch("/posts/1", json={"published": True})
        comment = await client.post("/posts/1/comments", json={"body": "Nice!", "author_id": 1})
        shows(3, compact(comment.json(), "id", "body"))
        await client.post("/posts", json={"title": "x", "body": "y", "author_id": 99})  # 409
        await client.post("/authors", json={"username": "alice", "name": "Other"})  # 409

    # Page 4: the token table, alice's token, and her draft.
    blog = load(4)
    run([*TORTOISE, "migrate"], Path(blog.__file__).parent.parent, DATABASE_URL=url)
    token = bearer(command(blog, "blog.tokens", "alice", "Alice Liddell"))
    async with running(blog, url) as client:
        draft = await client.post("/posts", json={"title": "Hello", "body": "..."}, headers=token)
        shows(4, compact(draft.json(), "id", "title", "body", "published"))
        shows(4, compact(draft.json()["author"]))

    # Page 5: bob and carol; alice's "D", published, then deleted by carol.
    blog = load(5)
    alice = bearer(command(blog, "blog.tokens", "alice"))
    bob = bearer(command(blog, "blog.tokens", "bob", "Bob"))
    carol = bearer(command(blog, "blog.tokens", "carol", "Carol", "--staff"))
    async with running(blog, url) as client:
        assert [a["id"] for a in (await client.get("/authors")).json()] == [1, 2, 3]
        assert (await client.get("/authors/1")).json()["name"] == "Alice Liddell"  # kept
        mine = (await client.get("/posts", headers=alice)).json()
        shows(5, "[" + ",...},".join(compact(p, "id", "title", "body", "published") for p in mine))
        others = (await client.get("/posts", headers=bob)).json()
        shows(
            5, "[" + ",...},".join(compact(p, "id", "title", "body", "published") for p in others)
        )
        d = (await client.post("/posts", json=DRAFT, headers=alice)).json()
        shows(5, compact(d, "id", "title", "body", "published"))
        assert (await client.get("/posts/3", headers=bob)).status_code == 404
        published = await client.patch("/posts/3", json={"published": True}, headers=alice)
        shows(5, compact(published.json(), "id", "title", "body", "published"))
        assert (await client.patch("/posts/3", json={"title": "M"}, headers=bob)).status_code == 403
        assert (await client.delete("/posts/3", headers=carol)).status_code == 204
        assert (await client.delete("/posts/2", headers=carol)).status_code == 404

    # Page 6: the seed, and the lists.
    blog = load(6)
    out = command(blog, "blog.seed")
    shows(6, f"$ python -m blog.seed\n{out}\n")
    assert command(blog, "blog.seed") == "Already seeded: nothing added."
    async with running(blog, url) as client:
        first_page = await client.get("/posts")
        assert len(first_page.json()["results"]) == 10
        results = first_page.json()["results"]
        shows(
            6,
            body(first_page).split('"results":')[0]
            + '"results":['
            + ",...},".join(compact(p, "id", "title") for p in results[:2]),
        )
        second = await client.get("/posts", params={"page": 2})
        assert len(second.json()["results"]) == 2
        shows(6, body(second).split('"results":')[0])
        shows(6, ",".join(compact(p, "id", "title") + ",...}" for p in second.json()["results"]))
        found = await client.get("/posts", params={"search": "tortoise"})
        shows(6, body(found).split('"body"')[0])
        drafts = await client.get("/posts", params={"published": "false"}, headers=alice)
        shows(6, body(drafts).split(',"created_at"')[0])
        assert (await client.get("/posts", params={"ordering": "body"})).status_code == 400
        comments = await client.get("/posts/14/comments")
        shows(
            6,
            body(comments).split("?cursor=")[0],
            compact(comments.json()["results"][0], "id", "body"),
        )
        assert len(comments.json()["results"]) == 20
        rest = (await client.get(comments.json()["next"])).json()
        assert (len(rest["results"]), rest["next"]) == (5, None)

    # Page 7: alice publishes post 2 with the action, then writes "Second".
    blog = load(7)
    async with running(blog, url) as client:
        assert (await client.post("/posts/2/publish", headers=bob)).status_code == 404
        published = await client.post("/posts/2/publish", headers=alice)
        shows(7, compact(published.json(), "id", "title", "body", "published"))
        assert (await client.post("/posts/2/publish", headers=bob)).status_code == 403
        second_post = await client.post(
            "/posts", json={"title": "Second", "body": "."}, headers=alice
        )
        shows(7, compact(second_post.json(), "id", "title", "body", "published"))
        mine = (await client.get("/posts/mine", headers=alice)).json()
        assert mine["count"] == 3
        shows(
            7,
            compact(mine, "count")
            + ',"next":null,"previous":null,"results":['
            + ",".join(
                compact(p, "id") + (',"title":"Second",...}' if p["title"] == "Second" else ",...}")
                for p in mine["results"]
            )
            + "]}",
        )
        drafts = await client.get("/posts/mine", params={"published": "false"}, headers=alice)
        shows(7, body(drafts).split(',"body"')[0])

    # Page 8: a post with request ids, published; the log lines name it.
    blog = load(8)
    async with running(blog, url) as client:
        created = await client.post(
            "/posts",
            json={"title": "Request ids", "body": "."},
            headers={**alice, "X-Request-ID": "req-create"},
        )
        post_id = created.json()["id"]
        shows(8, f"localhost:8000/posts/{post_id}/publish")
        await client.post(
            f"/posts/{post_id}/publish", headers={**alice, "X-Request-ID": "req-publish"}
        )
    err = capfd.readouterr().err
    for line in err.splitlines():
        if "[req-" in line:
            shows(8, line.split(" ", 2)[2])  # without the time
    assert f"blog.notify: post {post_id} ('Request ids') published by alice" in err, err


# --- the snippets: what a partial one uses is shown -----------------------------------------

SNIPPET = re.compile(r'^\s*--8<-- "(?P<target>[^"]+)"\s*$', re.MULTILINE)
SECTION_MARK = re.compile(r"--8<-- \[(?:start|end):[a-z][-_0-9a-z]*\]")


def shown_lines(path: Path, section: str) -> set[int]:
    """The line numbers of ``path`` a snippet of it shows: all, or a named section's."""
    lines = path.read_text().splitlines()
    marks = {number for number, line in enumerate(lines, 1) if SECTION_MARK.search(line)}
    if not section:
        return set(range(1, len(lines) + 1)) - marks
    start = next(n for n, line in enumerate(lines, 1) if f"[start:{section}]" in line)
    end = next(n for n, line in enumerate(lines, 1) if f"[end:{section}]" in line)
    return set(range(start + 1, end)) - marks


def module_bindings(tree: ast.Module) -> list[tuple[str, int]]:
    """Each name the module binds at its top level, with the line that binds it."""
    found: list[tuple[str, int]] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                found.append(((alias.asname or alias.name).split(".")[0], alias.lineno))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append((node.name, node.lineno))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [(t.id, t.lineno) for t in targets if isinstance(t, ast.Name)]
    return found


def test_snippets_show_what_they_use() -> None:
    """A reader copies what a page shows. When a page shows part of a file, each name that part
    uses from the file's top level (an import, a function, a variable) must be shown too: on
    that page, or on an earlier one in the same file of an earlier step. Sections are named
    (``file:name``), never line numbers, which drift silently when the file changes."""
    shown: set[tuple[str, str]] = set()  # (file in the project, name)
    problems: list[str] = []
    for path in sorted(PAGES.glob("[0-9][0-9]-*.md")):
        includes = []
        for match in SNIPPET.finditer(path.read_text()):
            target, _, section = match["target"].partition(":")
            assert not re.fullmatch(r"[-\d:]+", section), (
                f"{path.name}: {match['target']} names lines by number; name a section instead"
            )
            if target.endswith(".py"):
                file = ROOT / target
                in_project = file.relative_to(CODE).parts[1:]  # without stepNN/
                tree = ast.parse(file.read_text())
                includes.append(("/".join(in_project), tree, shown_lines(file, section)))
        for in_project, tree, lines in includes:
            shown |= {(in_project, n) for n, line in module_bindings(tree) if line in lines}
        for in_project, tree, lines in includes:
            top = {name for name, _ in module_bindings(tree)}
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Name)
                    and isinstance(node.ctx, ast.Load)
                    and node.lineno in lines
                    and node.id in top
                    and (in_project, node.id) not in shown
                ):
                    problems.append(
                        f"{path.name} shows {in_project} using {node.id} (line {node.lineno}),"
                        " but no page up to this one shows where it comes from"
                    )
    assert not problems, "\n".join(sorted(set(problems)))
