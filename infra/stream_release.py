"""The provisioning events' part of ``make deploy-infra``, ``make deploy`` and ``make destroy``.

``make deploy-infra``: the stack takes the stage's archive retention (``EVENTS_ARCHIVE_RETENTION_DAYS``) as a
parameter, and its outputs (each streamed table's stream ARN, the bus, the queues) go into the stage's
environment in ``.chalice/config.json`` (:func:`write_stack_outputs`): Chalice reads the ARNs from there
to create the stream functions.

``make deploy`` (:func:`infra.stage_release.finish_release`): Chalice creates each stream function's event
source mapping (batches of 10 from the stream's start) with Lambda's defaults, which retry a failing batch
until its records expire (24 hours) and hold the stream meanwhile. :func:`apply_stream_failures` sets what
the consumer expects: partial batch responses (``ReportBatchItemFailures``), a split batch on error,
:data:`~chalicelib.events.RETRY_ATTEMPTS` retries, then the record's place on the stage's dead-letter queue
(the on-failure destination). It finds the mappings in ``.chalice/deployed/<stage>.json``.

``make destroy``: the dead-letter queue outlives the stack (what it holds is what the bus missed), and
Lambda's log groups of the stream functions outlive the functions: :func:`stage_leftovers` names both.
"""

import json
from pathlib import Path
from typing import Any

from chalicelib.config import STREAM_VARIABLES
from chalicelib.events import RETRY_ATTEMPTS
from infra.events_stack import DEAD_LETTERS_QUEUE, DEFAULT_RETENTION_DAYS, RETENTION_PARAMETER, STAGE_OUTPUTS

DEAD_LETTER_QUEUE_VARIABLE = "EVENTS_DEAD_LETTER_QUEUE_URL"
# What SQS answers for a queue that does not exist (the JSON protocol's code, then the query protocol's).
NO_QUEUE = ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue")
ARCHIVE_RETENTION_VARIABLE = "EVENTS_ARCHIVE_RETENTION_DAYS"


class StreamsNotWired(RuntimeError):
    """The stage's stream functions cannot be given their retries and dead-letter queue."""


def _config_path(project_dir: Path) -> Path:
    return project_dir / ".chalice" / "config.json"


def stack_parameters(variables: dict[str, str]) -> list[dict[str, str]]:
    """The stack parameters of the events (``make deploy-infra``), from the stage's environment."""
    days = variables.get(ARCHIVE_RETENTION_VARIABLE, str(DEFAULT_RETENTION_DAYS))
    return [{"ParameterKey": RETENTION_PARAMETER, "ParameterValue": days}]


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
    return list(STAGE_OUTPUTS.values())


def missing_variables(variables: dict[str, str]) -> list[str]:
    """What a stage needs in its environment before ``make deploy``: the stream ARNs and the dead-letter queue."""
    return [name for name in (*STREAM_VARIABLES.values(), DEAD_LETTER_QUEUE_VARIABLE) if not variables.get(name)]


def stream_function_names(app_name: str, stage: str) -> list[str]:
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


def deployed_mappings(project_dir: Path, stage: str) -> list[str]:
    """The UUIDs of the stream functions' event source mappings that ``chalice deploy`` recorded."""
    path = project_dir / ".chalice" / "deployed" / f"{stage}.json"
    resources = json.loads(path.read_text())["resources"] if path.exists() else []
    return [resource["event_uuid"] for resource in resources if resource["resource_type"] == "dynamodb_event"]


def apply_stream_failures(
    lambda_client: Any, sqs: Any, mappings: list[str], variables: dict[str, str], expected: bool = True
) -> str:
    """Set :func:`failure_settings` on each mapping; say what was done.

    :param expected: The stage's stream ARNs promise a mapping each (a rollback to a release from before the
        events does not).
    :raises StreamsNotWired: When fewer mappings are deployed than the stage has streams, or the stage has no
        dead-letter queue for the mappings it has.
    """
    streams = [name for name in STREAM_VARIABLES.values() if variables.get(name)]
    if expected and len(mappings) < len(streams):
        raise StreamsNotWired(
            f"{len(mappings)} stream mappings deployed for {len(streams)} streams: did chalice deploy read the "
            "stream ARNs of .chalice/config.json?"
        )
    if not mappings:
        return "no stream functions"
    queue_url = variables.get(DEAD_LETTER_QUEUE_VARIABLE)
    if not queue_url:
        raise StreamsNotWired(f"no {DEAD_LETTER_QUEUE_VARIABLE} in .chalice/config.json: run make deploy-infra")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for uuid in mappings:
        lambda_client.update_event_source_mapping(UUID=uuid, **failure_settings(arn))
    return f"{len(mappings)} stream mappings: {RETRY_ATTEMPTS} retries, then the dead-letter queue"


def stage_leftovers(app_name: str, stage: str) -> tuple[list[str], str]:
    """What of the events outlives ``chalice delete`` and the stack: the stream functions' names (for their log
    groups) and the dead-letter queue's name."""
    return stream_function_names(app_name, stage), DEAD_LETTERS_QUEUE.replace("${Stage}", stage)
