"""The log lines a request writes, counted as CloudWatch Logs would ingest them (their text, one event each).

The routes log through Python's ``logging`` (the access line with its metrics, the trail's and errors'
lines); Lambda sends each to CloudWatch Logs. A handler on the loggers that do not pass records up, and on
the root that the others reach, counts the formatted lines while a request runs.
"""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# The access log keeps its records to itself (propagate off); every other logger of the app reaches the root.
OWN_LOGGERS = ("scim.access",)


@dataclass
class Logged:
    lines: int = 0
    bytes: int = 0


class _Counting(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.logged = Logged()
        self.lock_counts = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        size = len(self.format(record).encode("utf-8", "replace")) + 1
        with self.lock_counts:
            self.logged.lines += 1
            self.logged.bytes += size


@contextmanager
def logged() -> Iterator[Logged]:
    """Count the log lines written within the block (the bench's process runs one request at a time)."""
    handler = _Counting()
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in OWN_LOGGERS)]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.logged
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
