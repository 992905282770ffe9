"""``make deploy``'s steps around ``chalice deploy``: a preflight check, then the two gateway responses and the
streams' failure handling; and ``make deploy-infra``'s last step, which writes the stack's outputs into the stage.

Before: the release Python (Chalice picks the Lambda runtime from the deploying interpreter) and the
stage's secrets in Secrets Manager (without them the stage answers every request 503).
After: API Gateway answers a request without an Authorization header, and a path no route serves, before
any of our code runs; :data:`chalicelib.gateway_responses.GATEWAY_RESPONSES` makes those SCIM
errors. ``chalice deploy`` rewrites the REST API from its own definition on every deploy, so this
step puts them again each time (idempotent) and redeploys the API stage so they take effect. It
finds the API in ``.chalice/deployed/<stage>.json``, the deployed state the repository shares.

Streams: Chalice creates each stream function's event source mapping (batches of 10 from the stream's
start) with Lambda's defaults, which retry a failing batch until its records expire (24 hours) and
hold the stream meanwhile. ``stream-failures`` sets what the consumer expects: partial batch responses
(``ReportBatchItemFailures``), a split batch on error, :data:`~chalicelib.events.RETRY_ATTEMPTS`
retries, then the record's place on the stage's dead-letter queue (the on-failure destination).
``stream-config`` (``make deploy-infra``) copies the stack's stream ARNs, bus and queues into the
stage's environment in ``.chalice/config.json``: Chalice reads the ARNs from there to deploy.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

from chalicelib.config import STREAM_VARIABLES
from chalicelib.events import RETRY_ATTEMPTS
from chalicelib.gateway_responses import GATEWAY_RESPONSES
from chalicelib.stage_secrets import CREDENTIAL_HASH_KEY, CURSOR_SECRET
from infra.events_stack import DEFAULT_RETENTION_DAYS, STAGE_OUTPUTS

PROJECT_DIR = Path(__file__).resolve().parent.parent
# API Gateway picks a gateway response's body by content type; IdPs send either.
ERROR_CONTENT_TYPES = ("application/json", "application/scim+json")
# Chalice picks the Lambda runtime from the deploying interpreter: releases run on the Python CI tests on.
RELEASE_PYTHON = "3.11"


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


def _config_path(project_dir: Path) -> Path:
    return project_dir / ".chalice" / "config.json"


def stage_variables(project_dir: Path, stage: str) -> dict[str, str]:
    variables: dict[str, str] = json.loads(_config_path(project_dir).read_text())["stages"][stage].get(
        "environment_variables", {}
    )
    return variables


def write_stack_outputs(project_dir: Path, stage: str, outputs: list[dict[str, str]]) -> list[str]:
    """Set the stage's variables of :data:`~infra.events_stack.STAGE_OUTPUTS` from the stack's outputs.

    :return: The variables written.
    """
    values = {output["OutputKey"]: output["OutputValue"] for output in outputs}
    missing = sorted(set(STAGE_OUTPUTS) - set(values))
    if missing:
        raise ValueError(f"the stack has no output {', '.join(missing)}: deploy infra/stack.json as it is now")
    path = _config_path(project_dir)
    config = json.loads(path.read_text())
    variables = config["stages"][stage].setdefault("environment_variables", {})
    for key, variable in STAGE_OUTPUTS.items():
        variables[variable] = values[key]
    path.write_text(json.dumps(config, indent=2) + "\n")
    return [STAGE_OUTPUTS[key] for key in STAGE_OUTPUTS]


def stream_function_names(stage: str, app_name: str = "onemodel-scim") -> list[str]:
    """Chalice names every function but the API's ``<app>-<stage>-<name>``; app.py names the stream ones."""
    return [f"{app_name}-{stage}-{table}_changes" for table in STREAM_VARIABLES]


def failure_settings(dead_letter_queue_arn: str) -> dict[str, Any]:
    """What ``UpdateEventSourceMapping`` sets on every stream function's mapping."""
    return {
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": RETRY_ATTEMPTS,
        "DestinationConfig": {"OnFailure": {"Destination": dead_letter_queue_arn}},
    }


