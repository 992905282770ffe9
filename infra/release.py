"""``python -m infra.release STEP STAGE``: the Makefile's deploy targets, and the preflight before a release.

Before a release: the stage's Python (Chalice picks the Lambda runtime from the deploying interpreter;
:mod:`chalicelib.stage_runtime`) and the stage's secrets in Secrets Manager (without them the stage
answers every request 503), checked by :func:`preflight`. The release itself, rollback and destroy:
:mod:`infra.stage_release`. What each release puts on the REST API after ``chalice deploy`` (the gateway
responses, the per-tenant limits): :mod:`infra.rest_api`.

The stream functions' retries and dead-letter queue (``stream-failures``), and the stack's stream ARNs
written into the stage by ``deploy-infra``: :mod:`infra.stream_release`.
"""

import argparse
import sys
from pathlib import Path

import boto3
import botocore.exceptions

from chalicelib.stage_runtime import read_config, stage_python_version
from chalicelib.stage_secrets import CREDENTIAL_HASH_KEY, CURSOR_SECRET
from infra import stream_release
from infra.rest_api import (
    NotDeployed,
    api_gateway_stage,
    apply_gateway_responses,
    control_plane,
    deployed_rest_api,
    stage_variables,
    tenant_limits,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent


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
