import re

import pytest

from tests.factories import add_contact, make_client

TITLE = re.compile(r"<title>([^<]*)</title>")


@pytest.mark.parametrize(
    "url,title",
    [
        ("/clients/", "Clients"),
        ("/clients/manage/", "Manage Clients"),
        ("/clients/import/", "CSV Import"),
        ("/accounts/users/", "Manage Users"),
        ("/accounts/users/add/", "Add user"),
        ("/accounts/audit-log/", "Audit log"),
        ("/accounts/settings/", "User Settings"),
        ("/accounts/settings/password/", "Change password"),
        ("/accounts/settings/mfa/", "Configure MFA"),
        ("/accounts/settings/sessions/", "Your sessions"),
        ("/xpm/", "Xero Sync"),
        ("/help/", "Help"),
    ],
)
def test_every_page_has_a_plain_title(alice_client, url, title):
    content = alice_client.get(url).content.decode()
    match = TITLE.search(content)
    assert match, url
    assert match.group(1) == f"{title} · The Gap Portal"
    assert content.count("<h1") == 1


def test_client_pages_have_plain_titles(alice_client, firm_a):
    client = make_client(firm_a, "Harbour & Co")
    add_contact(client, "Ann Lee")
    for url in (f"/clients/{client.pk}/", f"/clients/{client.pk}/contacts/"):
        title = TITLE.search(alice_client.get(url).content.decode()).group(1)
        assert title.startswith("Harbour &amp; Co") and title.endswith("· The Gap Portal")
