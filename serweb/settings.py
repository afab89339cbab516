"""serweb settings: every deployment-specific value comes from an environment variable.

The defaults describe the embedded setup (SQLite, no broker); DEBUG is off unless asked
for. README.md has the full table.
"""

import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from serweb.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_secret_key,
    env_str,
    load_env_file,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# KEY=VALUE lines of .env (if any) fill in what the environment does not set.
load_env_file(Path(env_str("SERWEB_ENV_FILE", str(BASE_DIR / ".env"))))
VAR_DIR = Path(env_str("SERWEB_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

# The embedded default (SQLite in var/, no DATABASE_URL) and development runs keep a key
# generated on first use in var/; any other deployment must set SECRET_KEY.
SECRET_KEY = env_secret_key(
    "SECRET_KEY",
    generated_in=VAR_DIR / "secret_key" if DEBUG or not env_str("DATABASE_URL") else None,
)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# --- HTTPS and the browser's protections -----------------------------------------------------
# A deployment (DATABASE_URL set, DEBUG off) is served over HTTPS: cookies only go over
# it, plain HTTP is redirected, and browsers are told to stay on HTTPS (HSTS). The embedded
# default and development runs stay on plain HTTP. The proxy's lookup and the monitoring
# endpoints are asked over plain HTTP on a private network and are never redirected.
SERWEB_HTTPS = env_bool("SERWEB_HTTPS", bool(env_str("DATABASE_URL")) and not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SERWEB_HTTPS
SECURE_SSL_REDIRECT = SERWEB_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^proxy/lookup$", r"^health$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SERWEB_HSTS_SECONDS", 31_536_000 if SERWEB_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SERWEB_HSTS_INCLUDE_SUBDOMAINS", True)
# Asking browsers' preload lists to hard-code HTTPS for the whole registrable domain is the
# domain owner's decision, not a default: off, and its reminder silenced.
SECURE_HSTS_PRELOAD = env_bool("SERWEB_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Pages load their scripts and styles from serweb alone and run no inline code
# (serweb/security.py sends the policy).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Before allauth: its pages take the portal's templates.
    "portal",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_htmx",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "serweb",
    "api",
    "audit",
    "domains",
    "proxies",
    "subscribers",
    "portability",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "serweb.security.ContentSecurityPolicyMiddleware",
    # One audit group per request, named in the answer's X-Request-Id.
    "audit.middleware.AuditRequestMiddleware",
    # Ahead of the rest, so every answer under /api/ passes it and no body is read before
    # its size is checked.
    "api.middleware.ApiErrorMiddleware",
    # Static files (admin, API docs) without a separate web server or a CDN.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The signed-in user, for the request's log lines.
    "serweb.logging.RequestLogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "serweb.urls"
# The API's JSON answer under /api/, Django's page elsewhere.
CSRF_FAILURE_VIEW = "serweb.views.csrf_failure"
# Requests with a larger body are refused (413 on the API) before anything reads them.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("SERWEB_MAX_REQUEST_BYTES", 2_621_440, minimum=1024)
# The largest CSV file the portal's import takes (file uploads are not request bodies in
# Django's sense: they stream to disk, and this is checked once they have arrived).
SERWEB_IMPORT_MAX_BYTES = env_int("SERWEB_IMPORT_MAX_BYTES", 20_000_000, minimum=1024)

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
                "portal.context_processors.navigation",
            ],
        },
    },
]

# Form fields with their errors beside them (portal/forms/renderer.py).
FORM_RENDERER = "portal.forms.renderer.PortalFormRenderer"

WSGI_APPLICATION = "serweb.wsgi.application"

