"""Settings for the Gap Portal, read entirely from the environment.

Unset, the variables give the embedded default used by ``make run``: SQLite, Celery tasks run
in-process, email printed to the console, the built-in XPM sandbox, ``DEBUG=True``. Set, they give
production: PostgreSQL, Redis-backed Celery and cache, SMTP, real Xero. ``.env.example`` lists them.
"""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
# With DEBUG on, Django answers an unknown address with a page listing every URL pattern. The
# built-in setup runs with DEBUG on, so it shows the portal's own "Page not found" instead;
# a developer who wants Django's page sets SHOW_DEBUG_404=true.
SHOW_DEBUG_404 = env.bool("SHOW_DEBUG_404", default=False)

# A development key is only ever used with DEBUG on; production must bring its own.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The public address of the portal, used in emails and as the base of the OAuth redirect URI
# (never taken from the Host header).
# localhost rather than 127.0.0.1: browsers refuse passkeys on a bare IP address.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp_webauthn",
    "accounts",
    "clients",
    "xpmsync",
]
if DEBUG:
    # Benchmarks and the load run (make bench, make load): production never installs them.
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "gapportal.middleware.PrivatePageHeadersMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.ForbiddenLogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionLifetimeMiddleware",
    "accounts.sessions.SessionRecordMiddleware",
    "accounts.middleware.MfaEnforcementMiddleware",
    "accounts.time_zone.FirmTimeZoneMiddleware",
    "gapportal.not_found.PortalNotFoundMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if not DEBUG:
    # runserver serves static files in development; whitenoise serves them in production.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "gapportal.urls"
WSGI_APPLICATION = "gapportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "xpmsync.context_processors.reconnect_banner",
            ],
        },
    },
]

