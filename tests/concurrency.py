"""Running actions at the same moment on threads, each with its own database connection."""

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