# A connection is kept for this many seconds and reused by the requests and tasks its
# thread serves (checked before each reuse, so a restarted database costs one error-free
# reconnect): the proxy's lookup of a known name answers in 2.6 ms at p50 instead of
# 11.6 ms, and under load twice or thrice as many times a second (bench/README.md).
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'serweb.sqlite3'}",
        conn_max_age=DATABASE_CONN_MAX_AGE,
        conn_health_checks=DATABASE_CONN_MAX_AGE > 0,
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Signing in (the portal's pages, django-allauth) --------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
# The portal's home sends operators to the dashboard and tenants to their own pages.
LOGIN_REDIRECT_URL = "portal:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "portal.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
# Tenants sign up themselves (portal/forms/signup.py: an account and its tenant at once)
# unless SERWEB_TENANT_SIGNUP is off; operators also create tenants (`tenant add`, the
# tenants page). A new tenant signs in at once and can do nothing until it follows the
# link mailed to its address ("optional" here: allauth's "mandatory" would also lock out
# every account made without an address, operators included; the tenant pages hold the
# line instead, portal/access.py).
SERWEB_TENANT_SIGNUP = env_bool("SERWEB_TENANT_SIGNUP", True)
# The portal's address as people reach it (https://serweb.example.net/): the links in mails
# sent with no request to take it from (a tenant's DNS notices, `tenant invite`).
SERWEB_PUBLIC_URL = env_str("SERWEB_PUBLIC_URL", "").strip()
if SERWEB_PUBLIC_URL and not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", SERWEB_PUBLIC_URL):
    raise ImproperlyConfigured(
        f"SERWEB_PUBLIC_URL: {SERWEB_PUBLIC_URL!r} is not an http:// or https:// address"
    )
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_FORMS = {"signup": "portal.forms.signup.SignUpForm"}
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = env_int("SERWEB_SIGNUP_CONFIRMATION_DAYS", 3, minimum=1)
# A reset asked for an address nobody has sends nothing (and says the same as for a known one).
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[serweb] "
# Failed sign-ins and second-factor codes spend serweb's per-address budget
# (serweb/auth_throttle.py; the API's tokens have one of their own); allauth's limits on them
# are off so that one rule answers. Its others (reset e-mails, password changes) stay, in
# the same cache.
ACCOUNT_RATE_LIMITS = {
    "login": None,
    "login_failed": None,
    # A client address signs up at most this often (a burst of 5, then one every 12 minutes).
    "signup": env_str("SERWEB_SIGNUP_RATE", "5/h/ip"),
}
# --- Tenant self-service (domains/dns/claims.py, the tenant's pages) ------------------------
# What a new tenant may hold (operators change it per tenant): domains and claims waiting
# for DNS proof together, and of those, claims waiting at once.
SERWEB_TENANT_DOMAIN_QUOTA = env_int("SERWEB_TENANT_DOMAIN_QUOTA", 20, minimum=0)
SERWEB_TENANT_PENDING_CLAIMS = env_int("SERWEB_TENANT_PENDING_CLAIMS", 5, minimum=0)
# A claim whose TXT record is not seen this long is dropped (purged by beat, or by
# `serweb housekeeping`); waiting ones are checked again every CLAIM_RETRY minutes.
SERWEB_CLAIM_EXPIRY_HOURS = env_int("SERWEB_CLAIM_EXPIRY_HOURS", 24, minimum=1)
SERWEB_CLAIM_RETRY_MINUTES = env_int("SERWEB_CLAIM_RETRY_MINUTES", 10, minimum=1)
# "Check now" of one claim or domain at most once per this many seconds (pages and API).
SERWEB_CHECK_COOLDOWN_SECONDS = env_int("SERWEB_CHECK_COOLDOWN_SECONDS", 30, minimum=0)
# The transports the proxies offer, as TRANSPORT:PORT (udp, tcp, tls): a tenant is told to
# publish one SRV record per transport and proxy host name.
SERWEB_SIP_TRANSPORTS = env_list("SERWEB_SIP_TRANSPORTS", "udp:5060,tcp:5060,tls:5061")
for _transport in SERWEB_SIP_TRANSPORTS:
    _match = re.fullmatch(r"(udp|tcp|tls):(\d{1,5})", _transport)
    if not _match or not 0 < int(_match.group(2)) < 65536:
        raise ImproperlyConfigured(
            f"SERWEB_SIP_TRANSPORTS: {_transport!r} is not udp:PORT, tcp:PORT or tls:PORT"
        )
# A suspect domain's tenant is warned by e-mail once housekeeping could disable the domain
# within this many hours.
SERWEB_DISABLE_WARNING_HOURS = env_int("SERWEB_DISABLE_WARNING_HOURS", 24, minimum=0)

# Optional authenticator-app codes (TOTP) and recovery codes; the previous and the next
# 30-second step are accepted too, for clocks that drift (RFC 6238, section 5.2).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "serweb"
MFA_TOTP_TOLERANCE = 1
MFA_FORMS = {
    "authenticate": "portal.forms.auth.CodeForm",
    "reauthenticate": "portal.forms.auth.ReauthenticateCodeForm",
}

# --- E-mail (password resets) -------------------------------------------------------------
# The embedded default prints e-mail on the console; a deployment sends it over SMTP.
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if env_str("DATABASE_URL")
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL: set one of them, not both")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "serweb@localhost")

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic gathers files for production; unset, the apps' own folders are served.
STATIC_ROOT = env_str("STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = STATIC_ROOT is None

# One JSON object per line in production (SERWEB_LOG_FORMAT=json, the default with DEBUG
# off), with the request id (also the audit group, and what X-Request-Id answers) and the
# acting user; plain lines for development.
SERWEB_LOG_FORMAT = env_str("SERWEB_LOG_FORMAT", "text" if DEBUG else "json")
if SERWEB_LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"SERWEB_LOG_FORMAT={SERWEB_LOG_FORMAT!r}: json or text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "drop_lookup_not_found": {"()": "serweb.logging.DropLookupNotFound"},
        "request_context": {"()": "serweb.logging.RequestContext"},
    },
    "formatters": {
        "json": {"()": "serweb.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": SERWEB_LOG_FORMAT,
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # "Not ours" answers of the proxy's lookup are not broken links (serweb/logging.py).
        "django.request": {"filters": ["drop_lookup_not_found"]},
    },
}
# A line per task run is a worker's business, not a command's or a web request's.
if not env_str("CELERY_BROKER_URL"):
    LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}

