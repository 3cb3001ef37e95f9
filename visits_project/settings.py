"""
Settings for the visits project.

Every value comes from the environment (see .env.example) with a safe default.
The exercise's variable names (DB_HOST, DB_NAME, DB_USER, DB_PASS, CACHE_HOST)
are a public interface; extras use the DJANGO_, DB_ and CACHE_ prefixes.
"""

import ipaddress
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key
from redis.backoff import NoBackoff
from redis.retry import Retry

from serving.logs import LOG_FORMATS, logging_config
from visits_project.env import (
    allowed_hosts,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_milliseconds,
    env_networks,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent


# Django's secret key: sessions and admin logins need it to survive restarts.
# Without one, each start generates a random key (with a warning, and the
# visits.W001 check says so), which gunicorn.conf.py shares among workers.
# Every secret may also come from a file: DJANGO_SECRET_KEY_FILE, DB_PASS_FILE...
SECRET_KEY_FROM_ENVIRONMENT = bool(env_secret("DJANGO_SECRET_KEY"))
SECRET_KEY = env_secret("DJANGO_SECRET_KEY") or get_random_secret_key()

# true shows Django's debug pages, tracebacks and settings included, to anyone
# who asks: for development only, so off unless set.
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = allowed_hosts()
# Origins the admin's forms may also be posted from (comma-separated), e.g.
# https://visits.example.com for the admin behind a proxy.
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# The networks of the reverse proxies in front of the app: only a request whose
# socket peer lies in one of them has its X-Forwarded-For read, and gunicorn
# (gunicorn.conf.py) trusts X-Forwarded-Proto from the same ones. None by default.
TRUSTED_PROXIES = env_networks("DJANGO_TRUSTED_PROXIES")
# Retired for DJANGO_TRUSTED_PROXIES: still set, it stops start-up rather than
# leave the proxies it meant silently untrusted.
if env_str("DJANGO_TRUSTED_PROXY_COUNT"):
    raise ImproperlyConfigured(
        "DJANGO_TRUSTED_PROXY_COUNT is no longer read; name your proxies' networks in "
        "DJANGO_TRUSTED_PROXIES instead (e.g. 10.0.0.0/8)."
    )

# Where the admin may be reached from (CIDRs); elsewhere it answers 404. Anywhere when unset.
ADMIN_ALLOWED_NETWORKS = env_networks("DJANGO_ADMIN_ALLOWED_NETWORKS")
# Where Prometheus may scrape /metrics from; elsewhere it answers 404. This host only when unset.
METRICS_ALLOWED_NETWORKS = env_networks("DJANGO_METRICS_ALLOWED_NETWORKS") or [
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "visits",
    "axes",
    "csp",
]

MIDDLEWARE = [
    "visits.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "visits.middleware.AdminNetworkMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "visits.middleware.DatabaseUnavailableMiddleware",
    "axes.middleware.AxesMiddleware",
]

# The admin's messages live in its session, which it has anyway. Django's default
# tries a signed cookie first, and builds that cookie's signer on every request,
# the page's included (docs/benchmark.md, "Cutting per-request work").
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "visits_project.urls"
WSGI_APPLICATION = "visits_project.wsgi.application"

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

# PostgreSQL and Redis, always: the service has no other path. DB_HOST and
# CACHE_HOST default to the exercise's host names on its Docker network, so that
# commands that connect to neither (collectstatic in the image's build,
# makemigrations --check) need no environment; `make run` starts servers of its
# own where they are not set (devservices).

# Seconds a connection attempt to PostgreSQL may take before the page answers 503,
# and how long what was sent to it may go unacknowledged before it is dropped.
_connect_timeout = env_int("DB_CONNECT_TIMEOUT", 3, minimum=1)
# PostgreSQL connections each gunicorn worker's threads share, from Django's
# psycopg pool: replicas x workers x DB_POOL_SIZE bounds a deployment's
# connections, however busy it is (docs/deployment.md, "One meaning of ready, one
# budget of connections"); it cost no throughput beyond the noise (docs/benchmark.md,
# "Persistent connections or psycopg's pool"). 0 turns the pool off: each thread
# keeps a connection of its own for DB_CONN_MAX_AGE seconds.
_pool_size = env_int("DB_POOL_SIZE", 2)
# Seconds a request waits for one of the pool's connections before the page answers
# 503; also how long the pool goes on trying to reconnect while PostgreSQL is away.
_pool_timeout = env_float("DB_POOL_TIMEOUT", 5.0)
_pool = {
    "min_size": 1,
    "max_size": _pool_size,
    # A thread that finds every connection in use waits this long for one, then
    # the page answers 503, as it does when PostgreSQL is away.
    "timeout": _pool_timeout,
    # While PostgreSQL is away the pool tries to connect again and again, ever
    # less often; giving up after as long starts the next request's attempt
    # afresh, so that service resumes within seconds of PostgreSQL's return,
    # not after a wait that grew with the outage.
    "reconnect_timeout": _pool_timeout,
}
DATABASES = {
    "default": {
        # Django's backend, with a health check that needs no query for a
        # persistent connection (DB_POOL_SIZE=0; see its module). The pool checks
        # each connection it lends with a round trip instead.
        "ENGINE": "visits.postgresql",
        # PostgreSQL's host; unset, db, the exercise's container on its Docker
        # network, except under `make run`, which then starts a PostgreSQL of its own.
        "HOST": env_str("DB_HOST") or "db",
        # PostgreSQL's port.
        "PORT": env_int("DB_PORT", 5432, minimum=1),
        # The database that holds the accesses.
        "NAME": env_str("DB_NAME", "visits"),
        # The role the service signs in as; `manage.py ensure_app_role` creates one
        # that is not a superuser and owns DB_NAME.
        "USER": env_str("DB_USER", "postgres"),
        # DB_USER's password. No default: set the one your PostgreSQL server expects.
        "PASSWORD": env_secret("DB_PASS"),
        # Seconds each thread keeps a connection of its own where there is no pool
        # (DB_POOL_SIZE=0); 0 opens one per request. Pooled or persistent,
        # connections are reused across requests; the health check replaces one
        # that broke while PostgreSQL was away (the pool runs it as each request
        # takes a connection).
        "CONN_MAX_AGE": 0 if _pool_size else env_int("DB_CONN_MAX_AGE", 600),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            **({"pool": _pool} if _pool_size else {}),
            "connect_timeout": _connect_timeout,
            # Parameters travel apart from the statement, so that psycopg prepares
            # a statement sent again and again (the page's, from its fifth time on
            # each connection) and PostgreSQL parses and plans it once, not per
            # page view (docs/benchmark.md, "Cutting per-request work"). Django
            # turns preparing off for connection poolers; the service connects
            # to PostgreSQL directly.
            "server_side_binding": True,
            "prepare_threshold": 5,
            # A slow query or a wait for a lock gives up (503) rather than hold
            # a worker's thread; the repair commands set longer ones.
            "options": (
                # Seconds a query may take before it gives up and the page answers 503.
                f"-c statement_timeout={env_milliseconds('DB_STATEMENT_TIMEOUT', 5.0)} "
                # Seconds a wait for a lock may take before it gives up and the page
                # answers 503.
                f"-c lock_timeout={env_milliseconds('DB_LOCK_TIMEOUT', 2.0)}"
            ),
            # ...and when the network to the server is cut, no answer comes at
            # all: the kernel drops the connection once what it sent (a query,
            # or a keepalive probe after a second of waiting for an answer) has
            # gone unacknowledged for as long as connecting may take.
            "tcp_user_timeout": _connect_timeout * 1000,
            "keepalives_idle": 1,
            "keepalives_interval": 1,
        },
    }
}

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": (
            # Redis's host; unset, cache, the exercise's container on its Docker
            # network, except under `make run`, which then starts a Redis of its own.
            f"redis://{env_str('CACHE_HOST') or 'cache'}"
            # Redis's port.
            f":{env_int('CACHE_PORT', 6379, minimum=1)}"
            # The number of the Redis database that holds the counter.
            f"/{env_int('CACHE_DB', 0)}"
        ),
        # Put before every key the service writes, so that several services (the
        # tests, the benchmark) can share one Redis database.
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "visits"),
        "OPTIONS": {
            # Redis's password (its requirepass); none by default.
            "PASSWORD": env_secret("CACHE_PASS") or None,
            # Seconds to wait for Redis, to connect or for an answer, before a visit
            # is reported as not counted.
            "SOCKET_CONNECT_TIMEOUT": env_float("CACHE_TIMEOUT", 1.0),
            "SOCKET_TIMEOUT": env_float("CACHE_TIMEOUT", 1.0),
            # Never resend a command: an INCR whose reply was lost would
            # count one visit twice.
            "CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), 0)},
        },
    }
}

