"""The Chalice adapter: a Chalice request in, scim2-server's handler in the middle, a Chalice response out.

It is to Chalice what ``scim2_server.applications.wsgi`` is to WSGI. Every
exception ends here as an RFC 7644 §3.12 error: SCIM exceptions as they are,
storage unavailable as 503 with Retry-After, and anything else as a
500 that says "internal error" and logs the rest with the request id.
"""

import json
import logging
import time
from dataclasses import dataclass
from functools import lru_cache, partial
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from chalice.app import Request, Response
from pydantic import ValidationError
from scim2_models import PayloadTooLargeException, SCIMException
from scim2_server.errors import MethodNotAllowedException
from scim2_server.requests import ScimRequest
from scim2_server.responses import SCIM_MEDIA_TYPE, ScimResponse
from scim2_server.service import scim_exception_of

from chalicelib.config import Settings, settings
from chalicelib.gateway_responses import RETRY_AFTER_SECONDS
from chalicelib.metrics import request_metrics
from chalicelib.provisioning.activity import WriteNotes
from chalicelib.provisioning.handler import ProvisioningHandler
from chalicelib.provisioning.limits import RequestLimits
from chalicelib.provisioning.passwords import PasswordPolicy
from chalicelib.provisioning.service import ProvisioningService
from chalicelib.provisioning.wiring import handler_for
from chalicelib.resources.activity import tenant_trail
from chalicelib.resources.budget import request_budget
from chalicelib.resources.errors import ServiceUnavailableException
from chalicelib.scim import dialects, trail
from chalicelib.scim.access_log import log_request
from chalicelib.scim.provider import build_provider
from chalicelib.scim.wording import MAX_DETAIL, client_detail, shorten
from chalicelib.stage_secrets import SecretUnavailable

