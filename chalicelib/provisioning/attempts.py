"""A read-modify-write that loses a race with another writer tries again on the new state.

Without If-Match, a lost race (the storage's 412) is the server's business, not the client's:
the write is made again on what the other writer left, up to :data:`MAX_WRITE_ATTEMPTS` times,
with full jitter between tries. With If-Match there is exactly one try (RFC 7644 §3.14), and
its 412 is the client's answer.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

from scim2_models import PreconditionFailedException
from scim2_server.conditions import Conditions

MAX_WRITE_ATTEMPTS = 8


class Attempt:
    """One try of a read-modify-write; a lost race (412 without If-Match) is swallowed so the loop retries."""

    def __init__(self, number: int, last: bool, pinned: bool) -> None:
        self.number = number
        self.last = last
        self.pinned = pinned
        self.succeeded = False

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> bool:
        if error is None:
            self.succeeded = True
            return False
        return isinstance(error, PreconditionFailedException) and not self.pinned and not self.last


def attempts(conditions: Conditions) -> Iterator[Attempt]:
    """Yield attempts until one succeeds; with If-Match there is exactly one (RFC 7644 §3.14)."""
    pinned = conditions.if_match is not None
    for number in range(1, MAX_WRITE_ATTEMPTS + 1):
        attempt = Attempt(number, last=pinned or number == MAX_WRITE_ATTEMPTS, pinned=pinned)
        yield attempt
        if attempt.succeeded:
            return
        # Full jitter, so writers that collided do not collide again (5 ms, 10 ms, ... at most 320 ms).
        time.sleep(random.uniform(0, 0.005 * 2 ** min(number, 6)))
