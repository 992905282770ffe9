"""Alarms on the metrics AWS publishes for a stage: its functions, its REST API and its tables.

The alarms of :mod:`infra.templates` watch what our code counts (500s, 503s, authorizer and trail
failures). These watch what only AWS sees: a function that crashes on import or times out (Lambda
``Errors``), runs out of concurrency (``Throttles``) or nears its timeout (``Duration`` p99), API
Gateway answering 5XX or slowly before or around our code, DynamoDB throttling a table, and a table's
stream function failing or falling behind its stream (``IteratorAge``: its events, a deactivation's
among them, reach the platform late, and DynamoDB keeps a stream's records for 24 hours only). Each
notifies the stack's SNS topic. docs/operations/guardrails.md says what to do about each.

Names the alarms watch are the ones ``chalice deploy`` creates (``<app>-<stage>`` for the routes,
``<app>-<stage>-<name>`` for the authorizer) and the REST API name ``make deploy`` gives the stage's
API (:data:`infra.guardrails.stage_api_name`), since Chalice names every stage's API after the app.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The tables whose streams a function of their own turns into provisioning events (app.py, <table>_changes).
from chalicelib.store.streams import STREAMED_TABLES

CHALICE_CONFIG = Path(__file__).resolve().parent.parent / ".chalice" / "config.json"
# The stages `make deploy` releases: the ones with their own IAM policy files.
DEPLOYED_STAGES = ("dev", "prod")
TIMEOUTS = "FunctionTimeouts"
# A p99 past this share of the timeout means the slowest requests are about to be cut off.
DURATION_SHARE_OF_TIMEOUT = 0.8
# The DynamoDB calls chalicelib/ and admin/ make: ThrottledRequests is published per table and operation.
TABLE_OPERATIONS = (
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
)
API_LATENCY_P99_MS = 5000
# How late a stream function may be with its oldest record before it alarms: events normally leave within a second.
ITERATOR_AGE_MS = 5 * 60 * 1000
ALARM_TOPIC = "AlarmTopic"
PERIOD = 300


@dataclass(frozen=True)
class Function:
    """One Lambda function of the stage, as ``chalice deploy`` names it."""

    logical_id: str
    config_name: str
    suffix: str
    what: str

    def function_name(self, app_name: str) -> str:
        return f"{app_name}-${{Stage}}{self.suffix}"


FUNCTIONS = (
    Function("RoutesFunction", "api_handler", "", "the SCIM routes"),
    Function("AuthorizerFunction", "scim_auth", "-scim_auth", "the authorizer"),
)


def chalice_config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads(CHALICE_CONFIG.read_text())
    return config


def function_timeout(config: dict[str, Any], stage: str, function: Function) -> int:
    """The function's Lambda timeout in seconds, as Chalice resolves it (function, then stage, then app)."""
    stage_config = config["stages"][stage]
    per_function = stage_config.get("lambda_functions", {}).get(function.config_name, {})
    default = stage_config.get("lambda_timeout", config.get("lambda_timeout", 60))
    timeout: int = per_function.get("lambda_timeout", default)
    return timeout


def timeout_mapping(config: dict[str, Any]) -> dict[str, Any]:
    """Each deployed stage's Duration thresholds in milliseconds, for ``Fn::FindInMap``."""
    return {
        stage: {
            function.logical_id: round(function_timeout(config, stage, function) * 1000 * DURATION_SHARE_OF_TIMEOUT)
            for function in FUNCTIONS
        }
        for stage in DEPLOYED_STAGES
    }


def _base(name: str, description: str, threshold: Any) -> dict[str, Any]:
    return {
        "AlarmName": {"Fn::Sub": f"scim-${{Stage}}-{name}"},
        "AlarmDescription": description,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": threshold,
        "EvaluationPeriods": 1,
        "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": ALARM_TOPIC}],
        "OKActions": [{"Ref": ALARM_TOPIC}],
    }


def _single(
    name: str,
    description: str,
    namespace: str,
    metric: str,
    dimensions: list[dict[str, Any]],
    threshold: Any,
    statistic: str = "Sum",
) -> dict[str, Any]:
    properties = _base(name, description, threshold)
    properties.update({"Namespace": namespace, "MetricName": metric, "Dimensions": dimensions, "Period": PERIOD})
    if statistic.startswith("p"):
        properties["ExtendedStatistic"] = statistic
        properties["ComparisonOperator"] = "GreaterThanThreshold"
    else:
        properties["Statistic"] = statistic
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}


