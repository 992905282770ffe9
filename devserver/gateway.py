"""Make Chalice's local gateway answer as API Gateway does once ``infra/`` set our gateway responses.

``chalice local`` and ``chalice.test.Client`` run the authorizer through
``chalice.local.LocalGateway``, which answers a refusal with a bare 403, a
missing header with a bare 401, and lets the app answer a method a path does not
serve with a bare 405 (API Gateway: MISSING_AUTHENTICATION_TOKEN, as for an
unknown path). On AWS, the gateway responses of
:mod:`chalicelib.gateway_responses` replace those answers; this module applies
the same table locally, so tests and ``make run`` see what an IdP sees in production.
"""

import uuid
from typing import Any

from chalice import local

from chalicelib.gateway_responses import GATEWAY_RESPONSES, GatewayResponse

# Chalice's local errors, by the API Gateway response type they stand for.
_RESPONSE_TYPES = {"AccessDeniedException": "ACCESS_DENIED"}


class GatewayResponseError(local.LocalGatewayException):
    """A local gateway error carrying one of our gateway responses."""

    def __init__(self, response: GatewayResponse, request_id: str) -> None:
        super().__init__({**response.headers, "x-amzn-RequestId": request_id}, response.body.encode())
        self.CODE = response.status


def _response_type(error: local.LocalGatewayException) -> str | None:
    if isinstance(error, local.NotAuthorizedError):
        return "UNAUTHORIZED"
    if isinstance(error, local.ForbiddenError):
        return _RESPONSE_TYPES.get(error.headers.get("x-amzn-ErrorType", ""))
    return None


def _serves(gateway: Any, method: str, path: str) -> bool:
    """Whether API Gateway has this method on this resource; chalice local lets the app answer 405 instead."""
    try:
        route = local.RouteMatcher(list(gateway._app_object.routes)).match_route(path).route
    except ValueError:
        return False
    return method in gateway._app_object.routes[route]


def emulate_gateway_responses() -> None:
    """Patch chalice.local.LocalGateway once, for this process."""
    gateway: Any = local.LocalGateway
    if getattr(gateway, "_scim_gateway_responses", False):
        return
    original = gateway.handle_request

    def handle_request(self: Any, method: str, path: str, headers: Any, body: Any) -> Any:
        if not _serves(self, method, path):
            # A path, or a method of a path, that no route serves: one gateway response, as on AWS.
            raise GatewayResponseError(GATEWAY_RESPONSES["MISSING_AUTHENTICATION_TOKEN"], str(uuid.uuid4()))
        try:
            return original(self, method, path, headers, body)
        except local.LocalGatewayException as error:
            response_type = _response_type(error)
            if response_type is None:
                raise
            raise GatewayResponseError(
                GATEWAY_RESPONSES[response_type], error.headers.get("x-amzn-RequestId", "")
            ) from None

    gateway.handle_request = handle_request
    gateway._scim_gateway_responses = True
