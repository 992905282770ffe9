"""User passwords: checked against the password policy, stored only as argon2id hashes."""

from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from chalicelib.config import Settings

_CLASSES = (
    ("a lowercase letter", str.islower),
    ("an uppercase letter", str.isupper),
    ("a digit", str.isdigit),
    ("a symbol", lambda c: not c.isalnum()),
)


@dataclass(frozen=True)
class PasswordPolicy:
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

    def violation(self, password: str, user_name: str | None) -> str | None:
        """Return the rule a password breaks, in words an IdP admin can act on, or None.

        The message never contains the password.
        """
        if len(password) < self.min_length:
            return f"it must be at least {self.min_length} characters long"
        if len(password) > self.max_length:
            return f"it must be at most {self.max_length} characters long"
        present = [name for name, test in _CLASSES if any(test(c) for c in password)]
        if len(present) < self.min_character_classes:
            kinds = ", ".join(name for name, _ in _CLASSES)
            return f"it must contain at least {self.min_character_classes} of: {kinds}"
        if user_name and len(user_name) >= 3 and user_name.casefold() in password.casefold():
            return "it must not contain the userName"
        return None


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
