"""Hypothesis strategies for SCIM requests: the valid shapes, and every way to break them.

Used by tests/test_fuzz.py. Each strategy draws what an IdP (or an attacker) could put in one part
of a request: a body, a filter, a PATCH path, a query string, a header.
"""

import base64
import json
from typing import Any

from hypothesis import strategies as st

from tests.helpers import (
    CORE_GROUP,
    CORE_USER,
    CUSTOM_USER,
    ENTERPRISE_USER,
    ONEMODEL_USER,
    PATCH_OP,
    SEARCH_REQUEST,
)

PASSWORD = "Correct-Horse-9-Battery"
"""The password of every generated valid user: the leak checks look for it in what the service keeps."""
MAX_BODY_BYTES = 1_048_576

# Invisible characters and look-alikes (issue #14): each made a second user of "uniq@x.com" before
# userName had one canonical form.
INVISIBLE = ["\u200b", "\u200d", "\u00ad", "\ufeff", "\u202e", "\u2060", "\x00", "\t", "\n", " "]
CONFUSABLE_NAMES = [
    "\uff55\uff4e\uff49\uff51@x.com",  # fullwidth
    "uniq\uff20x.com",  # fullwidth commercial at
    "\U0001d42e\U0001d427\U0001d422\U0001d42a@x.com",  # mathematical bold
    "UNIQ@X.COM",
    "\ufb01le@x.com",  # the ligature of "file"
    "stra\u00dfe@x.com",
    "\u03c3\u03b9\u03c3@x.com",  # final sigma against sigma
    "\u03c3\u03b9\u03c2@x.com",
    "   ",
    "\x00",
]


def hostile_names(base: str = "uniq@x.com") -> st.SearchStrategy[str]:
    """A name with invisible characters put anywhere in it, and the look-alikes of a name."""
    return st.one_of(
        st.sampled_from(CONFUSABLE_NAMES),
        st.builds(lambda at, junk: base[:at] + junk + base[at:], st.integers(0, len(base)), st.sampled_from(INVISIBLE)),
    )


EDGE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",  # lone surrogates: valid JSON escapes, invalid UTF-8
    "x\udc80y",
    "\u202eevil\u202c",  # right-to-left override
    "\u05e9\u05dc\u05d5\u05dd",  # Hebrew, RTL
    "\u200f\u200e\u200b",
    "e\u0301",  # combining acute
    "\u0301",
    "Z\u0351\u0337\u0334\u0315" * 30,
    "\ufeff",
    "\uffff",
    "\U0010ffff",
    "\U0001f600",
    "\u0130",  # İ: case folding changes its length
    "\u00df",
    "\ufb01",
    "A\u030a",
    "\u212b",  # Angstrom sign, NFKC-equal to Å
    "\r\n",
    "\t",
    "\\",
    '"',
    "'",
    "\\u0000",
    "null",
    "true",
    "-1",
    "1e309",
    "NaN",
    "${jndi:ldap://x/a}",
    "' OR '1'='1",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00",
    "%2F",
    "a@b",
    "@",
    "user#x",
    "userName#x",
    "acme",
    "globex#1",
    *CONFUSABLE_NAMES,
]

ATTRIBUTE_NAMES = [
    "schemas",
    "id",
    "externalId",
    "meta",
    "userName",
    "name",
    "displayName",
    "nickName",
    "title",
    "emails",
    "phoneNumbers",
    "active",
    "password",
    "groups",
    "members",
    "roles",
    "x509Certificates",
    ENTERPRISE_USER,
    CUSTOM_USER,
    ONEMODEL_USER,
    "unknownAttribute",
]

