"""The web tier keeps nothing of its own: two gunicorn instances behind one address, requests
dealt to them in turn, share sessions, the MFA step, messages, the login throttle and the OAuth
round trip through PostgreSQL and Redis."""

import http.client
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.concurrency import free_port
from tests.factories import PASSWORD, make_firm, make_user
from tests.totp import code_for, make_device
from xpmsync.models import XpmConnection

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL") or "postgres" not in os.environ.get("DATABASE_URL", ""),
        reason="needs PostgreSQL and Redis; CI sets DATABASE_URL and REDIS_URL",
    ),
]
BASE_DIR = Path(settings.BASE_DIR)
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class RoundRobin(ThreadingHTTPServer):
    """One address dealing each request to the next instance in turn, recording which."""

    daemon_threads = True

    def __init__(self, backends: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.backends, self.served, self.lock = backends, [], threading.Lock()

    def next_backend(self, path: str) -> int:
        with self.lock:
            port = self.backends[len(self.served) % len(self.backends)]
            self.served.append((port, path))
            return port


class _Forward(BaseHTTPRequestHandler):
    server: RoundRobin

    def log_message(self, format, *args):
        return

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        port = self.server.next_backend(self.path)
        upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        content = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)
        upstream.close()

    do_GET = do_POST = _forward


@pytest.fixture
def two_instances():
    """Two gunicorn instances on the test database and Redis, and the one address before them."""
    ports = [free_port(), free_port()]
    proxy = RoundRobin(ports)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    address = f"http://127.0.0.1:{proxy.server_address[1]}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "SITE_URL": address,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_KEY": "two-instances-test-key-of-enough-length-for-django",
        "CONN_MAX_AGE": "0",
    }
    instances = [
        subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "gapportal.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--threads", "4"],
            env=env, cwd=BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]  # fmt: skip
    try:
        for port in ports:
            _wait_for(port)
        yield address, proxy
    finally:
        for instance in instances:
            instance.terminate()
            instance.wait(20)
        proxy.shutdown()


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=10)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError(f"gunicorn on {port} did not start")


def _form(browser: requests.Session, url: str) -> dict:
    page = browser.get(url, allow_redirects=False)
    assert page.status_code == 200, (url, page.status_code)
    return {"csrfmiddlewaretoken": CSRF.search(page.text).group(1)}


def test_a_user_signs_in_and_connects_xero_across_two_instances(two_instances):
    address, proxy = two_instances
    firm = make_firm("Two Instances Accounting")
    admin = make_user(firm, "ada@two.example.com", role="admin")
    device = make_device(admin)
    browser = requests.Session()

    # The password on one instance, the code on the other: the half-signed-in session crosses.
    login = _form(browser, f"{address}/accounts/login/")
    answer = browser.post(
        f"{address}/accounts/login/",
        {**login, "username": admin.email, "password": PASSWORD},
        allow_redirects=False,
    )
    assert answer.status_code == 302 and "/accounts/login/code/" in answer.headers["Location"]
    code = _form(browser, f"{address}/accounts/login/code/")
    answer = browser.post(
        f"{address}/accounts/login/code/", {**code, "code": code_for(device)}, allow_redirects=False
    )
    assert answer.status_code == 302
    home = browser.get(f"{address}/clients/", allow_redirects=False)
    assert home.status_code == 200 and "Two Instances Accounting" in home.text

    # The OAuth round trip: state and PKCE verifier kept in the session by one instance, the
    # callback read by another.
    panel = _form(browser, f"{address}/xpm/")
    to_xero = browser.post(f"{address}/xpm/connect/", panel, allow_redirects=False)
    consent_url = to_xero.headers["Location"]
    assert consent_url.startswith(f"{address}/xero-sandbox/")
    consent = browser.get(consent_url)
    assert "Allow access" in consent.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', consent.text))
    back = browser.post(consent.url, {**fields, "decision": "allow"}, allow_redirects=False)
    callback = back.headers["Location"]
    assert urlsplit(callback).path == "/xpm/callback/"
    landed = browser.get(callback, allow_redirects=False)
    assert landed.status_code == 302
    page = browser.get(f"{address}{landed.headers['Location']}", allow_redirects=False)
    assert page.status_code == 200
    assert XpmConnection.objects.get(firm=firm).status in XpmConnection.SYNCABLE_STATUSES
    # The flash message set by one instance is shown by whichever serves the next page.
    assert "Connected to Harbour View Accounting (Sandbox)" in page.text

    ports = {port for port, _ in proxy.served}
    assert len(ports) == 2  # both instances served the journey, turn about
    assert len(proxy.served) >= 10


def test_the_login_throttle_counts_wrong_passwords_on_both_instances(two_instances, settings):
    address, proxy = two_instances
    firm = make_firm("Throttled Accounting")
    user = make_user(firm, "tom@throttled.example.com")
    browser = requests.Session()
    for _ in range(settings.LOGIN_THROTTLE_PER_ACCOUNT):
        login = _form(browser, f"{address}/accounts/login/")
        browser.post(
            f"{address}/accounts/login/",
            {**login, "username": user.email, "password": "not-the-password"},
        )
    login = _form(browser, f"{address}/accounts/login/")
    refused = browser.post(
        f"{address}/accounts/login/", {**login, "username": user.email, "password": PASSWORD}
    )
    assert "/accounts/login/code/" not in refused.url and "Too many" in refused.text
    assert {port for port, _ in proxy.served} == set(proxy.backends)
