"""Settings. Every value comes from the environment (see .env.example).

DATABASE_URL unset -> SQLite in ./var/cunzhan.sqlite3, the embedded default.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

SRC_DIR = Path(__file__).resolve().parents[1]
BASE_DIR = Path(os.environ.get("CUNZHAN_HOME", Path(__file__).resolve().parents[3]))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
TESTING = env_bool("CUNZHAN_TESTING", "pytest" in sys.modules)

_DEV_SECRET = "cunzhan-development-only-secret-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = _DEV_SECRET

# Key for personal ID numbers at rest: a urlsafe base64 32-byte Fernet key
# (several, comma-separated, newest first, for rotation).
_DEV_FIELD_KEY = "ZGV2LW9ubHktZmllbGQta2V5LWN1bnpoYW4tMDAwMDA="
FIELD_ENCRYPTION_KEYS = [
    k.strip() for k in os.environ.get("CUNZHAN_FIELD_KEYS", "").split(",") if k.strip()
]
if not FIELD_ENCRYPTION_KEYS:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("CUNZHAN_FIELD_KEYS must be set when DEBUG is off")
    FIELD_ENCRYPTION_KEYS = [_DEV_FIELD_KEY]

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    # before cunzhan.accounts: axes marks a locked-out request before accounts audits it
    "axes",
    "cunzhan.core",
    "cunzhan.accounts",
    "cunzhan.network",
    "cunzhan.registry",
    "cunzhan.logistics",
    "cunzhan.commerce",
    "cunzhan.ledger",
    "cunzhan.impact",
    "cunzhan.devtools",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # after the locale: its refusal is in the reader's language
    "cunzhan.core.middleware.RejectNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cunzhan.core.middleware.RequestActorMiddleware",
    "cunzhan.accounts.middleware.PasswordChangeRequiredMiddleware",
    # last: turns a request flagged as locked out into the lockout page or API error
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cunzhan.config.urls"
WSGI_APPLICATION = "cunzhan.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [SRC_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cunzhan.accounts.context_processors.nav",
            ],
        },
    },
]

_default_sqlite = f"sqlite:///{BASE_DIR / 'var' / 'cunzhan.sqlite3'}"
if not os.environ.get("DATABASE_URL"):
    # the embedded default lives in ./var, which a fresh clone does not have yet
    (BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or _default_sqlite, conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"

AUTHENTICATION_BACKENDS = [
    # refuses a locked-out username+address before any password is checked (ADR: accounts
    # that resist attack); then usernames are matched without regard to case
    "axes.backends.AxesStandaloneBackend",
    "cunzhan.accounts.backends.UsernameAnyCaseBackend",
]
# every password a person sets or is given (user creation, password change, one-time
# passwords) passes these (accounts.services.password_check)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": int(os.environ.get("CUNZHAN_PASSWORD_MIN_LENGTH", "10"))},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login lockout (django-axes) on the login page and the API token endpoint: after
# CUNZHAN_LOGIN_FAILURE_LIMIT failures for one username from one address, that pair is
# refused for CUNZHAN_LOGIN_COOLOFF_MINUTES (each failure during a lockout restarts it).
AXES_ENABLED = True
AXES_FAILURE_LIMIT = int(os.environ.get("CUNZHAN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(os.environ.get("CUNZHAN_LOGIN_COOLOFF_MINUTES", "30")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_USERNAME_CALLABLE = "cunzhan.accounts.lockout.lockout_username"
AXES_LOCKOUT_CALLABLE = "cunzhan.accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "cunzhan.accounts.lockout.lockout_ip"
AXES_VERBOSE = False
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "zh-hans"
# Each language is named in itself in the switcher.
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [SRC_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [SRC_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("CUNZHAN_STATIC_ROOT", BASE_DIR / "var" / "static"))
# Static files are served by WhiteNoise from STATIC_ROOT (`cunzhan collectstatic`): hashed
# names, gzip and brotli copies, cached for ever. In development and the tests the files
# are found where they are (no collectstatic, no manifest).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING

DATA_DIR = Path(os.environ.get("CUNZHAN_DATA_DIR", BASE_DIR / "data"))
# the columnar snapshot (Parquet fact tables derived from the database, rebuilt by
# `cunzhan columnar-export`; ADR 0021): var/ is not in git
COLUMNAR_DIR = Path(os.environ.get("CUNZHAN_COLUMNAR_DIR", BASE_DIR / "var" / "columnar"))

# Production posture (ADR 0023). CUNZHAN_HTTPS says the site is served over HTTPS; it is
# on by default with DEBUG off (off in development and the tests) and turns on the SSL
# redirect, secure cookies and HSTS, each of which its own variable can override. Behind
# a TLS-terminating proxy set CUNZHAN_BEHIND_PROXY=1: the proxy's X-Forwarded-Proto is
# then trusted (only safe when the proxy sets it and clients cannot reach Django directly).
HTTPS = env_bool("CUNZHAN_HTTPS", not (DEBUG or TESTING))
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
if env_bool("CUNZHAN_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", SESSION_COOKIE_SECURE)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp; ADR 0023): scripts only from our own static files —
# no inline script elements, no on...= handlers, no eval (htmx runs with allowEval=false, see
# base.html). Inline styles stay allowed (page <style> blocks, data-driven widths and
# colours of bars and swatches): styles cannot run code; moving them to static files is
# a follow-up (ADR 0023). Nothing is loaded from another host.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# A request body is held in memory up to this size (Django's default is 2.5 MiB). The bulk
# event endpoint takes up to 10,000 events, several MiB as a GS1 EPCIS document, and
# enforces its own limit (logistics.services.MAX_BODY_BYTES, the same 32 MiB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024

# commerce payments (ADR 0015; production posture ADR 0023): the providers a buyer can pay
# through, in order (the first is the one checkout uses). The sandbox provider is our own
# pay page that marks an order paid with no money moving: it is refused unless
# PAYMENTS_SANDBOX_ENABLED, which is on by default only with DEBUG (the demo) or in the
# tests, and a deploy check (`cunzhan check --deploy`) errors when it is on with DEBUG off.
PAYMENTS_SANDBOX_ENABLED = env_bool("CUNZHAN_PAYMENTS_SANDBOX_ENABLED", DEBUG or TESTING)
PAYMENT_PROVIDERS = [
    p.strip()
    # an empty variable (as .env.example leaves it) means the default, not "no provider"
    for p in (
        os.environ.get("CUNZHAN_PAYMENT_PROVIDERS", "")
        or ("sandbox" if PAYMENTS_SANDBOX_ENABLED else "")
    ).split(",")
    if p.strip()
]
# Pickup-code guessing (logistics.services.parcel_pick_up, ADR 0028): after this many
# failures at one station, or against one parcel, within the window, hand-outs there are
# refused until the window has passed
# The longest a daily plan's solver may run inside one API request (the request waits
# for it); the plan command has no such bound. Published in the schema (ADR 0032).
CUNZHAN_PLAN_MAX_TIME_LIMIT_S = float(os.environ.get("CUNZHAN_PLAN_MAX_TIME_LIMIT_S", "30"))
CUNZHAN_PICKUP_WINDOW_SECONDS = int(os.environ.get("CUNZHAN_PICKUP_WINDOW_SECONDS", "900"))
CUNZHAN_PICKUP_MAX_FAILURES_STATION = int(
    os.environ.get("CUNZHAN_PICKUP_MAX_FAILURES_STATION", "20")
)
CUNZHAN_PICKUP_MAX_FAILURES_PARCEL = int(os.environ.get("CUNZHAN_PICKUP_MAX_FAILURES_PARCEL", "5"))
# Spreadsheet imports (core/tabular.py, ADR 0026): every CSV/XLSX upload is read within
# these limits; an importer may be stricter, never looser.
IMPORT_MAX_BYTES = int(os.environ.get("CUNZHAN_IMPORT_MAX_BYTES", 20 * 1024 * 1024))
IMPORT_MAX_UNPACKED_BYTES = int(
    os.environ.get("CUNZHAN_IMPORT_MAX_UNPACKED_BYTES", 128 * 1024 * 1024)
)
IMPORT_MAX_ROWS = int(os.environ.get("CUNZHAN_IMPORT_MAX_ROWS", 50_000))
IMPORT_MAX_COLUMNS = int(os.environ.get("CUNZHAN_IMPORT_MAX_COLUMNS", 64))
IMPORT_MAX_CELL_CHARS = int(os.environ.get("CUNZHAN_IMPORT_MAX_CELL_CHARS", 1000))
IMPORT_MAX_ERRORS = int(os.environ.get("CUNZHAN_IMPORT_MAX_ERRORS", 1000))

PAYMENT_SANDBOX_SECRET = os.environ.get("CUNZHAN_PAYMENT_SANDBOX_SECRET", "")
if not PAYMENT_SANDBOX_SECRET and PAYMENTS_SANDBOX_ENABLED:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "CUNZHAN_PAYMENT_SANDBOX_SECRET must be set when the sandbox is enabled with DEBUG off"
        )
    PAYMENT_SANDBOX_SECRET = "cunzhan-sandbox-webhook-secret-for-development"  # noqa: S105
# commerce orders (ADR 0015, addendum): an unpaid order holds its stock this long, then
# expires (the stock goes back to the lots); a storefront session may hold at most so
# many unpaid orders and units at a time
ORDER_UNPAID_TTL_MINUTES = int(os.environ.get("CUNZHAN_ORDER_UNPAID_TTL_MINUTES", "30"))
ORDER_WHOLESALE_UNPAID_TTL_HOURS = int(
    os.environ.get("CUNZHAN_ORDER_WHOLESALE_UNPAID_TTL_HOURS", "72")
)
STORE_MAX_UNPAID_ORDERS = int(os.environ.get("CUNZHAN_STORE_MAX_UNPAID_ORDERS", "2"))
STORE_MAX_UNPAID_UNITS = int(os.environ.get("CUNZHAN_STORE_MAX_UNPAID_UNITS", "50"))
# external marketplaces (ADR 0015): "code:secret,code:secret" — each signs its order
# webhooks with its own HMAC secret
MARKETPLACE_SECRETS = {
    code.strip(): secret.strip()
    for code, _sep, secret in (
        item.partition(":")
        for item in os.environ.get("CUNZHAN_MARKETPLACE_SECRETS", "").split(",")
        if item.strip()
    )
}
if not MARKETPLACE_SECRETS and (DEBUG or TESTING):
    MARKETPLACE_SECRETS = {"pdd": "dev-pdd-secret", "jd": "dev-jd-secret"}
