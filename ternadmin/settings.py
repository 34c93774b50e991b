"""ternadmin settings, configured by environment variables.

The defaults run the demo: with nothing set, both databases live in one embedded SQLite file and
demo mode relaxes what production must set (secret key, hosts, TLS). Any database URL turns demo
mode off unless ``TERNADMIN_DEMO=1`` asks for it. Bad values fail at start with a clear message.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from applies.engines import config as engine_config
from ternadmin import config

BASE_DIR = Path(__file__).resolve().parent.parent
# Upper bounds of the time settings: beyond them a value is a typo, not a choice.
HOUR, DAY, YEAR = 3600, 86_400, 365 * 86_400
ENV = os.environ

DATA_DIR = Path(config.env_str(ENV, "TERNADMIN_DATA_DIR") or BASE_DIR / "var")  # checked if used
_layout = config.database_layout(ENV, DATA_DIR)

# Demo mode is the zero-set-up default only; pointing at a real database means production.
DEMO_MODE = config.env_bool(ENV, "TERNADMIN_DEMO", default=_layout.embedded)
DEBUG = config.env_bool(ENV, "TERNADMIN_DEBUG", default=False)

SECRET_KEY = config.env_str(ENV, "TERNADMIN_SECRET_KEY")
if not SECRET_KEY:
    if not DEMO_MODE:
        raise ImproperlyConfigured(
            "TERNADMIN_SECRET_KEY is required outside demo mode (a long random string)."
        )
    SECRET_KEY = "demo-only-insecure-key-do-not-use-in-production-" + "x" * 16

ALLOWED_HOSTS = config.env_list(
    ENV, "TERNADMIN_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEMO_MODE else []
)
if not ALLOWED_HOSTS and not DEBUG:
    raise ImproperlyConfigured(
        "TERNADMIN_ALLOWED_HOSTS is required outside demo mode (comma-separated host names)."
    )
CSRF_TRUSTED_ORIGINS = config.env_list(ENV, "TERNADMIN_CSRF_TRUSTED_ORIGINS", [])

# Transport security: on by default in production, off in the demo (plain http on localhost).
_secure = not DEMO_MODE
SECURE_SSL_REDIRECT = config.env_bool(ENV, "TERNADMIN_SSL_REDIRECT", default=_secure)
SESSION_COOKIE_SECURE = config.env_bool(ENV, "TERNADMIN_SECURE_COOKIES", default=_secure)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = config.env_int(
    ENV, "TERNADMIN_HSTS_SECONDS", default=31_536_000 if _secure else 0, maximum=2 * YEAR
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = config.env_bool(ENV, "TERNADMIN_HSTS_PRELOAD", default=False)
TERNADMIN_BEHIND_PROXY = config.env_bool(ENV, "TERNADMIN_BEHIND_PROXY", default=False)
if TERNADMIN_BEHIND_PROXY:
    # Only behind a proxy that sets (and strips client-sent) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_q",
    "django_tables2",
    "django_filters",
    "ninja",  # the API's docs page from its bundled static files, never a CDN
    "axes",
    "applies",
]
# The PlanetScale emulator is a demo and test fixture, never part of production: its app (its
# tables, its `localscale` command) is installed only in demo mode, which the tests run in, or
# when TERNADMIN_LOCALSCALE=1 asks for it (a staging set-up that wants an emulated PlanetScale).
LOCALSCALE_INSTALLED = config.env_bool(ENV, "TERNADMIN_LOCALSCALE", default=DEMO_MODE)
if LOCALSCALE_INSTALLED:
    INSTALLED_APPS.append("localscale")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "applies.middleware.refuse_credentials_in_query",
    "applies.middleware.private_no_store",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "applies.middleware.content_security_policy",
    "applies.api.errors.json_errors",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "ternadmin.urls"
WSGI_APPLICATION = "ternadmin.wsgi.application"

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
                "applies.context_processors.console",
            ],
        },
    },
]

# --- Databases -------------------------------------------------------------------------------
DATABASES = {"default": _layout.default, "schemabot": _layout.schemabot}
DATABASE_ROUTERS = ["ternadmin.routers.SchemaBotRouter"]
SCHEMABOT_DATABASE = "schemabot"
SCHEMABOT_MODE = _layout.schemabot_mode
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- SchemaBot semantics (upstream pkg/storage/mysqlstore, pkg/api/operator.go) ----------------
# Staleness is always judged in SQL against the database clock; these are only the windows.
# The SchemaBot ternadmin runs beside (applies.lines): which states it writes, which claim paths
# run, which columns its tables have.
TERNADMIN_SCHEMABOT_LINE = config.env_choice(
    ENV, "TERNADMIN_SCHEMABOT_LINE", config.SCHEMABOT_LINES, default="current"
)
TERNADMIN_STALE_AFTER_SECONDS = config.env_int(
    ENV,
    "TERNADMIN_STALE_AFTER_SECONDS",
    default=config.SCHEMABOT_STALE_AFTER_SECONDS,
    minimum=1,
    maximum=DAY,
)
config.refuse_short_staleness(TERNADMIN_STALE_AFTER_SECONDS, demo=DEMO_MODE)
TERNADMIN_RETRY_BUDGET = config.env_int(
    ENV, "TERNADMIN_RETRY_BUDGET", default=config.SCHEMABOT_RETRY_BUDGET, minimum=1, maximum=1000
)
TERNADMIN_RETRY_FRESHNESS_SECONDS = config.env_int(
    ENV,
    "TERNADMIN_RETRY_FRESHNESS_SECONDS",
    default=config.SCHEMABOT_RETRY_FRESHNESS_SECONDS,
    minimum=1,
    maximum=30 * DAY,
)

# --- Scheduler, sweep and drives ----------------------------------------------------------------
# django-q2's workers: the sweep and the drive loops run on them (applies.drives).
Q_WORKERS = config.env_int(ENV, "TERNADMIN_Q_WORKERS", default=2, minimum=1, maximum=64)
Q_TIMEOUT = config.env_int(ENV, "TERNADMIN_Q_TIMEOUT", default=300, minimum=1, maximum=DAY)
# "loops": drives are rows the drive loops step on the scheduler's workers (applies.drives);
# "inline": each runs to its end in the claimer's process; "manual": recorded and left queued
# for `manage.py drive <id>`.
TERNADMIN_DRIVE_MODE = config.env_choice(
    ENV, "TERNADMIN_DRIVE_MODE", ("loops", "inline", "manual"), default="loops"
)
# How many drive loops run at once, over all nodes: at most the workers less one for the sweep.
TERNADMIN_DRIVE_LOOPS = config.env_drive_loops(
    ENV, "TERNADMIN_DRIVE_LOOPS", workers=Q_WORKERS, needed=TERNADMIN_DRIVE_MODE == "loops"
)
# A drive whose steps fail this many times in a row gives up (the apply goes stale and is
# claimed again); a database refusing connections never counts.
TERNADMIN_DRIVE_MAX_ERRORS = config.env_int(
    ENV, "TERNADMIN_DRIVE_MAX_ERRORS", default=5, minimum=1, maximum=100
)
TERNADMIN_HEARTBEAT_SECONDS = config.env_int(
    ENV, "TERNADMIN_HEARTBEAT_SECONDS", default=10, minimum=1, maximum=HOUR
)
config.refuse_slow_heartbeat(TERNADMIN_HEARTBEAT_SECONDS, TERNADMIN_STALE_AFTER_SECONDS)
# How often a drive polls the engine, and how long it waits for one engine state at most.
TERNADMIN_ENGINE_POLL_SECONDS = config.env_float(
    ENV, "TERNADMIN_ENGINE_POLL_SECONDS", 2.0, maximum=HOUR
)
TERNADMIN_ENGINE_WAIT_SECONDS = config.env_float(
    ENV, "TERNADMIN_ENGINE_WAIT_SECONDS", 1800.0, maximum=7 * DAY
)
TERNADMIN_SWEEP_INTERVAL_SECONDS = config.env_int(
    ENV, "TERNADMIN_SWEEP_INTERVAL_SECONDS", default=60, minimum=60, maximum=DAY
)
TERNADMIN_SWEEP_LIMIT = config.env_int(
    ENV, "TERNADMIN_SWEEP_LIMIT", default=50, minimum=1, maximum=10_000
)
# An apply that stays claimable this many sweep intervals means SchemaBot's own operator is
# not claiming: the dashboard and /metrics raise an alarm.
TERNADMIN_UNCLAIMED_ALARM_INTERVALS = config.env_int(
    ENV, "TERNADMIN_UNCLAIMED_ALARM_INTERVALS", default=3, minimum=1, maximum=1000
)
TERNADMIN_SWEEP_TIME_BUDGET_SECONDS = config.env_int(
    ENV, "TERNADMIN_SWEEP_TIME_BUDGET_SECONDS", default=30, minimum=1, maximum=HOUR
)
# SchemaBot's operator_claim_operations: claim operation rows first, then their parent apply.
# Unset (None) follows the configured line's default (applies.lines.claims_operations).
TERNADMIN_CLAIM_OPERATIONS = (
    config.env_bool(ENV, "TERNADMIN_CLAIM_OPERATIONS", default=False)
    if "TERNADMIN_CLAIM_OPERATIONS" in ENV
    else None
)
TERNADMIN_SWEEP_HISTORY_DAYS = config.env_int(
    ENV, "TERNADMIN_SWEEP_HISTORY_DAYS", default=14, minimum=1, maximum=3650
)
TERNADMIN_BRAKE_MIN_STALE = config.env_int(
    ENV, "TERNADMIN_BRAKE_MIN_STALE", default=20, minimum=1, maximum=1_000_000
)
# A share of the active applies: above 1 the brake could never trip.
TERNADMIN_BRAKE_STALE_SHARE = config.env_float(ENV, "TERNADMIN_BRAKE_STALE_SHARE", 0.5, maximum=1.0)
TERNADMIN_BRAKE_COOLDOWN_SECONDS = config.env_int(
    ENV, "TERNADMIN_BRAKE_COOLDOWN_SECONDS", default=900, maximum=7 * DAY
)
# /metrics needs no login; set a token to require "Authorization: Bearer <token>".
TERNADMIN_METRICS_TOKEN = config.env_str(ENV, "TERNADMIN_METRICS_TOKEN")

# --- Engines ---------------------------------------------------------------------------------
# Which SchemaBot engines ternadmin drives itself (applies/engines); only planetscale has a
# driver, spirit reattaches on its own. An unknown name fails here, not at the first apply.
TERNADMIN_ENGINES = engine_config.env_engines(ENV, "TERNADMIN_ENGINES", ["planetscale"])
# The demo talks to the LocalScale emulator (`manage.py localscale serve`) on this port.
LOCALSCALE_PORT = config.env_port(ENV, "LOCALSCALE_PORT", default=8766)
LOCALSCALE_TIME_SCALE = config.env_float(ENV, "LOCALSCALE_TIME_SCALE", 1.0, maximum=1_000_000)
if LOCALSCALE_INSTALLED:
    from localscale import config as localscale_config

    # Branch connections: the emulator's MySQL-protocol endpoint (`localscale serve` starts it).
    LOCALSCALE_MYSQL_PORT = config.env_port(ENV, "LOCALSCALE_MYSQL_PORT", default=8767)
    # With a server here, every branch keyspace is a real database on it and branch passwords
    # are real accounts; without one (the demo), branches are a schema-only model in the
    # emulator.
    LOCALSCALE_MYSQL_URL = localscale_config.env_mysql_server(ENV, "LOCALSCALE_MYSQL_URL")
    # Branch databases are named <prefix>_<hash>: one prefix per emulator sharing a server.
    LOCALSCALE_DATABASE_PREFIX = localscale_config.env_prefix(
        ENV, "LOCALSCALE_DATABASE_PREFIX", "localscale"
    )
PLANETSCALE_API_URL = engine_config.env_http_url(
    ENV, "PLANETSCALE_API_URL", f"http://127.0.0.1:{LOCALSCALE_PORT}" if DEMO_MODE else ""
)
PLANETSCALE_ORGANIZATION = config.env_str(ENV, "PLANETSCALE_ORGANIZATION") or (
    "ternadmin-demo" if DEMO_MODE else ""
)
# Sent as "Authorization: <id>:<token>"; never logged. Required outside demo mode once a
# PlanetScale apply is driven (checked when the client is built, so a console without
# PlanetScale needs none).
PLANETSCALE_SERVICE_TOKEN_ID = config.env_str(ENV, "PLANETSCALE_SERVICE_TOKEN_ID") or (
    "localscale" if DEMO_MODE else ""
)
PLANETSCALE_SERVICE_TOKEN = config.env_str(ENV, "PLANETSCALE_SERVICE_TOKEN") or (
    "localscale-demo-token" if DEMO_MODE else ""
)
# The console links a deploy request only to https pages of this host; any other URL found
# in resume metadata or an engine answer is shown as text.
PLANETSCALE_APP_HOST = engine_config.env_host(ENV, "PLANETSCALE_APP_HOST", "app.planetscale.com")
PLANETSCALE_TIMEOUT_SECONDS = config.env_int(
    ENV, "PLANETSCALE_TIMEOUT_SECONDS", default=10, minimum=1, maximum=300
)
PLANETSCALE_MAX_RETRIES = config.env_int(
    ENV, "PLANETSCALE_MAX_RETRIES", default=4, minimum=0, maximum=20
)
PLANETSCALE_BACKOFF_SECONDS = config.env_float(ENV, "PLANETSCALE_BACKOFF_SECONDS", 0.5, maximum=60)
# Branch passwords the driver creates for its DDL expire on their own after this long.
PLANETSCALE_PASSWORD_TTL_SECONDS = config.env_int(
    ENV, "PLANETSCALE_PASSWORD_TTL_SECONDS", default=600, minimum=1, maximum=DAY
)
# --- End of engines ----------------------------------------------------------------------------

# --- Console ---------------------------------------------------------------------------------
# An apply whose heartbeat is fresh but whose tasks have not changed for this long is shown as
# "not progressing" (states that idle by design, such as waiting_for_cutover, excepted).
TERNADMIN_NOT_PROGRESSING_SECONDS = config.env_int(
    ENV, "TERNADMIN_NOT_PROGRESSING_SECONDS", default=900, minimum=1, maximum=7 * DAY
)
# How often the dashboard and an apply's page refresh themselves; 0 turns refreshing off.
TERNADMIN_CONSOLE_REFRESH_SECONDS = config.env_int(
    ENV, "TERNADMIN_CONSOLE_REFRESH_SECONDS", default=10, minimum=0, maximum=HOUR
)
# The dashboard calls the sweep overdue when its last pass started longer ago than this.
TERNADMIN_SWEEP_OVERDUE_SECONDS = config.env_int(
    ENV, "TERNADMIN_SWEEP_OVERDUE_SECONDS", default=300, minimum=1, maximum=7 * DAY
)
# How long an apply's page waits for the engine's live answer before saying it is unreachable.
TERNADMIN_ENGINE_PROBE_SECONDS = config.env_int(
    ENV, "TERNADMIN_ENGINE_PROBE_SECONDS", default=3, minimum=1, maximum=60
)
# --- End of console ----------------------------------------------------------------------------

# --- Auth, sessions, static --------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes, applies.logins): failures count per user name and, apart,
# per client address; reaching the limit locks logins out for the cool-off. Bearer tokens
# never authenticate through here.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = config.env_int(
    ENV, "TERNADMIN_LOGIN_FAILURE_LIMIT", default=5, minimum=1, maximum=100
)
AXES_COOLOFF_TIME = timedelta(
    minutes=config.env_int(
        ENV, "TERNADMIN_LOGIN_LOCKOUT_MINUTES", default=15, minimum=1, maximum=24 * 60
    )
)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "applies.logins.locked_out"
AXES_CLIENT_IP_CALLABLE = "applies.logins.client_ip"
AXES_ENABLE_ADMIN = False  # applies.admin.lockouts registers its pages
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = config.env_int(
    ENV, "TERNADMIN_SESSION_SECONDS", default=12 * HOUR, minimum=60, maximum=30 * DAY
)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(config.env_str(ENV, "TERNADMIN_STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEMO_MODE
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# The demo serves static files straight from the source tree, without collectstatic.
WHITENOISE_USE_FINDERS = DEMO_MODE
WHITENOISE_AUTOREFRESH = DEMO_MODE

# --- Scheduler (django-q2) ---------------------------------------------------------------------
# The ORM broker on ``default`` by default; TERNADMIN_REDIS_URL switches to Redis for several
# nodes (all on one broker and one ternadmin database). A sweep pass is short; a drive loop
# hands over at half the timeout, so no task outlives it. The timeout must stay below retry,
# or django-q2 redelivers a task still running: nothing here enforces it, `check` warns (W011).
_redis_url = config.env_redis_url(ENV, "TERNADMIN_REDIS_URL")
Q_CLUSTER: dict[str, object] = {
    "name": config.env_str(ENV, "TERNADMIN_Q_NAME", "ternadmin"),
    **({"redis": _redis_url} if _redis_url else {"orm": "default"}),
    "workers": Q_WORKERS,
    "timeout": Q_TIMEOUT,
    "retry": config.env_int(ENV, "TERNADMIN_Q_RETRY", default=360, minimum=2, maximum=DAY),
    "catch_up": False,
    "save_limit": 250,
    "label": "Scheduler",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "filters": {
        "redact": {"()": "ternadmin.logfilters.RedactSecrets"},
        "one_line_4xx": {"()": "ternadmin.logfilters.ClientErrorsOnOneLine"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact", "one_line_4xx"],
        },
        # runserver's request lines (Django's own handler, plus masking query-string secrets)
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact"],
        },
    },
    "root": {
        "handlers": ["console"],
        "level": config.env_log_level(ENV, "TERNADMIN_LOG_LEVEL", "INFO"),
    },
    "loggers": {
        # One line per HTTP request to the engine is noise at INFO; the client logs failures.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "axes.apps": {"level": "WARNING"},  # its version banner, at every start of every command
        "mysql_mimic": {"level": "WARNING"},  # the emulator's MySQL endpoint: every connection
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

SILENCED_SYSTEM_CHECKS = [
    # django-q2's partial index is skipped on MariaDB; the warning is about its table, not ours.
    "models.W037",
]
if not SECURE_HSTS_PRELOAD:
    # Preloading is a commitment an organisation makes for its whole domain, not a default a
    # tool should make for it; TERNADMIN_HSTS_PRELOAD=1 opts in.
    SILENCED_SYSTEM_CHECKS.append("security.W021")
