"""The example app's Swagger UI (``/docs``) in a real browser: Debian's chromium, driven by
Playwright.

The example app runs in a uvicorn process of its own on a new SQLite file, seeded with the demo
data (``tests/processes.py``, ``serving_example``). A person's way through the page: log in with
``POST /auth/token``'s "Try it out", paste the token into the **Authorize** dialog (the app's
scheme is ``HTTPBearer``, so the dialog asks for the token itself, not for a username and
password), then create an organisation with ``POST /organisations``' "Try it out" and read the
answer the page shows.

The browser is ``chromium`` from the system's packages (``apt-get install chromium``; CI installs
it), not one ``playwright install`` downloads. Without Playwright or chromium the tests are
skipped with the reason, and fail instead under CI (``CI=true``). They run in the SQLite pass of
``scripts/dev.py test`` only: the server's database is a SQLite file whatever
``TORTOISE_TEST_DB`` names, so the PostgreSQL pass would repeat them unchanged.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from typing import Any, NoReturn

import httpx
import pytest

from example_project.seed import DEMO_PASSWORDS
from tests.processes import IN_CI, Server, serving_example
from tests.utils import IS_POSTGRES


def _missing(reason: str) -> NoReturn:
    """Skip with ``reason``, or fail under CI, which installs what these tests need."""
    if IN_CI:
        pytest.fail(
            f"CI requires a browser for tests/test_example_browser.py: {reason}", pytrace=False
        )
    pytest.skip(reason, allow_module_level=True)


try:
    from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
except ImportError as exc:  # pragma: no cover - the dev extras install Playwright
    _missing(f"Playwright is not installed ({exc}); pip install -e '.[dev]'.")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(IS_POSTGRES, reason="the browser tests run in the SQLite pass only"),
]

#: Swagger UI's padlock button on an operation: its aria-label (what a screen reader says) and
#: the class of its icon (what the eye sees). Open until a requirement of the operation is met.
OPEN = ("authorization button unlocked", "unlocked")
CLOSED = ("authorization button locked", "locked")


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        _missing(
            "chromium is not on PATH; install Debian's package (apt-get install chromium) to "
            "run the Swagger UI tests."
        )
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving_example(tmp_path_factory.mktemp("example-browser")) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    """``/docs`` in a browser context of its own (nothing authorized yet)."""
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/docs")
    yield page
    context.close()
    assert not errors, f"Swagger UI raised: {errors}"
    assert "Traceback" not in server.output(), server.output()


def operation(page: Page, method: str, path: str) -> Locator:
    """The block of one operation on the page, as a person finds it: by method and path."""
    return page.locator(f".opblock-{method.lower()}").filter(
        has=page.locator(f'.opblock-summary-path[data-path="{path}"]')
    )


def expect_padlock(block: Locator, state: tuple[str, str]) -> None:
    label, icon = state
    button = block.locator(".opblock-summary .authorization__btn")
    expect(button).to_have_attribute("aria-label", label)
    expect(button.locator(f"svg.{icon}")).to_be_visible()


def execute(block: Locator, body: dict[str, Any] | None = None) -> Locator:
    """Expand the operation, "Try it out", type ``body`` as JSON and "Execute": the row of the
    answer the page shows (status code and details)."""
    block.locator(".opblock-summary-control").click()
    block.get_by_role("button", name="Try it out").click()
    if body is not None:
        block.locator("textarea.body-param__text").fill(json.dumps(body))
    block.get_by_role("button", name="Execute").click()
    return block.locator(".live-responses-table tbody tr.response")


def status(answer: Locator) -> Locator:
    return answer.locator(".response-col_status")


def shown_body(answer: Locator) -> Any:
    """The answer's body as the page shows it, read as JSON."""
    return json.loads(answer.locator(".response-col_description .highlight-code code").inner_text())


def log_in(page: Page, username: str) -> str:
    """A bearer token from ``POST /auth/token``'s "Try it out"."""
    answer = execute(
        operation(page, "POST", "/auth/token"),
        {"username": username, "password": DEMO_PASSWORDS[username]},
    )
    expect(status(answer)).to_have_text("200")
    return str(shown_body(answer)["access_token"])


