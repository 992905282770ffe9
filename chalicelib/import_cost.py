"""What the SCIM route's cold start need not pay at import: two modules loaded on first use, and the filter
grammar's parser loaded, not built.

Measured from the venv on Python 3.13 with ``python -X importtime`` (self time, median of 3):

- ``email_validator`` (21 ms, most of it compiling its regular expressions): pydantic imports it while
  scim2-models builds its ``Email`` model, whose ``value`` is an ``EmailStr``. Our ``User`` keeps emails
  verbatim (:mod:`chalicelib.schemas`), so only validating a scim2-models ``EmailStr`` would use it.
- ``regex`` (7 to 12 ms): lark imports it only to learn whether it is installed; a password check is the
  one thing of ours that uses it (:mod:`chalicelib.provisioning.passwords`).
- scim2-models' Lark parser for the filter and path grammar (12 to 30 ms), built when its module is
  imported; loading it from what ``make bytecode`` saved takes about 1.5 ms.

Both modules are imported lazily: an import of one binds a stand-in that imports the real module on first
use of any of its attributes (:class:`importlib.util.LazyLoader` cannot: on Python 3.13 the next ``import``
statement of a lazy module reads its ``__spec__``, which runs it). The parser is loaded with Lark's own
``cache`` option, which checks the saved file against the grammar, the options, Lark's version and
Python's before using it (a stale one is rebuilt in memory, as without it). A plain ``chalice deploy``
without ``make bytecode`` ships no saved parser: the grammar is built at import, as before.

The cyclic collector is paused while a cold start imports (:func:`resume_collection`,
:func:`collection_paused`): what the imports build lives as long as the container, and the collector,
finding nothing to collect in it, walked it again and again while it grew.
"""

import gc
import importlib
import importlib.util
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LAZY_MODULES = ("email_validator", "regex")
PARSER_DIR = "lark_parsers"
PARSER_FILE = "scim2_models-grammar.cache"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
PARSER_OPTIONS: dict[str, Any] = {"start": ["filter", "path"], "parser": "lalr"}
"""What scim2-models passes to ``Lark`` (``scim2_models/path/grammar.py``): the saved parser matches only them."""


def saved_parser(root: Path = PACKAGE_ROOT) -> Path:
    """Where the package keeps the saved parser (``vendor/`` is merged into the package's root)."""
    return root / PARSER_DIR / PARSER_FILE


class _OnFirstUse(types.ModuleType):
    """Stands in ``sys.modules`` for a module not imported yet; the first attribute it lacks imports the module."""

    _lock = threading.Lock()

    def __getattr__(self, attribute: str) -> Any:
        with self._lock:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
        return getattr(real, attribute)


def _lazy(name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None:
        return  # not installed: whoever imports it gets the ImportError it always got
    stand_in = _OnFirstUse(name)
    stand_in.__spec__ = spec
    sys.modules[name] = stand_in


def _import_grammar(saved: Path) -> None:
    """Import scim2-models' grammar module with its ``Lark(...)`` given ``cache=saved`` when that file exists."""
    if "scim2_models.path.grammar" in sys.modules or not saved.is_file():
        return
    import lark

    original = lark.Lark

    def cached(grammar: str, **options: Any) -> Any:
        if options == PARSER_OPTIONS:
            options = {**options, "cache": str(saved)}
        return original(grammar, **options)

    lark.Lark = cached  # type: ignore[misc,assignment]
    try:
        import scim2_models.path.grammar  # noqa: F401
    finally:
        lark.Lark = original  # type: ignore[misc]


def defer(saved: Path | None = None) -> None:
    """Called as the route's first scim2 import starts (:mod:`chalicelib.scim`), before lark and pydantic."""
    for name in LAZY_MODULES:
        _lazy(name)
    _import_grammar(saved or saved_parser())


def resume_collection() -> None:
    """The end of a cold start's imports (app.py pauses the cyclic collector before its first): what they built
    lives as long as the container, so it is frozen out of every later collection, and the collector resumes."""
    gc.freeze()
    gc.enable()


@contextmanager
def collection_paused(module: str) -> Iterator[None]:
    """Import ``module`` in the block with the cyclic collector paused, the first time; later, nothing changes."""
    if module in sys.modules or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        resume_collection()


def save_parser(root: Path) -> Path:
    """Save scim2-models' parser under ``root`` (``make bytecode``: ``vendor/``), for :func:`defer` to load."""
    import lark
    from scim2_models.path.grammar import _GRAMMAR

    target = saved_parser(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    lark.Lark(_GRAMMAR, **PARSER_OPTIONS, cache=str(target))
    return target
