"""Per-tenant limits: the authorizer's usage identifier, the usage plans, ``admin limits``, make deploy's step.

API Gateway enforces the plans on AWS; moto (in-process here) stores and reads them back, nothing more.
Enforcement under ``make run`` is tried over real HTTP in tests/test_tenant_limits_http.py.
"""

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from admin.__main__ import main
from app import app, scim_auth
from chalicelib.auth.tenant_limits import UNAUTHENTICATED, Limits, LimitsError, default_limits, usage_key
from chalicelib.config import settings
from chalicelib.gateway_responses import GATEWAY_RESPONSES
from devserver.throttle import TenantThrottle, TokenBucket
from infra.rest_api import apply_tenant_limits
from infra.usage_plans import LimitsNotApplied, UsagePlans
from tests.conftest import Tenant
from tests.helpers import ERROR
from tests.moto_api_gateway import method_updates

DEFAULT_LIMITS = Limits(rate=50, burst=100)
ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef/api/GET/scim/v2/Users"


def _authorize(authorization: str) -> dict[str, Any]:
    event = {"type": "TOKEN", "authorizationToken": authorization, "methodArn": ARN}
    result: dict[str, Any] = scim_auth(event, None)
    return result


@pytest.fixture
def apigateway(aws: None) -> Any:
    return boto3.client("apigateway", region_name="us-east-1")


@pytest.fixture
def plans(apigateway: Any) -> UsagePlans:
    found = UsagePlans(apigateway, "test")
    found.ensure_default_plan(DEFAULT_LIMITS, api_stage=None)
    return found


# -- The authorizer names the tenant's key --------------------------------------------------------


def test_the_authorizer_names_the_tenants_usage_key_and_still_allows_with_its_decision(tenant: Tenant) -> None:
    result = _authorize(tenant.authorization)

    assert result["usageIdentifierKey"] == usage_key("test", "acme")
    assert result["context"]["outcome"] == "allowed" and result["context"]["tenant"] == "acme"
    assert result["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_a_refused_credential_counts_against_the_unauthenticated_key_not_a_tenants(tenant: Tenant) -> None:
    result = _authorize(f"Bearer {tenant.client_id}.wrong-secret")

    assert result["usageIdentifierKey"] == usage_key("test", UNAUTHENTICATED)
    assert result["context"]["outcome"] == "refused"


def test_usage_keys_are_distinct_per_stage_and_tenant_and_long_enough_for_api_gateway() -> None:
    keys = {usage_key(stage, tenant) for stage in ("dev", "prod") for tenant in ("acme", "globex", UNAUTHENTICATED)}
    assert len(keys) == 6
    assert all(len(key) >= 20 for key in keys)  # API Gateway's minimum for a key value


@pytest.mark.parametrize(("rate", "burst"), [(0, 10), (10_001, 10), (10, 0), (10, 5_001)])
def test_limits_api_gateway_cannot_enforce_are_refused_naming_the_field(rate: int, burst: int) -> None:
    with pytest.raises(LimitsError, match="rate" if rate in (0, 10_001) else "burst"):
        Limits(rate, burst)


# -- The token bucket make run enforces -------------------------------------------------------------


def test_a_bucket_admits_its_burst_then_its_rate() -> None:
    bucket = TokenBucket(Limits(rate=2, burst=3), now=0.0)

    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.25) is False  # half a token
    assert [bucket.take(0.5), bucket.take(0.5)] == [True, False]
    assert [bucket.take(10.0) for _ in range(4)] == [True, True, True, False]  # never more than the burst


def test_the_throttle_reads_new_limits_within_a_second_and_refuses_a_key_in_no_plan() -> None:
    now = [0.0]
    limits = {"greedy": Limits(rate=1, burst=1)}
    throttle = TenantThrottle(lambda: dict(limits), clock=lambda: now[0])

    assert [throttle.admit("greedy"), throttle.admit("greedy")] == [True, False]
    assert throttle.admit("unknown") is None
    limits["greedy"] = Limits(rate=100, burst=100)
    now[0] = 0.5
    assert throttle.admit("greedy") is False  # still the old plan: read again after a second
    now[0] = 1.0
    assert throttle.admit("greedy") is True


# -- Usage plans on API Gateway, and admin limits -----------------------------------------------------