# --- Data ---------------------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if not REDIS_URL and not DEBUG:
    # Without a broker, syncs would run inside web requests: fine for development only.
    raise ImproperlyConfigured(
        "REDIS_URL must be set when DEBUG is off: syncs run on Celery workers, never in the "
        "web process."
    )
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that stops answering fails the call instead of holding a thread for ever.
            "OPTIONS": {"socket_timeout": 10, "socket_connect_timeout": 5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -------------------------------------------------------------------------------------

# Without Redis, tasks run in-process: the embedded default needs no worker.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# In-process tasks behave like a worker's: their failures are recorded on the SyncRun, not
# raised into the web request that queued them. Eager mode ignores a retry's countdown, so the
# sync task waits itself, up to XPM_IN_PROCESS_MAX_WAIT seconds a retry.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged when it ends, so a worker that dies mid-task leaves it in the queue;
# reject-on-worker-lost puts it back at once rather than after the visibility timeout. The run
# it carries is claimed at most once (its row is the lock): a redelivered task whose run another
# worker still holds waits for that lease to end, then takes the run over or finds it done.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A worker reserves one task beyond those it runs, so a long sync never hoards short ones.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Queues: syncs on "sync", full syncs of large practices on "sync_large" (a worker of their own,
# so a 50,000-client practice never holds up a 10-client one), and email, the dispatcher and
# upkeep on "default", which a burst of syncs never delays. docs/scaling.md sizes each.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"xpmsync.tasks.sync_firm_task": {"queue": "sync"}}
# A practice whose last full list held more clients than this syncs on the "sync_large" queue.
XPM_LARGE_PRACTICE_CLIENTS = env.int("XPM_LARGE_PRACTICE_CLIENTS", default=5000)
# Shrinks the sync schedule's day and intervals this many times: for the fleet simulation's
# compressed day only (manage.py simulate_fleet), never in a deployment.
XPM_SCHEDULE_COMPRESSION = env.int("XPM_SCHEDULE_COMPRESSION", default=1)
if XPM_SCHEDULE_COMPRESSION != 1 and not DEBUG:
    raise ImproperlyConfigured("XPM_SCHEDULE_COMPRESSION is for simulations: set it to 1.")
CELERY_TIMEZONE = "UTC"
# Only JSON crosses the broker: a pickled message could run code in the worker.
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# Redis redelivers a task still unacknowledged after the visibility timeout, so every time limit
# and retry countdown stays below it: soft_time_limit < time_limit < visibility_timeout.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_SOFT_TIME_LIMIT = 1500
CELERY_TASK_TIME_LIMIT = 1800
# Sync workers run a pool of threads (a sync mostly waits for Xero), where Celery's time limits
# do not apply: a sync checks this limit itself as it downloads and applies, and stops.
XPM_RUN_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT
CELERY_BEAT_SCHEDULE = {
    # Queues each connected firm's daily full sync when it is due, spread over the hour, and
    # its quick syncs in between (every 15 minutes to 4 hours, a setting of the connection).
    # (xpmsync.schedule.DISPATCH_EVERY: the schedule counts on this interval.)
    "dispatch-xpm-syncs": {"task": "xpmsync.tasks.dispatch_due_syncs", "schedule": 300.0},
    # Deletes CSV import previews (and the client rows they hold) left unapplied for a day.
    "delete-abandoned-imports": {
        "task": "clients.tasks.delete_abandoned_imports",
        "schedule": 3600.0,
    },
    # Deletes client timeline entries older than TIMELINE_RETENTION_DAYS.
    "prune-timeline": {"task": "clients.tasks.prune_timeline", "schedule": 86400.0},
    # MFA reminders to users of firms that require it (each at most every 3 days, 3 in all)
    # and, on Monday mornings in Australia (Sunday 22:00 UTC), the digest to admins.
    "send-mfa-reminders": {"task": "accounts.tasks.dispatch_mfa_reminders", "schedule": 3600.0},
    "send-mfa-digests": {
        "task": "accounts.tasks.dispatch_mfa_digests",
        "schedule": crontab(minute=0, hour=22, day_of_week="sun"),
    },
}

# --- Email --------------------------------------------------------------------------------------


def _mailer(url_config: dict) -> dict:
    """Turn django-environ's EMAIL_* dict for EMAIL_URL into a Django 6.1 MAILERS entry."""
    backend = url_config["EMAIL_BACKEND"]
    if not backend.endswith("smtp.EmailBackend"):
        return {"BACKEND": backend}
    options = {
        "host": url_config["EMAIL_HOST"],
        "port": url_config["EMAIL_PORT"],
        "username": url_config["EMAIL_HOST_USER"] or "",
        "password": url_config["EMAIL_HOST_PASSWORD"] or "",
        "use_tls": url_config.get("EMAIL_USE_TLS", False),
        "use_ssl": url_config.get("EMAIL_USE_SSL", False),
        "timeout": 20,
    }
    return {"BACKEND": backend, "OPTIONS": options}


MAILERS = {"default": _mailer(env.email_url_config(env.str("EMAIL_URL", default="consolemail://")))}
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="The Gap Portal <no-reply@gapportal.local>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Accounts, sessions and passwords -----------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = int(timedelta(hours=2).total_seconds())

# Sessions live on the server (database, or Redis when configured). The cookie's age is the
# absolute lifetime; SessionLifetimeMiddleware adds the idle timeout and enforces both.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if REDIS_URL
    else "django.contrib.sessions.backends.db"
)
SESSION_COOKIE_AGE = int(timedelta(hours=12).total_seconds())
SESSION_IDLE_TIMEOUT = int(timedelta(minutes=30).total_seconds())
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# TOTP: 30-second steps, one step of tolerance each way (django-otp's defaults), the issuer
# shown in authenticator apps, and the exponential delay after wrong codes (1 s, 2 s, 4 s, ...).
OTP_TOTP_ISSUER = "The Gap Portal"
OTP_TOTP_THROTTLE_FACTOR = 1
# The Django admin never shows a TOTP key or its QR code, even to platform operators.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# A password entry this recent lets a user enrol in MFA without typing it again.
RECENT_PASSWORD_SECONDS = 10 * 60