# --- Cache (throttling, lookups) ----------------------------------------------------------
# A shared cache (Redis) keeps per-token budgets across processes; the default is per process.
CACHE_URL = env_str("CACHE_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Keys of several sites (or test runs) sharing one Redis database stay apart.
CACHES["default"]["KEY_PREFIX"] = env_str("CACHE_KEY_PREFIX", "serweb")

# --- Guessing is slow (serweb/auth_throttle.py) --------------------------------------------
# Per client address: failed sign-ins and second-factor codes (the portal's sign-in, which
# the admin uses too) and failed API token authentications each have this many tries per
# window of seconds, then wait for the window's end.
SERWEB_AUTH_FAILURE_LIMIT = env_int("SERWEB_AUTH_FAILURE_LIMIT", 10, minimum=1)
SERWEB_AUTH_FAILURE_WINDOW = env_int("SERWEB_AUTH_FAILURE_WINDOW", 300, minimum=1)
# How many reverse proxies in front of serweb add to X-Forwarded-For; 0: the client is the
# peer address (a header anyone can send is not believed).
SERWEB_HTTP_PROXIES = env_int("SERWEB_HTTP_PROXIES", 0, minimum=0)
# allauth's own limits (password reset e-mails) count the same client address.
ALLAUTH_TRUSTED_PROXY_COUNT = SERWEB_HTTP_PROXIES
# Behind trusted reverse proxies that end TLS, their X-Forwarded-Proto says whether the
# client came over HTTPS (deploy/nginx sets it; a header anyone sends is not believed).
if SERWEB_HTTP_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TokenAuthentication",
        # Browser sessions; DRF enforces CSRF on their writes.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsOperatorOrTenant"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.StableCursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["api.filters.FilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.PerTokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": env_str("SERWEB_API_RATE", "6000/min")},
    "NUM_PROXIES": SERWEB_HTTP_PROXIES,
    "DEFAULT_SCHEMA_CLASS": "api.schema.SerwebAutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_METADATA_CLASS": "api.metadata.ResourceMetadata",
}
# A request with the Idempotency-Key of one still running waits this long for its answer,
# then gets a 409 (api/idempotency.py).
SERWEB_IDEMPOTENCY_WAIT_SECONDS = env_int("SERWEB_IDEMPOTENCY_WAIT_SECONDS", 10, minimum=1)
SPECTACULAR_SETTINGS = {
    "TITLE": "serweb API",
    "DESCRIPTION": "Provisioning of SIP domains, subscribers and proxies for Kamailio.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two choice sets share the field name "state": each gets a name of its own.
    "ENUM_NAME_OVERRIDES": {
        "DomainStateEnum": "domains.models.DomainState",
        "JobStateEnum": "api.models.Job.State",
    },
}