ATTRIBUTE_PATHS = [
    "userName",
    "USERNAME",
    "name",
    "name.givenName",
    "name.familyName",
    "name.unknown",
    "emails",
    "emails.value",
    'emails[type eq "work"]',
    'emails[type eq "work"].value',
    "emails[primary eq true].value",
    'emails[value co "@"]',
    "active",
    "password",
    "externalId",
    "displayName",
    "members",
    "members.value",
    "members.display",
    'members[value eq "x"]',
    'members[value eq "x"].display',
    "groups",
    "groups.value",
    "id",
    "meta",
    "meta.version",
    "meta.lastModified",
    "title",
    "x509Certificates.value",
    f"{CORE_USER}:userName",
    f"{CORE_USER}:name.givenName",
    f"{CORE_GROUP}:displayName",
    f"{CUSTOM_USER}:personId",
    f"{CUSTOM_USER}:personid",
    f"{ENTERPRISE_USER}:manager",
    f"{ENTERPRISE_USER}:manager.value",
    f"{ONEMODEL_USER}:dataAccessRoles",
    f"{ONEMODEL_USER}:allowSsoLogin",
    CUSTOM_USER,
    ONEMODEL_USER,
    "urn:ietf:params:scim:schemas:core:2.0:Unknown:x",
    "urn:",
    "unknown",
    "a.b.c.d",
    ".",
    "..",
    "[",
    "emails[",
    "emails[]",
    "emails[type eq]",
    'emails[type eq "work"',
    'emails[type eq "work"]]',
    "$ref",
    "",
]


def text() -> st.SearchStrategy[str]:
    """Any text: arbitrary code points (surrogates included), known troublemakers, and huge strings."""
    return st.one_of(
        st.text(max_size=40),
        st.text(st.characters(exclude_categories=[]), max_size=20),
        st.sampled_from(EDGE_TEXT),
        st.builds(
            lambda unit, count: unit * count,
            st.sampled_from(["a", "\u00e9", "\U0001f600", "\x00", "e\u0301"]),
            st.sampled_from([257, 1025, 70_000, 420_000]),
        ),
    )


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([0, -1, 2**31, 2**63, -(2**63) - 1, 10**400]),
        st.floats(),  # NaN and infinities included: json.dumps writes them, no JSON parser should accept them
        text(),
    )


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value, keys mostly SCIM attribute names so the validator looks past the first level."""
    keys = st.one_of(st.sampled_from([*ATTRIBUTE_NAMES, "value", "type", "primary", "givenName"]), text())
    return st.recursive(
        scalars(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
        max_leaves=max_leaves,
    )


def valid_user(user_name: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A user the service accepts, with a unique userName unless told otherwise."""
    names = user_name or st.uuids().map(lambda u: f"{u}@example.com")
    return st.builds(
        lambda name, external_id, person_id: {
            "schemas": [CORE_USER, CUSTOM_USER],
            "userName": name,
            "externalId": external_id,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": name, "type": "work", "primary": True}],
            "active": True,
            "password": PASSWORD,
            CUSTOM_USER: {"personId": person_id},
        },
        names,
        st.uuids().map(str),
        st.uuids().map(str),
    )


def valid_group(member_ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda name, members: {
            "schemas": [CORE_GROUP],
            "displayName": name,
            "externalId": name,
            "members": [{"value": member} for member in members],
        },
        st.uuids().map(lambda u: f"Role {u}"),
        st.lists(st.sampled_from(member_ids), unique=True, max_size=len(member_ids)) if member_ids else st.just([]),
    )


USER_ATTRIBUTE_PATHS: list[tuple[str, ...]] = [
    ("schemas",),
    ("userName",),
    ("name",),
    ("name", "givenName"),
    ("name", "familyName"),
    ("emails",),
    ("emails", 0),
    ("emails", 0, "value"),
    ("emails", 0, "type"),
    ("emails", 0, "primary"),
    ("active",),
    ("password",),
    ("externalId",),
    ("displayName",),
    ("id",),
    ("meta",),
    ("groups",),
    (CUSTOM_USER,),
    (CUSTOM_USER, "personId"),
    (ONEMODEL_USER,),
    (ONEMODEL_USER, "dataAccessRoles"),
    (ENTERPRISE_USER,),
    (ENTERPRISE_USER, "manager"),
    ("unknownAttribute",),
]