def apply_stream_failures(lambda_client: Any, sqs: Any, stage: str, queue_url: str) -> list[str]:
    """Set :func:`failure_settings` on the stage's stream mappings; returns the mappings' UUIDs."""
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    updated = []
    for function in stream_function_names(stage):
        # By ARN: the mappings name their function by the ARN chalice deploy gave (moto matches only that).
        function_arn = lambda_client.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
        for mapping in lambda_client.list_event_source_mappings(FunctionName=function_arn)["EventSourceMappings"]:
            lambda_client.update_event_source_mapping(UUID=mapping["UUID"], **failure_settings(arn))
            updated.append(mapping["UUID"])
    return updated


def preflight(stage: str) -> list[str]:
    """What stops a release of the stage, in words for the operator; empty when it may go."""
    problems = []
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version != RELEASE_PYTHON:
        problems.append(
            f"Python {version}: releases run on Python {RELEASE_PYTHON} (the Lambda runtime follows the "
            "deploying interpreter, and CI tests on it); run `make clean`, then `make deploy` with python3.11"
        )
    variables = stage_variables(PROJECT_DIR, stage)
    prefix = variables.get("SECRETS_PREFIX")
    if not prefix:
        return [*problems, f"stage {stage!r} sets no SECRETS_PREFIX in .chalice/config.json"]
    missing = [name for name in (*STREAM_VARIABLES.values(), "EVENTS_DEAD_LETTER_QUEUE_URL") if name not in variables]
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
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.release", description=__doc__)
    parser.add_argument(
        "step",
        choices=[
            "preflight",
            "gateway-responses",
            "flush-auth-cache",
            "stream-failures",
            "stream-config",
            "archive-retention",
        ],
    )
    parser.add_argument("stage")
    args = parser.parse_args(argv)
    if args.step == "archive-retention":
        print(stage_variables(PROJECT_DIR, args.stage).get("EVENTS_ARCHIVE_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
        return 0
    if args.step == "stream-config":
        written = write_stack_outputs(PROJECT_DIR, args.stage, json.load(sys.stdin) or [])
        print(f"make deploy-infra: wrote {', '.join(written)} into .chalice/config.json: commit it", file=sys.stderr)
        return 0
    if args.step == "stream-failures":
        variables = stage_variables(PROJECT_DIR, args.stage)
        queue_url = variables.get("EVENTS_DEAD_LETTER_QUEUE_URL")
        if not queue_url:
            print(f"stage {args.stage!r} has no EVENTS_DEAD_LETTER_QUEUE_URL: run make deploy-infra", file=sys.stderr)
            return 1
        updated = apply_stream_failures(boto3.client("lambda"), boto3.client("sqs"), args.stage, queue_url)
        expected = len(
            [name for name in STREAM_VARIABLES.values() if stage_variables(PROJECT_DIR, args.stage).get(name)]
        )
        if len(updated) < expected:
            print(f"make deploy: {len(updated)} of {expected} stream mappings found: is it deployed?", file=sys.stderr)
            return 1
        print(f"make deploy: {len(updated)} stream mappings: {RETRY_ATTEMPTS} retries, then the DLQ", file=sys.stderr)
        return 0
    if args.step == "preflight":
        problems = preflight(args.stage)
        for problem in problems:
            print(f"make deploy: {problem}", file=sys.stderr)
        return 1 if problems else 0
    try:
        api = deployed_rest_api(PROJECT_DIR, args.stage)
    except NotDeployed as error:
        print(error, file=sys.stderr)
        return 1
    apigateway = boto3.client("apigateway")
    stage_name = api_gateway_stage(PROJECT_DIR, args.stage)
    if args.step == "flush-auth-cache":
        apigateway.flush_stage_authorizers_cache(restApiId=api["rest_api_id"], stageName=stage_name)
        return 0
    apply_gateway_responses(apigateway, api["rest_api_id"], stage_name)
    print(f"SCIM_BASE_URL={api['rest_api_url'].rstrip('/')}/scim/v2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
