"""Routes only: one per SCIM operation, each handing the request to the SCIM adapter; and the
management API (``/admin/v1``, IAM-authorized), each route handing it to chalicelib.management; and
one function per table stream, handing its records to chalicelib.events (provisioning events).

The authorizer Lambda loads this module too, so nothing here imports scim2 or
pydantic at import time: the adapter is loaded on the first SCIM request, the
management API on the first management request.
"""

import gc

# A cold start's imports build what lives as long as the container (modules, classes, models): the cyclic
# collector finds no garbage there, and walked it again and again while it grew (chalicelib/import_cost.py).
gc.disable()

import logging
from collections.abc import Callable
from typing import Any

from chalice.app import AuthRequest, AuthResponse, Chalice, DynamoDBEvent, IAMAuthorizer, Response

from chalicelib.auth.authorizer import ALLOWED, REFUSED, Decision, decide
from chalicelib.auth.tenant_limits import UNAUTHENTICATED, usage_key
from chalicelib.config import settings
from chalicelib.events import STREAM_BATCH_SIZE
from chalicelib.gateway_responses import REFUSED_CREDENTIAL, SERVICE_UNAVAILABLE, GatewayResponse
from chalicelib.import_cost import collection_paused, resume_collection
from chalicelib.stage_runtime import refuse_foreign_python
from chalicelib.stage_secrets import SecretUnavailable

# Chalice ships the deploying interpreter as the Lambda runtime: a deploy from another than the stage's stops here.
refuse_foreign_python()

app = Chalice(app_name="onemodel-scim")

# IdPs send application/scim+json on every method, GET and DELETE included; anything
# else must reach scim2-server, which answers 415 with a SCIM error instead of Chalice.
CONTENT_TYPES = ["application/scim+json", "application/json", "*/*"]
ROOT = "/scim/v2"
log = logging.getLogger("scim")


@app.authorizer(ttl_seconds=60)
def scim_auth(auth_request: AuthRequest) -> dict[str, Any]:
    """The tenant's client ID and secret, as HTTP Basic or as a bearer token; the decision travels in the context.

    Never a deny: the routes answer a refusal themselves (401, WWW-Authenticate, SCIM body), so a plain
    ``chalice deploy`` needs no gateway response for it. API Gateway caches the decision ``ttl_seconds``
    by Authorization header, which is how long a revoked credential may keep working.
    The usage identifier key names the tenant's API key, whose usage plan throttles it once ``make deploy``
    has set the key source to the authorizer (chalicelib/auth/tenant_limits.py); before, it is ignored.
    """
    decision = decide(auth_request.token)
    response = AuthResponse(routes=["*"], principal_id=decision.principal_id, context=decision.context())
    # AuthResponse has no usageIdentifierKey; Chalice passes a plain dict through as the authorizer's answer.
    identity = decision.tenant if decision.outcome == ALLOWED else UNAUTHENTICATED
    return {**response.to_dict(auth_request), "usageIdentifierKey": usage_key(settings().stage, identity)}


def _answer(answer: GatewayResponse) -> Response:
    return Response(body=answer.body, status_code=answer.status, headers=dict(answer.headers))


def _serve(authenticated: bool = True) -> Response:
    request = app.current_request
    assert request is not None
    decision = None
    if authenticated:
        # Every route behind the authorizer passes here first: a refused credential reaches nothing.
        decision = Decision.from_context(request.context.get("authorizer"))
        if decision.outcome == REFUSED:
            return _answer(REFUSED_CREDENTIAL)
        if decision.outcome != ALLOWED:
            return _answer(SERVICE_UNAVAILABLE)
    with collection_paused("chalicelib.scim.adapter"):
        from chalicelib.scim.adapter import Caller, scim_api

    try:
        api = scim_api()
    except SecretUnavailable as error:
        log.error("answering 503: %s", error)
        return _answer(SERVICE_UNAVAILABLE)
    caller = Caller(tenant=decision.tenant, client_id=decision.client_id) if decision else None
    return api.serve(request, caller)


def _route(path: str, methods: list[str], authenticated: bool = True) -> Any:
    options: dict[str, Any] = {"methods": methods, "content_types": CONTENT_TYPES}
    if authenticated:
        options["authorizer"] = scim_auth
    return app.route(ROOT + path, **options)


