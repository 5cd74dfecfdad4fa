"""Running actions at the same moment (or one in the background while the test goes on) on
threads, each with its own database connection; seeing a PostgreSQL session wait for a lock; a
free port for the servers such tests start."""

import socket
import threading
from collections.abc import Callable


def run_together(*actions: Callable) -> list:
    """Start every action at once; returns each one's result, or the exception it raised."""
    from django.db import connections

    barrier = threading.Barrier(len(actions))
    results: list = [None] * len(actions)

    def run(index: int, action: Callable) -> None:
        try:
            barrier.wait()
            results[index] = action()
        except Exception as error:  # returned to the test, which asserts on it
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def run_together_cleanly(actions) -> list:
    """Run the actions at once and fail the test if any of them raised."""
    results = run_together(*actions)
    errors = [result for result in results if isinstance(result, Exception)]
    assert not errors, errors
    return results


def signed_in_clients(user, count: int) -> list:
    """Test clients each holding its own session for the user (password step only)."""
    from django.test import Client

    clients = []
    for _ in range(count):
        http = Client()
        http.force_login(user)
        clients.append(http)
    return clients


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class InBackground:
    """An action running on a thread of its own, with its own database connection, while the
    test goes on; ``result()`` waits for it and returns what it returned (or raises)."""

    def __init__(self, action: Callable) -> None:
        self._outcome: list = []
        self._thread = threading.Thread(target=self._run, args=(action,))
        self._thread.start()

    def _run(self, action: Callable) -> None:
        from django.db import connections

        try:
            self._outcome.append(action())
        except Exception as error:  # raised again in the test by result()
            self._outcome.append(error)
        finally:
            connections.close_all()

    def result(self, timeout: float = 30):
        self._thread.join(timeout)
        assert self._outcome, "the background action did not finish in time"
        if isinstance(self._outcome[0], Exception):
            raise self._outcome[0]
        return self._outcome[0]


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Look again every 20 ms until ``condition()`` holds; fail the test if it never does."""
    import time

    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, "the condition never held"
        time.sleep(0.02)


def someone_waits_for_a_lock() -> bool:
    """Whether another PostgreSQL session of this database is waiting for a row or table lock."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # a fresh look, even in a transaction
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0