GROUP_ATTRIBUTE_PATHS: list[tuple[str, ...]] = [
    ("schemas",),
    ("displayName",),
    ("externalId",),
    ("members",),
    ("members", 0),
    ("members", 0, "value"),
    ("members", 0, "type"),
    ("members", 0, "display"),
    ("members", 0, "$ref"),
    ("id",),
    ("meta",),
    ("unknownAttribute",),
]


def _set(document: Any, path: tuple[Any, ...], value: Any, delete: bool) -> None:
    """Set (or delete) ``path`` in ``document``, creating what is missing on the way."""
    *parents, last = path
    for step in parents:
        if isinstance(document, dict):
            document = document.setdefault(
                step, [{}] if isinstance(step, str) and step in ("emails", "members") else {}
            )
        elif isinstance(document, list) and isinstance(step, int):
            if not document:
                document.append({})
            document = document[min(step, len(document) - 1)]
        else:
            return
    if isinstance(document, dict):
        if delete:
            document.pop(last, None)
        else:
            document[last] = value
    elif isinstance(document, list) and isinstance(last, int):
        if delete:
            document.clear()
        elif document:
            document[min(last, len(document) - 1)] = value
        else:
            document.append(value)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]], paths: list[tuple[str, ...]]) -> Any:
    """A valid body with one to three attributes replaced by a wrong type, a null, junk, or removed."""
    document = draw(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        delete = draw(st.booleans()) and draw(st.booleans())
        _set(document, path, draw(json_values()), delete)
    return document


def raw_bodies() -> st.SearchStrategy[bytes]:
    """Bodies no JSON parser should take, or that are too big or too deep to take."""
    return st.one_of(
        st.binary(max_size=64),
        st.sampled_from(
            [
                b"",
                b"{",
                b"}",
                b"[]",
                b"null",
                b"0",
                b'"string"',
                b"{'single': 'quotes'}",
                b'{"userName": "a", "userName": "b"}',
                b'{"schemas": ["' + CORE_USER.encode() + b'"], "userName": "x\xff"}',  # invalid UTF-8
                b'{"userName": NaN}',
                b'{"userName": Infinity}',
                b'{"a": 1e999999}',
                b"\xef\xbb\xbf{}",  # UTF-8 byte order mark
                b'{"\\ud800": 1}',
                b"\x00" * 32,
                b"[" * 50_000,
                b'{"a":' * 50_000,
                b"[" * 5_000 + b"]" * 5_000,
                b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
                b'{"userName": "' + b"a" * MAX_BODY_BYTES + b'"}',  # just over the limit
                b" " * (MAX_BODY_BYTES + 1),
                b'{"Operations": [' + b'{"op": "add", "path": "title", "value": "x"},' * 25_000 + b"{}]}",
            ]
        ),
        json_values().map(lambda value: json.dumps(value).encode()).map(lambda raw: raw[: len(raw) // 2]),
    )


def _quoted(value: str) -> str:
    return json.dumps(value)


def filter_values() -> st.SearchStrategy[str]:
    return st.one_of(
        text().filter(lambda t: len(t) < 200).map(_quoted),
        st.sampled_from(
            [
                "true",
                "false",
                "null",
                "0",
                "-1.5e10",
                "1e999",
                '"2011-05-13T04:42:34Z"',
                '"not-a-date"',
                "unquoted",
                '"unterminated',
                '"\\"',
                '"\\u00"',
                '"\\ud800"',
                "",
            ]
        ),
    )


OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le", "EQ", "Eq", "xx", "=", "==", ""]


@st.composite
def filters(draw: st.DrawFn, depth: int = 0) -> str:
    """Filters from RFC 7644 §3.4.2.2's grammar, and near misses of it."""
    kind = draw(st.integers(0, 7 if depth < 3 else 2))
    if kind == 0:
        return f"{draw(st.sampled_from(ATTRIBUTE_PATHS))} pr"
    if kind in (1, 2):
        attribute = draw(st.one_of(st.sampled_from(ATTRIBUTE_PATHS), text().filter(lambda t: len(t) < 60)))
        return f"{attribute} {draw(st.sampled_from(OPERATORS))} {draw(filter_values())}"
    if kind == 3:
        return f"not ({draw(filters(depth + 1))})"
    if kind == 4:
        logic = draw(st.sampled_from(["and", "or", "AND", "Or", "xor", ""]))
        return f"{draw(filters(depth + 1))} {logic} {draw(filters(depth + 1))}"
    if kind == 5:
        attribute = draw(st.sampled_from(["emails", "members", "groups", "name", "userName", "x"]))
        return f"{attribute}[{draw(filters(depth + 1))}]"
    if kind == 6:
        return f"({draw(filters(depth + 1))})"
    return draw(text().filter(lambda t: len(t) < 300))


def adversarial_filters() -> st.SearchStrategy[str]:
    """Grammar-built filters, mutated ones, and the shapes that stress a parser (depth, length)."""
    return st.one_of(
        filters(),
        st.builds(
            lambda f, at, junk: f[:at] + junk + f[at:],
            filters(),
            st.integers(0, 40),
            st.sampled_from(['"', "(", ")", "[", "]", " ", "\\", "and", "\x00", ".", ":"]),
        ),
        st.builds(lambda n: "(" * n + 'userName eq "x"' + ")" * n, st.sampled_from([31, 33, 500, 5_000])),
        st.builds(lambda n: "not (" * n + 'userName eq "x"' + ")" * n, st.sampled_from([10, 40, 400])),
        st.builds(lambda n: " or ".join(['userName eq "x"'] * n), st.sampled_from([2, 100, 200])),
        st.builds(lambda n: "emails[" * n + 'value eq "x"' + "]" * n, st.sampled_from([2, 40])),
        st.builds(lambda n: f'userName eq "{"a" * n}"', st.sampled_from([2_000, 2_100, 100_000])),
    )


def deep_paths() -> st.SearchStrategy[str]:
    """PATCH paths that stress a parser: deep, long, and with many terms (issue #14: 960 KB took 43 s)."""
    return st.one_of(
        st.builds(
            lambda n: "emails[" + "(" * n + "value pr" + ")" * n + "].value", st.sampled_from([31, 33, 2_000, 480_000])
        ),
        st.builds(
            lambda n: "emails[" + " and ".join(["value pr"] * n) + "].value", st.sampled_from([100, 101, 10_000])
        ),
        st.builds(lambda n: "members[" + "not (" * n + 'value eq "x"' + ")" * n + "]", st.sampled_from([10, 40])),
        st.builds(lambda n: "a." * n + "b", st.sampled_from([1_100, 100_000])),
    )


def patch_paths() -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(),
        deep_paths(),
        st.sampled_from(ATTRIBUTE_PATHS),
        st.builds(lambda a, f: f"{a}[{f}]", st.sampled_from(["emails", "members", "groups", "name", "x"]), filters()),
        st.builds(
            lambda a, f, s: f"{a}[{f}].{s}",
            st.sampled_from(["emails", "members", "phoneNumbers"]),
            filters(),
            st.sampled_from(["value", "display", "type", "primary", "x"]),
        ),
        text().filter(lambda t: len(t) < 100),
    )


def patch_operations(value_hints: list[Any]) -> st.SearchStrategy[Any]:
    operation = st.fixed_dictionaries(
        {"op": st.one_of(st.sampled_from(["add", "remove", "replace", "Add", "REPLACE", "Remove"]), scalars())},
        optional={
            "path": patch_paths(),
            "value": st.one_of(
                json_values(),
                st.sampled_from(value_hints) if value_hints else st.nothing(),
                deep_paths().map(lambda path: {path: "x"}),  # a valuePath as an attribute name (Entra's form)
                hostile_names().map(lambda name: {"userName": name}),
            ),
        },
    )
    return st.one_of(
        st.fixed_dictionaries(
            {
                "schemas": st.one_of(st.just([PATCH_OP]), json_values()),
                "Operations": st.one_of(st.lists(operation, max_size=4), json_values()),
            }
        ),
        st.fixed_dictionaries({"schemas": st.just([PATCH_OP]), "Operations": st.lists(operation, min_size=1)}),
        st.builds(  # around the announced maxPatchOperations
            lambda n: {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "title", "value": "x"}] * n},
            st.sampled_from([1_000, 1_001]),
        ),
        json_values(),
    )


