"""What opening a link will do, before anything is consumed: the confirm page's wording
(``preview``), and who may open a link that acts for another device or session (``confirm_opener``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import account_changes, agents, crossdevice
from ..errors import ErrorKey, MagicLinkError
from ..identifiers import mask
from ..issuance import UPDATE_PURPOSES, format_utc
from ..models import PendingLink

__all__ = ["LinkPreview", "preview", "confirm_opener"]


@dataclass(frozen=True)
class LinkPreview:
    """What opening a link will do, in the terms a confirm page words it (nothing is consumed).

    ``kind``: ``"sign_in"`` (this browser signs in as ``account``), ``"other_device"`` (the device that asked
    signs in as ``account``; this one only vouches), ``"update"`` (``account`` joins the account ``joins``)
    or ``"merge"`` (the account ``joins`` asked to join ``account``'s: ``owner_signed_in`` says whether this
    browser is signed in as its owner). ``needs_number``: the opener must type the number shown where the link
    was asked; ``asked``: browser, system and time of that request.
    """

    kind: str
    account: str
    joins: str
    needs_number: bool
    owner_signed_in: bool
    tries_left: int
    asked: dict[str, Any]


def preview(link: PendingLink, opener: crossdevice.Opener) -> LinkPreview:
    owner = account_changes.merge_owner(link)
    if owner is not None:
        kind = "merge"
    elif link.purpose in UPDATE_PURPOSES:
        kind = "update"
    elif crossdevice.requires_number(link, opener):
        kind = "other_device"
    else:
        kind = "sign_in"
    requester = link.user if kind in ("update", "merge") else None
    return LinkPreview(
        kind=kind,
        account=mask(link.method, link.target),
        joins=account_changes.masked_account(requester) if requester is not None else "",
        needs_number=crossdevice.requires_number(link, opener, always=owner is not None),
        owner_signed_in=owner is not None and str(opener.user_id) == str(owner.pk),
        tries_left=crossdevice.tries_left(link),
        asked={**agents.describe(link.requester_user_agent),
               "at": format_utc(link.created_at)},
    )


def confirm_opener(link: PendingLink, opener: crossdevice.Opener) -> None:
    """A merge needs the owner of the account it joins, signed in, and the number even from them (the
    requester's screen shows it); any other link that acts for someone else needs the requester or the number."""
    owner = account_changes.merge_owner(link)
    if owner is not None and (opener.user_id is None or str(opener.user_id) != str(owner.pk)):
        raise MagicLinkError(ErrorKey.MERGE_NEEDS_OWNER)
    crossdevice.confirm(link, opener, always=owner is not None)
