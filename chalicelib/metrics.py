"""CloudWatch metrics in Embedded Metric Format (EMF), built by Powertools for AWS Lambda's Metrics.

A Lambda's stdout goes to CloudWatch Logs, which turns each EMF document into metrics, so no call
to CloudWatch is made. Namespace ``OneModelScim``, one dimension ``Stage``: the cost stays flat
whatever the number of tenants, and the tenant travels as a property (searchable in Logs Insights).

- Each SCIM request: ``Requests``, ``Latency`` (ms), ``ClientErrors`` (4xx), ``ServerErrors``
  (5xx other than 503), ``Unavailable`` (503), each 0 or 1 so that an average is a rate; and for a
  4xx, ``ClientErrors`` again by ``Stage`` and ``ScimType`` (the status when there is no scimType).
  These ride on the request's access line (:mod:`chalicelib.scim.access_log`): one line per request.
- The authorizer: ``AuthorizerRefusals`` and ``AuthorizerErrors`` (the credentials table could not
  be read). Imported by the authorizer only when it has one of those to count, so an allowed
  request never loads Powertools (``make bench`` measures both).
- ``ActivityWriteFailures``: a trail entry that could not be written (the SCIM answer is unchanged).

``infra/stack.json`` sets the alarms on these (docs/operations/runbook.md, "Alarms").
"""

import json
import sys
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

NAMESPACE = "OneModelScim"
STAGE = "Stage"
SCIM_TYPE = "ScimType"
UNAVAILABLE_STATUS = 503


def _metrics(stage: str, **dimensions: str) -> AmazonCloudWatchEMFProvider:
    # A provider per document, not Powertools' shared Metrics: `make run` serves requests on threads.
    provider = AmazonCloudWatchEMFProvider(namespace=NAMESPACE)
    provider.add_dimension(STAGE, stage)
    for name, value in dimensions.items():
        provider.add_dimension(name, value)
    return provider


def request_metrics(stage: str, status: int, scim_type: str | None, latency_ms: float) -> dict[str, Any]:
    """The EMF document of one SCIM request's outcome (no properties yet: the access line adds them)."""
    client_error = 400 <= status < 500
    metrics = _metrics(stage)
    metrics.add_metric("Requests", MetricUnit.Count, 1)
    metrics.add_metric("Latency", MetricUnit.Milliseconds, latency_ms)
    metrics.add_metric("ClientErrors", MetricUnit.Count, int(client_error))
    metrics.add_metric("ServerErrors", MetricUnit.Count, int(status >= 500 and status != UNAVAILABLE_STATUS))
    metrics.add_metric("Unavailable", MetricUnit.Count, int(status == UNAVAILABLE_STATUS))
    document: dict[str, Any] = dict(metrics.serialize_metric_set())
    if client_error:
        by_type = _metrics(stage, **{SCIM_TYPE: scim_type or str(status)})
        by_type.add_metric("ClientErrors", MetricUnit.Count, 1)
        typed: dict[str, Any] = dict(by_type.serialize_metric_set())
        # One document, two directives: ClientErrors by Stage, and by Stage and ScimType.
        document["_aws"]["CloudWatchMetrics"] += typed["_aws"]["CloudWatchMetrics"]
        document[SCIM_TYPE] = typed[SCIM_TYPE]
    return document


def count(stage: str, metric: str, **properties: Any) -> None:
    """Write one EMF line counting one ``metric`` (AuthorizerRefusals, AuthorizerErrors, ActivityWriteFailures)."""
    metrics = _metrics(stage)
    metrics.add_metric(metric, MetricUnit.Count, 1)
    for key, value in properties.items():
        metrics.add_metadata(key, value)
    sys.stdout.write(json.dumps(metrics.serialize_metric_set(), separators=(",", ":")) + "\n")