def authorize(page: Page, token: str) -> None:
    """Paste ``token`` into the Authorize dialog and close it."""
    page.locator(".auth-wrapper").get_by_role("button", name="Authorize").click()
    dialog = page.locator(".modal-ux")
    expect(dialog).to_contain_text("HTTPBearer")
    dialog.get_by_label("Value").fill(token)
    dialog.get_by_role("button", name="Apply credentials").click()
    expect(dialog.get_by_role("heading", name="Authorized")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def padlocks(page: Page) -> dict[str, tuple[str, str] | None]:
    """``"METHOD /path"``: the padlock each operation shows (its label and icon), ``None`` for
    none. Every operation of the spec must be on the page first."""
    rendered = page.locator(".opblock-summary").evaluate_all(
        """summaries => summaries.map(summary => {
            const name = summary.querySelector(".opblock-summary-method").textContent + " " +
                summary.querySelector(".opblock-summary-path").dataset.path;
            const button = summary.querySelector(".authorization__btn");
            return [name, button && [
                button.getAttribute("aria-label"), button.querySelector("svg").getAttribute("class")
            ]];
        })"""
    )
    return {
        str(name): (str(state[0]), str(state[1])) if state else None for name, state in rendered
    }


def spec_security(server: Server) -> dict[str, list[dict[str, list[str]]]]:
    """``"METHOD /path"``: the operation's ``security`` in the app's OpenAPI."""
    spec = httpx.get(f"{server.url}/openapi.json").json()
    return {
        f"{method.upper()} {path}": operation.get("security", spec.get("security", []))
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }


# --- the tests ------------------------------------------------------------------------------


def test_a_demo_user_signs_in_and_creates_an_organisation(page: Page, server: Server) -> None:
    create = operation(page, "POST", "/organisations")
    expect_padlock(create, OPEN)

    token = log_in(page, "alice")
    authorize(page, token)
    expect_padlock(create, CLOSED)
    # Every operation that takes the token is set; the login route takes none and shows none.
    shown = padlocks(page)
    assert shown.pop("POST /auth/token") is None
    assert set(shown.values()) == {CLOSED}

    name = f"Browser test {uuid.uuid4().hex[:12]}"
    answer = execute(create, {"name": name, "is_public": False})
    expect(status(answer)).to_have_text("201")
    created = shown_body(answer)
    assert (created["name"], created["is_public"]) == (name, False)
    assert created["owner"]["username"] == "alice"
    # The request the page shows sent the token.
    expect(create.locator(".curl-command")).to_contain_text(f"Authorization: Bearer {token}")

    # The row exists, as alice's private organisation.
    mine = httpx.get(
        f"{server.url}/organisations/{created['id']}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert mine.status_code == 200, mine.text
    assert mine.json()["name"] == name
    assert httpx.get(f"{server.url}/organisations/{created['id']}").status_code == 404

    # A public read sends the token too once authorized: alice's list shows her private one.
    listing = execute(operation(page, "GET", "/organisations"))
    expect(status(listing)).to_have_text("200")
    assert name in {row["name"] for row in shown_body(listing)["results"]}


def test_the_padlocks_before_signing_in(page: Page, server: Server) -> None:
    """Before anyone authorizes: no padlock on the login route, which reads no token; an open
    one on the operations that need the token; a closed one on the public operations that
    also take it.

    Swagger UI draws a padlock on an operation that lists security requirements: open until one
    of them is met, closed once one is ("you are set", swagger-api/swagger-ui#3322). It leaves
    the padlock out only when ``security`` is absent, ``[]`` or exactly ``[{}]`` (#6839). A
    public read's ``security`` is ``[{"HTTPBearer": []}, {}]``, the token or nothing (the
    router's bearer dependency, and the library's ``{}`` for permissions that let anonymous
    requests in), and ``{}`` is always met, so its padlock is closed from the start. It could
    only be left out by dropping the bearer requirement, and then Swagger UI would not send the
    token: a signed-in user's "Try it out" would see the anonymous answer (the other test checks
    it does not). docs/permissions.md says so."""
    security = spec_security(server)
    public = {name for name, requirements in security.items() if {} in requirements}
    assert {"GET /organisations", "GET /organisations/{id}", "POST /users"} <= public
    assert "POST /organisations" not in public
    assert security["POST /auth/token"] == []
    expected = {
        name: None if not requirements else CLOSED if name in public else OPEN
        for name, requirements in security.items()
    }
    expect(page.locator(".opblock-summary")).to_have_count(len(security))
    assert padlocks(page) == expected
