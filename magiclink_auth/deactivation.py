"""Disabling a user ends every session of theirs at once, however it is done.

- ``is_active`` set false on a saved user (the admin's user page, ``user.save()``), or a profile saved with
  the disabled status (the admin's profile page): signal receivers stamp ``Profile.disabled_at`` (links
  sent before it stop working) and revoke every session (reason ``disabled``).
- The admin's "Disable the selected users and end their sessions" action, and ``disable_users(queryset)``
  for code: Django's ``QuerySet.update()`` sends no signal, so a bulk ``update(is_active=False)`` ends no
  session by itself. Call ``disable_users`` instead (it does the update too).
- Whatever path was missed, a refresh, ``me`` and the middleware check the user on every use of a
  refresh JWT and refuse a disabled one (``sessions.py``), revoking what is left. A session JWT already
  issued stays valid until it expires (``SESSION_LIFETIME``, 10 minutes): it is checked without a
  database query by design; ``request.user`` from it is loaded fresh and is anonymous for a disabled user.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from .models import Profile, RefreshSession, RevokeReason
from .sessions import revoke_all

__all__ = ["disable_users", "connect"]

REASON = RevokeReason.DISABLED


def disable_users(users) -> int:
    """Disable the users of a queryset (``is_active`` false where the model has it, status disabled) and
    end all their sessions. Returns the number of sessions revoked."""
    now = timezone.now()
    user_model = get_user_model()
    ids = list(users.values_list("pk", flat=True))
    with transaction.atomic():
        if _has_is_active(user_model):
            user_model._default_manager.filter(pk__in=ids).update(is_active=False)
        for user_id in ids:
            Profile.objects.get_or_create(user_id=user_id)
        Profile.objects.filter(user_id__in=ids).update(status=Profile.Status.DISABLED, disabled_at=now)
        revoked = RefreshSession.objects.filter(user_id__in=ids, revoked_at=None).update(
            revoked_at=now, revoked_reason=REASON
        )
    return revoked


def _has_is_active(model) -> bool:
    try:
        model._meta.get_field("is_active")
    except FieldDoesNotExist:
        return False
    return True


def _user_deactivating(sender, instance, update_fields=None, **kwargs) -> None:
    """``is_active`` about to go from true to false: stamp the profile and end the sessions."""
    if (
        not _has_is_active(sender)
        or instance.pk is None
        or instance.is_active
        or (update_fields is not None and "is_active" not in update_fields)
    ):
        return
    if sender._default_manager.filter(pk=instance.pk, is_active=True).exists():
        Profile.objects.filter(user_id=instance.pk).update(disabled_at=timezone.now())
        revoke_all(instance, reason=REASON)


def _profile_saved(sender, instance: Profile, **kwargs) -> None:
    """A profile saved with the disabled status it did not have (``Profile.save`` noted the change)."""
    if getattr(instance, "_disabled_now", False):
        instance._disabled_now = False
        if RefreshSession.objects.filter(user_id=instance.user_id, revoked_at=None).exists():
            revoke_all(instance.user, reason=REASON)


def connect() -> None:
    pre_save.connect(_user_deactivating, sender=settings.AUTH_USER_MODEL,
                     dispatch_uid="magiclink_auth_user_deactivating")
    post_save.connect(_profile_saved, sender=Profile, dispatch_uid="magiclink_auth_profile_disabled")
