"""``python -m admin roles catalogue``: declared roles appear in /Roles and /Entitlements and may be granted."""

import json
from pathlib import Path

import pytest

from chalicelib.store.role_mappings import RoleMapping
from tests.conftest import Scim, user_body
from tests.test_admin_cli import run
from tests.test_role_catalogue import mappings


def test_a_declared_role_is_listed_and_granted_before_any_group_maps_to_it(
    scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys,
        "roles",
        "catalogue",
        "add",
        "acme",
        "Auditor",
        "--kind",
        "application",
        "--description",
        "Reads reports",
    )
    assert code == 0 and "declared" in out
    assert run(capsys, "roles", "catalogue", "add", "acme", "Board Pack", "--kind", "data")[0] == 0

    roles = scim.get("/Roles").json["Resources"]
    assert [(role["id"], role["description"]) for role in roles] == [("Auditor", "Reads reports")]
    assert [entitlement["id"] for entitlement in scim.get("/Entitlements").json["Resources"]] == ["Board Pack"]
    created = scim.post("/Users", user_body(roles=[{"value": "Auditor"}], entitlements=[{"value": "board pack"}]))
    assert created.status_code == 201

    capsys.readouterr()  # the SCIM requests' access log lines
    listing = [line.split("\t") for line in run(capsys, "roles", "catalogue", "list", "acme")[1].splitlines()]
    assert listing[0] == ["kind", "name", "declared", "mapped_by", "description"]
    assert [[row[0], row[1], row[3], row[4]] for row in listing[1:]] == [
        ["application", "Auditor", "-", "Reads reports"],
        ["data", "Board Pack", "-", "Declared for direct grants; no role mapping names it yet."],
    ]


def test_remove_withdraws_new_grants_and_keeps_held_ones(scim: Scim, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "roles", "catalogue", "add", "acme", "Auditor", "--kind", "application")
    user = scim.post("/Users", user_body(roles=[{"value": "Auditor"}])).json

    capsys.readouterr()
    code, out, _ = run(capsys, "roles", "catalogue", "remove", "acme", "auditor", "--kind", "application")
    assert code == 0 and "users keep the grants they hold" in out
    assert scim.get("/Roles").json["totalResults"] == 0
    assert scim.get(f"/Users/{user['id']}").json["roles"][0]["value"] == "Auditor"
    refused = scim.post("/Users", user_body("other@example.com", roles=[{"value": "Auditor"}]))
    assert refused.status_code == 400
    assert run(capsys, "roles", "catalogue", "remove", "acme", "Auditor", "--kind", "application")[0] == 1


def test_remove_says_when_a_mapping_still_names_the_role(scim: Scim, capsys: pytest.CaptureFixture[str]) -> None:
    mappings().put(RoleMapping("Finance", ("Payroll",), ()))
    run(capsys, "roles", "catalogue", "add", "acme", "Payroll", "--kind", "data")
    out = run(capsys, "roles", "catalogue", "remove", "acme", "Payroll", "--kind", "data")[1]
    assert "the role mapping of Finance names it" in out
    assert [entitlement["id"] for entitlement in scim.get("/Entitlements").json["Resources"]] == ["Payroll"]


@pytest.mark.parametrize(
    ("name", "extra", "reason"),
    [
        ("a/b", [], "no '/'"),
        ("x" * 257, [], "1 to 256 characters"),
        ("  ", [], "1 to 256 characters"),
        ("bell\x07", [], "no '/' and no control"),
        ("ok", ["--description", "d" * 1025], "at most 1024"),
    ],
)
def test_add_refuses_what_a_grant_or_a_path_cannot_hold(
    scim: Scim, capsys: pytest.CaptureFixture[str], name: str, extra: list[str], reason: str
) -> None:
    code, _, err = run(capsys, "roles", "catalogue", "add", "acme", name, "--kind", "application", *extra)
    assert code == 2 and reason in err
    assert scim.get("/Roles").json["totalResults"] == 0


def test_the_listing_shows_each_role_on_one_line_its_text_escaped(
    scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    # A mapping's role names are whatever the mappings CSV held; a description may hold line breaks.
    mappings().put(RoleMapping("Fin\x1b]0;owned\x07", ("Pay\u202eroll",), ()))
    run(capsys, "roles", "catalogue", "add", "acme", "Board", "--kind", "data", "--description", "a\nb")

    out = run(capsys, "roles", "catalogue", "list", "acme", "--kind", "data")[1]

    assert not any(raw in out for raw in ("\x1b", "\x07", "\u202e")), out
    assert out.splitlines()[1:] == [
        "data\tBoard\t" + out.splitlines()[1].split("\t")[2] + "\t-\ta\\x0ab",
        "data\tPay\\u202eroll\t-\tFin\\x1b]0;owned\\x07\tGiven by the role mapping of Fin\\x1b]0;owned\\x07",
    ]


def test_each_catalogue_change_leaves_a_trail_entry_naming_the_operator(
    scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--actor", "ops:grace", "roles", "catalogue", "add", "acme", "Auditor", "--kind", "application")
    run(capsys, "--actor", "ops:grace", "roles", "catalogue", "add", "acme", "Board", "--kind", "data")
    run(capsys, "--actor", "ops:alan", "roles", "catalogue", "remove", "acme", "Auditor", "--kind", "application")

    entries = json.loads(run(capsys, "activity", "acme", "--json")[1])

    assert [(e["operation"], e["resource_type"], e["resource_name"], e["actor"]) for e in entries] == [
        ("delete", "Role", "Auditor", "ops:alan"),
        ("set", "Entitlement", "Board", "ops:grace"),
        ("set", "Role", "Auditor", "ops:grace"),
    ]
    assert {e["principal"] for e in entries} == {"cli"}
    assert run(capsys, "roles", "catalogue", "remove", "acme", "Auditor", "--kind", "application")[0] == 1
    assert len(json.loads(run(capsys, "activity", "acme", "--json")[1])) == 3  # a refused change leaves none


def test_a_backup_counts_direct_grants_in_the_effective_roles(
    scim: Scim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "roles", "catalogue", "add", "acme", "Auditor", "--kind", "application")
    run(capsys, "roles", "catalogue", "add", "acme", "Board Pack", "--kind", "data")
    scim.post("/Users", user_body(roles=[{"value": "Auditor"}], entitlements=[{"value": "Board Pack"}]))

    assert run(capsys, "backup", "export", "acme", "--output", str(tmp_path / "b.json"))[0] == 0
    (user,) = json.loads((tmp_path / "b.json").read_text())["users"]
    assert (user["application_access_roles"], user["data_access_roles"]) == (["Auditor"], ["Board Pack"])