def page_numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-(2**70), 2**70).map(str),
        st.sampled_from(["0", "-1", "1", "1000", "1001", "2147483648", "1.5", "1e3", "", " 1", "0x10", "NaN", "∞"]),
        text(),
    )


def query_parameters() -> st.SearchStrategy[dict[str, str]]:
    """List and read parameters of RFC 7644 §3.4.2 (and RFC 9865's cursor), right and wrong."""
    attribute_list = (
        st.lists(st.sampled_from(ATTRIBUTE_PATHS), max_size=4).map(",".join)
        | text()
        | st.sampled_from([100, 101, 5_000]).map(lambda n: ",".join(["title"] * n))
        | deep_paths()
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "filter": adversarial_filters(),
            "startIndex": page_numbers(),
            "count": page_numbers(),
            "sortBy": st.one_of(st.sampled_from(ATTRIBUTE_PATHS), text(), deep_paths()),
            "sortOrder": st.one_of(st.sampled_from(["ascending", "descending", "DESCENDING", ""]), text()),
            "attributes": attribute_list,
            "excludedAttributes": attribute_list,
            "cursor": st.one_of(
                st.sampled_from(["", "abc", "AAAA", "x" * 5000, "eyJ9", "null"]),
                st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode()),
                text(),
            ),
            "unknownParameter": text(),
        },
    )


