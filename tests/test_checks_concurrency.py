"""Checks W120 (SQLite without the settings README recommends) and W121 (no APIErrorMiddleware)."""

from __future__ import annotations

import copy
import warnings

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from example_project.settings import SQLITE_OPTIONS

ERROR_MIDDLEWARE = "magiclink_auth.api.middleware.APIErrorMiddleware"


def ids(settings_changes: dict) -> set[str]:
    # The checks only read DATABASES; no connection is opened with the overridden one, which is what Django's
    # warning about overriding it is about.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Overriding setting DATABASES", UserWarning)
        with override_settings(**settings_changes):
            return {message.id for message in run_checks() if message.id in {"magiclink_auth.W120",
                                                                          "magiclink_auth.W121"}}


def sqlite(options: dict) -> dict:
    from django.conf import settings

    databases = copy.deepcopy(settings.DATABASES)
    databases["default"] = {**databases["default"], "ENGINE": "django.db.backends.sqlite3", "OPTIONS": options}
    return {"DATABASES": databases}


def test_the_example_sites_sqlite_options_pass():
    assert ids(sqlite(SQLITE_OPTIONS)) == set()


@pytest.mark.parametrize("missing", ["transaction_mode", "init_command", "timeout"])
def test_sqlite_without_one_of_them_is_warned_about(missing):
    options = {name: value for name, value in SQLITE_OPTIONS.items() if name != missing}
    assert ids(sqlite(options)) == {"magiclink_auth.W120"}


def test_a_busy_timeout_pragma_counts_as_a_timeout():
    options = {"transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode = WAL; PRAGMA busy_timeout=5000"}
    assert ids(sqlite(options)) == set()


def test_sqlite_with_django_defaults_is_warned_about():
    assert ids(sqlite({})) == {"magiclink_auth.W120"}


def test_postgresql_needs_none_of_them():
    from django.conf import settings

    databases = copy.deepcopy(settings.DATABASES)
    databases["default"] = {**databases["default"], "ENGINE": "django.db.backends.postgresql", "OPTIONS": {}}
    assert ids({"DATABASES": databases}) == set()


def test_a_site_without_the_error_middleware_is_warned_about():
    from django.conf import settings

    middleware = [entry for entry in settings.MIDDLEWARE if entry != ERROR_MIDDLEWARE]
    assert ids({"MIDDLEWARE": middleware}) == {"magiclink_auth.W121"}
