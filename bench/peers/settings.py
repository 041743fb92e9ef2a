"""Settings of a peer site: ``BENCH_PEER`` (sesame, magic_link, allauth) picks the library and its URLs.

The example site's middleware stack (its magic-link middleware aside: ``BENCH_MIDDLEWARE``), DEBUG off,
connections kept 60 s, SQLite in WAL mode or ``DATABASE_URL``; the cache on Redis when ``BENCH_REDIS_URL``
is set (the production-like run), so rate limits that a library keeps there pay what ours pay.
"""

import json
import os

import dj_database_url

PEER = os.environ["BENCH_PEER"]
SECRET_KEY = os.environ["BENCH_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = f"peers.{PEER}"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                  "django.contrib.messages"]
MIDDLEWARE = json.loads(os.environ["BENCH_MIDDLEWARE"])
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request"]}}]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["BENCH_SQLITE_PATH"], "CONN_MAX_AGE": 60,
        "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE",
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
    }}
if os.environ.get("BENCH_REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": os.environ["BENCH_REDIS_URL"]}}

if PEER == "sesame":
    # A stateless signed token; sesame's LoginView opens a Django session. Like a link: 10 minutes, once.
    AUTHENTICATION_BACKENDS.append("sesame.backends.ModelBackend")
    SESAME_MAX_AGE = 600
    SESAME_ONE_TIME = True
elif PEER == "magic_link":
    # A link row valid 10 minutes; each use is audited in its MagicLinkUse table.
    INSTALLED_APPS.append("magic_link")
    MAGIC_LINK = {"DEFAULT_EXPIRY": 600, "DEFAULT_REDIRECT": "/"}
elif PEER == "allauth":
    # Headless, app client (session tokens), login by code; no email verification step, no signup.
    INSTALLED_APPS += ["allauth", "allauth.account", "allauth.headless"]
    MIDDLEWARE.append("allauth.account.middleware.AccountMiddleware")
    AUTHENTICATION_BACKENDS.append("allauth.account.auth_backends.AuthenticationBackend")
    HEADLESS_ONLY = True
    HEADLESS_CLIENTS = ("app",)
    HEADLESS_FRONTEND_URLS = {}
    ACCOUNT_LOGIN_BY_CODE_ENABLED = True
    ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 600
    ACCOUNT_LOGIN_METHODS = {"email"}
    ACCOUNT_SIGNUP_FIELDS = ["email*"]
    ACCOUNT_EMAIL_VERIFICATION = "none"
    ACCOUNT_ADAPTER = "peers.allauth.MailboxAdapter"
    # All the load comes from 127.0.0.1 and a few hundred addresses: rates that never trip but are
    # counted on every call, as ours are.
    ACCOUNT_RATE_LIMITS = {"request_login_code": "1000000/m/ip,1000000/m/key", "login": "1000000/m/ip",
                           "login_failed": "1000000/m/ip,1000000/m/key"}
