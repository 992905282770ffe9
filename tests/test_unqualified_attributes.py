"""Unqualified extension attributes resolve to the one extension defining them (issue #16 item 5).

Entra's documented manager check is ``filter=id eq "<id>" and manager eq "<manager id>"&attributes=id``
(entra/52_check_manager_by_filter.json); RFC 7644 §3.10 only says clients SHOULD qualify.
"""

import pytest
from scim2_models import EnterpriseUser, Extension, InvalidFilterException, InvalidPathException, User
from scim2_models.urn import URN

from chalicelib.provisioning.attribute_names import ExtensionNames
from tests.conftest import Scim, user_body
from tests.helpers import CUSTOM_USER, ENTERPRISE_USER, patch_body


@pytest.fixture
def team(scim: Scim) -> dict[str, str]:
    manager = scim.post("/Users", user_body("boss@example.com")).json["id"]
    report = scim.post(
        "/Users",
        user_body(
            "report@example.com",
            **{
                ENTERPRISE_USER: {"manager": manager, "department": "Sales", "employeeNumber": "2"},
                CUSTOM_USER: {"personId": "P-9"},
            },
        ),
    ).json["id"]
    other = scim.post("/Users", user_body("other@example.com", **{ENTERPRISE_USER: {"employeeNumber": "1"}})).json["id"]
    return {"manager": manager, "report": report, "other": other}


def test_entras_manager_check_answers_whether_the_manager_is_set(scim: Scim, team: dict[str, str]) -> None:
    found = scim.get(
        "/Users", query={"filter": f'id eq "{team["report"]}" and manager eq "{team["manager"]}"', "attributes": "id"}
    )
    missed = scim.get("/Users", query={"filter": f'id eq "{team["report"]}" and manager eq "{team["other"]}"'})

    assert found.status_code == 200
    assert [resource["id"] for resource in found.json["Resources"]] == [team["report"]]
    assert (missed.status_code, missed.json["totalResults"]) == (200, 0)


@pytest.mark.parametrize(
    ("scim_filter", "expected"),
    [
        ('department eq "sales"', {"report"}),
        ("employeeNumber pr", {"report", "other"}),
        ('personId eq "P-9"', {"report"}),
        ('not (department pr) and userName ew "example.com"', {"manager", "other"}),
        ('manager.value eq "nobody"', set()),
    ],
)
def test_filters_resolve_unqualified_extension_attributes(
    scim: Scim, team: dict[str, str], scim_filter: str, expected: set[str]
) -> None:
    response = scim.get("/Users", query={"filter": scim_filter})

    assert response.status_code == 200, response.json
    assert {resource["id"] for resource in response.json["Resources"]} == {team[name] for name in expected}


def test_attributes_excluded_attributes_and_sort_by_resolve_them(scim: Scim, team: dict[str, str]) -> None:
    picked = scim.get(f"/Users/{team['report']}", query={"attributes": "department,userName"}).json
    without = scim.get(f"/Users/{team['report']}", query={"excludedAttributes": "manager"}).json
    ordered = scim.get("/Users", query={"filter": "employeeNumber pr", "sortBy": "employeeNumber"}).json

    assert picked[ENTERPRISE_USER] == {"department": "Sales"}
    assert "manager" not in without[ENTERPRISE_USER] and without[ENTERPRISE_USER]["department"] == "Sales"
    assert [resource["id"] for resource in ordered["Resources"]] == [team["other"], team["report"]]


def test_patch_paths_and_path_less_keys_resolve_them(scim: Scim, team: dict[str, str]) -> None:
    operations = [
        {"op": "Replace", "path": "department", "value": "Finance"},
        {"op": "replace", "value": {"costCenter": "CC-1", "title": "Lead"}},
        {"op": "Remove", "path": "manager"},
    ]

    response = scim.patch(f"/Users/{team['report']}", patch_body(*operations))

    assert response.status_code == 200
    assert response.json[ENTERPRISE_USER] == {"department": "Finance", "costCenter": "CC-1", "employeeNumber": "2"}
    assert response.json["title"] == "Lead"


def test_an_unknown_attribute_in_a_filter_is_still_a_400(scim: Scim) -> None:
    response = scim.get("/Users", query={"filter": 'shoeSize eq "44"'})

    assert (response.status_code, response.json["scimType"]) == (400, "invalidFilter")


class Badge(Extension):
    __schema__ = URN("urn:example:params:scim:schemas:extension:badge:2.0:User")

    department: str | None = None
    colour: str | None = None


def test_a_name_two_extensions_define_is_ambiguous() -> None:
    names = ExtensionNames(User[EnterpriseUser | Badge])

    with pytest.raises(InvalidFilterException, match="qualify it"):
        names.filter('department eq "x"')
    with pytest.raises(InvalidPathException, match="qualify it"):
        names.path("department")
    assert names.filter('colour eq "red"') == 'urn:example:params:scim:schemas:extension:badge:2.0:User:colour eq "red"'
