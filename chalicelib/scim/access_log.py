"""One JSON line per SCIM request, on stdout, for CloudWatch Logs Insights and CloudWatch metrics.

Only what ops need to follow a request: who (tenant, client ID), what (method,
path without query string), the outcome (status, scimType) and the latency.
Never a header, a body, a query string, a secret or a password. The line is also the request's
Embedded Metric Format document (:mod:`chalicelib.metrics`), so its fields are the metrics' properties.
"""

import json
import logging
import sys
from typing import Any

_logger = logging.getLogger("scim.access")


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is at the time of the record."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _configure() -> None:
    if _logger.handlers:
        return
    handler = _StdoutHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    _logger.addHandler(handler)
    _logger.setLevel(logging.INFO)
    # A whole line of JSON, not wrapped by the Lambda runtime's root handler.
    _logger.propagate = False


def log_request(metrics: dict[str, Any] | None = None, **fields: Any) -> None:
    """Write one access line; ``fields`` are the request's tenant, client_id, method, path, status, ...

    ``metrics`` is the request's EMF document, which the line carries.
    """
    _configure()
    _logger.info(json.dumps({"log": "scim.request", **fields, **(metrics or {})}, separators=(",", ":"), default=str))
