"""What the Lambda authorizer decides, without Chalice: credentials in, a decision for the routes out.

The authorizer never denies. API Gateway would answer a deny itself, with a bare 403 (or a 401
only where a gateway response was set, which ``chalice deploy`` does not keep). So it allows every
request it sees and says in the context what it decided; the route layer serves an allowed
request, answers a refused one 401 with ``WWW-Authenticate`` and a SCIM body, and an undecided one
503 with Retry-After. API Gateway caches this decision by the Authorization header, so a refused
credential is cached as "refused" and still reaches no data. Imported by app.py on every cold
start of the authorizer Lambda, so it must not import scim2 or pydantic.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.auth.credentials import Principal, parse_authorization, verify
from chalicelib.auth.usage import CredentialUsage
from chalicelib.config import settings
from chalicelib.stage_secrets import SecretUnavailable
from chalicelib.store.connection import dynamodb
from chalicelib.store.credentials import CredentialStore
from chalicelib.store.deadline import request_budget
from chalicelib.store.errors import DYNAMODB_ERRORS

ALLOWED = "allowed"
REFUSED = "refused"
UNAVAILABLE = "unavailable"
log = logging.getLogger("scim.auth")
# The container's notes of last uses and refusals (chalicelib.auth.usage).
_usage = CredentialUsage()


class CredentialsUnavailable(Exception):
    """The credentials table or the hash key could not be read: neither allow nor refuse."""


@dataclass(frozen=True)
class Decision:
    """The authorizer's verdict on one Authorization header, as it travels in the authorizer context."""

    outcome: str
    tenant: str = ""
    client_id: str = ""

    @property
    def principal_id(self) -> str:
        return self.client_id or self.outcome

    def context(self) -> dict[str, str]:
        # AWS passes context values as strings.
        return {"outcome": self.outcome, "tenant": self.tenant, "client_id": self.client_id}

    @classmethod
    def from_context(cls, context: Mapping[str, Any] | None) -> "Decision":
        """Read the context back; anything but a complete allow or an explicit 503 is a refusal (fail closed)."""
        context = context or {}
        outcome = str(context.get("outcome", ""))
        if outcome == ALLOWED and context.get("tenant") and context.get("client_id"):
            return cls(ALLOWED, str(context["tenant"]), str(context["client_id"]))
        return cls(UNAVAILABLE if outcome == UNAVAILABLE else REFUSED)


def decide(authorization: str | None) -> Decision:
    """The decision for an Authorization header: allowed (with the tenant), refused, or unavailable.

    Its DynamoDB reads share one time budget (``AUTHORIZER_BUDGET_SECONDS``), as a route's do: a
    spent budget is unavailable, decided well inside the authorizer's Lambda timeout.
    """
    try:
        with request_budget(settings().authorizer_budget_seconds):
            principal = authenticate(authorization)
    except CredentialsUnavailable as error:
        # A 401 would tell the IdP its credential is bad; 503 with Retry-After makes it retry.
        log.error("authorizer cannot decide, answering 503: %s", error)
        return Decision(UNAVAILABLE)
    if principal is None:
        return Decision(REFUSED)
    return Decision(ALLOWED, principal.tenant, principal.client_id)


def authenticate(authorization: str | None) -> Principal | None:
    """Return the principal of an Authorization header, or None when it must be refused.

    :raises CredentialsUnavailable: When DynamoDB fails or the credential hash key cannot be read,
        so that a valid credential is not answered 401 (an IdP would take it for revoked) but 503.
    """
    config = settings()
    try:
        # First, so that without its key a stage answers every request 503, a malformed one too.
        key = config.credential_hash_key
    except SecretUnavailable as error:
        _count(config.stage, "AuthorizerErrors")
        raise CredentialsUnavailable(str(error)) from error
    presented = parse_authorization(authorization)
    if presented is None:
        _count(config.stage, "AuthorizerRefusals")
        return None
    store = CredentialStore(dynamodb(config), config.credentials_table)
    try:
        principal = verify(store, key, *presented, usage=_usage)
    except DYNAMODB_ERRORS as error:
        # Unavailable (errors.unavailable) or misconfigured, the credential was not checked: never a 401.
        _count(config.stage, "AuthorizerErrors")
        raise CredentialsUnavailable(str(error)) from error
    if principal is None:
        _count(config.stage, "AuthorizerRefusals")
    return principal


def _count(stage: str, metric: str) -> None:
    # Powertools loads on the first refusal or error of the container, never for an allowed request.
    from chalicelib.metrics import count

    count(stage, metric)
