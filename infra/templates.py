"""A stage's CloudFormation, generated from the code's own definitions: ``python -m infra.templates`` writes it.

Two files in ``infra/``, committed so that a review shows what changes on AWS; ``tests/test_infra.py``
fails when either differs from what this module generates, so they cannot drift from the code:

- ``stack.json`` (``make deploy-infra``): the stage's long-lived resources. The DynamoDB tables of
  :func:`chalicelib.store.tables.table_definitions` (with their TTL), the stage's secrets, the bucket
  ``aws cloudformation package`` uploads the Lambda code to, and the alarms on the metrics of
  :mod:`chalicelib.metrics` with the SNS topic they notify (README, "When something goes wrong").
- ``api.json`` (``make deploy``), merged into Chalice's SAM template by ``chalice package
  --merge-template``: the gateway responses of :mod:`chalicelib.gateway_responses`, written into the
  REST API's own definition so every deployment of the API carries them (``chalice deploy`` rewrites
  the API, so responses set beside it would be lost), and each Lambda's secrets, which CloudFormation
  resolves from Secrets Manager at deploy time, so no secret is ever in the repository.
"""

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.config import Settings, settings
from chalicelib.gateway_responses import GATEWAY_RESPONSES
from chalicelib.metrics import NAMESPACE, STAGE
from chalicelib.store.tables import TIME_TO_LIVE, table_definitions

INFRA_DIR = Path(__file__).resolve().parent
# config.py names each table <TABLE_PREFIX>-<table>; the stages in .chalice/config.json set TABLE_PREFIX=scim-<stage>.
TABLE_PREFIX = "scim-${Stage}"
STAGE_PARAMETER = {
    "Type": "String",
    "AllowedPattern": "^[a-z][a-z0-9]{0,15}$",
    "Description": "The Chalice stage (dev, prod): the tables are scim-<stage>-users, -groups, -role-mappings, ...",
}
# The logical IDs Chalice gives, in its SAM template, to the REST API, to the Lambda of the routes,
# and to the Lambda of the authorizer scim_auth in app.py.
REST_API = "RestAPI"
API_HANDLER = "APIHandler"
AUTHORIZER = "ScimAuth"
# API Gateway picks a gateway response's body by content type; IdPs send either.
ERROR_CONTENT_TYPES = ("application/json", "application/scim+json")
RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
# CreateTable arguments that are AWS::DynamoDB::Table properties of the same name and shape.
TABLE_PROPERTIES = {
    "TableName",
    "KeySchema",
    "AttributeDefinitions",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
}


@dataclass(frozen=True)
class StageSecret:
    """A setting of chalicelib.config whose dev default must never reach AWS: random per stage, in Secrets Manager."""

    variable: str
    name: str
    functions: tuple[str, ...]
    description: str

    @property
    def secret_name(self) -> str:
        return f"{TABLE_PREFIX}/{self.name}"

    @property
    def logical_id(self) -> str:
        return _camel(self.name.replace("-", "_"))


SECRETS = (
    StageSecret(
        "CREDENTIAL_HASH_KEY",
        "credential-hash-key",
        (AUTHORIZER,),
        "Key of the keyed SHA-256 under which SCIM client secrets are stored. Never change it: "
        "every credential issued under it would stop verifying.",
    ),
    StageSecret(
        "CURSOR_SECRET",
        "cursor-secret",
        (API_HANDLER,),
        "Seals SCIM pagination cursors. Changing it only invalidates the cursors in flight.",
    ),
)


def _camel(snake: str) -> str:
    return "".join(part.title() for part in snake.split("_"))


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def settings_for(environment: Mapping[str, str]) -> Settings:
    """Return the settings that chalicelib.config derives from exactly these environment variables."""
    with _environment(environment):
        return settings()


