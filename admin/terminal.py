"""What the admin CLI shows a person: any text, client text above all, rendered safe for a terminal.

An IdP controls userNames, attribute names and the ids in a refused request's path. Written raw, ESC
(``\\x1b]0;...``) retitles the terminal or recolours what follows, CR and LF forge or hide trail lines, and a
bidi override (U+202E) shows a line's text reversed. Every text output of ``python -m admin`` goes through
:func:`printable`, by :func:`say` and :func:`say_json`.
"""

import json
import re
import sys
from typing import Any, TextIO

# C0 controls, DEL, C1 controls, the bidi embeddings, overrides and isolates, the line and paragraph
# separators, and lone surrogates (which a terminal's encoder cannot write at all).
_BEYOND_C0 = "\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ud800-\\udfff"
UNSAFE = re.compile(f"[\\x00-\\x1f{_BEYOND_C0}]")
# JSON escapes C0 inside its strings itself, and its own layout is made of LF and spaces.
_UNSAFE_IN_JSON = re.compile(f"[{_BEYOND_C0}]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` with every character that would act on a terminal shown escaped (``\\x1b``, ``\\u202e``)."""
    return UNSAFE.sub(_escaped, str(text))


def say(*parts: object, sep: str = " ", file: TextIO | None = None, flush: bool = False) -> None:
    """One line: each part rendered by :func:`printable`, joined by ``sep`` (the CLI's own, a tab for columns).

    :param flush: Out at once (a ``--follow`` that shows lines as they come); stderr always is.
    """
    print(sep.join(printable(part) for part in parts), file=file or sys.stdout, flush=flush or file is sys.stderr)


def say_json(document: Any, one_line: bool = False) -> None:
    """A JSON document for a terminal: what :func:`printable` escapes is written as JSON's ``\\uXXXX``.

    :param one_line: Compact, on one line (JSON Lines: one document per line, as ``admin events --json``).
    """
    text = json.dumps(document, indent=None if one_line else 2, ensure_ascii=False, sort_keys=one_line)
    print(_UNSAFE_IN_JSON.sub(lambda match: f"\\u{ord(match[0]):04x}", text), flush=one_line)
