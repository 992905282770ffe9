"""One converter per record type: the items it writes are the layouts the store modules document."""

from typing import Any

import pytest

from chalicelib.store.dynamodb_types import Item
from chalicelib.store.groups import GROUP_ITEM, MEMBERSHIP_ITEM, GroupRecord, Membership
from chalicelib.store.items import ItemConverter
from chalicelib.store.password_policies import POLICY_ITEM, StoredPasswordPolicy
from chalicelib.store.role_catalogue import ROLE_ITEM, DeclaredRole
from chalicelib.store.role_mappings import MAPPING_ITEM, RoleMapping
from chalicelib.store.users import USER_ITEM, UserRecord

USER = UserRecord(
    id="u1",
    document={"userName": "bjensen", "name": {"givenName": "Barbara"}},
    user_name="bjensen",
    user_name_key="bjensen",
    external_id="ext-1",
    active=True,
    version=3,
    created="2026-01-01T00:00:00+00:00",
    last_modified="2026-01-02T00:00:00+00:00",
    password_hash="$argon2id$...",
    allow_sso_login=True,
)


def test_a_user_is_one_attribute_per_field_its_document_compact_sorted_json() -> None:
    assert USER_ITEM.item(USER) == {
        "id": {"S": "u1"},
        "doc": {"S": '{"name":{"givenName":"Barbara"},"userName":"bjensen"}'},
        "user_name": {"S": "bjensen"},
        "user_name_key": {"S": "bjensen"},
        "external_id": {"S": "ext-1"},
        "active": {"BOOL": True},
        "version": {"N": "3"},
        "created": {"S": "2026-01-01T00:00:00+00:00"},
        "last_modified": {"S": "2026-01-02T00:00:00+00:00"},
        "password_hash": {"S": "$argon2id$..."},
        "allow_sso_login": {"BOOL": True},
        "auto_assign_roles": {"BOOL": False},
    }
    assert USER_ITEM.record(USER_ITEM.item(USER)) == USER


def test_what_an_item_lacks_reads_as_none_or_the_default_and_none_is_not_written() -> None:
    # Given an item written before the product flags existed, without externalId or password
    item = USER_ITEM.item(USER)
    for attribute in ("external_id", "password_hash", "allow_sso_login", "auto_assign_roles"):
        del item[attribute]

    # Then the record has None and the defaults, and writing it back leaves the optional ones out
    record = USER_ITEM.record(item)
    assert (record.external_id, record.password_hash, record.allow_sso_login) == (None, None, False)
    assert "external_id" not in USER_ITEM.item(record)
    assert "password_hash" not in USER_ITEM.item(record)


def test_an_item_without_a_required_attribute_is_refused() -> None:
    item = USER_ITEM.item(USER)
    del item["version"]
    with pytest.raises(KeyError, match="version"):
        USER_ITEM.record(item)


@pytest.mark.parametrize(
    ("converter", "record", "item"),
    [
        (
            GROUP_ITEM,
            GroupRecord("g1", {"displayName": "Admins"}, "Admins", "admins", None, 1, "c", "m"),
            {
                "id": {"S": "g1"},
                "doc": {"S": '{"displayName":"Admins"}'},
                "display_name": {"S": "Admins"},
                "display_name_key": {"S": "admins"},
                "version": {"N": "1"},
                "created": {"S": "c"},
                "last_modified": {"S": "m"},
            },
        ),
        (
            MEMBERSHIP_ITEM,
            Membership("g1", "u1", "bjensen"),
            {"group_id": {"S": "g1"}, "user_id": {"S": "u1"}, "display": {"S": "bjensen"}},
        ),
        (MEMBERSHIP_ITEM, Membership("g1", "u1"), {"group_id": {"S": "g1"}, "user_id": {"S": "u1"}}),
        (
            MAPPING_ITEM,
            RoleMapping("Finance", ("Finance data",), ()),
            {
                "name": {"S": "Finance"},
                "data_access_roles": {"L": [{"S": "Finance data"}]},
                "application_access_roles": {"L": []},
            },
        ),
        (
            ROLE_ITEM,
            DeclaredRole("Board Pack", "data", "", "2026-01-02T03:04:05+00:00"),
            {
                "name": {"S": "Board Pack"},
                "kind": {"S": "data"},
                "description": {"S": ""},
                "declared": {"S": "2026-01-02T03:04:05+00:00"},
            },
        ),
        (
            POLICY_ITEM,
            StoredPasswordPolicy(12, 64, 3),
            {"min_length": {"N": "12"}, "max_length": {"N": "64"}, "min_character_classes": {"N": "3"}},
        ),
    ],
)
def test_groups_memberships_role_mappings_declared_roles_and_password_policies_round_trip(
    converter: ItemConverter[Any], record: Any, item: Item
) -> None:
    assert converter.item(record) == item
    assert converter.record(item) == record


def test_a_literal_field_reads_back_only_as_one_of_its_values() -> None:
    # A declared role's kind is a Literal: an S attribute, and an item holding another kind is no declared role.
    item = ROLE_ITEM.item(DeclaredRole("Auditor", "application", "", "d"))
    item["kind"] = {"S": "other"}
    with pytest.raises(ValueError, match="kind"):
        ROLE_ITEM.record(item)
