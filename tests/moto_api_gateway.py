"""Let moto's API Gateway (5.2.5) build the REST API that ``chalice deploy`` sends it, as API Gateway does.

Chalice imports its API as a Swagger 2.0 definition (ImportRestApi, then PutRestApi in overwrite
mode on every later deploy). moto cannot take it as it is, so ``chalice deploy`` against moto's
server would fail, or leave an API without its authorizer:

- ``ImportRestApi`` reads ``info.description``, which Chalice's definition lacks (KeyError, a 500);
- ``PutRestApi`` accepts OpenAPI 3 only, and refuses ``"swagger": "2.0"``;
- it ignores ``securityDefinitions`` and each method's ``security``: no authorizer is created or attached,
  and a method Chalice sends with IAM authorization (``sigv4``) reads back as NONE.

Patched in the test's own moto server process: the first two by handing moto the same paths under
the header it accepts, and the third by creating each ``x-amazon-apigateway-authorizer`` and
attaching it to every method whose ``security`` names it, as API Gateway's import does (a method whose
``security`` names an ``awsSigv4`` scheme gets authorization type AWS_IAM). Nothing
is invented: a route Chalice sends without ``security`` gets authorization type NONE. Overwrite
mode also drops the gateway responses the definition does not carry, which is why ``make deploy``
puts them again after every ``chalice deploy``. Every definition Chalice sent is kept in
:data:`IMPORTED`, for the test to read what AWS would have been asked to build.

moto has no ``UpdateMethod`` (a 500), which ``make deploy`` uses to require an API key on each SCIM
method (``infra/release.py``): :func:`method_updates` gives it the one patch operation used, as AWS applies it.
"""

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.apigateway.models import APIGatewayBackend
from moto.apigateway.responses import APIGatewayResponse

IMPORTED: list[dict[str, Any]] = []
"""Each API definition ``chalice deploy`` sent, in order."""


def _for_moto(definition: dict[str, Any]) -> dict[str, Any]:
    """The same paths, methods and integrations, under the header moto reads."""
    translated = copy.deepcopy(definition)
    translated.pop("swagger", None)
    translated["openapi"] = "3.0.1"
    translated["info"].setdefault("description", "")
    return translated


def _attach_authorizers(backend: APIGatewayBackend, api_id: str, definition: dict[str, Any]) -> None:
    api = backend.get_rest_api(api_id)
    authorizer_ids = {}
    iam = set()
    for name, scheme in definition.get("securityDefinitions", {}).items():
        if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4":
            iam.add(name)
            continue
        authorizer = scheme.get("x-amazon-apigateway-authorizer")
        if authorizer is None:
            continue
        existing = next((found for found in api.authorizers.values() if found.name == name), None)
        created = existing or backend.create_authorizer(
            api_id,
            name,
            authorizer["type"].upper(),
            authorizer_uri=authorizer["authorizerUri"],
            identity_source=f"method.request.header.{scheme['name']}",
            authorizer_result_ttl=authorizer.get("authorizerResultTtlInSeconds"),
        )
        authorizer_ids[name] = created.id
    for path, methods in definition["paths"].items():
        resource = api.get_resource_for_path(path)
        for method_name, method in methods.items():
            names = [name for requirement in method.get("security", []) for name in requirement]
            attached = [name for name in names if name in authorizer_ids]
            found = resource.resource_methods[method_name.upper()]
            found.authorization_type = "CUSTOM" if attached else "AWS_IAM" if set(names) & iam else "NONE"
            found.authorizer_id = authorizer_ids[attached[0]] if attached else None


@contextmanager
def chalice_swagger_imports() -> Iterator[list[dict[str, Any]]]:
    """Patch moto's API Gateway for the duration; yields the definitions Chalice sends."""
    original_put = APIGatewayBackend.put_rest_api

    def import_rest_api(self: APIGatewayBackend, api_doc: dict[str, Any], fail_on_warnings: bool) -> Any:
        api = self.create_rest_api(name=api_doc["info"]["title"], description=api_doc["info"].get("description", ""))
        self.put_rest_api(api.id, api_doc, fail_on_warnings, mode="overwrite")
        return api

    def put_rest_api(
        self: APIGatewayBackend, function_id: str, api_doc: dict[str, Any], fail_on_warnings: bool, mode: str = "merge"
    ) -> Any:
        IMPORTED.append(copy.deepcopy(api_doc))
        if mode == "overwrite":
            self.get_rest_api(function_id).gateway_responses.clear()
        api = original_put(self, function_id, _for_moto(api_doc), False, mode)
        _attach_authorizers(self, function_id, api_doc)
        return api

    saved = APIGatewayBackend.import_rest_api, APIGatewayBackend.put_rest_api
    APIGatewayBackend.import_rest_api = import_rest_api  # type: ignore[method-assign]
    APIGatewayBackend.put_rest_api = put_rest_api  # type: ignore[method-assign]
    IMPORTED.clear()
    try:
        yield IMPORTED
    finally:
        APIGatewayBackend.import_rest_api, APIGatewayBackend.put_rest_api = saved  # type: ignore[method-assign]


@contextmanager
def method_updates() -> Iterator[None]:
    """Patch moto's API Gateway with ``UpdateMethod`` for ``/apiKeyRequired``; anything else stays unsupported."""

    def update_method(self: APIGatewayResponse) -> str:
        _, _, api_id, _, resource_id, _, method_type = self.path.split("/")[:7]
        method = self.backend.get_method(api_id, resource_id, method_type)
        for operation in self._get_param("patchOperations"):
            if (operation["op"], operation["path"]) != ("replace", "/apiKeyRequired"):
                raise NotImplementedError(f"UpdateMethod {operation['op']} {operation['path']}")
            method.api_key_required = operation["value"] == "true"
        return json.dumps(method.to_json())

    had = hasattr(APIGatewayResponse, "update_method")
    APIGatewayResponse.update_method = update_method  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if not had:
            del APIGatewayResponse.update_method  # type: ignore[attr-defined]
