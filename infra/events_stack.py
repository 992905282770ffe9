"""The stage's provisioning-event resources in ``infra/stack.json``: bus, archive, dead-letter queue, alarm, and
the operators' queue.

- ``scim-<stage>-events``: the EventBridge bus the stream functions publish to (docs/reference/events.md).
- Its archive keeps every event ``EventArchiveRetentionDays`` (a stack parameter that ``make deploy-infra``
  sets from the stage's ``EVENTS_ARCHIVE_RETENTION_DAYS``), for replays to a consumer that lost some.
- ``scim-<stage>-events-dead-letters``: where a stream record is set aside (unreadable, or still failing
  after its retries: ``make deploy`` makes it the stream's on-failure destination); an alarm on the
  stack's topic when it holds any message.
- ``scim-<stage>-events-operators``: every event of the bus, kept four days, for ``python -m admin events``.
The stack exports each streamed table's stream ARN: ``make deploy-infra`` writes them into the stage's
``.chalice/config.json`` (:mod:`infra.stream_release`), where Chalice reads them to deploy; ``make destroy``
removes the dead-letter queue, which the stack keeps.
"""

from typing import Any

from chalicelib.config import STREAM_VARIABLES
from chalicelib.events.catalog import SOURCE

BUS = "EventBus"
ARCHIVE = "EventArchive"
DEAD_LETTERS = "EventsDeadLetterQueue"
DEAD_LETTERS_ALARM = "EventsDeadLettersAlarm"
OPERATORS = "EventsOperatorQueue"
OPERATORS_RULE = "EventsToOperatorQueueRule"
OPERATORS_POLICY = "EventsOperatorQueuePolicy"
RETENTION_PARAMETER = "EventArchiveRetentionDays"
DEFAULT_RETENTION_DAYS = 90
OPERATOR_QUEUE_SECONDS = 4 * 24 * 3600
DEAD_LETTER_SECONDS = 14 * 24 * 3600
DEAD_LETTERS_QUEUE = "scim-${Stage}-events-dead-letters"
# The stack outputs `make deploy-infra` copies into the stage's environment (.chalice/config.json).
STAGE_OUTPUTS = {
    **{f"{name.title().replace('_', '')}StreamArn": variable for name, variable in STREAM_VARIABLES.items()},
    "EventBusName": "EVENT_BUS_NAME",
    "EventsDeadLetterQueueUrl": "EVENTS_DEAD_LETTER_QUEUE_URL",
    "EventsOperatorQueueUrl": "EVENTS_OPERATOR_QUEUE_URL",
}


def retention_parameter() -> dict[str, Any]:
    return {
        "Type": "Number",
        "Default": DEFAULT_RETENTION_DAYS,
        "MinValue": 1,
        "Description": "How many days the event bus's archive keeps every provisioning event (replays).",
    }


def event_resources(alarm_topic: str) -> dict[str, dict[str, Any]]:
    """The bus, its archive, the dead-letter queue with its alarm, and the operators' queue with its rule."""
    encrypted = {"SqsManagedSseEnabled": True}
    return {
        BUS: {"Type": "AWS::Events::EventBus", "Properties": {"Name": {"Fn::Sub": "scim-${Stage}-events"}}},
        ARCHIVE: {
            "Type": "AWS::Events::Archive",
            "Properties": {
                "ArchiveName": {"Fn::Sub": "scim-${Stage}-events"},
                "SourceArn": {"Fn::GetAtt": [BUS, "Arn"]},
                "RetentionDays": {"Ref": RETENTION_PARAMETER},
                "Description": "Every provisioning event, for replays (docs/reference/events.md).",
            },
        },
        DEAD_LETTERS: {
            "Type": "AWS::SQS::Queue",
            # What it holds is what the bus missed: kept when the stack goes.
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "QueueName": {"Fn::Sub": DEAD_LETTERS_QUEUE},
                "MessageRetentionPeriod": DEAD_LETTER_SECONDS,
                **encrypted,
            },
        },
        DEAD_LETTERS_ALARM: {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": {"Fn::Sub": "scim-${Stage}-EventsDeadLetters"},
                "AlarmDescription": "A stream record was set aside: its events were not published. The message says "
                "which table, record and why; docs/reference/events.md, 'When records are set aside'.",
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [DEAD_LETTERS, "QueueName"]}}],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": alarm_topic}],
                "OKActions": [{"Ref": alarm_topic}],
            },
        },
        OPERATORS: {
            "Type": "AWS::SQS::Queue",
            # A copy of the bus's events (the archive keeps them): nothing to keep when the stack goes.
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "QueueName": {"Fn::Sub": "scim-${Stage}-events-operators"},
                "MessageRetentionPeriod": OPERATOR_QUEUE_SECONDS,
                **encrypted,
            },
        },
        OPERATORS_RULE: {
            "Type": "AWS::Events::Rule",
            # The bus by name, not Ref: moto's CloudFormation hands a Ref of a bus to the rule as an object.
            "DependsOn": BUS,
            "Properties": {
                "Name": {"Fn::Sub": "scim-${Stage}-events-to-operators"},
                "Description": "Every provisioning event to the operators' queue (python -m admin events).",
                "EventBusName": {"Fn::Sub": "scim-${Stage}-events"},
                "EventPattern": {"source": [SOURCE]},
                "State": "ENABLED",
                "Targets": [{"Id": "operators", "Arn": {"Fn::GetAtt": [OPERATORS, "Arn"]}}],
            },
        },
        OPERATORS_POLICY: {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": OPERATORS}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": [OPERATORS, "Arn"]},
                            "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [OPERATORS_RULE, "Arn"]}}},
                        }
                    ],
                },
            },
        },
    }


def event_outputs(table_ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What the stage's deployment needs to know: each stream's ARN, the bus, the queues."""
    streams = {
        f"{name.title().replace('_', '')}StreamArn": {"Value": {"Fn::GetAtt": [table_ids[name], "StreamArn"]}}
        for name in STREAM_VARIABLES
    }
    return {
        **streams,
        "EventBusName": {"Value": {"Fn::GetAtt": [BUS, "Name"]}},
        "EventsDeadLetterQueueUrl": {"Value": {"Ref": DEAD_LETTERS}},
        "EventsDeadLetterQueueArn": {"Value": {"Fn::GetAtt": [DEAD_LETTERS, "Arn"]}},
        "EventsOperatorQueueUrl": {"Value": {"Ref": OPERATORS}},
    }
