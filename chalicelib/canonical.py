"""One canonical comparison form for what is unique per tenant: userName and a group's displayName.

The stored and returned value stays exactly what the IdP sent; only the key that uniqueness claims,
``userName eq`` lookups and sorting use is canonical, from the PRECIS framework (:rfc:`RFC 8264`)
as precis-i18n implements it:

- userName: the UsernameCaseMapped profile of :rfc:`RFC 8265 §3.3` (width mapping, case folding,
  NFC; control, invisible, compatibility and unassigned code points refused), applied to each
  userpart of :rfc:`RFC 8265 §3.1`: a userName may be userparts separated by single spaces, as the
  display-style names some IdPs send are. Case folding (precis-i18n's ``:CaseFold`` variant) rather
  than lowercasing makes ``straße``/``strasse`` and ``σισ``/``σις`` one name.
- displayName: the Nickname profile of :rfc:`RFC 8266` with case folding, since a Customer Supplied
  Role is named for people (``Finance – EMEA``): symbols and punctuation stay allowed,
  compatibility forms are mapped (NFKC), spaces are trimmed and collapsed; control and invisible
  code points are refused.

A value the profile refuses raises :class:`RefusedIdentifier`, whose message says why in words an
IdP admin can act on.
"""

import unicodedata
from functools import cache
from typing import Any

from precis_i18n import get_profile

USER_NAME_PROFILE = "UsernameCaseMapped:CaseFold"
DISPLAY_NAME_PROFILE = "NicknameCaseMapped:CaseFold"

_REASONS = {
    "precis_ignorable_properties": "an invisible character",
    "controls": "a control character",
    "has_compat": "a compatibility character (a ligature, a styled or circled letter, a superscript)",
    "unassigned": "a code point Unicode does not assign",
    "old_hangul_jamo": "an archaic Hangul jamo",
    "spaces": "a space other than a single ASCII space between parts",
    "symbols": "a symbol outside ASCII",
    "punctuation": "a punctuation mark outside ASCII",
    "other_letter_digits": "a letter or number form usernames may not hold",
    "zero_width_joiner": "a zero-width joiner where no script needs one",
    "zero_width_nonjoiner": "a zero-width non-joiner where no script needs one",
    "other": "a character identifiers may not hold",
}


class RefusedIdentifier(ValueError):
    """A userName or displayName the PRECIS profile refuses; the message says why."""


@cache
def _profile(name: str) -> Any:
    return get_profile(name)


def user_name_key(user_name: str) -> str:
    """The canonical form of a userName: equal for every spelling of the same name.

    :raises RefusedIdentifier: When RFC 8265's UsernameCaseMapped profile refuses it.
    """
    userparts = user_name.split(" ")
    if not user_name.strip(" "):
        raise RefusedIdentifier("userName must hold at least one visible character")
    if any(not userpart for userpart in userparts):
        raise RefusedIdentifier(
            "userName must not begin or end with a space, nor hold two spaces in a row (RFC 8265 §3.1)"
        )
    return " ".join(_enforce(USER_NAME_PROFILE, "userName", userpart) for userpart in userparts)


def display_name_key(display_name: str) -> str:
    """The canonical form of a group's displayName.

    :raises RefusedIdentifier: When RFC 8266's Nickname profile refuses it.
    """
    return _enforce(DISPLAY_NAME_PROFILE, "displayName", display_name)


def legacy_key(value: str) -> str:
    """The key this service compared userName and displayName by before their canonical form:
    scim2-models' default (NFC, lowercase). Kept for a stored value the profile refuses, so that it
    stays readable by id and in listings until it is renamed; no canonical key equals
    it, since it holds a character or a spacing the profile refuses."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).lower())


def _enforce(profile: str, attribute: str, value: str) -> str:
    try:
        enforced: str = _profile(profile).enforce(value)
    except UnicodeEncodeError as error:
        raise RefusedIdentifier(_why(attribute, error)) from None
    return enforced


def _why(attribute: str, error: UnicodeEncodeError) -> str:
    kind = error.reason.removeprefix("DISALLOWED/")
    if kind == "empty":
        return f"{attribute} must hold at least one visible character"
    if kind == "bidi_rule":
        return f"{attribute} mixes right-to-left and left-to-right text in a way RFC 5893 forbids"
    what = _REASONS.get(kind, "a character where its script does not allow it")
    character = error.object[error.start] if 0 <= error.start < len(error.object) else ""
    named = f" (U+{ord(character):04X} {unicodedata.name(character, '')})".replace(" )", ")") if character else ""
    return f"{attribute} must not contain {what}{named} (PRECIS, RFC 8264)"
