"""The users the benchmark and the load run provision, as an IdP sends them: one numbering, one body."""

from typing import Any

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
DIRECTOR_EVERY = 100
"""One user in this many is a Director: what the non-indexed filter finds."""


def user_name(index: int) -> str:
    return f"user{index:06d}@example.com"


def external_id(index: int) -> str:
    return f"00u{index:07d}"


def user_body(index: int) -> dict[str, Any]:
    """A user as Okta provisions one: names, a work email, an externalId, a title."""
    return {
        "schemas": [CORE_USER],
        "userName": user_name(index),
        "externalId": external_id(index),
        "name": {"givenName": f"Given{index}", "familyName": f"Family{index}"},
        "emails": [{"value": user_name(index), "type": "work", "primary": True}],
        "title": "Director" if index % DIRECTOR_EVERY == 0 else "Engineer",
        "active": True,
    }