# --- Celery -------------------------------------------------------------------------------
# Without a broker (the embedded default) tasks run in-process, after the commit that
# scheduled them.
CELERY_TASK_ALWAYS_EAGER = not env_str("CELERY_BROKER_URL")
# Eager mode still builds a connection object; an in-memory one needs no server.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "memory://localhost/"
# The queue the web, worker and beat processes of one installation share on the broker;
# installations sharing a broker (one Redis database) each need their own.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360, minimum=1)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# --- The proxy contract -------------------------------------------------------------------
# The PostgreSQL schema holding the relations Kamailio reads (domain, domain_attrs, ...).
SERWEB_PROXY_SCHEMA = env_str("SERWEB_PROXY_SCHEMA", "kamailio")
if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", SERWEB_PROXY_SCHEMA):
    raise ImproperlyConfigured(
        f"SERWEB_PROXY_SCHEMA={SERWEB_PROXY_SCHEMA!r}: use a lower-case SQL identifier"
    )
# How the proxies load per-domain attributes: "domain_attrs" (the domain module, with the
# domain tables; its load time is quadratic in the domains that have attributes) or
# "htable" (the reference configuration's WITH_HTABLE_ATTRS variant: the htable module
# loads domain_attrs_htable, linear; every reload also sends htable.reload).
SERWEB_PROXY_ATTRIBUTES = env_str("SERWEB_PROXY_ATTRIBUTES", "domain_attrs")
if SERWEB_PROXY_ATTRIBUTES not in ("domain_attrs", "htable"):
    raise ImproperlyConfigured(
        f"SERWEB_PROXY_ATTRIBUTES={SERWEB_PROXY_ATTRIBUTES!r}: use domain_attrs or htable"
    )
# The name of that hash table in the proxy's configuration (htable's "htable" parameter).
SERWEB_PROXY_HTABLE = env_str("SERWEB_PROXY_HTABLE", "domattrs")
# How the proxies look up domain names: "domain" (the domain module, whose every change
# is a full domain.reload) or "htable" (the reference configuration's WITH_HTABLE_DOMAINS
# variant: names and attributes in hash tables of module htable, sent change by change
# with htable.sets/htable.delete; attributes then come from htable whatever
# SERWEB_PROXY_ATTRIBUTES says).
SERWEB_PROXY_DOMAINS = env_str("SERWEB_PROXY_DOMAINS", "domain")
if SERWEB_PROXY_DOMAINS not in ("domain", "htable"):
    raise ImproperlyConfigured(
        f"SERWEB_PROXY_DOMAINS={SERWEB_PROXY_DOMAINS!r}: use domain or htable"
    )
# The name of the hash table of names in the proxy's configuration.
SERWEB_PROXY_DOMAINS_HTABLE = env_str("SERWEB_PROXY_DOMAINS_HTABLE", "domnames")
# The hash table in which the proxies remember the lookup's "not ours" answers (the
# reference configuration's WITH_LOOKUP: lookupneg); a name that becomes served is deleted
# from it. Empty: the proxies keep no such table.
SERWEB_PROXY_NEGATIVE_HTABLE = env_str("SERWEB_PROXY_NEGATIVE_HTABLE", "")
# In that mode, a proxy more than this many changed keys (names and attributes) behind
# gets a full htable.reload of both tables instead of the changes one by one.
SERWEB_PROXY_INCREMENTAL_MAX = env_int("SERWEB_PROXY_INCREMENTAL_MAX", 2000, minimum=0)

