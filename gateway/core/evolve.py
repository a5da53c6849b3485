"""Pure: copies of frozen state records with some fields changed, for the core's hot path.

`dataclasses.replace` walks the class's field objects and then calls ``__init__`` with
every field as a keyword: two passes per copy, and the core copies a transaction and a
charger state for every meter value. `evolve` does one pass, for the frozen, slotted
records of `gateway.domain` that have no ``__post_init__`` (nothing to re-run on a copy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def evolve(record: T, /, **changes: Any) -> T:
    """A copy of ``record`` with ``changes`` applied, as `dataclasses.replace` makes it.

    Raises:
        TypeError: for a name that is not a field of the record, or a record that is not a
            dataclass, has a ``__post_init__`` or a field outside ``__init__``.
    """
    cls = type(record)
    copier = _COPIERS.get(cls)
    if copier is None:
        copier = _COPIERS[cls] = _copier(cls)
    return copier(record, changes)  # type: ignore[no-any-return]


_Copier = Callable[[Any, dict[str, Any]], Any]
_COPIERS: dict[type, _Copier] = {}


def _copier(cls: type) -> _Copier:
    """The copy function of one record class, written out field by field.

    As `dataclasses` writes ``__init__``: no loop, and each field read as an attribute.
    """
    # A __post_init__ or a field outside __init__ would be computed afresh by replace().
    if (
        not is_dataclass(cls)
        or hasattr(cls, "__post_init__")
        or not all(f.init for f in fields(cls))
    ):
        raise TypeError(f"evolve copies plain dataclass records, not {cls.__name__}")
    names = tuple(f.name for f in fields(cls))
    lines = [
        "def copy(record, changes):",
        "    if not NAMES.issuperset(changes):",
        "        raise TypeError(f'{CLS.__name__} has no field(s) '",
        "                        + ', '.join(sorted(set(changes) - NAMES)))",
        "    new = NEW(CLS)",
        *(
            f"    SET(new, {name!r}, changes[{name!r}] if {name!r} in changes else record.{name})"
            for name in names
        ),
        "    return new",
    ]
    scope: dict[str, Any] = {
        "NAMES": frozenset(names),
        "CLS": cls,
        "NEW": object.__new__,
        "SET": object.__setattr__,  # frozen: the class's own __setattr__ refuses
    }
    exec("\n".join(lines), scope)  # noqa: S102 - built from the class's own field names
    copier: _Copier = scope["copy"]
    return copier
