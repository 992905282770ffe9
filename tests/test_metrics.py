"""CloudWatch metrics: each request's access line is an Embedded Metric Format document, per stage."""

import json
from typing import Any

import botocore.exceptions
import pytest

from chalicelib.auth.authorizer import CredentialsUnavailable, authenticate
from chalicelib.metrics import NAMESPACE
from tests.conftest import Scim, Tenant, user_body


def documents(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def directives(document: dict[str, Any]) -> dict[tuple[str, ...], set[str]]:
    return {
        tuple(d["Dimensions"][0]): {m["Name"] for m in d["Metrics"]}
        for d in document["_aws"]["CloudWatchMetrics"]
        if d["Namespace"] == NAMESPACE
    }


def test_each_request_counts_once_by_stage_with_its_latency_and_the_tenant_as_a_property(
    scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert scim.post("/Users", user_body()).status_code == 201
    (line,) = documents(capsys)
    assert directives(line) == {("Stage",): {"Requests", "Latency", "ClientErrors", "ServerErrors", "Unavailable"}}
    assert line["Stage"] == "test"
    assert (line["Requests"], line["ClientErrors"], line["ServerErrors"], line["Unavailable"]) == (
        [1.0],
        [0.0],
        [0.0],
        [0.0],
    )
    assert line["Latency"] == [line["latency_ms"]]
    assert line["tenant"] == "acme" and "tenant" not in line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]


def test_a_4xx_counts_as_a_client_error_by_stage_and_by_scim_type(
    scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    scim.post("/Users", user_body())
    capsys.readouterr()
    assert scim.post("/Users", user_body()).status_code == 409
    assert scim.get("/Users/nobody").status_code == 404
    conflict, missing = documents(capsys)
    assert directives(conflict)[("Stage", "ScimType")] == {"ClientErrors"}
    assert (conflict["ScimType"], conflict["ClientErrors"]) == ("uniqueness", [1.0])
    assert missing["ScimType"] == "404"


def test_the_authorizer_counts_refusals_and_errors(
    tenant: Tenant, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    capsys.readouterr()
    assert authenticate(f"Bearer {tenant.client_id}.wrong") is None
    assert authenticate(tenant.authorization) is not None
    (refusal,) = documents(capsys)
    assert directives(refusal) == {("Stage",): {"AuthorizerRefusals"}}

    def failing(*args: Any, **kwargs: Any) -> None:
        raise botocore.exceptions.ClientError({"Error": {"Code": "ThrottlingException"}}, "GetItem")

    monkeypatch.setattr("chalicelib.store.credentials.CredentialStore.get_credential", failing)
    with pytest.raises(CredentialsUnavailable):
        authenticate(tenant.authorization)
    (error,) = documents(capsys)
    assert directives(error) == {("Stage",): {"AuthorizerErrors"}}