def _table(definition: dict[str, Any], time_to_live: str | None = None) -> dict[str, Any]:
    unknown = set(definition) - TABLE_PROPERTIES
    if unknown:
        raise ValueError(
            f"No CloudFormation mapping for the CreateTable arguments {sorted(unknown)}: extend {__name__}"
        )
    properties = {
        **definition,
        "TableName": {"Fn::Sub": definition["TableName"]},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
        "DeletionProtectionEnabled": True,
    }
    if time_to_live:
        properties["TimeToLiveSpecification"] = {"AttributeName": time_to_live, "Enabled": True}
    return {"Type": "AWS::DynamoDB::Table", **RETAIN, "Properties": properties}


def _secret(secret: StageSecret) -> dict[str, Any]:
    return {
        "Type": "AWS::SecretsManager::Secret",
        **RETAIN,
        "Properties": {
            "Name": {"Fn::Sub": secret.secret_name},
            "Description": f"{secret.variable} of One Model SCIM: {secret.description}",
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True},
        },
    }


ARTIFACTS_BUCKET = {
    "Type": "AWS::S3::Bucket",
    "Properties": {
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    },
}


@dataclass(frozen=True)
class Alarm:
    """An alarm on a metric of chalicelib.metrics; README, "When something goes wrong", says what to do."""

    logical_id: str
    description: str
    metric: str
    threshold: float
    minutes: int = 5
    rate_of_requests: bool = False
    """Alarm on the metric as a percentage of Requests (when there were at least MIN_REQUESTS), not on its sum."""


MIN_REQUESTS = 10
ALARM_TOPIC = "AlarmTopic"
ALARMS = (
    Alarm(
        "ServerErrorRateAlarm",
        "More than 5% of SCIM requests answered 500 over 5 minutes: a bug or a misconfiguration. "
        "Logs Insights: the stage's access lines with status 500, then the log lines of their request_id.",
        "ServerErrors",
        5,
        rate_of_requests=True,
    ),
    Alarm(
        "UnavailableRateAlarm",
        "More than 5% of SCIM requests answered 503 over 5 minutes: DynamoDB throttled or failed after retries. "
        "IdPs retry; check the tables' throttling and AWS Health.",
        "Unavailable",
        5,
        rate_of_requests=True,
    ),
    Alarm(
        "AuthorizerErrorsAlarm",
        "The authorizer could not read the credentials table 5 times in 5 minutes: every IdP of every tenant "
        "gets 503. Check the authorizer's role, the credentials table and DynamoDB's health.",
        "AuthorizerErrors",
        5,
    ),
    Alarm(
        "ActivityWriteFailuresAlarm",
        "Provisioning activity entries were not written (SCIM answers are unaffected; the lost entries are in "
        "the logs as activity.lost). Check the activity table and the routes' role.",
        "ActivityWriteFailures",
        10,
        minutes=15,
    ),
)


def _metric(name: str, minutes: int) -> dict[str, Any]:
    return {
        "Metric": {
            "Namespace": NAMESPACE,
            "MetricName": name,
            "Dimensions": [{"Name": STAGE, "Value": {"Ref": "Stage"}}],
        },
        "Period": minutes * 60,
        "Stat": "Sum",
    }


def _alarm(alarm: Alarm) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "AlarmName": {"Fn::Sub": f"scim-${{Stage}}-{alarm.logical_id.removesuffix('Alarm')}"},
        "AlarmDescription": alarm.description,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": alarm.threshold,
        "EvaluationPeriods": 1,
        "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": ALARM_TOPIC}],
        "OKActions": [{"Ref": ALARM_TOPIC}],
    }
    if alarm.rate_of_requests:
        properties["Metrics"] = [
            {"Id": "failed", "MetricStat": _metric(alarm.metric, alarm.minutes), "ReturnData": False},
            {"Id": "requests", "MetricStat": _metric("Requests", alarm.minutes), "ReturnData": False},
            {
                "Id": "rate",
                "Label": f"{alarm.metric} (% of requests)",
                "Expression": f"IF(requests >= {MIN_REQUESTS}, 100 * failed / requests, 0)",
                "ReturnData": True,
            },
        ]
    else:
        metric = _metric(alarm.metric, alarm.minutes)
        properties.update(
            {
                "Namespace": NAMESPACE,
                "MetricName": alarm.metric,
                "Dimensions": metric["Metric"]["Dimensions"],
                "Period": metric["Period"],
                "Statistic": "Sum",
            }
        )
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}


