from django.db import connection
from django.test.utils import CaptureQueriesContext


def count_queries(http_client, url: str) -> int:
    """How many SQL queries one GET of ``url`` makes (after a warm-up request)."""
    http_client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = http_client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)
