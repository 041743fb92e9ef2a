"""Reading an enchanted-link message as a person does: the numbered links of its plain-text part."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from magiclink_auth.delivery.base import render


def numbered_links(message) -> dict[str, str]:
    """{number: link} from the plain-text body, where each link is on its own line, its number just before."""
    lines = [line.strip() for line in render(message, "body.txt").splitlines()]
    links = {lines[i - 1]: line for i, line in enumerate(lines)
             if i and "://" in line and " " not in line and lines[i - 1].isdigit()}
    assert len(links) == 3, lines
    return links


def token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["t"][0]


def right_and_wrong(message, link_id: str) -> tuple[str, list[str]]:
    """The token of the link whose number is ``link_id``, and the tokens of the others."""
    links = numbered_links(message)
    assert link_id in links
    return token(links[link_id]), [token(url) for number, url in links.items() if number != link_id]
