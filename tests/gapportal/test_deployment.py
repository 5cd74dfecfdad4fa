"""docker-compose.yml and the Caddyfile, read as Docker would: only the TLS proxy is exposed."""

from pathlib import Path

import pytest
import yaml
from kombu.exceptions import ContentDisallowed
from kombu.serialization import dumps, loads

ROOT = Path(__file__).resolve().parents[2]
PORTAL_SERVICES = ("web", "worker", "worker-large", "worker-light", "beat")
WORKERS = ("worker", "worker-large", "worker-light")


@pytest.fixture(scope="module")
def services():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_gunicorn_is_not_published_on_the_host(services):
    assert "ports" not in services["web"]
    for name in ("postgres", "redis", *WORKERS, "beat"):
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
    for name in (*WORKERS, "beat"):
        assert "TRUSTED_PROXY_COUNT" not in services[name]["environment"]


def test_every_queue_has_a_worker_and_syncs_never_wait_behind_email(services):
    from gapportal.celery import app

    def queues(name):
        command = services[name]["command"].split()
        return set(command[command.index("-Q") + 1].split(","))

    assert queues("worker") == {"sync"}  # small practices' syncs: never a 50,000-client one
    assert queues("worker-large") == {"sync_large", "sync"}
    assert queues("worker-light") == {"default"}
    assert app.conf.task_default_queue == "default"
    assert app.conf.task_routes["xpmsync.tasks.sync_firm_task"] == {"queue": "sync"}
    assert app.conf.task_acks_late and app.conf.worker_prefetch_multiplier == 1
    # Redis redelivers unacknowledged tasks after this: longer than any run may last.
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit


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
