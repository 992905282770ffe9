"""The stage's REST API as ``chalice deploy`` left it, and what ``make deploy`` puts on it after: the gateway
responses and the per-tenant limits.

API Gateway answers a request without an Authorization header, and a path no route serves, before any of our
code runs; :data:`chalicelib.gateway_responses.GATEWAY_RESPONSES` makes those SCIM errors. ``chalice deploy``
rewrites the REST API from its own definition on every deploy, so each release puts them again (idempotent)
and redeploys the API stage so they take effect. Per-tenant limits (:func:`apply_tenant_limits`) are
re-applied the same way: Chalice cannot set the API's key source, and its definition requires no API key.
The API is found in ``.chalice/deployed/<stage>.json``, the deployed state the repository shares.
"""

import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.auth.tenant_limits import UNAUTHENTICATED, Limits, default_limits
from chalicelib.gateway_responses import GATEWAY_RESPONSES
from infra.usage_plans import UsagePlans

PROJECT_DIR = Path(__file__).resolve().parent.parent
# API Gateway picks a gateway response's body by content type; IdPs send either.
ERROR_CONTENT_TYPES = ("application/json", "application/scim+json")


class NotDeployed(Exception):
    """The stage has no REST API in .chalice/deployed/."""


def deployed_rest_api(project_dir: Path, stage: str) -> dict[str, Any]:
    """The ``rest_api`` resource ``chalice deploy`` recorded for the stage: its id and URL."""
    path = project_dir / ".chalice" / "deployed" / f"{stage}.json"
    if not path.exists():
        raise NotDeployed(f"{path.relative_to(project_dir)} is missing: run `chalice deploy --stage {stage}` first")
    for resource in json.loads(path.read_text())["resources"]:
        if resource["resource_type"] == "rest_api":
            api: dict[str, Any] = resource
            return api
    raise NotDeployed(f"{path.relative_to(project_dir)} records no REST API")


def stage_variables(project_dir: Path, stage: str) -> dict[str, str]:
    """The environment variables .chalice/config.json gives the stage's Lambdas (global ones, then the stage's)."""
    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}


def api_gateway_stage(project_dir: Path, stage: str) -> str:
    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    name: str = config["stages"][stage].get("api_gateway_stage") or config.get("api_gateway_stage", "api")
    return name


def _static(value: str) -> str:
    # API Gateway reads a quoted response parameter as a literal; a quote inside would end it.
    if "'" in value:
        raise ValueError(f"A gateway response header cannot contain a single quote: {value!r}")
    return f"'{value}'"


def gateway_response_requests(rest_api_id: str) -> list[dict[str, Any]]:
    """The ``PutGatewayResponse`` calls for :data:`GATEWAY_RESPONSES`."""
    return [
        {
            "restApiId": rest_api_id,
            "responseType": response_type,
            "statusCode": str(response.status),
            "responseParameters": {
                f"gatewayresponse.header.{name}": _static(value) for name, value in response.headers.items()
            },
            "responseTemplates": dict.fromkeys(ERROR_CONTENT_TYPES, response.body),
        }
        for response_type, response in GATEWAY_RESPONSES.items()
    ]


def apply_gateway_responses(apigateway: Any, rest_api_id: str, stage_name: str) -> None:
    """Put every gateway response, then deploy the API to its stage: they only take effect in a deployment."""
    for request in gateway_response_requests(rest_api_id):
        apigateway.put_gateway_response(**request)
    apigateway.create_deployment(
        restApiId=rest_api_id, stageName=stage_name, description="make deploy: SCIM gateway responses"
    )


def require_tenant_keys(apigateway: Any, rest_api_id: str) -> int:
    """Key source AUTHORIZER, and an API key required on every method behind the authorizer; returns how many changed.

    Methods without the authorizer (/ServiceProviderConfig) stay open: they have no tenant to count against.
    """
    apigateway.update_rest_api(
        restApiId=rest_api_id, patchOperations=[{"op": "replace", "path": "/apiKeySource", "value": "AUTHORIZER"}]
    )
    changed = 0
    for resource in apigateway.get_paginator("get_resources").paginate(restApiId=rest_api_id, embed=["methods"]):
        for item in resource["items"]:
            for method, details in item.get("resourceMethods", {}).items():
                if details.get("authorizationType") != "CUSTOM" or details.get("apiKeyRequired"):
                    continue
                apigateway.update_method(
                    restApiId=rest_api_id,
                    resourceId=item["id"],
                    httpMethod=method,
                    patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "true"}],
                )
                changed += 1
    return changed


def apply_tenant_limits(
    apigateway: Any, rest_api_id: str, stage_name: str, plans: UsagePlans, limits: Limits, tenants: list[str]
) -> None:
    """The default plan on the API stage, every tenant's key in a plan, the keys required; then a deployment.

    Keys and plans first, so that no tenant is without a key once keys are required.
    """
    plans.ensure_default_plan(limits, {"apiId": rest_api_id, "stage": stage_name})
    plans.ensure_keys([UNAUTHENTICATED, *tenants])
    require_tenant_keys(apigateway, rest_api_id)
    apigateway.create_deployment(
        restApiId=rest_api_id, stageName=stage_name, description="make deploy: per-tenant limits"
    )


def control_plane() -> Any:
    """API Gateway's client for a release: its control plane allows a few calls a second, and tenant limits make one
    per method and per new key."""
    return boto3.client("apigateway", config=Config(retries={"mode": "standard", "max_attempts": 10}))


def tenant_limits(apigateway: Any, stage: str, rest_api_id: str, stage_name: str) -> None:
    # The stage's own settings name its credentials table and the stage its keys are derived from.
    variables = stage_variables(PROJECT_DIR, stage)
    os.environ.update(variables)
    from chalicelib.config import settings
    from chalicelib.store.connection import dynamodb
    from chalicelib.store.credentials import CredentialStore

    config = settings()
    tenants = CredentialStore(dynamodb(config), config.credentials_table).tenants()
    limits = default_limits(config)
    apply_tenant_limits(apigateway, rest_api_id, stage_name, UsagePlans(apigateway, config.stage), limits, tenants)
    print(
        f"make deploy: {len(tenants)} tenants held to their usage plans; default {limits.rate} requests/s, "
        f"burst {limits.burst}",
        file=sys.stderr,
    )
