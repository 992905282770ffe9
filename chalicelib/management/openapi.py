"""The management API's OpenAPI 3.1 document, generated from :data:`.api.OPERATIONS` and their pydantic models.

Served at ``/admin/v1/openapi.json`` and kept in the repository (``docs/reference/management-openapi.json``,
written by ``make openapi``); a test fails when the kept copy is stale.
"""

import re
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.management import models
from chalicelib.management.routes import OPENAPI_PATH, OPERATIONS, ROOT

_PARAMETER = re.compile(r"{(\w+)}")
_STRING = {"type": "string"}
_STATUS_WORDS = {
    400: "Bad input: the field at fault is named",
    403: "No IAM principal (SigV4) on the request",
    404: "Unknown tenant, or the resource named",
    409: "Refused by a rule (e.g. one active credential per tenant)",
    503: "Unavailable; retry",
}


@cache
def document() -> dict[str, Any]:
    used: list[type[BaseModel]] = [models.Error]
    for operation in OPERATIONS:
        used += [m for m in (operation.request, operation.query, operation.response) if m is not None]
    keyed = [(model, "validation" if _is_request(model) else "serialization") for model in dict.fromkeys(used)]
    refs, schemas = models_json_schema(keyed, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
    paths: dict[str, Any] = {}
    for operation in OPERATIONS:
        entry: dict[str, Any] = {
            "summary": operation.summary,
            "operationId": operation.handler.__name__,
            "security": [{"sigv4": []}],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": models.PATH_PARAMETERS.get(name, _STRING)}
                for name in _PARAMETER.findall(operation.path)
            ],
            "responses": {
                str(operation.status): {
                    "description": "Done",
                    "content": {"application/json": {"schema": refs[(operation.response, "serialization")]}},
                },
                **{
                    str(code): {
                        "description": _STATUS_WORDS[code],
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    }
                    for code in (*operation.errors, 503)
                },
            },
        }
        if operation.method == "DELETE":
            entry["parameters"].append(
                {
                    "name": "actor",
                    "in": "query",
                    "required": True,
                    "description": "Who asks for this write, kept in the tenant's activity trail.",
                    "schema": {"type": "string", "maxLength": models.MAX_ACTOR},
                }
            )
        if operation.query is not None:
            properties = operation.query.model_json_schema()["properties"]
            entry["parameters"] += [
                {"name": name, "in": "query", "required": False, "schema": schema}
                for name, schema in properties.items()
            ]
        if operation.request is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(operation.request, "validation")]}},
            }
        paths.setdefault(operation.path, {})[operation.method.lower()] = entry
    paths[OPENAPI_PATH] = {
        "get": {
            "summary": "This document",
            "operationId": "openapi",
            "security": [{"sigv4": []}],
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "One Model SCIM management API",
            "version": "1",
            "description": "What One Model's platform does for a customer's administrator: credentials, status, "
            "activity, role mappings, the role catalogue, password policy, role source and the sign-in decision. "
            "JSON, not SCIM; every request is signed with AWS SigV4 by the platform's management role.",
        },
        "servers": [{"url": ROOT}],
        "paths": {path.removeprefix(ROOT): methods for path, methods in sorted(paths.items())},
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "sigv4": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "description": "AWS Signature Version 4 (API Gateway IAM authorization, execute-api:Invoke).",
                }
            },
        },
    }


def _is_request(model: type[BaseModel]) -> bool:
    return any(model in (o.request, o.query) for o in OPERATIONS)


if __name__ == "__main__":
    import json
    import sys
    from pathlib import Path

    Path(sys.argv[1]).write_text(json.dumps(document(), indent=2, ensure_ascii=False) + "\n")
