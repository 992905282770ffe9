"""What an error detail may say: SCIM attribute names in an IdP admin's words, and client values cut short.

Every detail passes here at the adapter's edge, whichever layer raised it: pydantic and
scim2-models word some failures with Python class and field names (``instance of Manager``,
``ScimFilter``, ``'excluded_attributes'``), and many details echo what the client sent,
which may be megabytes long (a 60,000-character id in a 404).
"""

import re

MAX_ECHOED = 128
"""The most characters of a client value a detail or log line repeats; longer ones end in an ellipsis."""
MAX_DETAIL = 1024
"""No detail is longer than this, whatever it quotes."""
ELLIPSIS = "…"

# pydantic's field names where they differ from the SCIM attribute (RFC 7644 §3.4.2, §3.9).
_FIELD_NAMES = {
    "excluded_attributes": "excludedAttributes",
    "sort_by": "sortBy",
    "sort_order": "sortOrder",
    "start_index": "startIndex",
    "schema_extensions": "schemaExtensions",
}
_JSON_KINDS = {
    "int": "a number",
    "float": "a number",
    "bool": "a boolean",
    "list": "an array",
    "dict": "an object",
    "NoneType": "null",
}
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Value error, "), ""),
    # scim2-models' prefix to a refusal of the canonical form, which names the attribute itself.
    (re.compile(r"'urn:[^']*' holds a value that cannot be compared: "), ""),
    (re.compile(r"(?:a )?valid dictionary or instance of \w+"), "an object"),
    (re.compile(r"(?:a valid |an )?instance of \w+"), "an object"),
)
_EXPECTED_STRING = re.compile(r"Expected (?:str|string) or \w+, got (\w+)|Expected string, got (\w+)")
_FIELD_NAME = re.compile("'(" + "|".join(_FIELD_NAMES) + ")'")
_LONG_QUOTED = re.compile(rf"'([^']{{{MAX_ECHOED + 1},}})'|\"([^\"]{{{MAX_ECHOED + 1},}})\"")
# Well past a shortened quoted value with its punctuation ("'…':"), so that one is left as it is.
_LONG_WORD = re.compile(rf"\S{{{2 * MAX_ECHOED},}}")


def shorten(value: str, limit: int = MAX_ECHOED) -> str:
    """A client value as a detail or a log line may repeat it: at most ``limit`` characters and an ellipsis."""
    return value if len(value) <= limit else value[:limit] + ELLIPSIS


def client_detail(detail: str | None) -> str | None:
    """The detail of an error as the client gets it: SCIM names, echoed values shortened, bounded."""
    if not detail:
        return detail
    for pattern, replacement in _REWRITES:
        detail = pattern.sub(replacement, detail)
    detail = _EXPECTED_STRING.sub(lambda m: f"Expected a string, got {_kind(m[1] or m[2])}", detail)
    detail = _FIELD_NAME.sub(lambda m: f"'{_FIELD_NAMES[m[1]]}'", detail)
    detail = _LONG_QUOTED.sub(_shorten_quoted, detail)
    detail = _LONG_WORD.sub(lambda m: shorten(m[0]), detail)
    return shorten(detail, MAX_DETAIL)


def _kind(python_type: str) -> str:
    return _JSON_KINDS.get(python_type, "another type")


def _shorten_quoted(match: re.Match[str]) -> str:
    quote = "'" if match[1] is not None else '"'
    return quote + shorten(match[1] if match[1] is not None else match[2]) + quote
