"""One Model's email for a user: the work one, else the primary one, else the only one; the extension says which."""

from typing import Any

import pytest

from chalicelib.resources.emails import one_model_email
from tests.conftest import Scim, user_body
from tests.helpers import ONEMODEL_USER


@pytest.mark.parametrize(
    ("emails", "chosen"),
    [
        ([{"value": "w@x", "type": "work"}, {"value": "h@x", "type": "home", "primary": True}], ("w@x", "work")),
        ([{"value": "a@x", "type": "WORK"}, {"value": "b@x", "type": "work", "primary": True}], ("b@x", "work")),
        ([{"value": "h@x", "type": "home"}, {"value": "o@x", "type": "other", "primary": True}], ("o@x", "primary")),
        ([{"value": "o@x.com", "type": "other"}], ("o@x.com", "only")),  # authentik's default mapping
        ([{"value": "n@x.com"}], ("n@x.com", "only")),
        ([{"value": "h@x.com", "type": "home"}, {"value": "o@x.com", "type": "other"}], None),  # ambiguous
        ([], None),
        (None, None),
        ([{"type": "work"}, "junk"], None),
    ],
)  # fmt: skip
def test_the_rule(emails: Any, chosen: tuple[str, str] | None) -> None:
    assert one_model_email(emails) == chosen


def test_an_authentik_user_with_one_other_email_gets_it(scim: Scim) -> None:
    body = user_body("akadmin", emails=[{"value": "admin@example.com", "type": "other", "primary": True}])
    created = scim.post("/Users", body).json
    assert (created[ONEMODEL_USER]["email"], created[ONEMODEL_USER]["emailSource"]) == ("admin@example.com", "primary")
    only = scim.post("/Users", user_body("jo", emails=[{"value": "jo@example.com", "type": "other"}])).json
    assert scim.get(f"/Users/{only['id']}").json[ONEMODEL_USER]["emailSource"] == "only"
    work = scim.get(f"/Users/{scim.post('/Users', user_body('ada@example.com')).json['id']}").json
    assert (work[ONEMODEL_USER]["email"], work[ONEMODEL_USER]["emailSource"]) == ("ada@example.com", "work")
