"""Running actions at the same moment on threads, each with its own database connection; a free
port for the servers such tests start."""

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
