"""The roles and permissions claims of a user, kept in ``CLAIMS_CACHE`` until they change.

Every verify and refresh puts the user's groups (``roles``) and Django permissions (``permissions``) in
the session JWT: two or three queries that return the same answer until an administrator changes
something. The answer is cached per user and checked against two versions, read in the same round trip:

- the user's, moved on when the user's groups or own permissions change (``m2m_changed``);
- everyone's, moved on when a group is renamed or deleted, a group's permissions change, or a permission
  is created or deleted (a superuser holds them all).

A version is a random string, never a counter, so a version evicted from the cache comes back as a new
value and every entry made under the old one is a miss. Versions move when the change is made and
again when its transaction commits: an entry computed from the data before the commit is never
trusted after it. The entry also records ``is_superuser`` and ``is_active``, which a plain ``save()``
changes without a signal. ``CLAIMS_CACHE_TIMEOUT`` bounds how long anything else (an authentication
backend granting permissions from elsewhere) can go unnoticed. ``CLAIMS_CACHE = None`` turns this off.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache import caches
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from .conf import app_settings

__all__ = ["roles_and_permissions", "connect"]

EVERYONE = "magiclink:authz:everyone"


def _user_version_key(user_pk) -> str:
    return f"magiclink:authz:user:{user_pk}"


def _entry_key(user_pk) -> str:
    return f"magiclink:authz:entry:{user_pk}"


def _cache():
    alias = app_settings.CLAIMS_CACHE
    return caches[alias] if alias else None


def roles_and_permissions(user, compute: Callable[[], tuple[list[str], list[str]]]) -> tuple[list[str], list[str]]:
    """``compute()`` for ``user``, or its cached answer while nothing it depends on has changed."""
    cache = _cache()
    if cache is None or user.pk is None:
        return compute()
    keys = [EVERYONE, _user_version_key(user.pk), _entry_key(user.pk)]
    found = cache.get_many(keys)
    versions = (found.get(keys[0]), found.get(keys[1]))
    flags = (bool(getattr(user, "is_superuser", False)), bool(getattr(user, "is_active", True)))
    entry = found.get(keys[2])
    if None not in versions and entry is not None and entry[:2] == (versions, flags):
        return list(entry[2]), list(entry[3])
    if None in versions:
        # First use, or evicted: start a version (another process may have just done so: then keep its).
        for key, version in zip(keys[:2], versions, strict=True):
            if version is None:
                cache.add(key, uuid.uuid4().hex, timeout=None)
        found = cache.get_many(keys[:2])
        versions = (found.get(keys[0]), found.get(keys[1]))
    roles, permissions = compute()
    if None not in versions:
        timeout = app_settings.CLAIMS_CACHE_TIMEOUT.total_seconds()
        cache.set(keys[2], (versions, flags, tuple(roles), tuple(permissions)), timeout=timeout)
    return roles, permissions


def _move(keys: list[str]) -> None:
    cache = _cache()
    if cache is None or not keys:
        return
    cache.set_many({key: uuid.uuid4().hex for key in keys}, timeout=None)


def _invalidate(keys: list[str]) -> None:
    _move(keys)
    transaction.on_commit(lambda: _move(keys))


def _memberships_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if not action.startswith("post_"):
        return
    if isinstance(instance, get_user_model()):
        _invalidate([_user_version_key(instance.pk)])
    else:  # from the group's or permission's side: these users, or everyone when not told which
        _invalidate([_user_version_key(pk) for pk in pk_set] if pk_set else [EVERYONE])


def _everyone_changed(sender, **kwargs) -> None:
    if kwargs.get("action", "post_").startswith("post_"):
        _invalidate([EVERYONE])


def connect() -> None:
    """Connect the receivers that move the versions (``AppConfig.ready``)."""
    user_model = get_user_model()
    for field in ("groups", "user_permissions"):
        if hasattr(user_model, field):
            through = getattr(user_model, field).through
            m2m_changed.connect(_memberships_changed, sender=through, dispatch_uid=f"magiclink_authz_{field}")
    m2m_changed.connect(_everyone_changed, sender=Group.permissions.through, dispatch_uid="magiclink_authz_gp")
    for model in (Group, Permission):
        for signal in (post_save, post_delete):
            signal.connect(_everyone_changed, sender=model, dispatch_uid=f"magiclink_authz_{model.__name__}")
