"""One canonical form for userName (RFC 8265 UsernameCaseMapped) and displayName (RFC 8266 Nickname), issue #14.

With ``Uniq@x.com`` stored, every variant below was a 201 (a second user of the same name); and a
stage's existing claims move to the canonical form with ``python -m admin names rekey``.
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from admin.__main__ import main
from chalicelib.canonical import legacy_key
from chalicelib.scim import provider
from tests.conftest import Scim
from tests.helpers import CORE_GROUP, CORE_USER, patch_body


def user(user_name: str) -> dict[str, Any]:
    return {"schemas": [CORE_USER], "userName": user_name, "emails": [{"value": "someone@x.com", "type": "work"}]}


def group(display_name: str) -> dict[str, Any]:
    return {"schemas": [CORE_GROUP], "displayName": display_name}


def found(scim: Scim, resource: str, scim_filter: str) -> list[str]:
    response = scim.get(f"/{resource}", query={"filter": scim_filter})
    assert response.status_code == 200, response.body
    return [r["id"] for r in response.json["Resources"]]


@pytest.mark.parametrize(
    ("variant", "status", "said"),
    [
        (" Uniq@x.com", 400, "must not begin or end with a space"),
        ("Uniq@x.com ", 400, "must not begin or end with a space"),
        ("Un\tiq@x.com", 400, "a control character (U+0009)"),
        ("Uniq@x.com\n", 400, "a control character (U+000A)"),
        ("Un\x00iq@x.com", 400, "a control character (U+0000)"),
        ("Un\u200biq@x.com", 400, "an invisible character (U+200B ZERO WIDTH SPACE)"),
        ("Un\u200diq@x.com", 400, "U+200D ZERO WIDTH JOINER"),
        ("Un\u00adiq@x.com", 400, "an invisible character (U+00AD SOFT HYPHEN)"),
        ("\ufeffUniq@x.com", 400, "an invisible character (U+FEFF"),
        ("Un\u202eiq@x.com", 400, "an invisible character (U+202E RIGHT-TO-LEFT OVERRIDE)"),
        ("\U0001d42e\U0001d427\U0001d422\U0001d42a@x.com", 400, "a compatibility character"),
        ("\uff55\uff4e\uff49\uff51@x.com", 409, "is already taken"),
        ("uniq\uff20x.com", 409, "is already taken"),
        ("UNIQ@X.COM", 409, "is already taken"),
        ("   ", 400, "at least one visible character"),
        ("\x00", 400, "a control character (U+0000)"),
    ],
    ids=[
        "leading-space",
        "trailing-space",
        "tab",
        "newline",
        "nul",
        "zero-width-space",
        "zero-width-joiner",
        "soft-hyphen",
        "bom",
        "rtl-override",
        "math-bold",
        "fullwidth",
        "fullwidth-at",
        "upper-case",
        "blank",
        "only-nul",
    ],
)
def test_a_variant_of_a_taken_user_name_is_refused_or_found_taken(
    scim: Scim, variant: str, status: int, said: str
) -> None:
    assert scim.post("/Users", user("Uniq@x.com")).status_code == 201

    response = scim.post("/Users", user(variant))

    assert response.status_code == status, response.body
    assert response.json["scimType"] == ("invalidValue" if status == 400 else "uniqueness")
    assert said in response.json["detail"]
    assert "urn:" not in response.json["detail"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("\ufb01le@x.com", "file@x.com"),
        ("stra\u00dfe@x.com", "strasse@x.com"),
        ("\u03c3\u03b9\u03c3", "\u03c3\u03b9\u03c2"),
    ],
    ids=["ligature", "sharp-s", "final-sigma"],
)
def test_names_that_case_folding_makes_one_are_one_user_name(scim: Scim, first: str, second: str) -> None:
    assert scim.post("/Users", user(first)).status_code == 201

    assert scim.post("/Users", user(second)).status_code == 409


def test_the_stored_user_name_is_what_the_idp_sent_and_any_spelling_finds_it(scim: Scim) -> None:
    created = scim.post("/Users", user("\uff35\uff4e\uff49\uff51@X.com"))
    assert created.status_code == 201
    user_id = created.json["id"]

    assert scim.get(f"/Users/{user_id}").json["userName"] == "\uff35\uff4e\uff49\uff51@X.com"
    for spelling in ("uniq@x.com", "UNIQ@X.COM", "\uff55\uff4e\uff49\uff51\uff20\uff58\uff0e\uff43\uff4f\uff4d"):
        assert found(scim, "Users", f'userName eq "{spelling}"') == [user_id]
    assert found(scim, "Users", 'userName eq "u\u200bniq@x.com"') == []  # refused: equal to no name


def test_a_user_name_of_userparts_separated_by_single_spaces_works(scim: Scim) -> None:
    """RFC 8265 §3.1: display-style names, which some IdPs send as userName."""
    assert scim.post("/Users", user("Barbara Jensen")).status_code == 201

    assert scim.post("/Users", user("barbara jensen")).status_code == 409
    refused = scim.post("/Users", user("Barbara  Jensen"))
    assert refused.status_code == 400 and "two spaces in a row" in refused.json["detail"]


def test_a_rename_to_a_refused_user_name_is_refused_and_changes_nothing(scim: Scim) -> None:
    user_id = scim.post("/Users", user("Uniq@x.com")).json["id"]
    rename = patch_body({"op": "replace", "path": "userName", "value": "Un\u200biq@x.com"})

    response = scim.patch(f"/Users/{user_id}", rename)

    assert response.status_code == 400 and response.json["scimType"] == "invalidValue"
    assert scim.get(f"/Users/{user_id}").json["userName"] == "Uniq@x.com"


def test_group_display_names_compare_in_their_canonical_form(scim: Scim) -> None:
    """Display names keep their punctuation and symbols (RFC 8266); spacing, width and case do not count."""
    created = scim.post("/Groups", group("Finance \u2013 EMEA"))
    assert created.status_code == 201

    assert scim.post("/Groups", group(" finance  \u2013  EMEA ")).status_code == 409
    assert scim.post("/Groups", group("\uff26inance \u2013 EMEA")).status_code == 409
    refused = scim.post("/Groups", group("Fin\u200bance"))
    assert refused.status_code == 400 and "invisible character (U+200B" in refused.json["detail"]
    assert found(scim, "Groups", 'displayName eq "FINANCE \u2013 EMEA"') == [created.json["id"]]


# -- Migration of a stage's existing claims ------------------------------------------------------------


@pytest.fixture
def before_canonical_names(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Serve as the release before did (scim2-models' default form, NFC and lowercase); call to deploy this one."""
    canonical = dict(provider._CANONICAL_KEYS)
    for urn in canonical:
        monkeypatch.setitem(provider._CANONICAL_KEYS, urn, legacy_key)
    yield lambda: provider._CANONICAL_KEYS.update(canonical)


