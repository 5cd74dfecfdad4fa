import pytest

from tests.factories import PASSWORD


@pytest.fixture
def sudo_alice_client(alice_client):
    """alice, signed in, having just confirmed it's her: sudo mode for the next ten minutes."""
    response = alice_client.post("/accounts/confirm/", {"password": PASSWORD})
    assert response.status_code == 302
    return alice_client