# Failed admin logins are throttled by django-axes: the AXES_FAILURE_LIMIT-th
# failure from one client address, or for one user name, locks it out for
# AXES_COOLOFF_TIME, and its attempts are refused with 429 before any password
# is hashed (its backend comes first). It counts in Redis, so every worker sees
# the same count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "visits.request_details.client_address"
AXES_LOCKOUT_CALLABLE = "visits.views.login_locked_out"
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", "Português (Brasil)"), ("en", "English")]
USE_I18N = True
# The time zone of the times the pages show, as an IANA name (e.g. UTC); the
# database stores them in UTC whatever it is.
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "America/Sao_Paulo")
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic gathers the static files WhiteNoise serves: staticfiles/ in
# the project where it is not set.
STATIC_ROOT = env_str("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# What a page may load and do in the browser: its own scripts, styles and images
# only, and no inline script or style (so an injected one does not run); nobody
# may frame it. The admin's pages live by the same policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Browser features no page here uses, refused to any script that might ask.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "camera", "geolocation", "microphone", "payment", "usb", "serial", "bluetooth",
        "accelerometer", "gyroscope", "magnetometer", "display-capture", "fullscreen",
    )
}  # fmt: skip

# Behind TLS (directly or through a proxy gunicorn trusts), DJANGO_HTTPS=true
# makes cookies secure and redirects plain HTTP; the probes stay reachable (and the scrape,
# which visits.metrics answers before this redirect).
HTTPS = env_bool("DJANGO_HTTPS", False)
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
# Seconds browsers are told to reach the site over HTTPS only (HSTS); 0 sends no
# such header. Browsers remember it: set it once HTTPS works for good.
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
# true: HSTS covers the subdomains too.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
# true: HSTS asks browsers to preload the site (see hstspreload.org before setting it).
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)

# Every line on stdout, its time in UTC; DJANGO_LOG_FORMAT=json for one JSON
# object per line. gunicorn.conf.py sets gunicorn's own loggers the same way.
LOG_FORMAT = env_choice("DJANGO_LOG_FORMAT", "text", LOG_FORMATS)
# The least severe of Django's and the app's lines that are written: DEBUG, INFO,
# WARNING, ERROR or CRITICAL (gunicorn's own follow WEB_LOG_LEVEL).
LOGGING = logging_config(LOG_FORMAT, env_str("DJANGO_LOG_LEVEL", "INFO"))