@_route("/ServiceProviderConfig", ["GET"], authenticated=False)
def service_provider_config() -> Response:
    """RFC 7643 §5: readable without credentials."""
    return _serve(authenticated=False)


@_route("/ResourceTypes", ["GET"])
def resource_types() -> Response:
    return _serve()


@_route("/ResourceTypes/{resource_type_id}", ["GET"])
def resource_type(resource_type_id: str) -> Response:
    return _serve()


@_route("/Schemas", ["GET"])
def schemas() -> Response:
    return _serve()


@_route("/Schemas/{schema_id}", ["GET"])
def schema(schema_id: str) -> Response:
    return _serve()


@_route("/Users", ["GET"])
def list_users() -> Response:
    return _serve()


@_route("/Users", ["POST"])
def create_user() -> Response:
    return _serve()


@_route("/Users/.search", ["POST"])
def search_users() -> Response:
    return _serve()


@_route("/Users/{user_id}", ["GET"])
def get_user(user_id: str) -> Response:
    return _serve()


@_route("/Users/{user_id}", ["PUT"])
def replace_user(user_id: str) -> Response:
    return _serve()


@_route("/Users/{user_id}", ["PATCH"])
def patch_user(user_id: str) -> Response:
    return _serve()


@_route("/Users/{user_id}", ["DELETE"])
def deactivate_user(user_id: str) -> Response:
    """Users are never erased: DELETE deactivates."""
    return _serve()


@_route("/Groups", ["GET"])
def list_groups() -> Response:
    return _serve()


@_route("/Groups", ["POST"])
def create_group() -> Response:
    return _serve()


@_route("/Groups/.search", ["POST"])
def search_groups() -> Response:
    return _serve()


@_route("/Groups/{group_id}", ["GET"])
def get_group(group_id: str) -> Response:
    return _serve()


@_route("/Groups/{group_id}", ["PUT"])
def replace_group(group_id: str) -> Response:
    return _serve()


@_route("/Groups/{group_id}", ["PATCH"])
def patch_group(group_id: str) -> Response:
    return _serve()


@_route("/Groups/{group_id}", ["DELETE"])
def delete_group(group_id: str) -> Response:
    """The group and its memberships go; its users stay."""
    return _serve()


@_route("/Roles", ["GET"])
def list_roles() -> Response:
    """The tenant's Application Access Roles, read-only (docs/reference/roles-and-entitlements.md)."""
    return _serve()


@_route("/Roles/.search", ["POST"])
def search_roles() -> Response:
    return _serve()


@_route("/Roles/{role_id}", ["GET"])
def get_role(role_id: str) -> Response:
    return _serve()


@_route("/Entitlements", ["GET"])
def list_entitlements() -> Response:
    """The tenant's Data Access Roles, read-only."""
    return _serve()


@_route("/Entitlements/.search", ["POST"])
def search_entitlements() -> Response:
    return _serve()


@_route("/Entitlements/{entitlement_id}", ["GET"])
def get_entitlement(entitlement_id: str) -> Response:
    return _serve()


@_route("", ["GET"])
def search_all() -> Response:
    """A search across every resource type at the service root (RFC 7644 §3.4.2)."""
    return _serve()


@_route("/.search", ["POST"])
def search_all_with_body() -> Response:
    """The same search with the query in a SearchRequest body (RFC 7644 §3.4.3)."""
    return _serve()


@_route("/Bulk", ["POST"])
def bulk() -> Response:
    """Announced as unsupported in /ServiceProviderConfig; answers 501 as RFC 7644 §3.12 says."""
    return _serve()


# -- Methods a path does not serve ---------------------------------------------
# Without a route, API Gateway answers a method a path lacks as an unknown path (our SCIM 404).
# Routed to scim2-server instead, it is a 405 that lists the path's methods in Allow (RFC 9110 §15.5.6).

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _method_not_allowed(**_path_parameters: str) -> Response:
    request = app.current_request
    assert request is not None
    return _serve(authenticated=_is_authenticated(request.path))


