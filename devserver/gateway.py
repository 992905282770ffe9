"""Make Chalice's local gateway answer what API Gateway answers before our code runs.

``chalice.local.LocalGateway`` (``make run``, ``chalice.test.Client``) answers a
missing Authorization header with a bare 401, and lets the app answer a method a
path does not serve with a bare 405, where API Gateway answers
MISSING_AUTHENTICATION_TOKEN as for an unknown path. ``make deploy`` sets the
gateway responses of :mod:`chalicelib.gateway_responses` for those two; a plain
``chalice deploy`` leaves API Gateway's own answers. This module gives either,
so tests and ``make run`` see what an IdP sees on AWS.

It also gives each request what API Gateway gives it and Chalice's local gateway does not: a request
id, in ``requestContext.requestId`` and in the response's ``x-amzn-RequestId`` header, so the log
lines and the trail entry of a local request carry the id its client saw. And, for ``make run`` only
(:func:`emulate_tenant_limits`), the per-tenant limits ``make deploy`` turns on: a request over its
tenant's usage plan gets the THROTTLED gateway response.
"""

import json
import threading
import uuid
from typing import Any

from chalice import local

from chalicelib.gateway_responses import GATEWAY_RESPONSES, GatewayResponse
from devserver.throttle import TenantThrottle

# What API Gateway answers for those two without our gateway responses (no SCIM body, no challenge).
AWS_DEFAULTS = {
    "UNAUTHORIZED": GatewayResponse(401, "Unauthorized"),
    "MISSING_AUTHENTICATION_TOKEN": GatewayResponse(403, "Missing Authentication Token"),
    "THROTTLED": GatewayResponse(429, "Too Many Requests"),
    # The authorizer named a key in no usage plan of the stage; no gateway response of ours covers it.
    "INVALID_API_KEY": GatewayResponse(403, "Forbidden"),
}
_ERROR_TYPES = {
    "UNAUTHORIZED": "UnauthorizedException",
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "THROTTLED": "TooManyRequestsException",
    "INVALID_API_KEY": "ForbiddenException",
}
_applied = True
_current = threading.local()  # the request id of the request this thread serves (chalice local is threaded)


class GatewayResponseError(local.LocalGatewayException):
    """A local gateway error carrying one of our gateway responses."""

    def __init__(self, response_type: str, request_id: str) -> None:
        if _applied and response_type in GATEWAY_RESPONSES:
            response = GATEWAY_RESPONSES[response_type]
            headers, body = response.headers, response.body
        else:
            response = AWS_DEFAULTS[response_type]
            headers = {"Content-Type": "application/json", "x-amzn-ErrorType": _ERROR_TYPES[response_type]}
            body = json.dumps({"message": response.detail})
        super().__init__({**headers, "x-amzn-RequestId": request_id}, body.encode())
        self.CODE = response.status


def _serves(gateway: Any, method: str, path: str) -> bool:
    """Whether API Gateway has this method on this resource; chalice local lets the app answer 405 instead."""
    try:
        route = local.RouteMatcher(list(gateway._app_object.routes)).match_route(path).route
    except ValueError:
        return False
    return method in gateway._app_object.routes[route]


def emulate_gateway_responses(applied: bool = True) -> None:
    """Patch chalice.local.LocalGateway once, for this process.

    :param applied: Answer as after ``make deploy`` (our gateway responses), else as after a plain ``chalice deploy``.
    """
    global _applied
    _applied = applied
    gateway: Any = local.LocalGateway
    if getattr(gateway, "_scim_gateway_responses", False):
        return
    original = gateway.handle_request

    def handle_request(self: Any, method: str, path: str, headers: Any, body: Any) -> Any:
        request_id = _current.request_id = str(uuid.uuid4())
        if not _serves(self, method, path):
            # A path, or a method of a path, that no route serves: one gateway response, as on AWS.
            raise GatewayResponseError("MISSING_AUTHENTICATION_TOKEN", request_id)
        try:
            response = original(self, method, path, headers, body)
        except local.NotAuthorizedError:
            # No Authorization header: API Gateway answers without calling the authorizer.
            raise GatewayResponseError("UNAUTHORIZED", request_id) from None
        except local.LocalGatewayException as error:
            error.headers = {**error.headers, "x-amzn-RequestId": request_id}
            raise
        response["headers"] = {**(response.get("headers") or {}), "x-amzn-RequestId": request_id}
        return response

    original_event = gateway._generate_lambda_event

    def generate_lambda_event(self: Any, method: str, path: str, headers: Any, body: Any) -> Any:
        event = original_event(self, method, path, headers, body)
        event["requestContext"]["requestId"] = _current.request_id
        return event

    gateway.handle_request = handle_request
    gateway._generate_lambda_event = generate_lambda_event
    gateway._scim_gateway_responses = True


def emulate_tenant_limits(throttle: TenantThrottle | None) -> None:
    """Hold each request behind the authorizer to its usage identifier key's bucket, as after ``make deploy``.

    Checked where API Gateway checks it: after the authorizer, before the route. Only the routes
    behind the authorizer require a key; /ServiceProviderConfig is never throttled this way.
    ``None`` stops it (tests).
    """
    authorizer: Any = local.LocalGatewayAuthorizer
    original = getattr(authorizer, "_scim_update_lambda_event", authorizer._update_lambda_event)
    authorizer._scim_update_lambda_event = original
    if throttle is None:
        authorizer._update_lambda_event = original
        return

    def update_lambda_event(self: Any, lambda_event: Any, auth_result: Any) -> Any:
        admitted = throttle.admit(str(auth_result.get("usageIdentifierKey") or ""))
        if admitted is None:
            raise GatewayResponseError("INVALID_API_KEY", _current.request_id)
        if not admitted:
            raise GatewayResponseError("THROTTLED", _current.request_id)
        return original(self, lambda_event, auth_result)

    authorizer._update_lambda_event = update_lambda_event