def test_each_key_is_in_exactly_one_plan_and_moves_with_its_limits(plans: UsagePlans, apigateway: Any) -> None:
    plans.ensure_keys([UNAUTHENTICATED, "acme", "globex"])
    assert plans.show("acme").limits == DEFAULT_LIMITS and not plans.show("acme").own

    assert plans.set("acme", Limits(rate=5, burst=10)).own
    assert plans.show("acme").limits == Limits(5, 10)
    assert plans.show("globex").limits == DEFAULT_LIMITS
    for tenant in ("acme", "globex"):
        key = plans.key(tenant)
        assert key is not None
        assert len(apigateway.get_usage_plans(keyId=key["id"])["items"]) == 1

    throttles = plans.throttles()
    assert throttles[usage_key("test", "acme")] == Limits(5, 10)
    assert throttles[usage_key("test", "globex")] == DEFAULT_LIMITS
    assert throttles[usage_key("test", UNAUTHENTICATED)] == DEFAULT_LIMITS

    assert not plans.reset("acme").own
    assert plans.show("acme").limits == DEFAULT_LIMITS
    assert "onemodel-scim-test-tenant-acme" not in plans.plans()


def test_a_tenant_plan_gets_the_default_plans_api_stage(plans: UsagePlans, apigateway: Any) -> None:
    api = apigateway.create_rest_api(name="onemodel-scim")
    plans.ensure_default_plan(DEFAULT_LIMITS, {"apiId": api["id"], "stage": "api"})
    plans.set("acme", Limits(rate=5, burst=10))

    own = plans.plans()["onemodel-scim-test-tenant-acme"]
    assert own["apiStages"] == [{"apiId": api["id"], "stage": "api"}]
    assert own["throttle"] == {"rateLimit": 5, "burstLimit": 10}


