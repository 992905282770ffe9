"""The query planner reads filters and projections on scim2-models' typed paths, not on their text."""

import json
from typing import Annotated, Any

import pytest
from scim2_models import Extension, Group, ResourceType, ScimProvider
from scim2_models.annotations import CaseExact
from scim2_models.urn import URN
from scim2_server.requests import ScimRequest

from chalicelib.config import settings
from chalicelib.provisioning.handler import ProvisioningHandler
from chalicelib.provisioning.limits import RequestLimits
from chalicelib.provisioning.passwords import PasswordPolicy, hash_password
from chalicelib.provisioning.service import ProvisioningService
from chalicelib.resources.storage import DynamoScimStorage
from chalicelib.schemas import CORE_GROUP_SCHEMA, CORE_USER_SCHEMA, OneModelUser, User
from chalicelib.scim.provider import POLICY, service_provider_config
from chalicelib.store import connection
from tests.conftest import DynamoCalls, Scim, user_body

LEGACY = "urn:example:params:scim:schemas:extension:legacy:2.0:User"


class LegacyAccount(Extension):
    """An extension with an attribute named as a core one: the account name in a former system."""

    __schema__ = URN(LEGACY)

    user_name: Annotated[str | None, CaseExact.false] = None


@pytest.fixture
def legacy_scim(aws: None) -> ProvisioningHandler:
    """A service provider whose users carry the legacy extension, over our DynamoDB storage."""
    config = settings()
    provider = ScimProvider(
        models=[User, LegacyAccount, OneModelUser, Group],
        resource_types=[
            ResourceType.from_resource(User[LegacyAccount | OneModelUser]),
            ResourceType.from_resource(Group),
        ],
        config=service_provider_config(config),
        policy=POLICY,
    )
    service = ProvisioningService(
        provider,
        PasswordPolicy.from_settings(config),
        lambda: config.cursor_secret,
        RequestLimits.from_settings(config),
    )
    storage = DynamoScimStorage(provider, connection.dynamodb(config), config, "legacy-tenant", hash_password)
    return ProvisioningHandler(service, storage)


def _request(handler: ProvisioningHandler, method: str, path: str, body: Any = None, **query: str) -> Any:
    request = ScimRequest(
        method=method,
        base_url="https://scim.example.com/scim/v2",
        path=path,
        query=query,
        headers={"Content-Type": "application/scim+json"},
        body=b"" if body is None else json.dumps(body).encode(),
    )
    response = handler.handle(request)
    return response.status, response.body


def test_an_extension_attribute_named_username_is_not_the_username_index(legacy_scim: ProvisioningHandler) -> None:
    # Given two users whose core userName and legacy userName sort in opposite orders
    for core, legacy in (("zed@example.com", "alpha"), ("amy@example.com", "zulu")):
        body = {"schemas": [CORE_USER_SCHEMA, LEGACY], "userName": core, LEGACY: {"userName": legacy}}
        assert _request(legacy_scim, "POST", "/Users", body)[0] == 201

    # When a client filters and sorts on the extension's userName
    status, found = _request(legacy_scim, "GET", "/Users", filter=f'{LEGACY}:userName sw "a"')
    _, ordered = _request(legacy_scim, "GET", "/Users", sortBy=f"{LEGACY}:userName")

    # Then the answer is about the extension's attribute, totalResults included
    assert status == 200
    assert found["totalResults"] == 1
    assert [user["userName"] for user in found["Resources"]] == ["zed@example.com"]
    assert [user["userName"] for user in ordered["Resources"]] == ["zed@example.com", "amy@example.com"]


def _member_queries(calls: DynamoCalls) -> list[dict[str, Any]]:
    return [
        params
        for params in calls.named("Query")
        if params.get("ExpressionAttributeValues", {}).get(":p", {}).get("S", "").startswith("member#")
    ]


def test_a_filter_value_that_spells_members_reads_no_members(scim: Scim, dynamo_calls: DynamoCalls) -> None:
    # Given a group named "members" with a member
    user = scim.post("/Users", user_body()).json["id"]
    group = {"schemas": [CORE_GROUP_SCHEMA], "displayName": "members", "members": [{"value": user}]}
    assert scim.post("/Groups", group).status_code == 201
    dynamo_calls.reset()

    # When a client looks it up by displayName without its members
    response = scim.get("/Groups", query={"filter": 'displayName eq "members"', "excludedAttributes": "members"})

    # Then it is found, and no membership is read
    assert response.status_code == 200
    assert [found["displayName"] for found in response.json["Resources"]] == ["members"]
    assert "members" not in response.json["Resources"][0]
    assert _member_queries(dynamo_calls) == []


def test_a_filter_on_members_still_reads_them(scim: Scim, dynamo_calls: DynamoCalls) -> None:
    user = scim.post("/Users", user_body()).json["id"]
    group = {"schemas": [CORE_GROUP_SCHEMA], "displayName": "Staff", "members": [{"value": user}]}
    assert scim.post("/Groups", group).status_code == 201
    dynamo_calls.reset()

    response = scim.get("/Groups", query={"filter": 'members.display co "jensen"', "excludedAttributes": "members"})

    assert [found["displayName"] for found in response.json["Resources"]] == ["Staff"]
    assert _member_queries(dynamo_calls) != []
