"""The store's invariants for one tenant, checked item by item (tests, and ``python -m admin check``).

Violations break a promise a reader relies on:
- every user has exactly the userName claim of its current userName, and every
  userName claim points at a user that holds that userName;
- every group has the displayName claim of its displayName, and every
  displayName claim points at a group that holds it;
- every membership of a live group points at an existing user of the tenant;
- every user and group has a positive version, and lastModified >= created.

Garbage is what an interrupted multi-step write may leave and no reader sees:
memberships of a group that no longer exists (group deletion commits the group
first; its memberships follow). ``repair`` deletes the garbage.

Stale is a membership whose ``display`` is not its user's userName, or that is not
filed under its user's userName key (``byMemberName``): a rename that stopped before
updating every group, a member added with the old name while the membership index
lagged, or a membership written before the index existed. The next write of the
user, or ``repair``, sets both.
"""

from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field

from chalicelib.store.batch import batch_write
from chalicelib.store.dynamodb_types import DynamoDBClient, Item
from chalicelib.store.groups import DISPLAY_NAME_PREFIX, GROUP_PREFIX, MEMBER_PREFIX
from chalicelib.store.table import TenantTable
from chalicelib.store.users import USER_NAME_PREFIX, USER_PREFIX


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    garbage: list[Item] = field(default_factory=list)
    stale: list[tuple[Item, str, str]] = field(default_factory=list)
    """(membership key, the user's userName, its key)."""
    users: int = 0
    groups: int = 0
    memberships: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations


def _items(client: DynamoDBClient, table: str, tenant: str) -> Iterator[Item]:
    return TenantTable(client, table, tenant).starting_with("")


def _check_meta(report: Report, kind: str, item: Item) -> None:
    identifier = item["id"]["S"]
    if int(item["version"]["N"]) < 1:
        report.violations.append(f"{kind} {identifier} has version {item['version']['N']}")
    if item["last_modified"]["S"] < item["created"]["S"]:
        report.violations.append(f"{kind} {identifier} was last modified before it was created")


def check(client: DynamoDBClient, users_table: str, groups_table: str, tenant: str) -> Report:
    """Read every item of the tenant (a full read: an operator's tool, never on a request path)."""
    report = Report()
    users: dict[str, str] = {}
    user_names: dict[str, str] = {}
    named = f"{tenant}#"
    user_claims: dict[str, str] = {}
    for item in _items(client, users_table, tenant):
        sk = item["sk"]["S"]
        if sk.startswith(USER_PREFIX):
            users[item["id"]["S"]] = item["user_name_key"]["S"]
            user_names[item["id"]["S"]] = item["user_name"]["S"]
            _check_meta(report, "user", item)
        elif sk.startswith(USER_NAME_PREFIX):
            user_claims[sk.removeprefix(USER_NAME_PREFIX)] = item["user_id"]["S"]
    for user_id, key in users.items():
        if user_claims.get(key) != user_id:
            report.violations.append(f"user {user_id} does not own the claim of its userName key {key!r}")
    for key, user_id in user_claims.items():
        if users.get(user_id) != key:
            report.violations.append(f"userName claim {key!r} points at {user_id}, which does not hold it")

    groups: dict[str, str] = {}
    group_claims: dict[str, str] = {}
    memberships: list[Item] = []
    for item in _items(client, groups_table, tenant):
        sk = item["sk"]["S"]
        if sk.startswith(GROUP_PREFIX):
            groups[item["id"]["S"]] = item["display_name_key"]["S"]
            _check_meta(report, "group", item)
        elif sk.startswith(DISPLAY_NAME_PREFIX):
            group_claims[sk.removeprefix(DISPLAY_NAME_PREFIX)] = item["group_id"]["S"]
        elif sk.startswith(MEMBER_PREFIX):
            memberships.append(item)
    for group_id, key in groups.items():
        if group_claims.get(key) != group_id:
            report.violations.append(f"group {group_id} does not own the claim of its displayName key {key!r}")
    for key, group_id in group_claims.items():
        if groups.get(group_id) != key:
            report.violations.append(f"displayName claim {key!r} points at {group_id}, which does not hold it")
    for item in memberships:
        group_id, user_id = item["group_id"]["S"], item["user_id"]["S"]
        if group_id not in groups:
            report.garbage.append({"pk": item["pk"], "sk": item["sk"]})
        elif user_id not in users:
            report.violations.append(f"group {group_id} has member {user_id}, who is not a user of the tenant")
        elif (item.get("display", {}).get("S"), item.get("member_name_key", {}).get("S")) != (
            user_names[user_id],
            named + users[user_id],
        ):
            report.stale.append(({"pk": item["pk"], "sk": item["sk"]}, user_names[user_id], users[user_id]))
    report.users, report.groups, report.memberships = len(users), len(groups), len(memberships)
    return report


def repair(client: DynamoDBClient, groups_table: str, report: Report) -> int:
    """Delete the garbage a report found and set stale displays and userName keys; returns how many items were
    written."""
    batch_write(client, groups_table, [{"DeleteRequest": {"Key": key}} for key in report.garbage])
    for key, display, user_name_key in report.stale:
        with suppress(client.exceptions.ConditionalCheckFailedException):  # removed meanwhile
            client.update_item(
                TableName=groups_table,
                Key=key,
                UpdateExpression="SET display = :d, user_name_key = :u, member_name_key = :k",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={
                    ":d": {"S": display},
                    ":u": {"S": user_name_key},
                    ":k": {"S": f"{key['pk']['S']}#{user_name_key}"},
                },
            )
    return len(report.garbage) + len(report.stale)