def test_admin_limits_set_show_and_reset_on_a_stage(plans: UsagePlans, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stage", "test", "tenant", "create", "initech"]) == 0
    capsys.readouterr()

    assert main(["--stage", "test", "limits", "show", "initech"]) == 0
    assert "initech: 50 requests/s, burst 100 (the stage's default)" in capsys.readouterr().out
    assert main(["--stage", "test", "limits", "set", "initech", "--rate", "3"]) == 0
    assert "initech: 3 requests/s, burst 100 (its own)" in capsys.readouterr().out
    assert main(["--stage", "test", "limits", "set", "initech", "--burst", "6"]) == 0
    assert "initech: 3 requests/s, burst 6 (its own)" in capsys.readouterr().out
    assert main(["--stage", "test", "limits", "reset", "initech"]) == 0
    assert "initech: 50 requests/s, burst 100 (the stage's default)" in capsys.readouterr().out


def test_admin_limits_refuses_limits_out_of_bounds_and_says_why(
    plans: UsagePlans, capsys: pytest.CaptureFixture[str]
) -> None:
    plans.ensure_key("initech")

    assert main(["--stage", "test", "limits", "set", "initech", "--rate", "0"]) == 2
    assert "rate must be 1 to 10000" in capsys.readouterr().err
    assert main(["--stage", "test", "limits", "set", "initech"]) == 2
    assert "--rate" in capsys.readouterr().err


def test_admin_limits_on_a_stage_without_make_deploys_plan_says_to_run_it(
    apigateway: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--stage", "test", "limits", "show", "acme"]) == 1
    assert "make deploy STAGE=test" in capsys.readouterr().err
    with pytest.raises(LimitsNotApplied):
        UsagePlans(apigateway, "test").set("acme", Limits(1, 1))


def test_the_key_value_is_never_printed(plans: UsagePlans, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stage", "test", "tenant", "create", "initech"]) == 0
    assert main(["--stage", "test", "limits", "set", "initech", "--rate", "3", "--burst", "3"]) == 0
    assert main(["--stage", "test", "limits", "show", "initech"]) == 0
    captured = capsys.readouterr()
    assert usage_key("test", "initech") not in captured.out + captured.err


# -- make deploy's step on a REST API ------------------------------------------------------------------


@pytest.fixture
def rest_api(apigateway: Any) -> Iterator[dict[str, str]]:
    """A REST API with one method behind a custom authorizer and one open, as Chalice builds them."""
    with method_updates():
        api = apigateway.create_rest_api(name="onemodel-scim")
        root = apigateway.get_resources(restApiId=api["id"])["items"][0]["id"]
        authorizer = apigateway.create_authorizer(
            restApiId=api["id"], name="scim_auth", type="TOKEN", authorizerUri="arn:aws:lambda:x", identitySource="h"
        )
        ids = {}
        for path, authorization in (("Users", "CUSTOM"), ("ServiceProviderConfig", "NONE")):
            resource = apigateway.create_resource(restApiId=api["id"], parentId=root, pathPart=path)
            extra = {"authorizerId": authorizer["id"]} if authorization == "CUSTOM" else {}
            apigateway.put_method(
                restApiId=api["id"],
                resourceId=resource["id"],
                httpMethod="GET",
                authorizationType=authorization,
                **extra,
            )
            apigateway.put_integration(restApiId=api["id"], resourceId=resource["id"], httpMethod="GET", type="MOCK")
            ids[path] = resource["id"]
        yield {"id": api["id"], **ids}


def test_make_deploys_step_requires_keys_behind_the_authorizer_and_puts_every_tenant_in_a_plan(
    apigateway: Any, rest_api: dict[str, str]
) -> None:
    plans = UsagePlans(apigateway, "test")

    for _ in range(2):  # every release applies it again; the second changes nothing
        apply_tenant_limits(apigateway, rest_api["id"], "api", plans, Limits(7, 14), ["acme", "globex"])

    assert apigateway.get_rest_api(restApiId=rest_api["id"])["apiKeySource"] == "AUTHORIZER"
    users = apigateway.get_method(restApiId=rest_api["id"], resourceId=rest_api["Users"], httpMethod="GET")
    open_route = apigateway.get_method(
        restApiId=rest_api["id"], resourceId=rest_api["ServiceProviderConfig"], httpMethod="GET"
    )
    assert (users["apiKeyRequired"], open_route["apiKeyRequired"]) == (True, False)
    assert users["methodIntegration"]["type"] == "MOCK"  # the method keeps its integration
    (default,) = plans.plans().values()
    assert default["throttle"] == {"rateLimit": 7, "burstLimit": 14}
    assert default["apiStages"] == [{"apiId": rest_api["id"], "stage": "api"}]
    assert set(plans.throttles()) == {usage_key("test", name) for name in ("acme", "globex", UNAUTHENTICATED)}
    assert len(apigateway.get_api_keys()["items"]) == 3
    assert len(apigateway.get_deployments(restApiId=rest_api["id"])["items"]) == 2


def test_a_plain_chalice_deploy_requires_no_api_key_anywhere() -> None:
    """Chalice's own definition: no route asks for a key, so every IdP is served before make deploy's step."""
    definition = json.dumps([entry.api_key_required for methods in app.routes.values() for entry in methods.values()])
    assert "true" not in definition


def test_the_throttled_and_quota_answers_are_scim_errors_with_retry_after() -> None:
    for response_type in ("THROTTLED", "QUOTA_EXCEEDED"):
        response = GATEWAY_RESPONSES[response_type]
        assert response.status == 429
        assert response.headers["Retry-After"] == "1"
        body = json.loads(response.body)
        assert body["status"] == "429" and body["schemas"] == [ERROR]


def test_a_release_keeps_the_limits_an_operator_gave_a_tenant(apigateway: Any, rest_api: dict[str, str]) -> None:
    plans = UsagePlans(apigateway, "test")
    apply_tenant_limits(apigateway, rest_api["id"], "api", plans, DEFAULT_LIMITS, ["acme"])
    plans.set("acme", Limits(rate=3, burst=3))

    apply_tenant_limits(apigateway, rest_api["id"], "api", plans, Limits(30, 60), ["acme", "globex"])

    assert plans.show("acme").limits == Limits(3, 3) and plans.show("acme").own
    assert plans.show("globex").limits == Limits(30, 60)


def test_the_default_is_the_stages_settings_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_limits(settings()) == DEFAULT_LIMITS
    monkeypatch.setenv("TENANT_RATE_LIMIT", "20000")
    with pytest.raises(LimitsError, match="rate must be 1 to 10000"):
        default_limits(settings())