def function_alarms(app_name: str) -> dict[str, dict[str, Any]]:
    alarms = {}
    for function in FUNCTIONS:
        dimensions = [{"Name": "FunctionName", "Value": {"Fn::Sub": function.function_name(app_name)}}]
        alarms[f"{function.logical_id}ErrorsAlarm"] = _single(
            f"{function.logical_id}-Errors",
            f"The Lambda of {function.what} failed (crash, import error or timeout) in the last 5 minutes: "
            "IdPs got 500 or 502. Read the function's log group for the stack trace or 'Task timed out'.",
            "AWS/Lambda",
            "Errors",
            dimensions,
            1,
        )
        alarms[f"{function.logical_id}ThrottlesAlarm"] = _single(
            f"{function.logical_id}-Throttles",
            f"Lambda refused to run {function.what} for lack of concurrency in the last 5 minutes: IdPs got 429 "
            "or 500. Check the account's concurrency (other functions) and the stage's API throttling.",
            "AWS/Lambda",
            "Throttles",
            dimensions,
            1,
        )
        alarms[f"{function.logical_id}DurationAlarm"] = _single(
            f"{function.logical_id}-Duration",
            f"The slowest 1% of {function.what}' invocations took over {DURATION_SHARE_OF_TIMEOUT:.0%} of the "
            "function's timeout over 5 minutes: requests are about to time out. Check DynamoDB latency and "
            "the request budget lines in the log group.",
            "AWS/Lambda",
            "Duration",
            dimensions,
            {"Fn::FindInMap": [TIMEOUTS, {"Ref": "Stage"}, function.logical_id]},
            "p99",
        )
    return alarms


def stream_alarms(app_name: str) -> dict[str, dict[str, Any]]:
    """Each stream function's Errors, and the age of the oldest record it has not handled yet (IteratorAge, Maximum)."""
    alarms = {}
    for table in STREAMED_TABLES:
        logical_id = "".join(part.title() for part in table.split("_")) + "ChangesFunction"
        what = f"the {table} table's stream function"
        dimensions = [{"Name": "FunctionName", "Value": {"Fn::Sub": f"{app_name}-${{Stage}}-{table}_changes"}}]
        alarms[f"{logical_id}ErrorsAlarm"] = _single(
            f"{logical_id}-Errors",
            f"The Lambda of {what} failed (crash, import error or timeout) in the last 5 minutes: Lambda retries "
            "the batch, and its provisioning events wait. Read the function's log group.",
            "AWS/Lambda",
            "Errors",
            dimensions,
            1,
        )
        alarms[f"{logical_id}IteratorAgeAlarm"] = _single(
            f"{logical_id}-IteratorAge",
            f"The oldest record {what} has not handled yet is over {ITERATOR_AGE_MS // 60000} minutes old: "
            "provisioning events (deactivations among them) reach the platform late, and records older than 24 "
            "hours leave the stream unpublished. Check the function's Errors, Throttles and log group.",
            "AWS/Lambda",
            "IteratorAge",
            dimensions,
            ITERATOR_AGE_MS,
            "Maximum",
        )
    return alarms


def api_alarms(app_name: str, api_gateway_stage: str) -> dict[str, dict[str, Any]]:
    dimensions: list[dict[str, Any]] = [
        {"Name": "ApiName", "Value": {"Fn::Sub": f"{app_name}-${{Stage}}"}},
        {"Name": "Stage", "Value": api_gateway_stage},
    ]
    return {
        "Api5XXErrorAlarm": _single(
            "Api-5XXError",
            "API Gateway answered 5XX 5 times or more in 5 minutes (our 500s and 503s, and its own: an "
            "authorizer or integration failure or timeout). Compare with ServerErrorRate and the functions' Errors.",
            "AWS/ApiGateway",
            "5XXError",
            dimensions,
            5,
        ),
        "ApiLatencyAlarm": _single(
            "Api-Latency",
            f"The slowest 1% of requests took over {API_LATENCY_P99_MS / 1000:g} s (API Gateway's Latency p99) "
            "over 5 minutes. IdPs time out at 30 to 60 s; check the functions' Duration and DynamoDB.",
            "AWS/ApiGateway",
            "Latency",
            dimensions,
            API_LATENCY_P99_MS,
            "p99",
        ),
    }


def table_alarms(tables: dict[str, str]) -> dict[str, dict[str, Any]]:
    """One alarm per table on ThrottledRequests summed over the operations the code makes."""
    alarms = {}
    for logical_id, table_name in tables.items():
        metrics: list[dict[str, Any]] = [
            {
                "Id": f"op{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/DynamoDB",
                        "MetricName": "ThrottledRequests",
                        "Dimensions": [
                            {"Name": "TableName", "Value": {"Fn::Sub": table_name}},
                            {"Name": "Operation", "Value": operation},
                        ],
                    },
                    "Period": PERIOD,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            }
            for index, operation in enumerate(TABLE_OPERATIONS)
        ]
        metrics.append(
            {
                "Id": "throttled",
                "Label": "ThrottledRequests (all operations)",
                "Expression": "SUM(METRICS())",
                "ReturnData": True,
            }
        )
        properties = _base(
            f"{logical_id.removesuffix('Table')}-Throttled",
            "DynamoDB throttled requests to the table 5 times or more in 5 minutes (on-demand: a traffic spike "
            "past twice the previous peak, or a hot key). The routes retry and then answer 503 with Retry-After.",
            5,
        )
        properties["Metrics"] = metrics
        alarms[f"{logical_id}ThrottledAlarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}
    return alarms