# Passkeys and security keys (django-otp-webauthn), a second factor only: the relying party is
# SITE_URL's host and its origin the only one allowed. Passwordless login (the library's
# default) stays off, or a passkey alone would skip the password.
OTP_WEBAUTHN_RP_ID = env.str("WEBAUTHN_RP_ID", default=urlsplit(SITE_URL).hostname or "")
OTP_WEBAUTHN_RP_NAME = "The Gap Portal"
OTP_WEBAUTHN_ALLOWED_ORIGINS = [
    "{0.scheme}://{0.netloc}".format(urlsplit(SITE_URL)),
]
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
OTP_WEBAUTHN_TIMEOUT_SECONDS = 120
if not DEBUG:
    from accounts.relying_party import check_relying_party

    check_relying_party(SITE_URL, OTP_WEBAUTHN_RP_ID)

# Failed password logins: refused for LOGIN_THROTTLE_WINDOW seconds once an account, or one
# client address, reaches its limit. An office behind one address gets the larger limit.
LOGIN_THROTTLE_WINDOW = env.int("LOGIN_THROTTLE_WINDOW", default=15 * 60)
LOGIN_THROTTLE_PER_ACCOUNT = env.int("LOGIN_THROTTLE_PER_ACCOUNT", default=5)
LOGIN_THROTTLE_PER_IP = env.int("LOGIN_THROTTLE_PER_IP", default=30)
# How many reverse proxies we sit behind; the client address is read from X-Forwarded-For only
# as far as they vouch for it.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Xero Practice Manager ----------------------------------------------------------------------

XERO_CLIENT_ID = env.str("XERO_CLIENT_ID", default="")
XERO_CLIENT_SECRET = env.str("XERO_CLIENT_SECRET", default="")
XERO_SCOPES = ["openid", "profile", "email", "offline_access", "practicemanager.client.read"]
# Never built from the Host header.
XERO_REDIRECT_URI = SITE_URL + "/xpm/callback/"
# Without Xero credentials the portal talks to its built-in sandbox (never with DEBUG off),
# over HTTP and through the same code as real Xero: only these addresses differ.
XPM_SANDBOX = not XERO_CLIENT_ID
if XPM_SANDBOX:
    if not DEBUG:
        raise ImproperlyConfigured(
            "XERO_CLIENT_ID and XERO_CLIENT_SECRET must be set when DEBUG is off: "
            "the built-in XPM sandbox only runs in development."
        )
    INSTALLED_APPS.append("xpmsync.sandbox")
    XERO_CLIENT_ID = "gap-portal-sandbox"
    XERO_CLIENT_SECRET = "sandbox-secret"  # noqa: S105 (the sandbox's own, public)
    # The built-in sandbox, or another Xero look-alike (the fleet simulation serves one).
    _SANDBOX = env.str("XERO_SANDBOX_URL", default=SITE_URL + "/xero-sandbox").rstrip("/")
    XERO_AUTHORIZE_URL = _SANDBOX + "/identity/connect/authorize"
    XERO_TOKEN_URL = _SANDBOX + "/identity/connect/token"
    XERO_REVOCATION_URL = _SANDBOX + "/identity/connect/revocation"
    XERO_CONNECTIONS_URL = _SANDBOX + "/api/connections"
    XERO_ID_TOKEN_ISSUER = _SANDBOX + "/identity"
    XPM_API_URL = _SANDBOX + "/api/practicemanager/3.1/"
    # oauthlib insists on HTTPS; the sandbox on 127.0.0.1 speaks plain HTTP.
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    # How many clients the sandbox's generated practice has.
    XPM_SANDBOX_CLIENTS = env.int("XPM_SANDBOX_CLIENTS", default=40)
else:
    XERO_AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
    XERO_TOKEN_URL = "https://identity.xero.com/connect/token"  # noqa: S105 (a URL)
    XERO_REVOCATION_URL = "https://identity.xero.com/connect/revocation"
    XERO_CONNECTIONS_URL = "https://api.xero.com/connections"
    XERO_ID_TOKEN_ISSUER = "https://identity.xero.com"  # noqa: S105 (a URL)
    XPM_API_URL = "https://api.xero.com/practicemanager/3.1/"
