"""A stage's CloudFormation, generated from the code's own definitions: ``python -m infra.templates`` writes it.

``infra/stack.json`` (``make deploy-infra``) holds the stage's long-lived resources: the DynamoDB
tables of :func:`chalicelib.store.tables.table_definitions` (with their TTL), the stage's two
secrets, whose values AWS generates (the Lambdas read them at run time, :mod:`chalicelib.stage_secrets`),
and the alarms on the metrics of :mod:`chalicelib.metrics` with the SNS topic they notify (docs/operations/runbook.md,
"Alarms"), the role One Model's platform assumes to call the management API (docs/reference/management-api.md),
and the provisioning events' bus, archive and queues (:mod:`infra.events_stack`, docs/reference/events.md).
It is committed so that a review shows what changes on AWS;
``tests/test_infra.py`` fails when it differs from what this module generates. The API itself is
``chalice deploy``'s.
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
from chalicelib.metrics import NAMESPACE, STAGE
from chalicelib.stage_secrets import CREDENTIAL_HASH_KEY, CURSOR_SECRET
from chalicelib.store.tables import TIME_TO_LIVE, table_definitions
from infra import aws_alarms
from infra.deploy_lock import LOCK_KEY, LOCK_TABLE, LOCK_TTL_ATTRIBUTE
from infra.events_stack import RETENTION_PARAMETER, event_outputs, event_resources, retention_parameter

INFRA_DIR = Path(__file__).resolve().parent
# config.py names each table <TABLE_PREFIX>-<table>; the stages in .chalice/config.json set TABLE_PREFIX=scim-<stage>.
TABLE_PREFIX = "scim-${Stage}"
STAGE_PARAMETER = {
    "Type": "String",
    "AllowedPattern": "^[a-z][a-z0-9]{0,15}$",
    "Description": "The Chalice stage (dev, prod): the tables are scim-<stage>-users, -groups, -role-mappings, ...",
}
RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
# CreateTable arguments that are AWS::DynamoDB::Table properties of the same name and shape.
TABLE_PROPERTIES = {
    "TableName",
    "KeySchema",
    "AttributeDefinitions",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "StreamSpecification",
}


@dataclass(frozen=True)
class StageSecret:
    """A secret of :mod:`chalicelib.stage_secrets` whose dev default must never reach AWS: random per stage."""

    name: str
    description: str

    @property
    def secret_name(self) -> str:
        # SECRETS_PREFIX of the deployed stages in .chalice/config.json is scim-<stage>, as TABLE_PREFIX.
        return f"{TABLE_PREFIX}/{self.name}"

    @property
    def logical_id(self) -> str:
        return _camel(self.name.replace("-", "_"))


SECRETS = (
    StageSecret(
        CREDENTIAL_HASH_KEY,
        "Key of the keyed SHA-256 under which SCIM client secrets are stored, read by the authorizer. "
        "Changing it makes every credential issued under it stop verifying (docs/operations/secrets.md, rotation).",
    ),
    StageSecret(
        CURSOR_SECRET,
        "Seals SCIM pagination cursors, read by the routes. Changing it only invalidates the cursors in flight.",
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
    if "StreamSpecification" in definition:  # CloudFormation's has no StreamEnabled: a view type enables it
        properties["StreamSpecification"] = {"StreamViewType": definition["StreamSpecification"]["StreamViewType"]}
    if time_to_live:
        properties["TimeToLiveSpecification"] = {"AttributeName": time_to_live, "Enabled": True}
    return {"Type": "AWS::DynamoDB::Table", **RETAIN, "Properties": properties}


def _secret(secret: StageSecret) -> dict[str, Any]:
    return {
        "Type": "AWS::SecretsManager::Secret",
        **RETAIN,
        "Properties": {
            "Name": {"Fn::Sub": secret.secret_name},
            "Description": f"One Model SCIM: {secret.description}",
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True},
        },
    }


@dataclass(frozen=True)
class Alarm:
    """An alarm on a metric of chalicelib.metrics; docs/operations/runbook.md, "Alarms", says what to do."""

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
        "The authorizer could not read the credentials table or its hash key secret 5 times in 5 minutes: "
        "every IdP of every tenant gets 503. Check the authorizer's role, the credentials table, the secret "
        "and DynamoDB's health.",
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


def _deploy_lock_table() -> dict[str, Any]:
    # Holds one short-lived item while a release runs (infra/deploy_lock.py): nothing to keep or recover.
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "TableName": {"Fn::Sub": LOCK_TABLE.replace("{stage}", "${Stage}")},
            "KeySchema": [{"AttributeName": LOCK_KEY, "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": LOCK_KEY, "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"SSEEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": LOCK_TTL_ATTRIBUTE, "Enabled": True},
        },
    }


MANAGEMENT_ROLE = "ManagementCallerRole"
MANAGEMENT_CONDITION = "HasManagementCaller"
MANAGEMENT_PARAMETERS = {
    "ManagementCallerArn": {
        "Type": "String",
        "Default": "",
        "Description": "The One Model platform's IAM principal (a role or account ARN) that may assume the management "
        "caller role; empty: no role is made.",
    },
    "ApiId": {
        "Type": "String",
        "Default": "*",
        "Description": "The REST API's id (chalice deploy makes it after this stack); * until it is known.",
    },
}


def _management_caller_role() -> dict[str, Any]:
    """The role the platform's backend assumes to call /admin/v1 (IAM-authorized): execute-api:Invoke there only."""
    admin_routes = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ApiId}/api/*/admin/v1/*"
    return {
        "Type": "AWS::IAM::Role",
        "Condition": MANAGEMENT_CONDITION,
        "Properties": {
            "RoleName": {"Fn::Sub": "scim-${Stage}-management-caller"},
            "Description": "Calls the SCIM service's management API (/admin/v1) for One Model's platform",
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": {"Ref": "ManagementCallerArn"}},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": "invoke-management-api",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": {"Fn::Sub": admin_routes}}
                        ],
                    },
                }
            ],
        },
    }


def stack_template() -> dict[str, Any]:
    """The stage's tables, secrets, alarms and event bus (infra/events_stack.py): what outlives any deployment."""
    definitions = table_definitions(settings_for({"TABLE_PREFIX": TABLE_PREFIX}))
    tables = {
        _camel(name) + "Table": _table(definition, TIME_TO_LIVE.get(name)) for name, definition in definitions.items()
    }
    secrets = {secret.logical_id: _secret(secret) for secret in SECRETS}
    config = aws_alarms.chalice_config()
    stages = aws_alarms.DEPLOYED_STAGES
    api_gateway_stage = {config["stages"][stage].get("api_gateway_stage", "api") for stage in stages}
    if len(api_gateway_stage) != 1:
        raise ValueError(f"The deployed stages name different API Gateway stages {sorted(api_gateway_stage)}")
    alarms = {
        **{alarm.logical_id: _alarm(alarm) for alarm in ALARMS},
        **aws_alarms.function_alarms(config["app_name"]),
        **aws_alarms.stream_alarms(config["app_name"]),
        **aws_alarms.api_alarms(config["app_name"], api_gateway_stage.pop()),
        **aws_alarms.table_alarms(
            {name: table["Properties"]["TableName"]["Fn::Sub"] for name, table in tables.items()}
        ),
    }
    topic = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": {"Fn::Sub": "scim-${Stage}-alarms"}, "KmsMasterKeyId": "alias/aws/sns"},
    }
    outputs: dict[str, Any] = {
        logical_id: {"Value": {"Ref": logical_id}} for logical_id in [*tables, *secrets, ALARM_TOPIC]
    }
    outputs[MANAGEMENT_ROLE] = {"Condition": MANAGEMENT_CONDITION, "Value": {"Fn::GetAtt": [MANAGEMENT_ROLE, "Arn"]}}
    outputs.update(event_outputs({name: _camel(name) + "Table" for name in definitions}))
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "One Model SCIM: a stage's DynamoDB tables, secrets, alarms and provisioning-event bus. "
        "Generated by `python -m infra.templates` from chalicelib/store/tables.py: do not edit.",
        "Parameters": {"Stage": STAGE_PARAMETER, **MANAGEMENT_PARAMETERS, RETENTION_PARAMETER: retention_parameter()},
        "Conditions": {MANAGEMENT_CONDITION: {"Fn::Not": [{"Fn::Equals": [{"Ref": "ManagementCallerArn"}, ""]}]}},
        "Mappings": {aws_alarms.TIMEOUTS: aws_alarms.timeout_mapping(config)},
        "Resources": {
            **tables,
            "DeployLockTable": _deploy_lock_table(),
            **secrets,
            ALARM_TOPIC: topic,
            **alarms,
            MANAGEMENT_ROLE: _management_caller_role(),
            **event_resources(ALARM_TOPIC),
        },
        "Outputs": outputs,
    }


TEMPLATES: dict[str, Callable[[], dict[str, Any]]] = {"stack.json": stack_template}


def render(template: dict[str, Any]) -> str:
    return json.dumps(template, indent=2) + "\n"


def compact(template: dict[str, Any]) -> str:
    """The template as CloudFormation takes it inline: indented, it would pass the 51,200-byte TemplateBody limit."""
    return json.dumps(template, separators=(",", ":"))


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
