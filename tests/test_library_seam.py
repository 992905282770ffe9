"""The scim2-server code we copied or override privately is still the code we copied it from.

``chalicelib/provisioning/handler.py`` copies three methods of ``ScimHandler`` (their steps cannot
be reached otherwise) and repeats the steps of a fourth; ``chalicelib/provisioning/service.py``
overrides the private ``ScimService._query_digest``, which only works while the cursor methods call
it, and the private ``ScimService._build_cursors``, to build the cursors on first use. Until
scim2-server has the hooks ``docs/design/scim2-server-hooks.md`` proposes, an upgrade of the library
must look at each of them: this test fails, naming them, as soon as one changes.
"""

import hashlib
import inspect
import re
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from scim2_server.handler import ScimHandler
from scim2_server.service import ScimService

ROOT = Path(__file__).resolve().parent.parent
PINNED = "0.8.3"
# (class, method, sha256 of its source at PINNED (first 16 hex digits), what of ours depends on it)
UPSTREAM = [
    (ScimHandler, "handle", "b3100567b5d1fcad", "dispatches to our create/patch/replace by the operation's name"),
    (ScimHandler, "create", "a72b0737086a7938", "copied as ProvisioningHandler.create (handler.py)"),
    (ScimHandler, "patch", "a3dcc8dc4cc6c651", "copied as ProvisioningHandler.patch (handler.py)"),
    (ScimHandler, "replace", "919a39ea098e0622", "copied as ProvisioningHandler.replace (handler.py)"),
    (ScimHandler, "delete_resource", "0da1d9952c9c9f81", "its steps repeated in ProvisioningHandler.delete_resource"),
    (ScimService, "_query_digest", "58f78143c1e2c646", "overridden by ProvisioningService._query_digest (service.py)"),
    (ScimService, "_open_cursor", "f9c12a3efc8b14d3", "must call self._query_digest, which we override"),
    (ScimService, "_seal", "739a22a1ae628397", "must call self._query_digest, which we override"),
    (ScimService, "_build_cursors", "ae99964e30436203", "overridden: ProvisioningService._build_cursors"),
]
UPGRADE = f"""scim2-server changed code this project copied or overrides privately (pinned: {PINNED}).
To upgrade:
1. Diff each function named below between scim2-server {PINNED} and the new version
   (pip download --no-deps scim2-server==<new>, then diff the two wheels' scim2_server/).
2. If the new version has the hook docs/design/scim2-server-hooks.md proposes, delete our copy and use it;
   else carry the upstream change into our copy (chalicelib/provisioning/handler.py, service.py).
3. Run tests/test_users_api.py, test_groups_api.py, test_storage_contract.py, test_conformance.py,
   test_tenant_isolation.py and test_activity_trail.py.
4. Pin the new version in requirements.txt, and put it and the new digests here (PINNED, UPSTREAM).
Changed:"""


def digest(function: Callable[..., Any]) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def test_the_installed_scim2_server_is_the_pinned_one() -> None:
    pinned = re.findall(r"^scim2-server(?:\[[^\]]*\])?==([^\s;\\]+)", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned == [PINNED], UPGRADE
    assert version("scim2-server") == PINNED, f"{UPGRADE}\n- the installed version is {version('scim2-server')}"


@pytest.mark.parametrize(
    ("owner", "name", "expected", "ours"), UPSTREAM, ids=[f"{o.__name__}.{n}" for o, n, *_ in UPSTREAM]
)
def test_the_scim2_server_code_we_copied_is_unchanged(owner: type, name: str, expected: str, ours: str) -> None:
    assert digest(getattr(owner, name)) == expected, f"{UPGRADE}\n- {owner.__name__}.{name}: {ours}"
