"""One place decides that DynamoDB is unavailable (a 503 with Retry-After): ``chalicelib.store.errors.unavailable``."""

import ast
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from chalicelib.store.deadline import BudgetSpent
from chalicelib.store.errors import Unavailable, unavailable

ROOT = Path(__file__).resolve().parent.parent


def client_error(code: str, status: int = 400, **extra: Any) -> botocore.exceptions.ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}, **extra}
    return botocore.exceptions.ClientError(response, "TransactWriteItems")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("ThrottlingException"), True),
        (client_error("ProvisionedThroughputExceededException"), True),
        (client_error("InternalFailure", status=500), True),
        (client_error("TransactionCanceledException", CancellationReasons=[{"Code": "TransactionConflict"}]), True),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (BudgetSpent(seconds=15), True),
        (Unavailable("BatchGetItem left keys unprocessed"), True),
        (client_error("ConditionalCheckFailedException"), False),
        (client_error("TransactionCanceledException", CancellationReasons=[{"Code": "ConditionalCheckFailed"}]), False),
        (client_error("ValidationException"), False),
        (client_error("AccessDeniedException"), False),
        (ValueError("not a DynamoDB failure"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_what_counts_as_dynamodb_unavailable(error: BaseException, expected: bool) -> None:
    assert unavailable(error) is expected


def test_no_other_module_lists_throttling_codes_or_reads_a_5xx_status() -> None:
    # The decision's inputs appear in one module only: a second list would drift from the first.
    found = []
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in ("ThrottlingException", "HTTPStatusCode"):
                found.append(str(path.relative_to(ROOT)))
    assert sorted(set(found)) == ["chalicelib/store/errors.py"]
