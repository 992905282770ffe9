"""Records as DynamoDB items and back: one converter per record type, read off the record's dataclass.

Each field is one attribute of the same name (or the name given in ``renamed``): ``str`` as ``S`` (a
``Literal`` of strings too, read back only as one of them), ``int`` as ``N``, ``bool`` as ``BOOL``,
``tuple[str, ...]`` as an ``L`` of ``S``, anything else (a SCIM document) as compact, sorted JSON in ``S``.
A field that is None is left out of the item; an attribute missing from an item reads as None, or as the field's
default. The keys (``pk``, ``sk``) and index keys are the table's to add: they are not the record's.
"""

import json
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from types import NoneType, UnionType
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from chalicelib.store.dynamodb_types import AttributeValueTypeDef, Item

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Record = TypeVar("Record", bound="DataclassInstance")
Kind = Literal["S", "N", "BOOL", "STRINGS", "JSON"]


@dataclass(frozen=True)
class _Attribute:
    field: str
    name: str
    kind: Kind
    optional: bool
    has_default: bool
    allowed: frozenset[str] | None = None
    """For a ``Literal`` of strings: the values an item may hold."""


class ItemConverter(Generic[Record]):
    """How the items of one record type (a dataclass) read and write."""

    def __init__(self, record_type: type[Record], renamed: Mapping[str, str] | None = None) -> None:
        self.record_type = record_type
        hints = get_type_hints(record_type)
        self.attributes = [
            _attribute(field.name, (renamed or {}).get(field.name, field.name), hints[field.name], field)
            for field in fields(record_type)
        ]

    def item(self, record: Record) -> Item:
        """The record's attributes (without the keys)."""
        item: Item = {}
        for attribute in self.attributes:
            value = getattr(record, attribute.field)
            if value is not None:
                item[attribute.name] = _written(attribute.kind, value)
        return item

    def record(self, item: Mapping[str, AttributeValueTypeDef]) -> Record:
        """The record an item holds.

        :raises KeyError: When the item lacks an attribute the record cannot do without.
        :raises ValueError: When a ``Literal`` field's attribute holds none of its values.
        """
        values: dict[str, Any] = {}
        for attribute in self.attributes:
            if attribute.name in item:
                values[attribute.field] = _read(attribute.kind, item[attribute.name])
                if attribute.allowed is not None and values[attribute.field] not in attribute.allowed:
                    raise ValueError(f"{attribute.name} is none of {sorted(attribute.allowed)}")
            elif attribute.optional and not attribute.has_default:
                values[attribute.field] = None
            elif not attribute.has_default:
                raise KeyError(attribute.name)
        return self.record_type(**values)


def _attribute(name: str, attribute: str, hint: Any, field: Any) -> _Attribute:
    arguments = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
    optional = NoneType in arguments
    (base,) = [argument for argument in arguments if argument is not NoneType]
    has_default = field.default is not MISSING or field.default_factory is not MISSING
    if get_origin(base) is Literal and all(isinstance(value, str) for value in get_args(base)):
        return _Attribute(name, attribute, "S", optional, has_default, frozenset(get_args(base)))
    kinds: dict[Any, Kind] = {bool: "BOOL", int: "N", str: "S", tuple[str, ...]: "STRINGS"}
    return _Attribute(name, attribute, kinds.get(base, "JSON"), optional, has_default)


def _written(kind: Kind, value: Any) -> AttributeValueTypeDef:
    if kind == "BOOL":
        return {"BOOL": bool(value)}
    if kind == "N":
        return {"N": str(value)}
    if kind == "S":
        return {"S": value}
    if kind == "STRINGS":
        return {"L": [{"S": text} for text in value]}
    return {"S": json.dumps(value, separators=(",", ":"), sort_keys=True)}


def _read(kind: Kind, value: AttributeValueTypeDef) -> Any:
    if kind == "BOOL":
        return value["BOOL"]
    if kind == "N":
        return int(value["N"])
    if kind == "S":
        return value["S"]
    if kind == "STRINGS":
        return tuple(text["S"] for text in value["L"])
    return json.loads(value["S"])
