"""When each credential was last used, and how often it was refused: for ``admin credentials list`` and ``status``.

The authorizer writes neither on every request. The last use is written only when the stored one
is a minute old (the authorizer has just read it), so an IdP's traffic costs at most one write a
minute per credential. Refused attempts are counted in the container and added to the hour's count
at most once a minute per credential; a container that ends first loses its few uncounted ones.
Only credentials that exist are counted: a made-up client ID creates nothing.

Imported by the authorizer on every cold start: no scim2, no pydantic.
"""

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from chalicelib.store.credentials import CredentialStore, StoredCredential
from chalicelib.store.errors import DYNAMODB_ERRORS

WRITE_INTERVAL_SECONDS = 60
REFUSAL_WINDOW_HOURS = 24
log = logging.getLogger("scim.auth")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def hour_of(epoch: float) -> str:
    """The UTC hour an attempt is counted in: ``YYYY-MM-DDTHH``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H")


def last_hours(epoch: float, hours: int = REFUSAL_WINDOW_HOURS) -> list[str]:
    """The ``hours`` UTC hours up to and including the one of ``epoch``."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return [(moment - timedelta(hours=back)).strftime("%Y-%m-%dT%H") for back in range(hours)]


class CredentialUsage:
    """Notes each verified or refused presentation of a known credential; one per container."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.pending: dict[str, int] = {}
        self.flushed: dict[str, float] = {}

    def used(self, store: CredentialStore, credential: StoredCredential) -> None:
        now = self.clock()
        stale_before = _iso(now - WRITE_INTERVAL_SECONDS)
        if credential.last_used is None or credential.last_used < stale_before:
            try:
                store.mark_used(credential.client_id, _iso(now), unless_since=stale_before)
            except DYNAMODB_ERRORS as error:
                # Bookkeeping: a request is never refused or delayed because its last use was not written.
                log.warning("last use of %s not written: %s", credential.client_id, error)

    def refused(self, store: CredentialStore, client_id: str) -> None:
        """Count a refused presentation of an existing credential (a wrong secret reads no more than its hash)."""
        now = self.clock()
        self.pending[client_id] = self.pending.get(client_id, 0) + 1
        if now - self.flushed.get(client_id, 0.0) < WRITE_INTERVAL_SECONDS:
            return
        count = self.pending.pop(client_id)
        self.flushed[client_id] = now
        try:
            store.add_refusals(client_id, hour_of(now), count, int(now))
        except DYNAMODB_ERRORS as error:
            log.warning("%d refused attempts of %s not counted: %s", count, client_id, error)


def refused_in_last_day(store: CredentialStore, client_id: str, now: float | None = None) -> int:
    """Refused attempts of the credential in the last 24 hours (counted by the UTC hour)."""
    return store.refusals(client_id, last_hours(time.time() if now is None else now))
