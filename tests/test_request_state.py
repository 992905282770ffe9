"""No request leaves state on an object that outlives it: data flows through arguments and return values.

The container's service and a tenant's storage (its repositories and tables) are the same before and
after a sequence of requests that takes every path that once kept something for a later call: a
read-for-write and the update after it, a write that changes nothing, a group PATCH's member moves,
searches whose key reads read the users' groups beside them, a cursor sealed to the tenant.

One object keeps things across requests by design: the container's groups' names
(:mod:`chalicelib.resources.group_names`), each valid for one group-names generation only; it is
compared by identity here, and ``tests/test_group_names.py`` checks that what it keeps is never shown
once stale.
"""

import ast
import json
from pathlib import Path
from typing import Any

from scim2_server.requests import ScimRequest

from chalicelib.config import settings
from chalicelib.provisioning.handler import ProvisioningHandler
from chalicelib.provisioning.passwords import hash_password
from chalicelib.provisioning.service import TenantScope
from chalicelib.resources.group_names import GroupNames
from chalicelib.resources.storage import DynamoScimStorage
from chalicelib.schemas import CORE_GROUP_SCHEMA
from chalicelib.scim.adapter import ScimApi
from chalicelib.store import connection
from tests.conftest import user_body
from tests.helpers import patch_body

ROOT = Path(__file__).resolve().parent.parent
TENANT = "state-tenant"
PRIMITIVES = (str, int, float, bool, bytes, type(None))


def state(value: Any, seen: set[int] | None = None) -> Any:
    """What ``value`` holds, comparable with ==: our own objects attribute by attribute, others by identity."""
    seen = set() if seen is None else seen
    if isinstance(value, PRIMITIVES):
        return value
    if isinstance(value, GroupNames):
        return ("container's group names", id(value))
    if id(value) in seen:
        return ("seen", id(value))
    seen.add(id(value))
    if isinstance(value, dict):
        return {key: state(item, seen) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [state(item, seen) for item in value]
    if isinstance(value, set | frozenset):
        return ("set", sorted(repr(state(item, seen)) for item in value))
    if type(value).__module__.startswith("chalicelib") and hasattr(value, "__dict__"):
        return (type(value).__qualname__, id(value), state(vars(value), seen))
    return ("object", type(value).__qualname__, id(value))


def test_requests_leave_no_state_on_the_container_service_nor_on_a_tenant_storage(aws: None) -> None:
    # Given the container's API and one tenant's storage, shared by every request below
    config = settings()
    api = ScimApi(config)
    storage = DynamoScimStorage(api.provider, connection.dynamodb(config), config, TENANT, hash_password)
    before = state(api), state(storage)

    def send(method: str, path: str, body: Any = None, **query: str) -> Any:
        # When each request runs through its own handler, as the adapter builds one per request
        service = api.service.for_tenant(TenantScope.of(TENANT, lambda: api.service.password_policy))
        request = ScimRequest(
            method=method,
            base_url="https://scim.example.com/scim/v2",
            path=path,
            query=query,
            headers={"Content-Type": "application/scim+json"},
            body=b"" if body is None else json.dumps(body).encode(),
        )
        response = ProvisioningHandler(service, storage).handle(request)
        assert int(response.status) < 300, (method, path, response.body)
        return response.body

    alice = send("POST", "/Users", user_body("alice@example.com", password="Correct-Horse-9-battery"))["id"]
    bob = send("POST", "/Users", user_body("bob@example.com"))["id"]
    group = send(
        "POST", "/Groups", {"schemas": [CORE_GROUP_SCHEMA], "displayName": "Admins", "members": [{"value": alice}]}
    )["id"]
    send("PATCH", f"/Users/{alice}", patch_body({"op": "replace", "path": "displayName", "value": "Alice"}))
    send("PATCH", f"/Users/{alice}", patch_body({"op": "replace", "path": "displayName", "value": "Alice"}))
    send("PUT", f"/Users/{bob}", user_body("bob@example.com", displayName="Bob"))
    send("PATCH", f"/Groups/{group}", patch_body({"op": "add", "path": "members", "value": [{"value": bob}]}))
    send("PATCH", f"/Groups/{group}", patch_body({"op": "remove", "path": f'members[value eq "{alice}"]'}))
    send("GET", "/Users", filter='userName eq "alice@example.com"')
    send("GET", "/Users", filter=f'id eq "{bob}" and displayName eq "Nobody"')
    send("GET", "/Users", filter=f'groups.value eq "{group}"')
    send("GET", "/Users", count="1", cursor="")
    send("GET", f"/Users/{alice}")
    send("GET", f"/Users/{bob}")
    send("DELETE", f"/Users/{bob}")
    send("DELETE", f"/Users/{bob}")

    # Then the objects that outlive a request hold what they held before it
    assert (state(api), state(storage)) == before


def _assigned_outside_init(path: Path) -> list[str]:
    """``self.name = ...`` (or ``self.name[...] = ...``) in a method other than ``__init__``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ClassDef):
            continue
        for method in node.body:
            if not isinstance(method, ast.FunctionDef) or method.name == "__init__":
                continue
            for statement in ast.walk(method):
                targets = statement.targets if isinstance(statement, ast.Assign) else []
                if isinstance(statement, ast.AugAssign | ast.AnnAssign):
                    targets = [statement.target]
                for target in targets:
                    while isinstance(target, ast.Subscript):
                        target = target.value
                    if (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "self"
                    ):
                        found.append(f"{path.relative_to(ROOT)}: {node.name}.{method.name} sets {target.attr}")
    return found


def test_repositories_tables_and_the_service_set_their_attributes_only_when_built() -> None:
    shared = [
        path for path in sorted((ROOT / "chalicelib" / "resources").glob("*.py")) if path.name != "group_names.py"
    ]
    shared += sorted((ROOT / "chalicelib" / "store").glob("*.py"))
    shared.append(ROOT / "chalicelib" / "provisioning" / "service.py")
    assert [found for path in shared for found in _assigned_outside_init(path)] == []