SCIM_ROOT = "/scim/v2"
log = logging.getLogger("scim")


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the authorizer established it."""

    tenant: str
    client_id: str


class ScimApi:
    """Serves SCIM requests for any tenant; built once per Lambda container."""

    def __init__(self, config: Settings) -> None:
        self.settings = config
        self.provider = build_provider(config)
        self.service = ProvisioningService(
            self.provider,
            PasswordPolicy.from_settings(config),
            partial(_cursor_secret, config),
            RequestLimits.from_settings(config),
        )

    def handler_for(self, tenant: str, notes: WriteNotes | None = None) -> ProvisioningHandler:
        return handler_for(self.service, self.settings, tenant, notes)

    def serve(self, request: Request, caller: Caller | None) -> Response:
        started = time.perf_counter()
        scim_request = self.read_request(request)
        notes = WriteNotes()
        ignored: list[str] = []
        try:
            self.check_limits(scim_request)
            scim_request = dialects.normalise(scim_request)
            if caller is None:
                # The one route served without credentials (RFC 7644 §4): /ServiceProviderConfig.
                if scim_request.method != "GET":
                    raise MethodNotAllowedException(allowed=["GET"])
                response = self.service.service_provider_config(scim_request.url, scim_request.query)
            else:
                scim_request.subject = caller
                handler = self.handler_for(caller.tenant, notes)
                with request_budget(self.settings.request_budget_seconds):
                    response = handler.handle(scim_request)
                ignored = handler.ignored_attributes
        except Exception as exception:  # the one edge where every error becomes a SCIM error
            response = self.error_response(request, exception)
        if caller is not None:
            self.record_activity(scim_request, response, caller, notes, _request_id(request))
        status, scim_type = int(response.status), (response.body or {}).get("scimType")
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        log_request(
            metrics=request_metrics(self.settings.stage, status, scim_type, latency_ms),
            request_id=_request_id(request),
            tenant=caller.tenant if caller else None,
            client_id=caller.client_id if caller else None,
            method=scim_request.method,
            path=shorten(scim_request.path),
            status=status,
            scim_type=scim_type,
            latency_ms=latency_ms,
            # Attributes the body held that no schema defines (names only): an IdP mapping to fix.
            **({"ignored_attributes": ignored} if ignored else {}),
        )
        return self.write_response(response)

    def record_activity(
        self, request: ScimRequest, response: ScimResponse, caller: Caller, notes: WriteNotes, request_id: str | None
    ) -> None:
        """Add the request to the tenant's trail when it wrote or was refused; never changes ``response``."""
        try:
            entry = trail.entry_for(request, response, caller.client_id, notes, request_id)
        except Exception:
            log.exception("activity entry not built, request id %s", request_id)
            return
        if entry is not None:
            trail.record(tenant_trail(self.settings, caller.tenant), entry, self.settings)

    def check_limits(self, request: ScimRequest) -> None:
        """Refuse what is over the announced limits before any work is done."""
        if len(request.body) > self.settings.max_body_bytes:
            raise PayloadTooLargeException(detail=f"The body exceeds {self.settings.max_body_bytes} bytes")
        self.service.limits.check_document(_json_body(request.body))

    def error_response(self, request: Request, exception: Exception) -> ScimResponse:
        """The RFC 7644 §3.12 error of any exception, its detail in SCIM's words (:func:`client_detail`)."""
        response = self._error_response(request, exception)
        if response.body and response.body.get("detail"):
            response.body["detail"] = client_detail(response.body["detail"])
        return response

    def _error_response(self, request: Request, exception: Exception) -> ScimResponse:
        if isinstance(exception, ValidationError):
            exception = scim_exception_of(exception)
        elif isinstance(exception, SCIMException) and isinstance(exception.__cause__, ValidationError):
            # scim2-models words a PATCH value of the wrong type as pydantic's report (model names, a URL).
            exception = type(exception)(detail=scim_exception_of(exception.__cause__).detail)
        if isinstance(exception, ServiceUnavailableException):
            if exception.__cause__ is not None:
                log.warning("storage unavailable: %s", shorten(str(exception.__cause__), MAX_DETAIL))
            response = self.service.error_response(exception)
            response.headers["Retry-After"] = RETRY_AFTER_SECONDS
            return response
        if not isinstance(exception, SCIMException):
            log.exception("internal error, request id %s", _request_id(request))
        return self.service.error_response(exception)

    def read_request(self, request: Request) -> ScimRequest:
        path = unquote(request.context.get("path") or "")
        root, _, relative = path.partition(SCIM_ROOT)
        headers = dict(request.headers)
        return ScimRequest(
            method=request.method,
            base_url=self.base_url(request, root, headers),
            path=relative or "/",
            query=dict(request.query_params or {}),
            headers=headers,
            # Chalice leaves json_body empty for application/scim+json: always pass the raw bytes.
            body=_as_bytes(request.raw_body),
        )

    def base_url(self, request: Request, root: str, headers: dict[str, str]) -> str:
        """The SCIM base URL that Location and meta.location start with, never taken from the client's Host.

        The stage's ``PUBLIC_BASE_URL`` (a custom domain) when set; else API Gateway's own name for the
        domain the request came through (``requestContext.domainName``, the stage URL); only ``make run``
        and the tests, which have no API Gateway in front, build it from the request's Host.
        """
        if self.settings.public_base_url:
            return self.settings.public_base_url.rstrip("/")
        domain = request.context.get("domainName")
        if domain:
            return f"https://{domain}{root}{SCIM_ROOT}"
        proto = headers.get("x-forwarded-proto", "http")
        host = headers.get("host", "localhost")
        return f"{proto}://{host}{root}{SCIM_ROOT}"

    @staticmethod
    def write_response(response: ScimResponse) -> Response:
        headers: dict[str, str | list[str]] = {
            **response.headers,
            "Content-Type": SCIM_MEDIA_TYPE,
            "Cache-Control": "no-store",
        }
        body = "" if response.body is None else json.dumps(response.body)
        if response.status == HTTPStatus.NO_CONTENT or response.status == HTTPStatus.NOT_MODIFIED:
            body = ""
        return Response(body=body, status_code=int(response.status), headers=headers)


def _request_id(request: Request) -> str | None:
    """API Gateway's request id (``make run`` and the tests emulate it, devserver.gateway); else the invocation's."""
    context = getattr(request, "lambda_context", None)
    return request.context.get("requestId") or getattr(context, "aws_request_id", None)


def _cursor_secret(config: Settings) -> str:
    """The stage's cursor secret, read when a request first pages with a cursor; unreadable, that request is a
    503 with Retry-After (fail closed: no cursor is ever sealed or opened with a guessed secret)."""
    try:
        return config.cursor_secret
    except SecretUnavailable as error:
        log.error("answering 503: %s", error)
        raise ServiceUnavailableException() from None


def _json_body(body: bytes) -> Any:
    """The body as JSON, or None when it is none: the service refuses a body it cannot read, with its own words."""
    try:
        return json.loads(body) if body else None
    except (ValueError, RecursionError):
        return None


def _as_bytes(body: str | bytes | None) -> bytes:
    if body is None:
        return b""
    return body.encode() if isinstance(body, str) else body


@lru_cache(maxsize=4)
def _api_for(config: Settings) -> ScimApi:
    return ScimApi(config)


def scim_api() -> ScimApi:
    """The container's ScimApi for the settings in force, built on the first SCIM request, not at import."""
    return _api_for(settings())