def search_requests() -> st.SearchStrategy[Any]:
    """POST .search bodies: SearchRequests with fuzzed members, and anything else."""
    numbers: st.SearchStrategy[Any] = st.one_of(st.integers(), scalars())
    return st.one_of(
        st.fixed_dictionaries(
            {"schemas": st.one_of(st.just([SEARCH_REQUEST]), json_values())},
            optional={
                "filter": st.one_of(adversarial_filters(), scalars()),
                "startIndex": numbers,
                "count": numbers,
                "sortBy": st.one_of(st.sampled_from(ATTRIBUTE_PATHS), scalars()),
                "sortOrder": st.one_of(st.sampled_from(["ascending", "descending"]), scalars()),
                "attributes": st.one_of(st.lists(st.sampled_from(ATTRIBUTE_PATHS), max_size=3), json_values()),
                "excludedAttributes": st.one_of(st.lists(st.sampled_from(ATTRIBUTE_PATHS), max_size=3), json_values()),
                "cursor": st.one_of(text(), scalars()),
                "unknownMember": json_values(),
            },
        ),
        json_values(),
    )


CONTENT_TYPES = [
    "application/scim+json",
    "application/json",
    "application/scim+json; charset=utf-8",
    "application/json;charset=UTF-8",
    "APPLICATION/SCIM+JSON",
    "application/scim+json; charset=latin-1",
    "text/plain",
    "text/html",
    "application/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "*/*",
    "",
    "application/",
    "garbage",
]


def content_types() -> st.SearchStrategy[str | None]:
    """Mostly right, often wrong, sometimes missing (None)."""
    return st.one_of(st.sampled_from(CONTENT_TYPES), st.none(), text().filter(lambda t: t.isascii() and len(t) < 80))


def header_values() -> st.SearchStrategy[str]:
    """What a header can carry over HTTP/1.1: Latin-1 text without line breaks."""
    return st.one_of(
        st.sampled_from(['W/"1"', '"1"', 'W/"999"', "*", 'W/"-1"', 'W/""', "W/", '"', "", 'W/"1", W/"2"', "x" * 2000]),
        st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=40),
    )
