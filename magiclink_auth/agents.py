"""A coarse, harmless description of where a request came from, for the person a link is sent to.

A browser and a system name ("Firefox", "Linux"), never the raw User-Agent: the header is attacker-chosen
text, so only the names below can come out of it, and nothing that identifies a person (versions, devices,
IPs) is repeated in mail.
"""

from __future__ import annotations

__all__ = ["describe"]

# First match wins: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("CriOS/", "Chrome"), ("Safari/", "Safari")]
_SYSTEMS = [("iPhone", "iOS"), ("iPad", "iPadOS"), ("Android", "Android"), ("CrOS", "ChromeOS"),
            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Linux", "Linux")]


def _first(user_agent: str, table: list[tuple[str, str]]) -> str:
    return next((name for marker, name in table if marker in user_agent), "")


def describe(user_agent: str) -> dict[str, str]:
    """``{"browser": "Firefox", "system": "Linux"}``; either is ``""`` when not recognised. Templates word
    it, so it reads right in the message's language."""
    return {"browser": _first(user_agent, _BROWSERS), "system": _first(user_agent, _SYSTEMS)}
