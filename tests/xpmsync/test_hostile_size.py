"""Documents far bigger than any practice's: a 100 MB text node, and a list past the size cap."""

import subprocess
import sys
import textwrap
from pathlib import Path

from django.test import override_settings

from clients.models import Client

from .factories import make_connection
from .test_sync import SAMPLE_XML, run, serve, snapshot

HUNDRED_MB = 100 * 2**20

# Streams <Response>…<Name>(100 MB of text)</Name>… to the parser from a generator, so the
# child process's peak memory is the parser's own, then prints the outcome and the peak RSS.
STREAMED_PARSE = textwrap.dedent(
    f"""
    import io, resource
    from xpmsync.parse import XpmResponseError, parse_client_list

    def baseline():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

    class Stream(io.RawIOBase):
        def __init__(self):
            self.parts = iter(
                [b"<Response><Status>OK</Status><Clients><Client><UUID>1</UUID><Name>"]
                + [b"y" * 2**20] * ({HUNDRED_MB} // 2**20)
                + [b"</Name></Client></Clients></Response>"]
            )
        def read(self, size=-1):
            return next(self.parts, b"")

    before = baseline()
    try:
        list(parse_client_list(Stream()))
        print("accepted")
    except XpmResponseError as error:
        print("refused:", error)
    print("grew_mb", baseline() - before)
    """
)


def test_a_100_mb_text_node_is_refused_with_memory_bounded():
    result = subprocess.run(
        [sys.executable, "-c", STREAMED_PARSE],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    outcome, grew = result.stdout.strip().splitlines()
    assert outcome.startswith("refused:") and "safety limits" in outcome
    # libxml2 gives up at its 10 MB text limit: the rest of the 100 MB is never held.
    assert int(grew.split()[1]) < 40


def test_a_100_mb_text_node_through_the_sync_fails_the_run_and_changes_nothing(xero, firm_a, alice):
    make_connection(firm_a, alice)
    serve(xero)
    run(firm_a, alice)
    before = snapshot(firm_a)
    head, tail = SAMPLE_XML.split("<Name>Daniel Whitcombe</Name>", 1)
    serve(xero, f"{head}<Name>{'y' * HUNDRED_MB}</Name>{tail}")
    result = run(firm_a, alice)
    assert result.status == "failed"
    assert result.error.startswith("XPM's client list could not be read")
    assert snapshot(firm_a) == before


@override_settings(XPM_LIST_MAX_BYTES=4096)
def test_a_list_beyond_the_size_cap_is_refused_before_anything_is_applied(xero, firm_a, alice):
    make_connection(firm_a, alice)
    serve(xero)
    result = run(firm_a, alice)
    assert result.status == "failed"
    assert "larger than" in result.error and "Nothing changed" in result.error
    assert not Client.objects.exists()
