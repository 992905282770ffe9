"""``make deploy``'s steps around ``chalice deploy``: a preflight check, then tenant limits and gateway responses.

Before: the stage's Python (Chalice picks the Lambda runtime from the deploying interpreter;
:mod:`chalicelib.stage_runtime`) and the stage's secrets in Secrets Manager (without them the stage
answers every request 503).
After: API Gateway answers a request without an Authorization header, and a path no route serves, before
any of our code runs; :data:`chalicelib.gateway_responses.GATEWAY_RESPONSES` makes those SCIM
errors. ``chalice deploy`` rewrites the REST API from its own definition on every deploy, so this
step puts them again each time (idempotent) and redeploys the API stage so they take effect. It
finds the API in ``.chalice/deployed/<stage>.json``, the deployed state the repository shares.
Per-tenant limits (``tenant-limits``, :func:`apply_tenant_limits`) are re-applied the same way: Chalice
cannot set the API's key source, and its definition requires no API key, so after each ``chalice deploy``
every IdP is served with no per-tenant limit until this step runs.

The stream functions' retries and dead-letter queue (``stream-failures``), and the stack's stream ARNs
written into the stage by ``deploy-infra``: :mod:`infra.stream_release`.
"""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from chalicelib.auth.tenant_limits import UNAUTHENTICATED, Limits, default_limits
from chalicelib.gateway_responses import GATEWAY_RESPONSES
from chalicelib.stage_runtime import read_config, stage_python_version
from chalicelib.stage_secrets import CREDENTIAL_HASH_KEY, CURSOR_SECRET
from infra import stream_release
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


def preflight(stage: str) -> list[str]:
    """What stops a release of the stage, in words for the operator; empty when it may go.

    ``make deploy`` runs it before compiling the bytecode, so a release that cannot go stops in seconds.
    """
    from infra import deploy_lock, guardrails
    from infra.stage_release import refusal_for_dirty_tree

    problems = []
    config = read_config(PROJECT_DIR)
    dirty = refusal_for_dirty_tree(PROJECT_DIR, stage)
    if dirty:
        problems.append(dirty)
    try:
        guardrails.stage_guardrails(stage)
    except ValueError as error:
        problems.append(str(error))
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    wanted = stage_python_version(config, stage)
    if wanted and version != wanted:
        problems.append(
            f'Python {version}: stage {stage} runs on Python {wanted} (.chalice/config.json "python_version"; '
            f"the Lambda runtime follows the deploying interpreter): run `make deploy STAGE={stage}`, which finds it"
        )
    variables = stage_variables(PROJECT_DIR, stage)
    prefix = variables.get("SECRETS_PREFIX")
    if not prefix:
        return [*problems, f"stage {stage!r} sets no SECRETS_PREFIX in .chalice/config.json"]
    missing = stream_release.missing_variables(variables)
    if missing:
        problems.append(
            f"stage {stage!r} has no {', '.join(missing)} in .chalice/config.json: run `make deploy-infra "
            f"STAGE={stage}` (it writes them) and commit the file"
        )
    secretsmanager = boto3.client("secretsmanager")
    for name in (CREDENTIAL_HASH_KEY, CURSOR_SECRET):
        try:
            secretsmanager.describe_secret(SecretId=f"{prefix}/{name}")
        except botocore.exceptions.ClientError as error:
            code = error.response["Error"]["Code"]
            problems.append(f"secret {prefix}/{name}: {code} (run `make deploy-infra STAGE={stage}` first)")
    held = deploy_lock.holder(boto3.client("dynamodb"), stage)
    if held:
        problems.append(f"stage {stage} is being released by {held}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.release", description=__doc__)
    parser.add_argument(
        "step",
        choices=[
            "deploy-infra",
            "preflight",
            "deploy",
            "releases",
            "rollback",
            "destroy",
            "tenant-limits",
            "stream-failures",
            "gateway-responses",
            "flush-auth-cache",
        ],
    )
    parser.add_argument("stage")
    parser.add_argument("--to", type=int, help="rollback: the release number to deploy again (default: the previous)")
    parser.add_argument(
        "--management-caller-arn",
        default="",
        help="deploy-infra: the platform's IAM principal that may assume the management caller role (empty: none)",
    )
    args = parser.parse_args(argv)
    if args.step == "preflight":
        problems = preflight(args.stage)
        for problem in problems:
            print(f"make deploy: {problem}", file=sys.stderr)
        return 1 if problems else 0
    from infra import stage_release

    if args.step == "deploy-infra":
        from infra.infra_stack import deploy_infra, stack_outputs

        try:  # the role may invoke the stage's own API once chalice deploy made it; any of the account's before
            api_id = deployed_rest_api(PROJECT_DIR, args.stage)["rest_api_id"]
        except NotDeployed:
            api_id = "*"
        variables = stage_variables(PROJECT_DIR, args.stage)
        events = stream_release.stack_parameters(variables)
        cloudformation = boto3.client("cloudformation")
        deploy_infra(cloudformation, args.stage, args.management_caller_arn, api_id, events)
        outputs = stack_outputs(cloudformation, args.stage)
        written = stream_release.write_stack_outputs(PROJECT_DIR, args.stage, outputs)
        print(f"make deploy-infra: {', '.join(written)} written into .chalice/config.json: commit it", file=sys.stderr)
        return 0
    if args.step == "stream-failures":
        try:
            done = stream_release.apply_stream_failures(
                boto3.client("lambda"),
                boto3.client("sqs"),
                stream_release.deployed_mappings(PROJECT_DIR, args.stage),
                stage_variables(PROJECT_DIR, args.stage),
            )
        except stream_release.StreamsNotWired as error:
            print(f"make deploy: {error}", file=sys.stderr)
            return 1
        print(f"make deploy: {done}", file=sys.stderr)
        return 0
    if args.step == "deploy":
        return stage_release.release(PROJECT_DIR, args.stage)
    if args.step == "releases":
        return stage_release.show_releases(PROJECT_DIR, args.stage)
    if args.step == "rollback":
        return stage_release.rollback(PROJECT_DIR, args.stage, args.to)
    if args.step == "destroy":
        return stage_release.destroy(PROJECT_DIR, args.stage)
    try:
        api = deployed_rest_api(PROJECT_DIR, args.stage)
    except NotDeployed as error:
        print(error, file=sys.stderr)
        return 1
    apigateway = control_plane()
    stage_name = api_gateway_stage(PROJECT_DIR, args.stage)
    if args.step == "flush-auth-cache":
        apigateway.flush_stage_authorizers_cache(restApiId=api["rest_api_id"], stageName=stage_name)
        return 0
    if args.step == "tenant-limits":
        tenant_limits(apigateway, args.stage, api["rest_api_id"], stage_name)
        return 0
    apply_gateway_responses(apigateway, api["rest_api_id"], stage_name)
    print(f"SCIM_BASE_URL={api['rest_api_url'].rstrip('/')}/scim/v2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
