"""The answers API Gateway gives before our code runs, made SCIM errors.

API Gateway (not the Lambda) answers a missing or refused credential, and an
unknown path. SCIM clients expect 401 with ``WWW-Authenticate`` and an RFC 7644
§3.12 body, so these gateway responses are defined once here and applied by
``infra/`` on AWS, and by ``devserver.gateway`` under ``make run`` and in tests.
Must not import scim2 or pydantic (the authorizer imports app.py).
"""

import json
from dataclasses import dataclass

SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
# RFC 9110 §11.6.1: one challenge per scheme the credential can be presented with.
WWW_AUTHENTICATE = 'Basic realm="SCIM", Bearer realm="SCIM"'


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    detail: str
    challenge: bool

    @property
    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/scim+json", "Cache-Control": "no-store"}
        if self.challenge:
            headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        return headers

    @property
    def body(self) -> str:
        return json.dumps({"schemas": [SCIM_ERROR_SCHEMA], "status": str(self.status), "detail": self.detail})


GATEWAY_RESPONSES = {
    # No Authorization header at all.
    "UNAUTHORIZED": GatewayResponse(
        401,
        "Authentication required: send the client ID and secret with HTTP Basic, "
        "or as the bearer token <client id>.<client secret>",
        challenge=True,
    ),
    # The authorizer refused the credential: malformed, unknown, wrong secret, revoked, or no permission.
    "ACCESS_DENIED": GatewayResponse(401, "The credentials are invalid or have been revoked", challenge=True),
    # A path (or method) no route serves.
    "MISSING_AUTHENTICATION_TOKEN": GatewayResponse(404, "No SCIM endpoint at this path", challenge=False),
}
