"""The sign-in pages with enchanted links, in real Chromium: the waiting page shows the number, and the link
with that number, opened in a second browser, signs the waiting page in."""

from __future__ import annotations

import re

import pytest

from magiclink_auth.delivery import dev
from tests.enchanted_helpers import numbered_links
from tests.test_browser import browser, pytestmark, shot, site  # noqa: F401 - fixtures and the marks


@pytest.fixture
def enchanted_site(site, settings):  # noqa: F811
    settings.MAGICLINK_AUTH = {**settings.MAGICLINK_AUTH, "PAGES_ENCHANTED_LINK": True}
    return site


def ask_for_a_link(browser, site: str):  # noqa: F811
    """The sign-in page in a browser of its own: returns the waiting page and the number it shows."""
    waiting = browser.new_context().new_page()
    waiting.goto(f"{site}/auth/login/")
    waiting.get_by_label("Email address or phone number").fill("ada@example.com")
    waiting.get_by_role("button", name="Send me a link").click()
    waiting.wait_for_url("**/auth/check/")
    number = waiting.locator("#link-number").inner_text().strip()
    assert re.fullmatch(r"\d\d", number)
    return waiting, number


def test_waiting_page_shows_the_number_and_the_right_link_in_another_browser_signs_it_in(
    enchanted_site, browser  # noqa: F811
):
    waiting, number = ask_for_a_link(browser, enchanted_site)
    shot(waiting, "enchanted-01-waiting-page-number")

    links = numbered_links(dev.outbox[-1])
    assert number in links and "/auth/enchanted/" in links[number]

    other = browser.new_context().new_page()
    other.goto(links[number])
    assert other.locator("#picked-number").inner_text() == number
    shot(other, "enchanted-02-picked-number")
    other.get_by_role("button", name=re.compile("continue")).click()
    other.locator("#enchanted-done").wait_for()

    waiting.wait_for_url("**/auth/account/", timeout=20000)
    assert "ada@example.com" in waiting.content()
    assert not [c for c in other.context.cookies() if c["name"] in {"DS", "DSR", "sessionid"}]
    shot(waiting, "enchanted-03-signed-in")


def test_a_wrong_number_in_another_browser_leaves_the_waiting_page_signed_out(enchanted_site, browser):  # noqa: F811
    waiting, number = ask_for_a_link(browser, enchanted_site)
    wrong = next(link for shown, link in numbered_links(dev.outbox[-1]).items() if shown != number)

    other = browser.new_context().new_page()
    other.goto(wrong)
    other.get_by_role("button", name=re.compile("continue")).click()
    assert "void" in other.locator("#enchanted-error").inner_text()
    waiting.locator("#status", has_text="no longer").wait_for(timeout=20000)
    assert "/auth/check/" in waiting.url
