"""infra/iam.py decides as IAM does: wildcards, case, ARN parts, explicit deny, and what it refuses to guess."""

from typing import Any

import pytest

from infra.iam import UnsupportedPolicy, action_matches, allows, resource_matches

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:scim-dev/cursor-secret-AbC123"
GROUP = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/onemodel-scim-dev"
STREAM = GROUP + ":log-stream:2026/12/04/[$LATEST]0123abcd"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/scim-dev-users"


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("dynamodb:GetItem", "dynamodb:GetItem", True),
        ("DynamoDB:getitem", "dynamodb:GetItem", True),  # actions are not case-sensitive
        ("dynamodb:Get*", "dynamodb:GetItem", True),
        ("dynamodb:*Item", "dynamodb:BatchGetItem", True),
        ("dynamodb:?etItem", "dynamodb:GetItem", True),
        ("dynamodb:?etItem", "dynamodb:BatchGetItem", False),
        ("dynamodb:GetItem", "dynamodb:GetItems", False),
        ("dynamodb:Get.tem", "dynamodb:GetItem", False),  # a dot is a dot
        ("*", "logs:PutLogEvents", True),
        ("logs:*", "dynamodb:GetItem", False),
    ],
)
def test_action_matching(pattern: str, action: str, matches: bool) -> None:
    assert action_matches(pattern, action) is matches


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        ("*", SECRET, True),
        ("arn:aws:secretsmanager:*:*:secret:scim-dev/cursor-secret-??????", SECRET, True),
        # Secrets Manager's six-character suffix: "??????" matches no other secret whose name only starts the same.
        ("arn:aws:secretsmanager:*:*:secret:scim-dev/cursor-secret-??????", SECRET + "x", False),
        ("arn:aws:secretsmanager:*:*:secret:scim-dev/cursor-secret-??????", SECRET.replace("-AbC", "-old-AbC"), False),
        ("arn:aws:secretsmanager:*:*:secret:scim-dev/cursor-secret-*", SECRET.replace("-AbC", "-old-AbC"), True),
        # Region and account are matched each as one part: a wildcard there cannot swallow the resource.
        ("arn:aws:dynamodb:*:*:table/scim-dev-users", TABLE, True),
        ("arn:aws:dynamodb:us-west-2:*:table/scim-dev-users", TABLE, False),
        ("arn:aws:dynamodb:*:210987654321:table/scim-dev-users", TABLE, False),
        ("arn:aws:dynamodb:*:table/scim-dev-users", TABLE, False),
        ("arn:aws:dynamodb:*:*:table/scim-dev-users", TABLE + "/index/byExternalId", False),
        ("arn:aws:dynamodb:*:*:table/scim-dev-users/index/*", TABLE + "/index/byExternalId", True),
        ("arn:aws:dynamodb:*:*:table/scim-dev-*", TABLE.replace("dev-users", "dev-users-old"), True),
        ("arn:aws:dynamodb:*:*:table/Scim-dev-users", TABLE, False),  # resources are case-sensitive
        # In the resource part a wildcard reaches across colons: a log group's ":*" covers its streams.
        ("arn:aws:logs:*:*:log-group:/aws/lambda/onemodel-scim-dev:*", GROUP + ":*", True),
        (
            "arn:aws:logs:*:*:log-group:/aws/lambda/onemodel-scim-dev:*",
            GROUP + ":log-stream:2026/12/04/[$LATEST]",
            True,
        ),
        ("arn:aws:logs:*:*:log-group:/aws/lambda/onemodel-scim-dev:*", GROUP + "-scim_auth:*", False),
        ("arn:aws:logs:*:*:log-group:/aws/lambda/onemodel-scim-dev-*", GROUP + ":*", False),
        ("arn:aws:logs:*:*:log-group:/aws/lambda/onemodel-scim-dev-*", GROUP + "-scim_auth:*", True),
    ],
)
def test_resource_matching(pattern: str, arn: str, matches: bool) -> None:
    assert resource_matches(pattern, arn) is matches


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW_TABLE = {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": TABLE}


def test_an_allow_for_the_action_and_resource_allows() -> None:
    assert allows(_policy(ALLOW_TABLE), "dynamodb:GetItem", TABLE)


def test_nothing_allowed_is_denied() -> None:
    assert not allows(_policy(ALLOW_TABLE), "dynamodb:PutItem", TABLE)
    assert not allows(_policy(ALLOW_TABLE), "dynamodb:GetItem", TABLE.replace("users", "groups"))
    assert not allows(_policy(), "dynamodb:GetItem", TABLE)


def test_an_explicit_deny_wins_over_any_allow() -> None:
    deny = {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}
    assert not allows(_policy(ALLOW_TABLE, deny), "dynamodb:GetItem", TABLE)


def test_not_action_and_not_resource_apply_to_everything_else() -> None:
    everything_but_puts = {"Effect": "Allow", "NotAction": "dynamodb:Put*", "NotResource": TABLE + "/index/*"}
    assert allows(_policy(everything_but_puts), "dynamodb:GetItem", TABLE)
    assert not allows(_policy(everything_but_puts), "dynamodb:PutItem", TABLE)
    assert not allows(_policy(everything_but_puts), "dynamodb:Query", TABLE + "/index/byExternalId")


def test_a_single_statement_object_is_read_as_a_list_of_one() -> None:
    assert allows({"Version": "2012-10-17", "Statement": ALLOW_TABLE}, "dynamodb:Query", TABLE)


@pytest.mark.parametrize(
    "policy",
    [
        _policy({**ALLOW_TABLE, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}),
        _policy({**ALLOW_TABLE, "Principal": "*"}),
        _policy({**ALLOW_TABLE, "Effect": "allow"}),
        {"Version": "2008-10-17", "Statement": [ALLOW_TABLE]},
    ],
)
def test_what_it_cannot_decide_it_refuses_rather_than_guesses(policy: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPolicy):
        allows(policy, "dynamodb:GetItem", TABLE)
