"""A person's whole path in real Chromium (Debian's, never a downloaded browser), driven by Playwright:
sign up by email, open the link from the dev outbox in a new tab, end signed in in both tabs, sign out.
Screenshots of each page go to test-artifacts/browser/ (not committed)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")),
                       reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


@pytest.fixture
def site(live_server, settings, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test itself only reads pages, and the
    # database work happens in the live server's thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.DEBUG = True  # the dev outbox page
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "REDIRECT_URLS": [live_server.url + "/"],
                               "DEFAULT_REDIRECT_URL": ""}
    return live_server.url


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def session_cookies(context) -> dict:
    return {c["name"]: c for c in context.cookies() if c["name"] in {"DS", "DSR"}}


def ask_for_a_link(context, site: str):
    """A tab of ``context`` on the sign-in page that asked for a link for ada; the link from the dev outbox."""
    asking = context.new_page()
    asking.goto(f"{site}/auth/login/")
    asking.get_by_label("Email address or phone number").fill("ada@example.com")
    asking.get_by_role("button", name="Send me a link").click()
    asking.wait_for_url("**/auth/check/")
    outbox = context.new_page()
    outbox.goto(f"{site}/auth/dev/outbox/")
    return asking, outbox.locator("#outbox a").first.get_attribute("href")


def test_sign_up_by_email_open_the_link_in_a_new_tab_and_both_tabs_end_signed_in(site, browser):
    context = browser.new_context()
    asking = context.new_page()
    asking.goto(f"{site}/")
    asking.wait_for_url("**/auth/login/")
    shot(asking, "01-sign-in")
    asking.get_by_label("Email address or phone number").fill("ada@example.com")
    asking.get_by_role("button", name="Send me a link").click()
    asking.wait_for_url("**/auth/check/")
    assert "a***@example.com" in asking.locator("#masked").inner_text()
    shot(asking, "02-check-inbox")

    outbox = context.new_page()
    outbox.goto(f"{site}/auth/dev/outbox/")
    shot(outbox, "03-dev-outbox")
    link = outbox.locator("#outbox a").first.get_attribute("href")
    assert link and "/auth/link/" in link

    # Another browser (a scanner, a preview) sees the confirm page and consumes nothing.
    elsewhere = browser.new_context()
    preview = elsewhere.new_page()
    preview.goto(link)
    assert "another device" in preview.content() and "a***@example.com" in preview.content()
    shot(preview, "04-landing-confirm")

    # The link opened in a new tab of the browser that asked confirms by itself.
    landing = context.new_page()
    landing.goto(link)
    landing.wait_for_url("**/auth/account/")
    assert "ada@example.com" in landing.locator("#login-ids").inner_text()
    shot(landing, "05-signed-in")
    cookies = session_cookies(context)
    assert set(cookies) == {"DS", "DSR"}
    assert cookies["DS"]["httpOnly"] and cookies["DSR"]["httpOnly"]
    assert cookies["DS"]["sameSite"] == "Strict"

    # The tab that asked was waiting on pending-session and is signed in too.
    asking.wait_for_url("**/auth/account/", timeout=15_000)
    assert "You are signed in" in asking.content()
    shot(asking, "06-asking-tab-signed-in")

    # The link is spent: the other browser confirming now gets the "already used" page.
    preview.locator("#number").fill("123")
    preview.locator("#confirm-button").click()
    preview.wait_for_load_state()
    assert "already used" in preview.content()
    shot(preview, "07-link-used")

    asking.get_by_role("button", name="Sign out").click()
    asking.wait_for_url("**/auth/login/?signed_out=1")
    assert session_cookies(context) == {}
    shot(asking, "08-signed-out")
    landing.reload()
    landing.wait_for_url("**/auth/login/")
    elsewhere.close()
    context.close()


def test_a_link_opened_in_another_browser_signs_in_the_asking_tab_only_with_the_number(site, browser):
    """Number matching (issue finding 1): the other browser is told which device it signs in and must type
    the number the asking tab shows; a wrong one signs in nobody."""
    context = browser.new_context()
    asking, href = ask_for_a_link(context, site)
    number = asking.locator("#number").inner_text()
    assert number.isdigit()
    shot(asking, "11-check-inbox-with-number")

    phone = browser.new_context().new_page()
    phone.goto(href)
    assert "that device" in phone.content() and "another device" in phone.content()
    wrong = str(int(number) % 900 + 100)
    phone.locator("#number").fill(wrong)
    phone.locator("#confirm-button").click()
    phone.wait_for_load_state()
    assert "not the number" in phone.locator("#number-error").inner_text()
    shot(phone, "12-wrong-number")
    phone.locator("#number").fill(number)
    phone.locator("#confirm-button").click()
    phone.wait_for_load_state()
    assert "You are signed in on your other device" in phone.content()
    assert session_cookies(phone.context) == {}
    shot(phone, "13-other-device-confirmed")
    asking.wait_for_url("**/auth/account/", timeout=15_000)
    assert "ada@example.com" in asking.locator("#login-ids").inner_text()
    context.close()


def test_a_link_to_the_site_followed_from_another_site_keeps_the_person_signed_in(site, browser):
    """The DS/DSR cookies are SameSite=Strict, so Chromium leaves them off a navigation that starts on
    another site (a webmail, a search result); the landing page's Django login must carry the person
    through, not sign them out."""
    context = browser.new_context()
    _, link = ask_for_a_link(context, site)
    landing = context.new_page()
    landing.goto(link)
    landing.wait_for_url("**/auth/account/")

    webmail = context.new_page()
    webmail.set_content(f'<a id="account" href="{site}/auth/account/">My account</a>')  # another origin
    sent = []
    webmail.on("request", lambda request: sent.append(request.all_headers().get("cookie", "")))
    webmail.locator("#account").click()
    webmail.wait_for_load_state()
    assert webmail.url == f"{site}/auth/account/"
    assert "You are signed in" in webmail.content()
    assert sent and "DS=" not in sent[0] and "sessionid=" in sent[0]  # the Strict cookies were left off
    shot(webmail, "21-followed-from-another-site")
    context.close()
