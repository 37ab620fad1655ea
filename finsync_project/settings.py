"""FinSync settings, read from the environment (django-environ).

Every value can be set in the process environment or in a `.env` file beside
`manage.py` (see `.env.example`). The embedded default is a SQLite file and the
`demo` provider, so a fresh clone runs with no configuration at all.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# FINSYNC_ENV_FILE names another file (tests point it at an empty one to leave a local .env out).
environ.Env.read_env(env.str("FINSYNC_ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
if DEBUG:
    # The fallback key only serves local runs (DEBUG on); deployments must set SECRET_KEY.
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-local-only-finsync-key-change-me-0123456789")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: with DEBUG off there is no built-in key. Set SECRET_KEY in the environment "
            "or in .env to a long random value."
        )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "sync.apps.SyncConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "finsync_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

WSGI_APPLICATION = "finsync_project.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent processes (fleet workers, the admin while cron syncs): writers
    # queue for the lock (IMMEDIATE transactions, a busy timeout) instead of
    # failing with "database is locked", and readers don't block them (WAL).
    _sqlite = DATABASES["default"].setdefault("OPTIONS", {})
    _sqlite.setdefault("timeout", 20)
    _sqlite.setdefault("transaction_mode", "IMMEDIATE")
    _sqlite.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")

# The job engine (Procrastinate: scheduled, webhook-requested and fleet syncs run by
# `manage.py procrastinate worker`) lives in PostgreSQL. On SQLite its app is not
# installed at all: its migrations are PostgreSQL SQL, its admin would list tables that
# do not exist, and `sync --all-connections` runs in-process instead.
FINSYNC_JOBS_ENABLED = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")
if FINSYNC_JOBS_ENABLED:
    INSTALLED_APPS.insert(INSTALLED_APPS.index("sync.apps.SyncConfig"), "procrastinate.contrib.django")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# AxesStandaloneBackend first: it refuses a locked-out login before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "finsync": {"handlers": ["console"], "level": env.str("FINSYNC_LOG_LEVEL", default="WARNING")},
    },
}

REST_FRAMEWORK = {
    # Token first: an anonymous request then gets 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "sync.api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "sync.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "sync.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
# Requests per user to the three sync endpoints together ("N/second|minute|hour|day").
FINSYNC_SYNC_THROTTLE_RATE = env.str("FINSYNC_SYNC_THROTTLE_RATE", default="30/minute")

SPECTACULAR_SETTINGS = {
    "TITLE": "FinSync API",
    "DESCRIPTION": "Sync accounts, transactions and holdings from financial-data providers.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI assets come from drf-spectacular-sidecar (static files), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ConnectionStatusEnum": "sync.models.ConnectionStatus",
        "TransactionStatusEnum": "sync.models.TransactionStatus",
        "SyncRunStatusEnum": "sync.models.RunStatus",
        "SyncKindEnum": "sync.models.SyncKind",
        "SourceEnum": "sync.models.Source",
    },
}

# --- FinSync ---------------------------------------------------------------
# Seconds within which a repeated sync of the same kind is skipped (not failed).
FINSYNC_MIN_SYNC_INTERVAL = env.int("FINSYNC_MIN_SYNC_INTERVAL", default=300)
# The largest OFX/QFX statement file an import reads, in bytes.
FINSYNC_MAX_STATEMENT_BYTES = env.int("FINSYNC_MAX_STATEMENT_BYTES", default=10 * 1024 * 1024)
# Default and maximum transactions window, in days.
FINSYNC_DEFAULT_SYNC_DAYS = env.int("FINSYNC_DEFAULT_SYNC_DAYS", default=30)
FINSYNC_MAX_SYNC_DAYS = env.int("FINSYNC_MAX_SYNC_DAYS", default=730)
# A running sync's claim on its connection expires after this many seconds, so
# a crashed process cannot block a connection forever.
FINSYNC_SYNC_LEASE_SECONDS = env.int("FINSYNC_SYNC_LEASE_SECONDS", default=900)
# A window provider's unchanged spans (e.g. SimpleFIN's 60-day chunks, per account) are
# skipped on re-sync by digest (sync/apply/spans.py); off: every row is mapped and compared.
FINSYNC_TRANSACTION_SPANS = env.bool("FINSYNC_TRANSACTION_SPANS", default=True)
# Jobs (PostgreSQL only): the periodic task that defers every due connection runs on this
# cron schedule (five fields, or six with seconds last); workers are `manage.py procrastinate worker`.
FINSYNC_SYNC_SCHEDULE = env.str("FINSYNC_SYNC_SCHEDULE", default="0 * * * *")
# Stalled jobs (their worker stopped sending heartbeats: killed, host lost) are retried on
# this schedule; a worker is stalled after FINSYNC_WORKER_STALLED_SECONDS without a heartbeat.
FINSYNC_STALLED_JOBS_SCHEDULE = env.str("FINSYNC_STALLED_JOBS_SCHEDULE", default="* * * * *")
FINSYNC_WORKER_STALLED_SECONDS = env.float("FINSYNC_WORKER_STALLED_SECONDS", default=30.0)
# A sync job that met provider_unavailable or provider_rate_limited is retried this many times
# (exponential backoff from FINSYNC_JOB_RETRY_BACKOFF_SECONDS, never before the provider's Retry-After).
FINSYNC_JOB_MAX_ATTEMPTS = env.int("FINSYNC_JOB_MAX_ATTEMPTS", default=5)
FINSYNC_JOB_RETRY_BACKOFF_SECONDS = env.int("FINSYNC_JOB_RETRY_BACKOFF_SECONDS", default=30)
# The task modules Procrastinate's workers load.
PROCRASTINATE_IMPORT_PATHS = ["sync.services.jobs"]
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = ""
PROCRASTINATE_WORKER_DEFAULTS = {
    "update_heartbeat_interval": env.float("FINSYNC_WORKER_HEARTBEAT_SECONDS", default=10.0),
    "stalled_worker_timeout": FINSYNC_WORKER_STALLED_SECONDS,
    # On SIGTERM a worker finishes its running syncs for up to this long, then stops them
    # (they are recorded as failed; a stopped job is retried by the stalled-job task).
    "shutdown_graceful_timeout": env.float("FINSYNC_WORKER_SHUTDOWN_SECONDS", default=60.0),
}
# Fernet keys (comma-separated, urlsafe base64); the first encrypts, all decrypt.
FINSYNC_ENCRYPTION_KEYS = env.list("FINSYNC_ENCRYPTION_KEYS", default=[])
# Plain-http provider URLs are refused unless this is set (tests, local fakes).
FINSYNC_ALLOW_HTTP_PROVIDERS = env.bool("FINSYNC_ALLOW_HTTP_PROVIDERS", default=False)
# Provider HTTP timeouts in seconds (connect, read).
FINSYNC_HTTP_CONNECT_TIMEOUT = env.float("FINSYNC_HTTP_CONNECT_TIMEOUT", default=5.0)
FINSYNC_HTTP_READ_TIMEOUT = env.float("FINSYNC_HTTP_READ_TIMEOUT", default=30.0)
# Retries of idempotent requests after a 5xx or a connection error, with
# exponential backoff from this base (plus jitter); bounds on what one sync reads.
FINSYNC_HTTP_MAX_RETRIES = env.int("FINSYNC_HTTP_MAX_RETRIES", default=2)
FINSYNC_HTTP_BACKOFF_SECONDS = env.float("FINSYNC_HTTP_BACKOFF_SECONDS", default=0.5)
FINSYNC_HTTP_MAX_RESPONSE_BYTES = env.int("FINSYNC_HTTP_MAX_RESPONSE_BYTES", default=64 * 1024 * 1024)
FINSYNC_HTTP_MAX_PAGES = env.int("FINSYNC_HTTP_MAX_PAGES", default=2000)
# User-supplied and provider-returned URLs (SimpleFIN) may reach public hosts only, unless this is set (dev, tests).
FINSYNC_ALLOW_PRIVATE_PROVIDER_HOSTS = env.bool("FINSYNC_ALLOW_PRIVATE_PROVIDER_HOSTS", default=False)
# API connect attempts (create, reconnect) per user ("N/second|minute|hour|day"); past it: 429 with Retry-After.
FINSYNC_CONNECT_THROTTLE_RATE = env.str("FINSYNC_CONNECT_THROTTLE_RATE", default="20/hour")
# Bounds of a demo connection made through the API or the admin (transactions: all accounts together).
FINSYNC_DEMO_MAX_TRANSACTIONS = env.int("FINSYNC_DEMO_MAX_TRANSACTIONS", default=20_000)
FINSYNC_DEMO_MAX_ACCOUNTS = env.int("FINSYNC_DEMO_MAX_ACCOUNTS", default=10)

# --- Deployment safety (logins, HTTPS, shared cache) -----------------------
# Failed logins (admin, the API's session login) are counted by django-axes in the
# database, per username from one address (axes' username+ip_address combination, so
# a stranger cannot lock a user out everywhere). After FINSYNC_LOGIN_FAILURE_LIMIT
# failures, logins are refused for FINSYNC_LOGIN_COOLOFF_MINUTES, even with the right
# password; a failure during the lockout starts the cool-off again.
FINSYNC_LOGIN_FAILURE_LIMIT = env.int("FINSYNC_LOGIN_FAILURE_LIMIT", default=5)
FINSYNC_LOGIN_COOLOFF_MINUTES = env.int("FINSYNC_LOGIN_COOLOFF_MINUTES", default=15)
# Callables, so axes reads the two settings above per login attempt, not once at import.
AXES_FAILURE_LIMIT = "sync.logins.failure_limit"
AXES_COOLOFF_TIME = "sync.logins.cooloff"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "sync.logins.lockout_response"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# Every failure is a row (AccessFailureLog), besides the per-client count (AccessAttempt).
AXES_ENABLE_ACCESS_FAILURE_LOG = True

# With DEBUG off, HTTPS is on by default: `manage.py check --deploy` warns of nothing.
# Each is switched under Django's own name in the environment, e.g. on a plain-http
# intranet: SECURE_SSL_REDIRECT=0 SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0 SECURE_HSTS_SECONDS=0.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
# Behind a TLS-terminating proxy, e.g. "HTTP_X_FORWARDED_PROTO,https" (only if the proxy sets that header).
SECURE_PROXY_SSL_HEADER = env.tuple("SECURE_PROXY_SSL_HEADER", default=None)

# The cache holds the API's throttle counts; every process and host must see the same
# one. Default: a table in the database (`migrate` creates it, sync migration 0005);
# CACHE_URL may name another shared cache, e.g. redis://host:6379/0.
CACHES = {"default": env.cache_url("CACHE_URL", default="dbcache://finsync_cache")}

PLAID_BASE_URL = env.str("PLAID_BASE_URL", default="https://production.plaid.com")
PLAID_CLIENT_ID = env.str("PLAID_CLIENT_ID", default="")
PLAID_SECRET = env.str("PLAID_SECRET", default="")
# Plaid Link: the name shown to the user, Link's language and the countries of its institutions.
PLAID_CLIENT_NAME = env.str("PLAID_CLIENT_NAME", default="FinSync")
PLAID_LANGUAGE = env.str("PLAID_LANGUAGE", default="en")
PLAID_COUNTRY_CODES = env.list("PLAID_COUNTRY_CODES", default=["US"])
# Where FinSync is reachable from outside (https://finsync.example.com): Plaid's webhooks are
# sent to FINSYNC_PUBLIC_URL + /api/webhooks/plaid/; empty means no webhooks are asked for.
FINSYNC_PUBLIC_URL = env.str("FINSYNC_PUBLIC_URL", default="")
# The settings that hold server-wide provider secrets: every form of their values is
# scrubbed from stored and shown messages (sync/scrub.py). A provider with a client
# secret adds its setting here; client ids are not secrets and stay readable.
FINSYNC_SERVER_SECRET_SETTINGS = ("PLAID_SECRET", "SCHWAB_CLIENT_SECRET")

# Alpaca: one base URL for both environments when set (tests, a proxy); empty means Alpaca's own
# hosts, https://paper-api.alpaca.markets or https://api.alpaca.markets by the connection's environment.
ALPACA_BASE_URL = env.str("ALPACA_BASE_URL", default="")

# Schwab's Trader API over OAuth2: the app key and secret of the app registered at developer.schwab.com,
# and its callback, exactly as registered (scheme, host, port, path, no trailing slash). FinSync serves
# the callback at this URL's path. Schwab is offered only when the first three are set.
SCHWAB_CLIENT_ID = env.str("SCHWAB_CLIENT_ID", default="")
SCHWAB_CLIENT_SECRET = env.str("SCHWAB_CLIENT_SECRET", default="")
SCHWAB_REDIRECT_URI = env.str("SCHWAB_REDIRECT_URI", default="")
SCHWAB_BASE_URL = env.str("SCHWAB_BASE_URL", default="https://api.schwabapi.com")
# How long an OAuth authorize link (its single-use `state`) stays valid, in seconds.
FINSYNC_OAUTH_STATE_SECONDS = env.int("FINSYNC_OAUTH_STATE_SECONDS", default=600)
