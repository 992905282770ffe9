"""The stage's operating limits, which ``make deploy`` puts on AWS after every ``chalice deploy``.

``infra/stages.json`` sets them per stage (docs/operations/guardrails.md says why these numbers):

- **Log retention** of both functions' log groups. Set here, not by Chalice's
  ``log_retention_in_days``, which for the API handler sets the retention of a group no function
  writes to (``/aws/lambda/<app>-<stage>-api_handler``, not ``/aws/lambda/<app>-<stage>``), and
  not by the infra stack, whose first ``deploy-infra`` would fail on a stage whose functions have
  already created their groups.
- **Stage throttling** (rate and burst for every method), the ceiling over all tenants together.
- **The REST API's name** ``<app>-<stage>``: Chalice names every stage's API after the app, and
  API Gateway's metrics are per API name, so two stages in one account would share their alarms.
- **Stale Lambda permissions**: a permission letting a REST API other than the stage's own invoke
  a function (left behind when an API is deleted or replaced) is removed.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions

STAGES_FILE = Path(__file__).resolve().parent / "stages.json"
DEFAULT_LOG_RETENTION_DAYS = 30
# The values CloudWatch Logs accepts for a retention.
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922)


@dataclass(frozen=True)
class StageGuardrails:
    log_retention_days: int
    throttle_rate_limit: float
    throttle_burst_limit: int


def stage_guardrails(stage: str, path: Path = STAGES_FILE) -> StageGuardrails:
    """The stage's settings from ``infra/stages.json``.

    :raises ValueError: When the stage is missing, a value is out of range, or a key is unknown.
    """
    stages = json.loads(path.read_text())
    if stage not in stages:
        raise ValueError(f"{path.name} has no stage {stage!r}: add its throttling there")
    settings = dict(stages[stage])
    settings.setdefault("log_retention_days", DEFAULT_LOG_RETENTION_DAYS)
    unknown = set(settings) - set(StageGuardrails.__dataclass_fields__)
    if unknown:
        raise ValueError(f"{path.name}, stage {stage!r}: unknown settings {sorted(unknown)}")
    guardrails = StageGuardrails(**settings)
    if guardrails.log_retention_days not in RETENTION_DAYS:
        raise ValueError(f"{path.name}, stage {stage!r}: log_retention_days must be one of {RETENTION_DAYS}")
    if not (guardrails.throttle_rate_limit > 0 and guardrails.throttle_burst_limit > 0):
        raise ValueError(f"{path.name}, stage {stage!r}: throttling limits must be positive")
    return guardrails


def stage_api_name(app_name: str, stage: str) -> str:
    return f"{app_name}-{stage}"


def log_group(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def apply_log_retention(logs: Any, function_names: list[str], days: int) -> None:
    """Create each function's log group if Lambda has not yet, and set its retention."""
    for name in function_names:
        try:
            logs.create_log_group(logGroupName=log_group(name))
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
        logs.put_retention_policy(logGroupName=log_group(name), retentionInDays=days)


def apply_stage_throttling(apigateway: Any, rest_api_id: str, stage_name: str, guardrails: StageGuardrails) -> None:
    apigateway.update_stage(
        restApiId=rest_api_id,
        stageName=stage_name,
        patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(guardrails.throttle_rate_limit)},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(guardrails.throttle_burst_limit)},
        ],
    )


def name_the_api(apigateway: Any, rest_api_id: str, name: str) -> None:
    operation = {"op": "replace", "path": "/name", "value": name}
    apigateway.update_rest_api(restApiId=rest_api_id, patchOperations=[operation])


def _source_api(statement: dict[str, Any]) -> str | None:
    """The REST API id a permission statement admits (``arn:aws:execute-api:<region>:<account>:<api id>/...``)."""
    source = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn", "")
    if not source.startswith("arn:aws") or ":execute-api:" not in source:
        return None
    return str(source.split(":", 5)[5].split("/", 1)[0])


def remove_stale_permissions(lambda_client: Any, function_names: list[str], rest_api_id: str) -> list[str]:
    """Remove permissions that let a REST API other than ``rest_api_id`` invoke the functions; return their ids."""
    removed = []
    for name in function_names:
        try:
            policy = json.loads(lambda_client.get_policy(FunctionName=name)["Policy"])
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                continue
            raise
        for statement in policy.get("Statement", []):
            api = _source_api(statement)
            if api is not None and api != rest_api_id:
                lambda_client.remove_permission(FunctionName=name, StatementId=statement["Sid"])
                removed.append(f"{name}: {statement['Sid']} (API {api})")
    return removed
