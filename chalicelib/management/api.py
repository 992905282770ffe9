"""``/admin/v1``: each request answered by the operation of its route (:mod:`.routes`), or refused as JSON.

The table is also what :mod:`.openapi` describes, so the document and the routes cannot disagree.
On AWS the routes are behind API Gateway's IAM authorization (SigV4); as defence in depth a request
served by Lambda whose context carries no IAM principal is refused here too (403), so a route
deployed without the authorizer by mistake exposes nothing. SCIM credentials mean nothing here.
"""

import json
import logging
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ValidationError

from chalicelib.config import Settings, settings
from chalicelib.management.errors import ManagementError
from chalicelib.management.handlers import Answer, Call
from chalicelib.management.operations import Management
from chalicelib.management.routes import OPENAPI_PATH, OPERATIONS, Operation
from chalicelib.stage_secrets import SecretUnavailable
from chalicelib.store.connection import dynamodb
from chalicelib.store.errors import Unavailable

MAX_BODY_BYTES = 65_536
log = logging.getLogger("management")


_BY_ROUTE = {(operation.method, operation.path): operation for operation in OPERATIONS}


def path_parameters(resource_path: str, raw_path: str) -> dict[str, str]:
    """The path parameters of a request, decoded once from its raw path (``requestContext.path``), as the SCIM
    adapter reads its own: API Gateway and Chalice's local server differ in what ``pathParameters`` decode."""
    template = resource_path.strip("/").split("/")
    segments = raw_path.strip("/").split("/")[-len(template) :]
    return {name[1:-1]: unquote(value) for name, value in zip(template, segments, strict=False) if name[:1] == "{"}


def serve(call: Call, config: Settings | None = None) -> Answer:
    """Answer one management request; every refusal is a JSON :class:`models.Error`, never a traceback."""
    try:
        if call.in_lambda and not call.principal:
            raise ManagementError(403, "iam_principal_required", "The management API answers IAM-signed requests only.")
        if (call.method, call.resource_path) == ("GET", OPENAPI_PATH):
            from chalicelib.management.openapi import document

            return Answer(200, document())
        operation = _BY_ROUTE.get((call.method, call.resource_path))
        if operation is None:
            raise ManagementError(404, "not_found", "No such management operation.")
        argument = _argument(operation, call)
        config = config or settings()
        status_code, model = operation.handler(Management(dynamodb(config), config), call, argument)
        answer = Answer(status_code, model.model_dump(mode="json"))
    except ManagementError as error:
        answer = Answer(error.status, error.body())
    except (Unavailable, SecretUnavailable) as error:
        log.error("management answering 503: %s", type(error).__name__)
        answer = Answer(503, {"code": "unavailable", "message": "The service is unavailable; retry shortly."})
    except Exception:  # a bug: the caller gets the code and no detail, the log the traceback (never a body)
        log.exception("management internal error on %s %s", call.method, call.resource_path)
        answer = Answer(500, {"code": "internal_error", "message": "Internal error; it is logged."})
    log.info(
        json.dumps(
            {
                "log": "management",
                "method": call.method,
                "route": call.resource_path,
                "tenant": call.path_parameters.get("tenant"),
                "principal": call.principal,
                "status": answer.status,
                "code": answer.body.get("code") if answer.status >= 400 else None,
            }
        )
    )
    return answer


def _argument(operation: Operation, call: Call) -> Any:
    if operation.query is not None:
        return _validated(operation.query, dict(call.query), "query")
    if operation.request is None:
        return None
    if len(call.body) > MAX_BODY_BYTES:
        raise ManagementError(400, "body_too_large", f"The body is at most {MAX_BODY_BYTES} bytes.")
    try:
        document = json.loads(call.body) if call.body else None
    except (ValueError, RecursionError):
        raise ManagementError(400, "invalid_json", "The body is not JSON.") from None
    if not isinstance(document, dict):
        raise ManagementError(400, "invalid_body", "The body is a JSON object.")
    return _validated(operation.request, document, "body")


def _validated(model: type[BaseModel], document: dict[str, Any], where: str) -> Any:
    try:
        return model.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or where
        raise ManagementError(400, "invalid_input", f"{field}: {first['msg']}", field) from None
