"""Per-tenant request limits: which API Gateway usage identifier a request counts against, and its bounds.

After ``make deploy`` the REST API takes its API key from the authorizer (key source AUTHORIZER)
and the SCIM methods require one, so API Gateway throttles each tenant by the usage plan its key is
in (``infra/usage_plans.py``). The key of a tenant is derived from the stage and the tenant's name,
so the authorizer names it without another DynamoDB read. It is an identifier, not a secret (a
client cannot present a key when the authorizer supplies it), but it is never logged.
A request the authorizer does not allow counts against one shared key, so refused traffic has a
bucket of its own and never a tenant's. Imported by the authorizer: no scim2, no pydantic, no boto3.
"""

import hashlib
from dataclasses import dataclass

from chalicelib.config import Settings

UNAUTHENTICATED = "_unauthenticated"
"""The identity of requests the authorizer did not allow; no tenant name starts with '_'."""

MAX_RATE = 10_000
"""API Gateway's account-level default steady rate per region: a usage plan cannot usefully exceed it."""
MAX_BURST = 5_000
"""API Gateway's account-level default burst per region."""


class LimitsError(ValueError):
    """Limits outside what API Gateway can enforce; the message names the field, for the operator."""


@dataclass(frozen=True)
class Limits:
    """A token bucket: ``rate`` requests a second on average, up to ``burst`` at once (whole numbers)."""

    rate: int
    burst: int

    def __post_init__(self) -> None:
        if not 1 <= self.rate <= MAX_RATE:
            raise LimitsError(f"rate must be 1 to {MAX_RATE} requests a second, not {self.rate}")
        if not 1 <= self.burst <= MAX_BURST:
            raise LimitsError(f"burst must be 1 to {MAX_BURST} requests, not {self.burst}")


def default_limits(config: Settings) -> Limits:
    """The stage's default limits (``TENANT_RATE_LIMIT``, ``TENANT_BURST_LIMIT``).

    :raises LimitsError: When they are outside what API Gateway can enforce.
    """
    return Limits(config.tenant_rate_limit, config.tenant_burst_limit)


def usage_key(stage: str, identity: str) -> str:
    """The API key value of a tenant (or of :data:`UNAUTHENTICATED`) on a stage: 64 hex characters.

    Unique per stage, since API key values are unique in an account and region.
    """
    return hashlib.sha256(f"onemodel-scim/{stage}/{identity}".encode()).hexdigest()