# What "points at us" means for DNS checks: the proxies' host names and addresses.
SERWEB_PROXY_HOSTNAMES = env_list("SERWEB_PROXY_HOSTNAMES")
SERWEB_PROXY_ADDRESSES = env_list("SERWEB_PROXY_ADDRESSES")

# Keep subscribers' clear-text passwords (off: only the HA1 hashes are stored, and those
# kept while it was on are forgotten).
SERWEB_STORE_CLEAR_PASSWORDS = env_bool("SERWEB_STORE_CLEAR_PASSWORDS", False)
SERWEB_MIN_PASSWORD_LENGTH = env_int("SERWEB_MIN_PASSWORD_LENGTH", 8, minimum=1)

# --- DNS verification, housekeeping and the proxy's on-demand lookup ----------------------
# DNS.md has the policy. Durations are whole hours/days/minutes; the lifecycle is
# active -> suspect (first negative) -> disabled (enough negatives over the grace period,
# confirmed by the domain's authoritative servers) -> removed (after the second grace).

# address[:port] or [v6]:port, comma-separated; empty: the system resolver (resolv.conf).
SERWEB_DNS_NAMESERVERS = env_list("SERWEB_DNS_NAMESERVERS")
for _nameserver in SERWEB_DNS_NAMESERVERS:
    if not re.fullmatch(
        r"(\[[0-9a-fA-F:]+\](:\d{1,5})?|[0-9.]+(:\d{1,5})?|[0-9a-fA-F:]*:[0-9a-fA-F:]*)",
        _nameserver,
    ):
        raise ImproperlyConfigured(
            f"SERWEB_DNS_NAMESERVERS: {_nameserver!r} is not address[:port] or [v6]:port"
        )
SERWEB_DNS_TIMEOUT_MS = env_int("SERWEB_DNS_TIMEOUT_MS", 2000, minimum=1)
SERWEB_DNS_LIFETIME_MS = env_int("SERWEB_DNS_LIFETIME_MS", 5000, minimum=1)
SERWEB_DNS_CONCURRENCY = env_int("SERWEB_DNS_CONCURRENCY", 100, minimum=1)
SERWEB_DNS_CHUNK_SIZE = env_int("SERWEB_DNS_CHUNK_SIZE", 1000, minimum=1)
# The port authoritative servers are asked on when confirming a disable (53 but in labs).
SERWEB_DNS_AUTHORITY_PORT = env_int("SERWEB_DNS_AUTHORITY_PORT", 53, minimum=1)
# Names never served (claims, auto-learning), matched on whole labels; add the operator's
# own zone.
SERWEB_DNS_RESERVED_SUFFIXES = env_list(
    "SERWEB_DNS_RESERVED_SUFFIXES", "localhost,local,invalid,test,example,onion,internal,alt,arpa"
)
# The TXT labels: _<label>-challenge.<domain> (ownership), _<label>-config.<domain>
# (RFC 1464 attributes).
SERWEB_DNS_LABEL = env_str("SERWEB_DNS_LABEL", "serweb")
if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,40}", SERWEB_DNS_LABEL):
    raise ImproperlyConfigured(f"SERWEB_DNS_LABEL={SERWEB_DNS_LABEL!r}: use a-z, 0-9 and '-'")
