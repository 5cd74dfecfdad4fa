"""User journeys in Debian's Chromium, driven by Playwright, against a live server and the sandbox.

Playwright never downloads a browser here: it launches /usr/bin/chromium (``.ci/run`` installs
it). Every page is watched for console errors and failed requests; screenshots of key steps go
to tests/e2e/artifacts/ (git-ignored).
"""

import base64
import os
import shutil
from pathlib import Path

import pytest
from django_otp.oath import totp

from tests.sandbox import point_xero_at_sandbox

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"

# Playwright's sync API keeps an event loop on this thread; the tests still call the ORM.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(items):
    if shutil.which(CHROMIUM) or Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def portal(live_server, settings):
    """The live server, with the sandbox standing in for Xero at its own address."""
    base = live_server.url
    settings.SITE_URL = base
    settings.XERO_REDIRECT_URI = base + "/xpm/callback/"
    point_xero_at_sandbox(settings, base)
    settings.XPM_SANDBOX_CLIENTS = 30
    return base


class Problems:
    """Console errors and failed requests seen by a page."""

    def __init__(self) -> None:
        self.console: list[str] = []
        self.requests: list[str] = []

    def assert_none(self) -> None:
        assert self.console == [], self.console
        assert self.requests == [], self.requests


@pytest.fixture
def page_factory(browser, portal, request):
    contexts = []

    def new_page(width: int = 1280):
        context = browser.new_context(
            viewport={"width": width, "height": 900}, accept_downloads=True
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.problems = Problems()
        page.on(
            "console",
            lambda message: (
                page.problems.console.append(message.text) if message.type == "error" else None
            ),
        )
        # A request the browser abandoned because the page moved on (net::ERR_ABORTED) is not a
        # failure of the portal; any other failure is.
        page.on(
            "requestfailed",
            lambda req: (
                page.problems.requests.append(req.url)
                if "ERR_ABORTED" not in (req.failure or "")
                else None
            ),
        )
        page.on(
            "response",
            lambda response: (
                page.problems.requests.append(f"{response.status} {response.url}")
                if response.status >= 400 and "/static/" in response.url
                else None
            ),
        )
        page.shot = lambda name: _screenshot(page, request.node.name, name)
        return page

    yield new_page
    for context in contexts:
        context.close()


def _screenshot(page, test_name: str, name: str) -> None:
    folder = ARTIFACTS / test_name
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def totp_now(secret: str) -> str:
    """What an authenticator app shows for the base32 key printed on the page."""
    compact = secret.replace(" ", "")
    key = base64.b32decode(compact + "=" * (-len(compact) % 8))
    return f"{totp(key):06d}"


def log_in(page, base: str, email: str, password: str) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    # Let the next page finish loading (its scripts too) before the test goes on: leaving it
    # at once aborts their requests, which the problem watcher reports as failures.
    page.wait_for_load_state("load")


def enrol_mfa(page) -> list[str]:
    """On Configure MFA: read the key as a person would type it, confirm, return backup codes."""
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("6-digit code from your app").fill(totp_now(secret))
    if page.get_by_label("Your current password").count():
        raise AssertionError("the password was typed moments ago; it should not be asked again")
    page.get_by_role("button", name="Turn on MFA").click()
    page.get_by_role("heading", name="Your backup codes").wait_for()
    return [code.strip() for code in page.locator("#backup-codes code").all_inner_texts()]


def assert_accessible(page, label: str) -> None:
    """axe-core finds no serious or critical problem on the page."""
    # Evaluated through the DevTools protocol, so the page's CSP (no inline script) still holds.
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{label}: {bad}"


def assert_fits(page, width: int = 375) -> None:
    """Nothing makes the page scroll sideways at a phone's width."""
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width + 1, f"page is {overflow}px wide at {width}px"


@pytest.fixture
def admin(firm):
    """Alex, an admin of the test module's ``firm``."""
    from accounts.models import User
    from tests.factories import make_user

    return make_user(firm, "alex@harbourview.example.com", role=User.Role.ADMIN, first_name="Alex")


@pytest.fixture
def staff(firm):
    """Sam, a firm user of the test module's ``firm``."""
    from tests.factories import make_user

    return make_user(firm, "sam@harbourview.example.com", first_name="Sam")
