"""The first admin of a fresh install: registration is closed, nobody becomes admin by being
first, and the admin comes from `alt user create --admin` or from the one-time setup link that
`alt up` prints (single use, expiring, void once an admin exists)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import psycopg
import pytest

from alt.auth.settings import AuthSettings
from alt.auth.setup import issue_setup_token, setup_link
from tests.auth.conftest import PASSWORD, Browser, Stack
from tests.helpers import form_values, inline_scripts


@pytest.fixture(scope="module")
def seed_admin() -> bool:
    return False


@pytest.fixture(autouse=True)
def fresh_install(stack: Stack) -> None:
    """Every test starts on an install without users, setup links or instance settings."""
    stack.sql("DELETE FROM users; DELETE FROM setup_tokens; DELETE FROM app_settings")


def new_link(stack: Stack, ttl_s: int = AuthSettings().setup_link_ttl_s) -> str | None:
    """What `alt up` prints: a new setup link, or None when there is an admin."""
    with psycopg.connect(stack.auth_db) as conn:
        token = issue_setup_token(conn, ttl_s)
    return None if token is None else setup_link(stack.edge_url, token)


def roles(stack: Stack) -> list[tuple[str, str]]:
    rows = stack.sql("SELECT email, role FROM users ORDER BY created_at, email")
    return [(row["email"], row["role"]) for row in rows]


async def open_setup(browser: Browser, link: str) -> dict[str, str]:
    """Open the link like a browser; the form's hidden fields."""
    page = await browser.http.get(link)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert inline_scripts(page.text) == []
    assert "form-action 'self'" in page.headers["content-security-policy"]
    values = form_values(page.text)
    return {name: values[name] for name in ("csrf_token", "token")}


async def submit_setup(
    browser: Browser, fields: dict[str, str], email: str, password: str = PASSWORD, again: str = ""
) -> httpx.Response:
    form = {**fields, "email": email, "password": password, "password_again": again or password}
    return await browser.http.post("/setup", data=form)


