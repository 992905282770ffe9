"""The SCIM errors given before a request reaches the SCIM service: by API Gateway, or by the route gate.

API Gateway itself answers a request without an Authorization header, a path no route serves, and a
request over its tenant's usage plan, before any of our code runs. SCIM clients expect 401 with
``WWW-Authenticate``, 429 with ``Retry-After``, and an RFC 7644 §3.12 body, so those gateway responses
are defined here and applied by ``make deploy`` after ``chalice deploy`` (``infra.rest_api``), and by
``devserver.gateway`` under ``make run`` and in tests.
Every other refusal, and the 503 of a stage that cannot check credentials, is answered by app.py
from the authorizer's decision, so a plain ``chalice deploy`` gives them.
Must not import scim2 or pydantic (the authorizer imports app.py).
"""

import json
from dataclasses import dataclass

SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
# RFC 9110 §11.6.1: one challenge per scheme the credential can be presented with.
WWW_AUTHENTICATE = 'Basic realm="SCIM", Bearer realm="SCIM"'
RETRY_AFTER_SECONDS = "2"
# A gateway response's headers are static: one second is when a token bucket at 1 request a second or more has
# room again (chalicelib/auth/tenant_limits.py).
THROTTLED_RETRY_AFTER_SECONDS = "1"


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    detail: str
    challenge: bool = False
    retry_after: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/scim+json", "Cache-Control": "no-store"}
        if self.challenge:
            headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        if self.retry_after:
            headers["Retry-After"] = self.retry_after
        return headers

    @property
    def body(self) -> str:
        return json.dumps({"schemas": [SCIM_ERROR_SCHEMA], "status": str(self.status), "detail": self.detail})


GATEWAY_RESPONSES = {
    # No Authorization header at all: API Gateway does not call the authorizer.
    "UNAUTHORIZED": GatewayResponse(
        401,
        "Authentication required: send the client ID and secret with HTTP Basic, "
        "or as the bearer token <client id>.<client secret>",
        challenge=True,
    ),
    # A path (or method) no route serves.
    "MISSING_AUTHENTICATION_TOKEN": GatewayResponse(404, "No SCIM endpoint at this path"),
    # Over the tenant's usage plan, or the stage's own throttle (one response type for both): RFC 6585 §4.
    "THROTTLED": GatewayResponse(
        429,
        "Too many requests; retry after the Retry-After delay",
        retry_after=THROTTLED_RETRY_AFTER_SECONDS,
    ),
    # A usage plan's quota (none is set by default; an operator may add one).
    "QUOTA_EXCEEDED": GatewayResponse(
        429, "This tenant's request quota is used up; retry later", retry_after=THROTTLED_RETRY_AFTER_SECONDS
    ),
}

# Answered by the routes, from the authorizer's decision.
REFUSED_CREDENTIAL = GatewayResponse(401, "The credentials are invalid or have been revoked", challenge=True)
SERVICE_UNAVAILABLE = GatewayResponse(
    503, "The service is temporarily unavailable; retry later", retry_after=RETRY_AFTER_SECONDS
)