def rekey(capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, str]:
    code = main(["--stage", "test", "names", "rekey", *options])
    return code, capsys.readouterr().out


def test_names_rekey_moves_a_stage_s_claims_idempotently_with_a_dry_run(
    scim: Scim, tenant: Any, capsys: pytest.CaptureFixture[str], before_canonical_names: Callable[[], None]
) -> None:
    # Given a stage written before the canonical form: a fullwidth name, a name it refuses, two names
    # that become one, and a group.
    fullwidth = scim.post("/Users", user("\uff35\uff4e\uff49\uff51@x.com")).json["id"]
    invisible = scim.post("/Users", user("in\u200bvisible@x.com")).json["id"]
    sharp = scim.post("/Users", user("stra\u00dfe@x.com")).json["id"]
    assert scim.post("/Users", user("strasse@x.com")).status_code == 201
    finance = scim.post("/Groups", group("\uff26inance")).json["id"]
    plain = scim.post("/Users", user("plain@x.com")).json["id"]
    before_canonical_names()  # this release deployed

    # When the operator runs the dry run, nothing moves.
    code, out = rekey(capsys, "--dry-run", "--tenant", tenant.name)
    assert "userName: 5 checked, 1 would move, 1 kept (refused), 1 conflicts" in out
    assert found(scim, "Users", 'userName eq "uniq@x.com"') == []

    # When the operator runs it, the claims move; the refused name and the collision are reported.
    code, out = rekey(capsys)
    assert code == 1
    assert "userName: 5 checked, 1 moved, 1 kept (refused), 1 conflicts" in out
    assert "displayName: 1 checked, 1 moved" in out
    assert "an invisible character (U+200B ZERO WIDTH SPACE)" in out
    assert "rename one in the IdP" in out

    # Then every spelling finds the moved ones, and what stayed is still readable.
    assert found(scim, "Users", 'userName eq "UNIQ@X.COM"') == [fullwidth]
    assert found(scim, "Groups", 'displayName eq "finance"') == [finance]
    assert scim.post("/Users", user("uniq@x.com")).status_code == 409
    assert scim.get(f"/Users/{invisible}").json["userName"] == "in\u200bvisible@x.com"  # read by id until renamed
    assert scim.get(f"/Users/{sharp}").json["userName"] == "stra\u00dfe@x.com"
    assert found(scim, "Users", 'userName eq "plain@x.com"') == [plain]
    assert main(["--stage", "test", "check", tenant.name]) == 0

    # And a second run moves nothing.
    code, out = rekey(capsys)
    assert "userName: 5 checked, 0 moved" in out and "displayName: 1 checked, 0 moved" in out