def alt_cli(stack: Stack, *args: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "AUTH_DATABASE_URL": stack.auth_db,
        "DATABASE_URL": stack.settings.database_url or "",
        "ALT_SERVICE_KEYS_FILE": str(stack.settings.service_keys_file),
    }
    return subprocess.run(
        [sys.executable, "-m", "alt.cli", *args, "--password-stdin"],
        input=password + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# AUTH-10: registration is closed on a fresh install.
async def test_registration_is_closed_on_a_fresh_install(stack: Stack) -> None:
    visitor = stack.browser()
    assert (await visitor.http.get("/api/auth/settings")).json() == {"registration_open": False}
    refused = await visitor.register("first@example.org")
    assert refused.status_code == 403
    assert refused.json()["code"] == "registration_closed"
    assert roles(stack) == []


# AUTH-10: the first visitor does not become admin.
async def test_nobody_becomes_admin_by_registering_first(stack: Stack) -> None:
    stack.make_user("boss@example.org", admin=True)
    admin = stack.browser()
    assert (await admin.login("boss@example.org")).status_code == 200
    opened = await admin.call("PUT", "/api/auth/settings", {"registration_open": True})
    assert opened.status_code == 200
    stack.sql("DELETE FROM users")  # registration is open and nobody has an account yet
    first, second = stack.browser(), stack.browser()
    assert (await first.register("first@example.org")).status_code == 202
    assert (await second.register("second@example.org")).status_code == 202
    assert roles(stack) == [("first@example.org", "user"), ("second@example.org", "user")]
    assert (await first.login("first@example.org")).status_code == 200
    assert (await first.call("GET", "/api/auth/user")).status_code == 403


# AUTH-10: the first admin can come from the command line.
def test_cli_creates_an_admin_only_when_asked(stack: Stack) -> None:
    plain = alt_cli(stack, "user", "create", "first@example.org")
    assert plain.returncode == 0, plain.stderr
    assert "created user first@example.org" in plain.stdout
    admin = alt_cli(stack, "user", "create", "Cli@Example.ORG", "--admin")
    assert admin.returncode == 0, admin.stderr
    assert "created admin cli@example.org" in admin.stdout
    assert roles(stack) == [("first@example.org", "user"), ("cli@example.org", "admin")]
    weak = alt_cli(stack, "user", "create", "weak@example.org", password="password1234")
    assert weak.returncode == 1
    assert "too common" in weak.stderr
    assert new_link(stack) is None, "no setup link once there is an admin"


# AUTH-10: or from the one-time setup link.
async def test_the_setup_link_creates_the_first_admin_and_logs_them_in(stack: Stack) -> None:
    link = new_link(stack)
    assert link is not None
    assert link.startswith(stack.edge_url + "/setup?token=")
    browser = stack.browser()
    done = await submit_setup(browser, await open_setup(browser, link), "Root@Example.org")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/"
    assert roles(stack) == [("root@example.org", "admin")]
    assert (await browser.http.get("/api/auth/user")).status_code == 200  # logged in, as admin
    assert stack.sql("SELECT 1 FROM setup_tokens") == []
    assert stack.audit("setup.admin_created")[-1]["ip"].exploded == "127.0.0.1"


# AUTH-08: a setup link is void once an admin exists.
async def test_a_setup_link_is_refused_once_an_admin_exists(stack: Stack) -> None:
    link = new_link(stack)
    assert link is not None
    stack.make_user("other-admin@example.org", admin=True)
    browser = stack.browser()
    refused = await submit_setup(browser, await open_setup(browser, link), "late@example.org")
    assert refused.status_code == 409
    assert "has an admin already" in refused.text
    assert "<form" in refused.text
    assert roles(stack) == [("other-admin@example.org", "admin")]
    assert browser.cookie() is None


# AUTH-08: a setup link works once.
async def test_a_setup_link_works_once(stack: Stack) -> None:
    link = new_link(stack)
    assert link is not None
    first = stack.browser()
    done = await submit_setup(first, await open_setup(first, link), "a@example.org")
    assert done.status_code == 303
    stack.sql("DELETE FROM users")  # even with no admin any more, the used link stays used
    again = stack.browser()
    refused = await submit_setup(again, await open_setup(again, link), "b@example.org")
    assert refused.status_code == 403
    assert "used already or has expired" in refused.text
    assert roles(stack) == []
    assert stack.audit("setup.refused")[-1]["details"]["reason"] == "setup_link_invalid"


# AUTH-08: an expired setup link is refused.
async def test_an_expired_setup_link_is_refused(stack: Stack) -> None:
    link = new_link(stack)
    assert link is not None
    browser = stack.browser()
    fields = await open_setup(browser, link)
    ttl = AuthSettings().setup_link_ttl_s + 1
    stack.sql(
        "UPDATE setup_tokens SET created_at = created_at - %(s)s * interval '1 second',"
        " expires_at = expires_at - %(s)s * interval '1 second'",
        {"s": ttl},
    )
    refused = await submit_setup(browser, fields, "late@example.org")
    assert refused.status_code == 403
    assert roles(stack) == []


async def test_only_the_newest_setup_link_works(stack: Stack) -> None:
    old, new = new_link(stack), new_link(stack)
    assert old is not None
    assert new is not None
    browser = stack.browser()
    stale = await submit_setup(browser, await open_setup(browser, old), "a@example.org")
    assert stale.status_code == 403
    fresh = await submit_setup(browser, await open_setup(browser, new), "a@example.org")
    assert fresh.status_code == 303


async def test_a_setup_link_survives_mistakes_and_needs_the_forms_csrf_token(stack: Stack) -> None:
    link = new_link(stack)
    assert link is not None
    browser = stack.browser()
    fields = await open_setup(browser, link)
    wrong = [
        await submit_setup(browser, fields, "a@example.org", again="another password entirely"),
        await submit_setup(browser, fields, "a@example.org", password="password1234"),
        await submit_setup(browser, fields, "not an address"),
        await submit_setup(browser, {**fields, "csrf_token": "forged"}, "a@example.org"),
        await submit_setup(stack.browser(), fields, "a@example.org"),  # another browser's form
        await submit_setup(browser, {**fields, "token": "guessed"}, "a@example.org"),
    ]
    assert [answer.status_code for answer in wrong] == [422, 422, 422, 403, 403, 403]
    assert "The passwords differ." in wrong[0].text
    assert "too common" in wrong[1].text
    assert roles(stack) == []
    done = await submit_setup(browser, fields, "a@example.org")
    assert done.status_code == 303, done.text
    assert roles(stack) == [("a@example.org", "admin")]


# AUTH-08: single use holds under concurrency.
async def test_two_concurrent_uses_of_a_setup_link_make_one_admin(stack: Stack) -> None:
    link = new_link(stack)
    assert link is not None
    browsers = [stack.browser() for _ in range(4)]
    forms = [await open_setup(browser, link) for browser in browsers]
    answers = await asyncio.gather(
        *(
            submit_setup(browser, form, f"admin{n}@example.org")
            for n, (browser, form) in enumerate(zip(browsers, forms, strict=True))
        )
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses[0] == 303
    assert all(status in (403, 409) for status in statuses[1:]), statuses
    assert [role for _, role in roles(stack)] == ["admin"]
    assert sum(browser.cookie() is not None for browser in browsers) == 1
