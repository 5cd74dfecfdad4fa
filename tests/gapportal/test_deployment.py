"""docker-compose.yml and the Caddyfile, read as Docker would: only the TLS proxy is exposed."""

from pathlib import Path

import pytest
import yaml
from kombu.exceptions import ContentDisallowed
from kombu.serialization import dumps, loads

ROOT = Path(__file__).resolve().parents[2]
PORTAL_SERVICES = ("web", "worker", "beat")


@pytest.fixture(scope="module")
def services():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_gunicorn_is_not_published_on_the_host(services):
    assert "ports" not in services["web"]
    for name in ("postgres", "redis", "worker", "beat"):
        assert "ports" not in services[name], name


def test_a_tls_terminating_proxy_stands_in_front_of_web(services):
    proxy = services["proxy"]
    assert proxy["image"].startswith("caddy:")
    assert "443:443" in proxy["ports"]
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    caddyfile = (ROOT / "Caddyfile").read_text()
    assert "{$SITE_DOMAIN} {" in caddyfile
    assert "reverse_proxy web:8000" in caddyfile


def test_web_trusts_exactly_the_one_proxy(services):
    assert services["web"]["environment"]["TRUSTED_PROXY_COUNT"] == "1"
    for name in ("worker", "beat"):
        assert "TRUSTED_PROXY_COUNT" not in services[name]["environment"]


def test_mail_catcher_is_reachable_from_this_machine_only(services):
    assert all(port.startswith("127.0.0.1:") for port in services["mailpit"]["ports"])


def test_redis_wants_a_password_and_every_portal_service_sends_it(services):
    command = services["redis"]["command"]
    password = command[command.index("--requirepass") + 1]
    assert password.startswith("${REDIS_PASSWORD:?")
    for name in PORTAL_SERVICES:
        url = services[name]["environment"]["REDIS_URL"]
        assert url == f"redis://:{password}@redis:6379/0", name
    # The health check's redis-cli authenticates too.
    assert services["redis"]["environment"]["REDISCLI_AUTH"] == password


def test_celery_accepts_json_only():
    from gapportal.celery import app

    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"
    content_type, encoding, body = dumps({"firm_id": 1}, serializer="pickle")
    with pytest.raises(ContentDisallowed):
        loads(body, content_type, encoding, accept=app.conf.accept_content)
