"""User passwords: checked against the password policy, stored only as argon2id hashes."""

import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol
from unicodedata import category

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from precis_i18n import get_profile

from chalicelib.config import Settings

MAX_POLICY_LENGTH = 1024
"""The largest maximum length a tenant may set: argon2 hashes what it is given, in time that grows with it."""

# What a person means by each class (RFC 8265 §4.2 leaves password rules to the application):
# spaces, control characters and combining marks are in none; a letter without case (CJK) in none.
_CLASSES = (
    ("a lowercase letter", frozenset({"Ll"})),
    ("an uppercase letter", frozenset({"Lu", "Lt"})),
    ("a digit", frozenset({"Nd"})),
    ("a symbol", frozenset({"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So"})),
)


class PolicyRules(Protocol):
    """A password policy's three numbers, whoever keeps them."""

    @property
    def min_length(self) -> int: ...

    @property
    def max_length(self) -> int: ...

    @property
    def min_character_classes(self) -> int: ...


@dataclass(frozen=True)
class PasswordPolicy:
    """A tenant's password policy (``python -m admin password-policy``); the stage's settings by default.

    The minimum counts user-perceived characters (extended grapheme clusters, UAX #29) of the password
    prepared by PRECIS's OpaqueString profile (:rfc:`RFC 8265 §4.2`: NFC, non-ASCII spaces mapped),
    so ``e`` + a combining accent is one character, as is a flag. The maximum counts code points, before
    any of that work: counted in graphemes, ``"e"`` and 400,000 combining accents were one character,
    800 KB prepared, segmented and hashed.
    """

    min_length: int
    max_length: int
    min_character_classes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "PasswordPolicy":
        return cls(
            min_length=settings.password_min_length,
            max_length=settings.password_max_length,
            min_character_classes=settings.password_min_character_classes,
        )

    @classmethod
    def of_tenant(cls, stored: "PolicyRules | None", default: "PasswordPolicy") -> "PasswordPolicy":
        """The tenant's own policy (as the store keeps it), or the stage's default when it has none."""
        if stored is None:
            return default
        return cls(stored.min_length, stored.max_length, stored.min_character_classes)

    def problems(self) -> list[str]:
        """Why this policy cannot be set, in words for the operator; empty when it can."""
        return [problem for _, problem in self.problems_by_rule()]

    def problems_by_rule(self) -> list[tuple[str, str]]:
        """:meth:`problems`, each with the rule it concerns (``minLength``, ``maxLength``, ``minCharacterClasses``)."""
        found = []
        if not 1 <= self.min_length <= self.max_length:
            found.append(("minLength", "the minimum length must be at least 1 and at most the maximum length"))
        if self.max_length > MAX_POLICY_LENGTH:
            found.append(("maxLength", f"the maximum length must be at most {MAX_POLICY_LENGTH}"))
        if not 0 <= self.min_character_classes <= len(_CLASSES):
            found.append(("minCharacterClasses", f"the character classes required must be 0 to {len(_CLASSES)}"))
        return found

    def describe(self) -> str:
        kinds = ", ".join(name.split(" ", 1)[1] for name, _ in _CLASSES)
        return (
            f"{self.min_length} to {self.max_length} characters, at least {self.min_character_classes} of: "
            f"{kinds}; never containing the userName"
        )

    def violation(self, password: str, user_name: str | None) -> str | None:
        """Return the rule a password breaks, in words an IdP admin can act on, or None.

        The message never contains the password.
        """
        if len(password) > self.max_length:
            return f"it must be at most {self.max_length} characters long"
        try:
            prepared = _opaque_string().enforce(password)
        except UnicodeEncodeError as error:
            if error.reason.endswith("empty"):
                return "it must not be empty"
            return "it must not contain control or invisible characters"
        if len(prepared) > self.max_length:  # NFC may compose, seldom decompose: counted again
            return f"it must be at most {self.max_length} characters long"
        if _perceived_length(prepared) < self.min_length:
            return f"it must be at least {self.min_length} characters long"
        present = [name for name, categories in _CLASSES if any(category(c) in categories for c in prepared)]
        if len(present) < self.min_character_classes:
            kinds = ", ".join(name for name, _ in _CLASSES)
            return f"it must contain at least {self.min_character_classes} of: {kinds}"
        if user_name and _contains_user_name(prepared, user_name):
            return "it must not contain the userName"
        return None


def _contains_user_name(password: str, user_name: str) -> bool:
    """Whether the password holds the userName, both compared in a canonical form: case, width and
    compatibility forms do not count (a fullwidth copy of the userName is still the userName)."""
    name = _folded(user_name)
    return len(name) >= 3 and name in _folded(password)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def _perceived_length(text: str) -> int:
    import regex  # only a password check needs it: kept off the cold start of every other request

    return len(regex.findall(r"\X", text))


@cache
def _opaque_string() -> Any:
    return get_profile("OpaqueString")


@cache
def _hasher() -> PasswordHasher:
    # argon2-cffi's defaults follow RFC 9106's second recommended (low-memory) profile.
    return PasswordHasher()


def hash_password(password: str) -> str:
    """Return the argon2id hash of a password."""
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Tell whether a password matches a stored hash."""
    try:
        return _hasher().verify(stored_hash, password)
    except VerificationError:
        return False
