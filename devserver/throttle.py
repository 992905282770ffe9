"""``make run``'s per-tenant limits: API Gateway's usage-plan throttling, done here as API Gateway does it.

After ``make deploy`` API Gateway holds each request to the token bucket of the usage plan its
API key is in, the key being the authorizer's ``usageIdentifierKey`` (one per tenant, one for the
requests it did not allow). Chalice's local gateway knows nothing of that, so :mod:`devserver.gateway`
asks :class:`TenantThrottle` after the authorizer: a bucket per key, with the rate and burst of the
key's plan as ``python -m admin limits`` set them in the embedded moto's API Gateway
(:mod:`infra.usage_plans`), read again at most every :data:`REFRESH_SECONDS`.
"""

import threading
import time
from collections.abc import Callable

from chalicelib.auth.tenant_limits import Limits

REFRESH_SECONDS = 1.0
"""How soon a change of limits made with ``python -m admin limits`` takes effect under ``make run``."""


class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate`` a second; each request takes one or is throttled."""

    def __init__(self, limits: Limits, now: float) -> None:
        self.limits = limits
        self.tokens = float(limits.burst)
        self.updated = now

    def take(self, now: float) -> bool:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(self.limits.burst), self.tokens + elapsed * self.limits.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def change(self, limits: Limits) -> None:
        """New limits keep the tokens already there, up to the new burst."""
        self.limits = limits
        self.tokens = min(self.tokens, float(limits.burst))


class TenantThrottle:
    """A token bucket per usage identifier key, with the limits of the key's usage plan.

    :param plans: Reads the limits of every key value from API Gateway (``UsagePlans.throttles``).
    """

    def __init__(self, plans: Callable[[], dict[str, Limits]], clock: Callable[[], float] = time.monotonic) -> None:
        self._plans = plans
        self._clock = clock
        self._lock = threading.Lock()
        self._limits: dict[str, Limits] = {}
        self._read_at = float("-inf")
        self._buckets: dict[str, TokenBucket] = {}

    def admit(self, key: str) -> bool | None:
        """Whether a request with this usage identifier key may pass; None when the key is in no usage plan."""
        with self._lock:
            now = self._clock()
            if now - self._read_at >= REFRESH_SECONDS:
                self._limits = self._plans()
                self._read_at = now
            limits = self._limits.get(key)
            if limits is None:
                return None
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(limits, now)
            elif bucket.limits != limits:
                bucket.change(limits)
            return bucket.take(now)