def stack_template() -> dict[str, Any]:
    """The stage's tables, secrets, code bucket and alarms: what outlives any deployment of the API."""
    definitions = table_definitions(settings_for({"TABLE_PREFIX": TABLE_PREFIX}))
    tables = {
        _camel(name) + "Table": _table(definition, TIME_TO_LIVE.get(name)) for name, definition in definitions.items()
    }
    secrets = {secret.logical_id: _secret(secret) for secret in SECRETS}
    alarms = {alarm.logical_id: _alarm(alarm) for alarm in ALARMS}
    topic = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": {"Fn::Sub": "scim-${Stage}-alarms"}, "KmsMasterKeyId": "alias/aws/sns"},
    }
    outputs = {
        logical_id: {"Value": {"Ref": logical_id}} for logical_id in [*tables, *secrets, "ArtifactsBucket", ALARM_TOPIC]
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "One Model SCIM: a stage's DynamoDB tables, secrets, code bucket and alarms. "
        "Generated by `python -m infra.templates` from chalicelib/store/tables.py: do not edit.",
        "Parameters": {"Stage": STAGE_PARAMETER},
        "Resources": {**tables, **secrets, "ArtifactsBucket": ARTIFACTS_BUCKET, ALARM_TOPIC: topic, **alarms},
        "Outputs": outputs,
    }


def _static(value: str) -> str:
    # API Gateway reads a quoted response parameter as a literal; a quote inside would end it.
    if "'" in value:
        raise ValueError(f"A gateway response header cannot contain a single quote: {value!r}")
    return f"'{value}'"


def gateway_responses() -> dict[str, Any]:
    """The ``x-amazon-apigateway-gateway-responses`` of :data:`chalicelib.gateway_responses.GATEWAY_RESPONSES`."""
    return {
        response_type: {
            "statusCode": str(response.status),
            "responseParameters": {
                f"gatewayresponse.header.{name}": _static(value) for name, value in response.headers.items()
            },
            "responseTemplates": dict.fromkeys(ERROR_CONTENT_TYPES, response.body),
        }
        for response_type, response in GATEWAY_RESPONSES.items()
    }


def api_template() -> dict[str, Any]:
    """What ``chalice package --merge-template`` adds to Chalice's SAM template of the API."""
    functions: dict[str, dict[str, dict[str, str]]] = {}
    for secret in SECRETS:
        for function in secret.functions:
            functions.setdefault(function, {})[secret.variable] = {
                "Fn::Sub": "{{resolve:secretsmanager:" + secret.secret_name + "}}"
            }
    return {
        "Description": "One Model SCIM: the SCIM API of a stage. Chalice's template merged with infra/api.json, "
        "generated by `python -m infra.templates`.",
        "Parameters": {"Stage": STAGE_PARAMETER},
        "Resources": {
            REST_API: {
                "Properties": {"DefinitionBody": {"x-amazon-apigateway-gateway-responses": gateway_responses()}}
            },
            **{
                function: {"Properties": {"Environment": {"Variables": variables}}}
                for function, variables in functions.items()
            },
        },
    }


TEMPLATES: dict[str, Callable[[], dict[str, Any]]] = {"stack.json": stack_template, "api.json": api_template}


def render(template: dict[str, Any]) -> str:
    return json.dumps(template, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.templates", description="Write infra/*.json from the code.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a committed file is stale")
    args = parser.parse_args(argv)
    stale = []
    for file_name, build in TEMPLATES.items():
        path = INFRA_DIR / file_name
        text = render(build())
        if path.exists() and path.read_text() == text:
            continue
        stale.append(file_name)
        if not args.check:
            path.write_text(text)
    for file_name in stale:
        outcome = "stale: run `python -m infra.templates` and commit it" if args.check else "written"
        print(f"infra/{file_name}: {outcome}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