SERWEB_DNS_ALLOW_PARTIAL = env_bool("SERWEB_DNS_ALLOW_PARTIAL", False)
SERWEB_DNS_AUTO_LEARN = env_bool("SERWEB_DNS_AUTO_LEARN", False)
SERWEB_DNS_IMPORT_ATTRIBUTES = env_bool("SERWEB_DNS_IMPORT_ATTRIBUTES", True)
SERWEB_DNS_NEGATIVES_TO_DISABLE = env_int("SERWEB_DNS_NEGATIVES_TO_DISABLE", 3, minimum=1)
SERWEB_DNS_NEGATIVE_SPACING_HOURS = env_int("SERWEB_DNS_NEGATIVE_SPACING_HOURS", 6, minimum=0)
SERWEB_DNS_DISABLE_GRACE_HOURS = env_int("SERWEB_DNS_DISABLE_GRACE_HOURS", 72, minimum=0)
SERWEB_DNS_REMOVE_GRACE_DAYS = env_int("SERWEB_DNS_REMOVE_GRACE_DAYS", 30, minimum=0)
SERWEB_DNS_CHECK_INTERVAL_HOURS = env_int("SERWEB_DNS_CHECK_INTERVAL_HOURS", 6, minimum=1)
SERWEB_DNS_HOUSEKEEPING_EVERY_MINUTES = env_int(
    "SERWEB_DNS_HOUSEKEEPING_EVERY_MINUTES", 15, minimum=1
)
SERWEB_DNS_UNKNOWN_ALERT = env_int("SERWEB_DNS_UNKNOWN_ALERT", 8, minimum=1)
# Names that must always point at us; if one does not, a run changes nothing.
SERWEB_DNS_CANARIES = env_list("SERWEB_DNS_CANARIES")
# Circuit breaker: a run turns at most this share (or this many) domains negative.
SERWEB_DNS_BREAKER_PERCENT = env_int("SERWEB_DNS_BREAKER_PERCENT", 1, minimum=0)
SERWEB_DNS_BREAKER_MINIMUM = env_int("SERWEB_DNS_BREAKER_MINIMUM", 20, minimum=0)

# The on-demand lookup (GET /proxy/lookup?host=H): answers for known hosts are kept this
# long per process; an unknown host is looked up in DNS at most once per negative TTL, and
# at most this many unknown hosts per minute overall. A "not ours" answer tells the proxy
# to remember it as long (its "ttl"; the reference kamailio.cfg holds it 600 s at most).
SERWEB_LOOKUP_CACHE_SECONDS = env_int("SERWEB_LOOKUP_CACHE_SECONDS", 5, minimum=0)
SERWEB_LOOKUP_NEGATIVE_TTL = env_int("SERWEB_LOOKUP_NEGATIVE_TTL", 300, minimum=1, maximum=86400)
SERWEB_LOOKUP_DNS_PER_MINUTE = env_int("SERWEB_LOOKUP_DNS_PER_MINUTE", 60, minimum=0)
# Each of those holds a web worker: for this long at most (below the proxy's own timeout,
# 2 s in the reference kamailio.cfg), and at most this many at once on one host (fewer
# than its web workers, so the others stay free for known hosts and pages).
SERWEB_LOOKUP_DNS_MS = env_int("SERWEB_LOOKUP_DNS_MS", 1000, minimum=1)
SERWEB_LOOKUP_DNS_AT_ONCE = env_int("SERWEB_LOOKUP_DNS_AT_ONCE", 1, minimum=0)
# Who may ask (the proxies), as addresses or networks.
SERWEB_LOOKUP_CLIENTS = env_list("SERWEB_LOOKUP_CLIENTS", "127.0.0.1/32,::1/128")
# Who may read /health and /metrics (load balancers, Prometheus): they name the proxies.
SERWEB_MONITORING_CLIENTS = env_list("SERWEB_MONITORING_CLIENTS", "127.0.0.1/32,::1/128")
# prometheus-client reads it itself, from the environment, in every process (serweb/metrics.py).
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")

CELERY_BEAT_SCHEDULE = globals().get("CELERY_BEAT_SCHEDULE", {})
CELERY_BEAT_SCHEDULE["dns-housekeeping"] = {
    "task": "domains.dns.tasks.housekeeping",
    "schedule": SERWEB_DNS_HOUSEKEEPING_EVERY_MINUTES * 60.0,
}

# Expired claims are dropped and the waiting ones checked again (domains/dns/claims.py).
CELERY_BEAT_SCHEDULE["dns-claims"] = {
    "task": "domains.dns.tasks.claims_retry",
    "schedule": SERWEB_CLAIM_RETRY_MINUTES * 60.0,
}

# Clear passwords kept while SERWEB_STORE_CLEAR_PASSWORDS was on are forgotten once it is
# off (subscribers/services.py); without a broker, `serweb housekeeping` forgets them.
CELERY_BEAT_SCHEDULE["subscribers-forget-clear-passwords"] = {
    "task": "subscribers.tasks.forget_clear_passwords",
    "schedule": 3600.0,
}