def _is_authenticated(path: str) -> bool:
    return not path.rstrip("/").endswith("/ServiceProviderConfig")


def _route_other_methods() -> None:
    served = {path: set(entries) for path, entries in app.routes.items() if path.startswith(ROOT)}
    for path, methods in served.items():
        others = [method for method in METHODS if method not in methods]
        if others:
            _route(path.removeprefix(ROOT), others, authenticated=_is_authenticated(path))(_method_not_allowed)


_route_other_methods()


# -- The management API (/admin/v1) ------------------------------------------------
# API Gateway verifies the SigV4 signature (execute-api:Invoke for the platform's role, infra/templates.py);
# a SCIM credential opens none of these. chalicelib.management refuses, in Lambda, a request with no IAM principal.

ADMIN_ROOT = "/admin/v1"
IAM = IAMAuthorizer()


def _manage(**_path_parameters: str) -> Response:
    request = app.current_request
    assert request is not None
    from chalicelib.management.api import path_parameters, serve
    from chalicelib.management.handlers import Call

    identity = request.context.get("identity") or {}
    resource_path = request.context.get("resourcePath", request.path)
    answer = serve(
        Call(
            method=request.method,
            resource_path=resource_path,
            path_parameters=path_parameters(resource_path, request.context.get("path") or request.path),
            query=dict(request.query_params or {}),
            body=raw if isinstance(raw := request.raw_body or b"", bytes) else raw.encode(),
            principal=identity.get("userArn") or None,
            in_lambda=settings().in_lambda,
        )
    )
    return Response(body=answer.body, status_code=answer.status, headers={"Content-Type": "application/json"})


def _admin(path: str, methods: list[str]) -> Any:
    return app.route(ADMIN_ROOT + path, methods=methods, authorizer=IAM, content_types=["application/json"])


_admin("/openapi.json", ["GET"])(_manage)
_admin("/tenants", ["POST"])(_manage)
_admin("/tenants/{tenant}/credentials", ["GET", "POST"])(_manage)
_admin("/tenants/{tenant}/credentials/{clientId}", ["DELETE"])(_manage)
_admin("/tenants/{tenant}/status", ["GET"])(_manage)
_admin("/tenants/{tenant}/activity", ["GET"])(_manage)
_admin("/tenants/{tenant}/role-mappings", ["GET"])(_manage)
_admin("/tenants/{tenant}/role-mappings/{customerSuppliedRole}", ["GET", "PUT", "DELETE"])(_manage)
_admin("/tenants/{tenant}/role-catalogue", ["GET"])(_manage)
_admin("/tenants/{tenant}/role-catalogue/{kind}/{name}", ["GET", "PUT", "DELETE"])(_manage)
_admin("/tenants/{tenant}/password-policy", ["GET", "PUT"])(_manage)
_admin("/tenants/{tenant}/role-source", ["GET", "PUT"])(_manage)
_admin("/tenants/{tenant}/sign-in", ["POST"])(_manage)


# -- Provisioning events: the tables' streams -> the stage's EventBridge bus -------------------------
# Chalice gives each stream its own function (<app>-<stage>-<table>_changes), all running the same consumer.
# The ARNs come from the stage's environment (make deploy-infra writes them into .chalice/config.json), which
# Chalice also sets while it loads this module to deploy; a stage without them deploys the API alone.
def _stream_function(table: str) -> Callable[[DynamoDBEvent], dict[str, Any]]:
    def changes(event: DynamoDBEvent) -> dict[str, Any]:
        """A batch of stream records -> events on the bus; the response names the record Lambda is to retry from."""
        from chalicelib.events.consumer import handle_stream_batch

        records: list[dict[str, Any]] = event.to_dict()["Records"]
        return handle_stream_batch(records)

    # Lambda finds a handler by module attribute: app.<table>_changes.
    changes.__name__ = changes.__qualname__ = f"{table}_changes"
    return changes


for _table, _stream_arn in settings().stream_arns:
    _function = _stream_function(_table)
    globals()[_function.__name__] = app.on_dynamodb_record(
        stream_arn=_stream_arn, batch_size=STREAM_BATCH_SIZE, starting_position="TRIM_HORIZON"
    )(_function)

resume_collection()
