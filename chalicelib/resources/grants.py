"""Direct grants: a user's ``roles`` (Application Access Roles) and ``entitlements`` (Data Access Roles).

Each value a write adds must be in the tenant's catalogue (:mod:`.catalogue`); a value the
user already holds is kept without a check, so a role withdrawn from the catalogue never
blocks another change of its holders, and removing it always works. What is stored is the
catalogue's spelling, once, sorted: granting a role the user holds, in any case, changes
nothing, so the user's version does not move.
"""

from collections.abc import Sequence
from typing import Any

from scim2_models import Entitlement, InvalidValueException, Resource
from scim2_models import Role as RoleGrant

from chalicelib.resources.catalogue import KIND_TYPES, Catalogue
from chalicelib.store.role_catalogue import RoleKind
from chalicelib.store.role_mappings import role_key

MAX_GRANTS = 100
"""Per attribute and user: more Application Access Roles (or Data Access Roles) than any tenant's catalogue holds."""
MAX_GRANT_VALUE_LENGTH = 256
GRANTED: dict[str, tuple[RoleKind, type[Any], str]] = {
    "roles": ("application", RoleGrant, "/Roles"),
    "entitlements": ("data", Entitlement, "/Entitlements"),
}


def held(document: dict[str, Any], attribute: str) -> list[str]:
    """The values of a stored user's grants (``roles`` or ``entitlements``)."""
    return [item["value"] for item in document.get(attribute) or [] if isinstance(item.get("value"), str)]


def _shown(value: str) -> str:
    return repr(value if len(value) <= 64 else value[:64] + "...")


class Grants:
    """Checks and normalises the direct grants of a user write against the tenant's catalogue."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    def check(self, user: Resource[Any], stored: dict[str, Any] | None) -> None:
        """Set ``roles`` and ``entitlements`` of ``user`` to their stored form.

        :param stored: The document of the user as stored before this write; None for a creation.
        :raises InvalidValueException: For a value without ``value``, too long, or not in the catalogue,
            naming it; or for more than :data:`MAX_GRANTS` grants.
        """
        for attribute, (kind, model, endpoint) in GRANTED.items():
            grants = getattr(user, attribute, None)
            if not grants:
                continue
            values = self._values(attribute, grants)
            keep = {role_key(value): value for value in held(stored or {}, attribute)}
            new = [value for value in values if role_key(value) not in keep]
            spelled = self.catalogue.spellings(kind, new)
            unknown = [value for value in new if role_key(value) not in spelled]
            if unknown:
                raise InvalidValueException(
                    detail=f"{attribute}: {_shown(unknown[0])} is no {KIND_TYPES[kind]} of this tenant "
                    f"(GET {endpoint} lists them)"
                )
            names = {**spelled, **keep}
            chosen = sorted({names[role_key(value)] for value in values}, key=role_key)
            setattr(user, attribute, [model(value=name, display=name, type=KIND_TYPES[kind]) for name in chosen])

    @staticmethod
    def _values(attribute: str, grants: Sequence[Any]) -> list[str]:
        """The distinct values of a write's grants, bounded before any is looked up."""
        values: dict[str, str] = {}
        for grant in grants:
            value = getattr(grant, "value", None)
            if not isinstance(value, str) or not value.strip():
                raise InvalidValueException(detail=f"{attribute}: every grant needs a value (the role's id)")
            if len(value) > MAX_GRANT_VALUE_LENGTH:
                raise InvalidValueException(
                    detail=f"{attribute}: a value is at most {MAX_GRANT_VALUE_LENGTH} characters long"
                )
            values.setdefault(role_key(value), value)
            if len(values) > MAX_GRANTS:
                raise InvalidValueException(detail=f"{attribute}: at most {MAX_GRANTS} grants per user")
        return list(values.values())
