"""Benchmark the Clients pages at a given number of synced clients.

Seeds a firm through the real sync (a generated practice served over local HTTP), then times
the client list (first page, a search, a filter, a late page) and a client profile with its
Contacts tab through Django's test client, printing medians and query counts as JSON.
"""

import statistics
import time

from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import override_settings
from django.utils import timezone

from clients.models import Client
from clients.views.pages import PAGE_SIZE
from devtools.benchmarking import (
    QueryCounter,
    fresh_firm,
    remove_firm,
    serve_practice,
    timed_sync,
    vacuum,
    verified_client,
    write_results,
)


class Command(BaseCommand):
    help = "Time the Clients pages with N synced clients and print JSON lines."

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, default=10_000)
        parser.add_argument("--repeat", type=int, default=15)
        parser.add_argument("--output", help="Also append the results to this JSON-lines file.")

    def handle(self, *args, clients, repeat, output, **options):
        with override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"]):
            firm = fresh_firm()
            with serve_practice(clients):
                timed_sync(firm)  # the first sync seeds the firm
            # Timed on a settled database, as users meet it: autovacuum runs within a minute or
            # so of a big sync.
            vacuum()
            http = verified_client(firm)
            sample = (
                Client.objects.for_firm(firm).filter(links__isnull=False).order_by("pk").first()
            )
            # The default list shows current clients; its last pages and its middle page (the
            # slowest now that the back half is read from the end).
            listed = Client.objects.for_firm(firm).filter(is_archived=False, is_prospect=False)
            pages_in_list = -(-listed.count() // PAGE_SIZE)
            late_page = max(1, pages_in_list - 1)
            pages = {
                "list_first_page": "/clients/",
                "list_search": "/clients/?q=smith",
                "list_filter_prospects": "/clients/?show=prospects",
                "list_late_page": f"/clients/?page={late_page}",
                "list_middle_page": f"/clients/?page={max(1, pages_in_list // 2)}",
                "profile_details": f"/clients/{sample.pk}/",
                "profile_contacts": f"/clients/{sample.pk}/contacts/",
            }
            results = [self._time(http, name, url, clients, repeat) for name, url in pages.items()]
            remove_firm(firm)
        write_results(self.stdout, results, output)

    def _time(self, http: HttpClient, name: str, url: str, clients: int, repeat: int) -> dict:
        http.get(url)  # warm up
        timings, queries = [], 0
        for _ in range(repeat):
            counter = QueryCounter()
            started = time.perf_counter()
            with connection.execute_wrapper(counter):
                response = http.get(url)
            timings.append(time.perf_counter() - started)
            queries = counter.count
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")
        return {
            "benchmark": "pages",
            "page": name,
            "clients": clients,
            "ms_median": round(statistics.median(timings) * 1000, 1),
            "sql_queries": queries,
            "database": connection.vendor,
            "at": timezone.now().isoformat(timespec="seconds"),
        }
