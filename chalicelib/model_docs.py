"""Attribute docstrings read when ``/Schemas`` is first built, not when each model class is created.

scim2-models turns every model's attribute docstrings into field descriptions
(pydantic's ``use_attribute_docstrings``), and ``/Schemas`` publishes them. Pydantic
finds them at class creation by walking the creating frames and parsing each
class's source: on Python 3.11 that was 215 ms of the SCIM route's 750 ms cold
start (median of 5, from the venv; ``bench/cold_start.py``), paid by every cold
container though only ``/Schemas`` reads a description, and IdPs read it once.

:func:`defer` (called as the route's first scim2 import starts, in
:mod:`chalicelib.scim`) makes pydantic skip that step and remember the class;
:func:`describe` (called before the schemas are built) reads the docstrings of
those classes then, from their source, and gives the same descriptions: a field's
own docstring, else (for a field a subclass redeclares without one) its base's.
``tests/test_model_docs.py`` checks that ``/Schemas`` is the same either way. If a
pydantic release moves the hook, :func:`defer` changes nothing and the docstrings
are read at class creation as before.
"""

import threading
import weakref
from collections.abc import Iterable
from typing import Any

_deferred: "weakref.WeakSet[type]" = weakref.WeakSet()
_described: "weakref.WeakSet[type]" = weakref.WeakSet()
_lock = threading.Lock()


def defer() -> bool:
    """Skip attribute docstrings at class creation from now on; whether pydantic offered the hook."""
    from pydantic._internal import _fields

    if getattr(_fields, "_deferring_docstrings", False) or not hasattr(_fields, "_update_fields_from_docstrings"):
        return bool(getattr(_fields, "_deferring_docstrings", False))

    def remember(cls: type[Any], fields: Any, use_inspect: bool = False) -> None:
        _deferred.add(cls)

    _fields._update_fields_from_docstrings = remember
    _fields._deferring_docstrings = True  # type: ignore[attr-defined]
    return True


def describe(models: Iterable[type[Any]]) -> None:
    """Give the fields of these models, of their bases and of their complex attributes their descriptions."""
    with _lock:
        for model in models:
            _visit(model)


def _visit(model: type[Any]) -> None:
    for cls in reversed(model.__mro__):  # bases first: a subclass may take a base's description
        fields = cls.__dict__.get("__pydantic_fields__")
        if fields is None or cls in _described:
            continue
        _described.add(cls)
        _fill(cls, fields)
        for name in fields:
            root = _root_model(cls, name)
            if root is not None:
                _visit(root)


def _fill(cls: type[Any], fields: dict[str, Any]) -> None:
    own = _own_docstrings(cls) if cls in _deferred else {}
    for name, info in fields.items():
        if info.description is not None:
            continue
        if name in own:
            info.description = own[name]
            continue
        for base in cls.__mro__[1:]:
            inherited = base.__dict__.get("__pydantic_fields__", {}).get(name)
            if inherited is not None and inherited.description is not None:
                info.description = inherited.description
                break


def _own_docstrings(cls: type[Any]) -> dict[str, str]:
    from pydantic._internal._docs_extraction import extract_docstrings_from_cls

    try:
        return extract_docstrings_from_cls(cls, use_inspect=True)
    except Exception:  # a class without readable source has no docstrings to give
        return {}


def _root_model(cls: type[Any], name: str) -> type[Any] | None:
    """The model class of a complex attribute, or None."""
    root = getattr(cls, "get_field_root_type", None)
    try:
        found = root(name) if root is not None else None
    except Exception:
        return None
    return found if isinstance(found, type) and hasattr(found, "__pydantic_fields__") else None
