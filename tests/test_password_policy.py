"""The tenant's password policy (issue #14): set and shown by the admin CLI, and each rule a person would mean."""

from typing import Any

import pytest

from admin.__main__ import main
from tests.conftest import Scim
from tests.helpers import CORE_USER, patch_body

OKTA_SAMPLE = "1mz050nq!Aa"  # Okta's documented sample password: 11 characters


def user(password: str, user_name: str = "ada@x.com") -> dict[str, Any]:
    return {"schemas": [CORE_USER], "userName": user_name, "password": password}


def admin(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["--stage", "test", "password-policy", *argv])
    return code, capsys.readouterr().out


def assert_refused(response: Any, rule: str) -> None:
    assert response.status_code == 400, response.body
    assert response.json["scimType"] == "invalidValue"
    assert response.json["detail"] == f"password does not meet the password policy: {rule}"


def test_the_default_refuses_okta_s_sample_and_a_tenant_can_match_an_idp_that_enforces_8(
    scim: Scim, other_scim: Scim, tenant: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_refused(scim.post("/Users", user(OKTA_SAMPLE)), "it must be at least 12 characters long")

    code, out = admin(capsys, "set", tenant.name, "--min-length", "8")

    assert code == 0 and "8 to 256 characters, at least 3 of" in out and "not re-checked" in out
    assert scim.post("/Users", user(OKTA_SAMPLE)).status_code == 201
    assert f"{tenant.name}: 8 to 256 characters" in admin(capsys, "show", tenant.name)[1]
    # The policy is the tenant's: another tenant keeps the stage's default.
    assert_refused(other_scim.post("/Users", user(OKTA_SAMPLE)), "it must be at least 12 characters long")
    admin(capsys, "reset", tenant.name)
    assert_refused(scim.post("/Users", user(OKTA_SAMPLE, "bob@x.com")), "it must be at least 12 characters long")


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        # Spaces and combining marks are no symbols: each of these passed as "3 classes".
        (
            "abcdefghij12   ",
            "it must contain at least 3 of: a lowercase letter, an uppercase letter, a digit, a symbol",
        ),
        (
            "abcdefghij12\u0301",
            "it must contain at least 3 of: a lowercase letter, an uppercase letter, a digit, a symbol",
        ),
        # Seven accented e's written with combining accents are seven characters, not fourteen.
        ("Ab1!" + "e\u0301" * 7, "it must be at least 12 characters long"),
        # The userName in fullwidth letters is still the userName (it passed as a password of pw9@x.com).
        ("\uff50\uff57\uff19\uff20\uff58\uff0e\uff43\uff4f\uff4dAb1!", "it must not contain the userName"),
        ("Correct-Horse\t9", "it must not contain control or invisible characters"),
        ("x" * 257 + "A1!", "it must be at most 256 characters long"),
        # 13 graphemes in 300 KB: accepted and hashed (800 KB took 3.4 s of CPU) while the maximum counted graphemes.
        ("Abcdefgh1!xy" + "e" + "\u0301" * 150_000, "it must be at most 256 characters long"),
    ],
    ids=["spaces", "combining-mark", "graphemes", "fullwidth-user-name", "control", "too-long", "combining-flood"],
)
def test_each_rule_counts_what_a_person_means_and_the_400_names_it(scim: Scim, password: str, rule: str) -> None:
    response = scim.post("/Users", user(password, "pw9@x.com"))

    assert_refused(response, rule)
    assert scim.get("/Users", query={"filter": 'userName eq "pw9@x.com"'}).json["totalResults"] == 0


def test_a_password_of_what_a_person_means_passes(scim: Scim) -> None:
    assert scim.post("/Users", user("Kaffee für Straße 9", "ada@x.com")).status_code == 201


def test_a_rename_does_not_re_check_the_password(scim: Scim) -> None:
    """Only the password's hash is kept, so a rename cannot check it (docs/idp/troubleshooting.md)."""
    created = scim.post("/Users", user("Zebra-Quilt-42", "ada@x.com")).json
    rename = patch_body({"op": "replace", "path": "userName", "value": "zebra"})

    assert scim.patch(f"/Users/{created['id']}", rename).status_code == 200


def test_a_policy_that_cannot_hold_is_refused_and_changes_nothing(
    aws: None, tenant: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = admin(capsys, "set", tenant.name, "--min-length", "300")

    assert code == 2 and "nothing changed" in out and "at most the maximum length" in out
    assert "12 to 256 characters" in admin(capsys, "show", tenant.name)[1]
