"""Every request ends well before the Lambda timeout (issue #16 item 8: a group PATCH ran 65.9 s against make run).

The evidence (docs/design/reliability.md): moto's TransactWriteItems deep-copies the table it writes without a lock,
so concurrent writers made it answer 500, and botocore's retries of each call, 10 s read timeouts and growing
backoff, had no bound across a request. Now the request's DynamoDB work has one budget, checked before every
attempt, and a 5xx still failing after the retries is a 503 with Retry-After, never a 500.
"""

import json
import time
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from chalicelib.auth import authorizer
from chalicelib.config import settings
from chalicelib.resources.errors import ServiceUnavailableException, translated
from chalicelib.scim import adapter
from chalicelib.store import deadline
from chalicelib.store.connection import _CLIENT_CONFIG
from tests.conftest import Scim, user_body

CHALICE_CONFIG = Path(__file__).resolve().parent.parent / ".chalice" / "config.json"


def _deployed_stage(stage: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The stage's Chalice config, its environment set as on AWS (no budget overrides of the test stage)."""
    config: dict[str, Any] = json.loads(CHALICE_CONFIG.read_text())["stages"][stage]
    for name, value in config.get("environment_variables", {}).items():
        monkeypatch.setenv(name, value)
    for name in ("REQUEST_BUDGET_SECONDS", "AUTHORIZER_BUDGET_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    return config


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_a_request_ends_before_the_lambda_timeout_whatever_dynamodb_does(
    stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _deployed_stage(stage, monkeypatch)
    one_attempt = _CLIENT_CONFIG.connect_timeout + _CLIENT_CONFIG.read_timeout

    assert settings().request_budget_seconds + one_attempt <= config["lambda_timeout"] - 5


def test_a_request_whose_budget_is_spent_is_a_503_with_retry_after_and_writes_nothing(
    scim: Scim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter, "request_budget", lambda seconds: deadline.request_budget(-1.0))

    response = scim.post("/Users", user_body())

    assert (response.status_code, response.json["status"]) == (503, "503")
    assert response.headers["Retry-After"]
    monkeypatch.undo()
    assert scim.get("/Users").json["totalResults"] == 0


def test_the_budget_only_bounds_the_request_it_was_opened_for() -> None:
    with deadline.request_budget(-1.0), pytest.raises(deadline.BudgetSpent):
        deadline.refuse_when_spent()

    deadline.refuse_when_spent()


def test_a_dynamodb_5xx_still_failing_after_the_retries_is_unavailable_not_a_500() -> None:
    moto_500 = botocore.exceptions.ClientError(
        {"Error": {"Code": "500", "Message": "<!doctype html>"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
        "TransactWriteItems",
    )

    with pytest.raises(ServiceUnavailableException), translated():
        raise moto_500


def test_a_read_whose_budget_is_spent_in_the_pool_threads_is_a_503(scim: Scim, monkeypatch: pytest.MonkeyPatch) -> None:
    user = scim.post("/Users", user_body()).json["id"]
    monkeypatch.setattr(adapter, "request_budget", lambda seconds: deadline.request_budget(-1.0))

    # GET user reads the user and its memberships at once: the budget holds in the pool's thread too.
    response = scim.get(f"/Users/{user}")

    assert (response.status_code, response.json["status"]) == (503, "503")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_authorizer_decides_before_its_lambda_timeout_whatever_dynamodb_does(
    stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _deployed_stage(stage, monkeypatch)
    one_attempt = _CLIENT_CONFIG.connect_timeout + _CLIENT_CONFIG.read_timeout

    assert (
        settings().authorizer_budget_seconds + one_attempt
        <= config["lambda_functions"]["scim_auth"]["lambda_timeout"] - 1
    )


def test_an_authorizer_whose_budget_is_spent_answers_503_never_401(scim: Scim, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(authorizer, "request_budget", lambda seconds: deadline.request_budget(-1.0))

    response = scim.get("/Users")

    # A 401 would tell the IdP its credential is bad; it is only unreadable for now.
    assert (response.status_code, response.json["status"]) == (503, "503")
    assert response.headers["Retry-After"]


def test_cpu_work_that_leaves_too_little_budget_for_the_write_is_a_503_and_writes_nothing(
    scim: Scim, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The budget was checked only as each DynamoDB call started: CPU work could use most of it, and the write
    # then start with too little left to finish, to be cut off after it committed.
    from chalicelib.provisioning.service import ProvisioningService

    check_user = ProvisioningService.check_user

    def slow_check(service: ProvisioningService, user: Any) -> None:
        started = time.monotonic()
        while time.monotonic() - started < 0.75:  # CPU, not a wait: what a quadratic step would spend
            pass
        check_user(service, user)

    monkeypatch.setattr(adapter, "request_budget", lambda seconds: deadline.request_budget(1.0))
    monkeypatch.setattr(ProvisioningService, "check_user", slow_check)

    response = scim.post("/Users", user_body())

    assert (response.status_code, response.json["status"]) == (503, "503")
    assert response.headers["Retry-After"]
    monkeypatch.undo()
    assert scim.get("/Users").json["totalResults"] == 0