# Answers kept for Idempotency-Key retries expire after a day (api/services.py).
CELERY_BEAT_SCHEDULE["api-idempotency-purge"] = {
    "task": "api.tasks.purge_idempotency_records",
    "schedule": 3600.0,
}

# --- Proxy reloads (proxies/reload.py) ------------------------------------------------------
# Seconds: a domain.reload reply, any other RPC, one SIP OPTIONS probe.
SERWEB_RELOAD_TIMEOUT = env_int("SERWEB_RELOAD_TIMEOUT", 10, minimum=1)
SERWEB_PROXY_RPC_TIMEOUT = env_int("SERWEB_PROXY_RPC_TIMEOUT", 3, minimum=1)
SERWEB_PROBE_TIMEOUT = env_int("SERWEB_PROBE_TIMEOUT", 2, minimum=1)
# Milliseconds each proxy has to say where a subscriber is registered (the subscriber's
# page asks every proxy at once, after the page itself has loaded).
SERWEB_REGISTRATIONS_TIMEOUT_MS = env_int("SERWEB_REGISTRATIONS_TIMEOUT_MS", 1000, minimum=50)
# With a broker, a reload waits until no change came for QUIET seconds, at most MAX_WAIT;
# a proxy that is down is retried with backoff up to RETRY_MAX seconds apart.
SERWEB_RELOAD_QUIET = env_int("SERWEB_RELOAD_QUIET_MS", 500, minimum=0) / 1000
SERWEB_RELOAD_MAX_WAIT = env_int("SERWEB_RELOAD_MAX_WAIT", 10, minimum=0)
SERWEB_RELOAD_RETRY_MAX = env_int("SERWEB_RELOAD_RETRY_MAX", 30, minimum=1)
# The first retry waits about RETRY_BASE seconds, each further one twice as long.
SERWEB_RELOAD_RETRY_BASE = env_int("SERWEB_RELOAD_RETRY_BASE", 1, minimum=1)
# A reload's claim on its proxy (one reload at a time) is taken over after this many
# seconds: a worker killed mid-reload must not block the proxy for ever, and a reload that
# still runs in Kamailio must not get a second one beside it.
SERWEB_RELOAD_CLAIM_TTL = env_int("SERWEB_RELOAD_CLAIM_TTL", SERWEB_RELOAD_TIMEOUT + 50, minimum=1)
if SERWEB_RELOAD_CLAIM_TTL <= SERWEB_RELOAD_TIMEOUT:
    raise ImproperlyConfigured(
        f"SERWEB_RELOAD_CLAIM_TTL={SERWEB_RELOAD_CLAIM_TTL}: must be longer than "
        f"SERWEB_RELOAD_TIMEOUT ({SERWEB_RELOAD_TIMEOUT})"
    )
# After a reload, at most this many names of the changed domains are probed (SIP OPTIONS);
# 0: none.
SERWEB_PROBE_NAMES = env_int("SERWEB_PROBE_NAMES", 5, minimum=0)
# A reload goes ahead only if the proxy's free shared memory holds the estimated tables
# times SAFETY (less the copy the reload frees, once there is one) beside RESERVE bytes (or
# a tenth of the total, if more) kept free for calls and registrations (proxies/memory.py).
SERWEB_PROXY_SHM_RESERVE = env_int("SERWEB_PROXY_SHM_RESERVE", 4 * 1024 * 1024, minimum=0)
SERWEB_PROXY_SHM_SAFETY = env_float("SERWEB_PROXY_SHM_SAFETY", 1.25, minimum=1.0)
# The drift check: proxies behind or holding stale data are reloaded.
SERWEB_DRIFT_CHECK_SECONDS = env_int("SERWEB_DRIFT_CHECK_SECONDS", 60, minimum=10)
CELERY_BEAT_SCHEDULE["proxy-drift-check"] = {
    "task": "proxies.tasks.proxy_drift_check",
    "schedule": float(SERWEB_DRIFT_CHECK_SECONDS),
}
