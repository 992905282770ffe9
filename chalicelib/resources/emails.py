"""The email One Model uses for a user: the product's one rule for it."""

from collections.abc import Sequence
from typing import Any

WORK = "work"
PRIMARY = "primary"
ONLY = "only"


def one_model_email(emails: Sequence[dict[str, Any]] | None) -> tuple[str, str] | None:
    """The address One Model uses and why: its ``work`` email (the primary one of those, if several),
    else the ``primary`` one, else the ``only`` one; None when the choice is none or ambiguous.

    authentik's default mapping sends a user's one address with ``type: "other"``: that user gets it.
    """
    entries = [e for e in emails or [] if isinstance(e, dict) and isinstance(e.get("value"), str) and e["value"]]
    work = [e for e in entries if str(e.get("type") or "").lower() == WORK]
    if work:
        chosen = next((e for e in work if e.get("primary") is True), work[0])
        return chosen["value"], WORK
    primary = next((e for e in entries if e.get("primary") is True), None)
    if primary is not None:
        return primary["value"], PRIMARY
    if len(entries) == 1:
        return entries[0]["value"], ONLY
    return None
