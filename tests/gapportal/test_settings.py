"""The settings' two modes, checked in fresh interpreters so each reads its own environment."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DEBUG": "False",
    "SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-for-tests-only",
    "ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "postgres://gap:secret@db.example.com:5432/gap",
    "REDIS_URL": "redis://cache.example.com:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
    "XERO_CLIENT_ID": "client-id",
    "XERO_CLIENT_SECRET": "client-secret",
    "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "SITE_URL": "https://portal.example.com",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in PRODUCTION and not k.startswith("DJANGO")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_values(expression: str, env: dict[str, str]) -> list[str]:
    """The printed, space-split value of a settings expression (`s` is the settings) under env."""
    result = run_manage(
        "shell",
        "-v",
        "0",
        "-c",
        f"from django.conf import settings as s; print({expression})",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_production_settings_pass_check_deploy():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_refuses_the_sandbox():
    env = {k: v for k, v in PRODUCTION.items() if not k.startswith("XERO_")}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "built-in XPM sandbox only runs in development" in result.stderr


def test_production_refuses_to_start_without_a_token_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "TOKEN_ENCRYPTION_KEY"}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "TOKEN_ENCRYPTION_KEY must be set" in result.stderr


def test_embedded_default_needs_no_environment(tmp_path):
    values = settings_values(
        "s.DEBUG, s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, "
        "s.MAILERS['default']['BACKEND'], s.XPM_SANDBOX",
        env={"DEBUG": "True"},
    )
    assert values == [
        "True",
        "django.db.backends.sqlite3",
        "True",
        "django.core.mail.backends.console.EmailBackend",
        "True",
    ]


def test_production_uses_postgres_redis_and_smtp():
    assert _production_values(
        "s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER, "
        "s.MAILERS['default']['OPTIONS']['host'], s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS"
    ) == [
        "django.db.backends.postgresql",
        "redis://cache.example.com:6379/0",
        "False",
        "smtp.example.com",
        "True",
        "31536000",
    ]


def test_production_refuses_to_start_without_a_broker():
    env = {k: v for k, v in PRODUCTION.items() if k != "REDIS_URL"}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "REDIS_URL must be set when DEBUG is off" in result.stderr


def _production_values(expression: str, **extra: str) -> list[str]:
    return settings_values(expression, env={**PRODUCTION, **extra})


def test_production_cookies_have_host_prefixed_names():
    # __Host- cookies must be Secure, for Path=/ and without a Domain, or browsers drop them.
    assert _production_values(
        "s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_PATH, s.CSRF_COOKIE_PATH, "
        "s.SESSION_COOKIE_DOMAIN, s.CSRF_COOKIE_DOMAIN"
    ) == ["__Host-sessionid", "__Host-csrftoken", "True", "True", "/", "/", "None", "None"]


def test_forwarded_proto_is_believed_only_behind_a_trusted_proxy():
    assert _production_values("s.SECURE_PROXY_SSL_HEADER") == ["None"]
    behind_proxy = _production_values("*s.SECURE_PROXY_SSL_HEADER", TRUSTED_PROXY_COUNT="1")
    assert behind_proxy == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_production_does_not_install_the_benchmarks():
    result = run_manage("bench_sync", "--help", env=PRODUCTION)
    assert result.returncode != 0
    assert "Unknown command: 'bench_sync'" in result.stderr
    assert run_manage("bench_sync", "--help", env={}).returncode == 0
