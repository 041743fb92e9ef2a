"""Settings of the example site, read from environment variables so one file serves laptop and server.

With no environment at all: SQLite, local-memory cache, the immediate task backend and DEBUG off. With
DJANGO_DEBUG=1 (README's command, bound to 127.0.0.1), links are written to sent_mail/outbox.jsonl and
listed by the dev outbox page (/auth/dev/outbox/).
See README.md for every variable.
"""

import os
from pathlib import Path

import dj_database_url
import django

BASE_DIR = Path(__file__).resolve().parent.parent


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Off unless asked for: with DEBUG the dev outbox lists live links (README runs it bound to 127.0.0.1).
DEBUG = os.environ.get("DJANGO_DEBUG", "0").lower() in {"1", "true", "yes", "on"}
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-insecure-key-change-me-" + "x" * 20)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    # First, so that its runserver (a longer listen backlog) wins over staticfiles' own.
    "example_project",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    *(["django_tasks"] if django.VERSION < (6, 0) else []),
    "magiclink_auth",
]

MIDDLEWARE = [
    # First: on the API's paths, whatever fails in the middleware below answers the error JSON, not HTML.
    "magiclink_auth.api.middleware.APIErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user from the DS / DSR cookies, refreshed transparently; after AuthenticationMiddleware.
    "magiclink_auth.middleware.MagicLinkSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
        # Behind PgBouncer in transaction pooling mode a cursor cannot outlive its transaction
        # (docs/deployment.md).
        disable_server_side_cursors=os.environ.get("DB_DISABLE_SERVER_SIDE_CURSORS", "0").lower() in {"1", "true"},
    )
}

# SQLite, the default here, serves simultaneous requests with the settings README recommends ("SQLite"): WAL
# lets readers run beside the one writer, IMMEDIATE takes the write lock when a transaction begins (two
# transactions never deadlock upgrading a read lock, which no timeout can wait out), and the busy timeout
# (seconds) makes a writer queue for the lock instead of failing with "database is locked".
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}

if os.environ.get("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": os.environ["REDIS_URL"]}}
else:
    # Room for more than LocMemCache's default 300 entries: the rate limits keep a few counters per call, and
    # at 300 they evict the users' cached roles and permissions (CLAIMS_CACHE), which a verify then reads
    # from the database again.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                          "OPTIONS": {"MAX_ENTRIES": 10_000}}}

TASKS = {
    "default": {
        "BACKEND": os.environ.get(
            "TASKS_BACKEND",
            "django.tasks.backends.immediate.ImmediateBackend"
            if django.VERSION >= (6, 0)
            else "django_tasks.backends.immediate.ImmediateBackend",
        )
    }
}
# Production: TASKS_BACKEND=django_tasks_db.DatabaseBackend (pip install 'magiclink-auth[production]'), then
# `manage.py db_worker` sends the messages; see docs/reliability.md.
if TASKS["default"]["BACKEND"].startswith("django_tasks_db."):
    INSTALLED_APPS.append("django_tasks_db")

_email_backend = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
_email_file_path = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "sent_mail"))
if django.VERSION >= (6, 1):
    # Django 6.1 replaces EMAIL_BACKEND and its siblings with MAILERS.
    MAILERS = {"default": {"BACKEND": _email_backend,
                           "OPTIONS": {"file_path": _email_file_path} if "filebased" in _email_backend else {}}}
else:
    EMAIL_BACKEND = _email_backend
    EMAIL_FILE_PATH = _email_file_path
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Example site <login@example.com>")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/auth/login/"
LOGIN_REDIRECT_URL = "/auth/account/"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "magiclink_auth.backends.MagicLinkBackend",
]

REDIRECT_URLS = env_list("MAGICLINK_REDIRECT_URLS", "http://localhost:8000/,http://127.0.0.1:8000/")

# In development with no mail backend chosen, links also land in a file that the dev outbox page
# (/auth/dev/outbox/, DEBUG only) lists, so a newcomer can click them without a mail server.
DEV_OUTBOX = {"BACKEND": "magiclink_auth.delivery.dev.FileBackend",
              "OPTIONS": {"PATH": str(BASE_DIR / "sent_mail" / "outbox.jsonl")}}
if DEBUG and "EMAIL_BACKEND" not in os.environ:
    EMAIL_DELIVERY = DEV_OUTBOX
else:
    EMAIL_DELIVERY = {"BACKEND": "magiclink_auth.delivery.email.EmailBackend", "OPTIONS": {}}

if os.environ.get("TWILIO_ACCOUNT_SID"):
    SMS_DELIVERY = {
        "BACKEND": "magiclink_auth.delivery.sms.TwilioBackend",
        "OPTIONS": {
            "ACCOUNT_SID": os.environ["TWILIO_ACCOUNT_SID"],
            "AUTH_TOKEN": os.environ.get("TWILIO_AUTH_TOKEN", ""),
            "FROM_NUMBER": os.environ.get("TWILIO_FROM_NUMBER", ""),
            "MESSAGING_SERVICE_SID": os.environ.get("TWILIO_MESSAGING_SERVICE_SID", ""),
            "API_BASE_URL": os.environ.get("TWILIO_API_BASE_URL", ""),
        },
    }
elif os.environ.get("SMS_FILE_PATH"):
    SMS_DELIVERY = {"BACKEND": "magiclink_auth.delivery.dev.FileBackend",
                    "OPTIONS": {"PATH": os.environ["SMS_FILE_PATH"]}}
elif DEBUG:
    SMS_DELIVERY = DEV_OUTBOX
else:
    SMS_DELIVERY = {"BACKEND": "magiclink_auth.delivery.dev.ConsoleBackend", "OPTIONS": {}}

MAGICLINK_AUTH = {
    "PROJECT_ID": os.environ.get("MAGICLINK_PROJECT_ID", "P2exampleproject"),
    "REDIRECT_URLS": REDIRECT_URLS,
    # Empty: links go to the app's landing page (/auth/link/) on the first redirect URL's origin.
    "DEFAULT_REDIRECT_URL": os.environ.get("MAGICLINK_DEFAULT_REDIRECT_URL", ""),
    "DELIVERY": {"email": EMAIL_DELIVERY, "sms": SMS_DELIVERY},
    "SMS_ALLOWED_COUNTRY_CODES": env_list("MAGICLINK_SMS_COUNTRY_CODES", ""),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"magiclink_auth": {"handlers": ["console"], "level": os.environ.get("MAGICLINK_LOG_LEVEL", "INFO")}},
}