# Xero's limits on calls to a tenant (a minute, a day) and on the app's calls to all tenants (a
# minute), kept by xpmsync.ratelimit in Redis for every worker. Xero's own; lower only to test.
XERO_RATE_LIMITS = {
    "minute": env.int("XERO_MINUTE_LIMIT", default=60),
    "day": env.int("XERO_DAY_LIMIT", default=5000),
    "app_minute": env.int("XERO_APP_MINUTE_LIMIT", default=10000),
}
# Seconds: connect/read for ordinary calls; the client list can take minutes to arrive.
XERO_TIMEOUT = (10, 30)
# A list that would archive more than this share of the firm's synced clients (and at least
# XPM_HOLD_MIN_CLIENTS of them), or an empty one, is held for an admin's review.
XPM_HOLD_SHARE = env.float("XPM_HOLD_SHARE", default=0.10)
XPM_HOLD_MIN_CLIENTS = env.int("XPM_HOLD_MIN_CLIENTS", default=20)
# Each client's change timeline (what syncs, edits and imports changed), kept this long.
XPM_TIMELINE = True
TIMELINE_RETENTION_DAYS = env.int("TIMELINE_RETENTION_DAYS", default=730)
# The longest an in-process (eager) sync waits before a retry: the web request is waiting too.
XPM_IN_PROCESS_MAX_WAIT = 15
# Connect, and wait for each read of the client list: XPM takes a minute or more to begin
# answering for the largest practices. A run stops itself XPM_RUN_TIME_LIMIT after it began,
# checking as each chunk arrives, so one stalled read still ends inside its lease.
XPM_LIST_TIMEOUT = (10, 300)
# The largest client list accepted (a 50,000-client practice sends about 60 MB). It is spooled to
# a temporary file past XPM_LIST_SPOOL_IN_MEMORY, so memory stays flat whatever its size.
XPM_LIST_MAX_BYTES = 512 * 2**20
XPM_LIST_SPOOL_IN_MEMORY = 8 * 2**20
# Keys for encrypting OAuth tokens at rest (Fernet), newest first: add a new key in front to
# rotate; old tokens still decrypt with the keys behind it.
TOKEN_ENCRYPTION_KEYS = env.list("TOKEN_ENCRYPTION_KEY", default=[])
if not TOKEN_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured("TOKEN_ENCRYPTION_KEY must be set when DEBUG is off.")

# --- Security headers ---------------------------------------------------------------------------

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF, "https://login.xero.com"],
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    if TRUSTED_PROXY_COUNT > 0:
        # Only a proxy we sit behind may say the request came over HTTPS; without one, anyone
        # could send the header.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int(
        "SECURE_HSTS_SECONDS", default=int(timedelta(days=365).total_seconds())
    )
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # __Host- cookies are refused by browsers unless Secure, Path=/ and without a Domain, so
    # neither a subdomain nor a plain-HTTP page can set or shadow them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

# --- Uploads ------------------------------------------------------------------------------------

# The only uploads are CSV client lists (clients/csv_import.py allows 1 MiB).
MAX_UPLOAD_BYTES = 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "gapportal.uploads.SizeLimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

# --- Static files, i18n -------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LANGUAGE_CODE = "en-au"
# The zone of pages nobody signed in to sees (login); a firm's members see their firm's own
# (Firm.time_zone, activated per request by FirmTimeZoneMiddleware).
TIME_ZONE = env.str("TIME_ZONE", default="Australia/Sydney")
USE_I18N = True
USE_TZ = True

# --- Logging ------------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # requests-oauthlib logs access and refresh tokens at DEBUG.
        "requests_oauthlib": {"level": "WARNING", "propagate": True},
        "oauthlib": {"level": "WARNING", "propagate": True},
    },
}
