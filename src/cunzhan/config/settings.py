"""Settings. Every value comes from the environment (see .env.example).

DATABASE_URL unset -> SQLite in ./var/cunzhan.sqlite3, the embedded default.
"""

from __future__ import annotations

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
    "cunzhan.core.middleware.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cunzhan.core.middleware.RequestActorMiddleware",
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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
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
STATIC_ROOT = BASE_DIR / "var" / "static"

DATA_DIR = Path(os.environ.get("CUNZHAN_DATA_DIR", BASE_DIR / "data"))
# the columnar snapshot (Parquet fact tables derived from the database, rebuilt by
# `cunzhan columnar-export`; ADR 0021): var/ is not in git
COLUMNAR_DIR = Path(os.environ.get("CUNZHAN_COLUMNAR_DIR", BASE_DIR / "var" / "columnar"))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

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

# commerce payments (ADR 0015): the provider, and the sandbox provider's webhook secret
PAYMENT_PROVIDER = os.environ.get("CUNZHAN_PAYMENT_PROVIDER", "sandbox")
PAYMENT_SANDBOX_SECRET = os.environ.get("CUNZHAN_PAYMENT_SANDBOX_SECRET", "")
if not PAYMENT_SANDBOX_SECRET:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("CUNZHAN_PAYMENT_SANDBOX_SECRET must be set when DEBUG is off")
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
