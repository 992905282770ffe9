"""Direct grants: a user's ``roles`` (Application Access Roles) and ``entitlements`` (Data Access Roles).

Each value a write adds must be in the tenant's catalogue (:mod:`.catalogue`); a value the
user already holds is kept as stored without a check, so a role withdrawn from the catalogue
never blocks another change of its holders, and removing it always works. What is stored is the
catalogue's spelling, once, sorted: granting a role the user holds, in any case, changes
nothing, so the user's version does not move. Only checked items grant (their ``type`` is the
kind's): values an IdP stored in these attributes before the catalogue existed stay inert.
"""

from collections.abc import Sequence
from typing import Any

from scim2_models import Entitlement, InvalidValueException, Resource
from scim2_models import Role as RoleGrant

from chalicelib.resources.budget import refuse_write_when_short
from chalicelib.resources.catalogue import KIND_TYPES, MAX_ROLE_NAME_LENGTH, Catalogue
from chalicelib.resources.roles import stored_grants
from chalicelib.store.role_catalogue import RoleKind
from chalicelib.store.role_mappings import role_key

MAX_GRANTS = 100
"""Per attribute and user: bounds the catalogue lookups and the stored item one write can ask for."""
MAX_GRANT_VALUE_LENGTH = MAX_ROLE_NAME_LENGTH
GRANTED: dict[str, tuple[RoleKind, type[Any], str]] = {
    "roles": ("application", RoleGrant, "/Roles"),
    "entitlements": ("data", Entitlement, "/Entitlements"),
}


def _shown(value: str) -> str:
    return repr(value if len(value) <= 64 else value[:64] + "...")


class Grants:
    """Checks and normalises the direct grants of a user write against the tenant's catalogue."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    def check(self, user: Resource[Any], stored: dict[str, Any] | None) -> None:
        """Set ``roles`` and ``entitlements`` of ``user`` to their stored form.

        A value the user holds keeps its stored item, whatever the write says of its ``display`` or ``type``
        (server-set). Any other value must be in the catalogue, and is stored in its spelling; a value stored
        before the catalogue existed that the catalogue now holds becomes a grant, one it does not hold stays
        as it was, granting nothing.

        :param stored: The document of the user as stored before this write; None for a creation.
        :raises InvalidValueException: For a value without ``value``, too long, or not in the catalogue,
            naming it; or for more than :data:`MAX_GRANTS` grants.
        """
        for attribute, (kind, model, endpoint) in GRANTED.items():
            grants = getattr(user, attribute, None)
            if not grants:
                continue
            values = self._values(attribute, grants)
            before = stored_grants(stored or {}, attribute)
            granted = KIND_TYPES[kind]
            unchecked = [v for v in values if before.get(role_key(v), {}).get("type") != granted]
            spelled = self.catalogue.spellings(kind, unchecked)
            if unchecked:  # the catalogue reads took time: the write that follows still needs its reserve
                refuse_write_when_short()
            unknown = [v for v in unchecked if role_key(v) not in spelled and role_key(v) not in before]
            if unknown:
                detail = f"{attribute}: {_shown(unknown[0])} is no {granted} of this tenant (GET {endpoint} lists them)"
                raise InvalidValueException(detail=detail)
            items: dict[str, Any] = {}
            for value in values:
                key = role_key(value)
                if key in spelled:
                    name = spelled[key]
                    items[key] = model(value=name, display=name, type=granted)
                else:  # held: as stored
                    items[key] = model.model_validate(before[key], scim_ctx=None)
            setattr(user, attribute, [items[key] for key in sorted(items)])

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
