"""``{% load magiclink_admin %}``: what the admin's login page needs to offer a sign-in link to staff."""

from django import template

from ..conf import app_settings

register = template.Library()


@register.simple_tag
def staff_link_login() -> bool:
    """Whether the admin's login page offers "email me a sign-in link" (``STAFF_LINK_LOGIN``)."""
    return bool(app_settings.STAFF_LINK_LOGIN)
