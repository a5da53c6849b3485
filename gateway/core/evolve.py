"""Pure: copies of frozen state records with some fields changed, for the core's hot path.

`dataclasses.replace` walks the class's field objects and then calls ``__init__`` with
every field as a keyword: two passes per copy, and the core copies a transaction and a
charger state for every meter value. `evolve` does one pass, for the frozen, slotted
records of `gateway.domain` that have no ``__post_init__`` (nothing to re-run on a copy).
`constructor` builds such records as calling the class does, only faster, for the code
that builds several per message (translators, the core).

A frozen record refuses ``setattr``, so a new one is filled in another way. For a slotted
record, that way is a plain twin class with the same slots: the new object is made as a
twin, its fields are stored with ordinary attribute assignments (which the interpreter
specialises to a direct slot store), and its ``__class__`` is then set to the record's
class, which Python allows between classes of the same layout. That is about three times
as fast as calling each slot's descriptor for a record of twenty fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, fields, is_dataclass
from functools import partial
from types import MemberDescriptorType
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


def constructor(cls: type[T]) -> Callable[..., T]:
    """A function building ``cls`` as calling ``cls`` does, only faster.

    The same record, from the same parameters (positional or keyword-only) and defaults,
    for the plain records `evolve` copies; the generated ``__init__`` of a frozen dataclass
    stores each field through a slower, generic path, so this is about twice as fast for a
    record of eight fields. For code that builds many records per message.

    Raises:
        TypeError: for a class `evolve` would refuse.
    """
    names = _field_names(cls)
    positional: list[str] = []
    keywords: list[str] = []
    defaults: dict[str, Any] = {}
    factories: list[str] = []
    for f in fields(cls):  # type: ignore[arg-type]
        parameters = keywords if f.kw_only else positional
        if f.default is not MISSING:
            defaults[f"DEFAULT_{f.name}"] = f.default
            parameters.append(f"{f.name}=DEFAULT_{f.name}")
        elif f.default_factory is not MISSING:
            defaults[f"FACTORY_{f.name}"] = f.default_factory
            parameters.append(f"{f.name}=UNSET")
            factories.append(f.name)
        else:
            parameters.append(f.name)
    lines = [
        f"def build({', '.join([*positional, '*', *keywords] if keywords else positional)}):",
        *(f"    if {n} is UNSET: {n} = FACTORY_{n}()" for n in factories),
        *_filled(cls, {name: name for name in names}),
    ]
    build: Callable[..., T] = _compile(cls, names, lines, defaults)["build"]
    return build


def builder(cls: type[T], *names: str) -> Callable[..., T]:
    """A function building ``cls`` from the fields ``names`` given positionally.

    ``builder(Reading, "measurand", "value", ...)(m, v, ...)`` is ``Reading(measurand=m,
    value=v, ...)`` with every other field at its default: for the records built several
    times per message (a reading per sampled value), where even keyword arguments cost.

    Raises:
        TypeError: for a class `evolve` would refuse, a name that is not its field, or a
            field left out that has no plain default.
    """
    all_names = _field_names(cls)
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
    defaults: dict[str, Any] = {}
    for name, f in known.items():
        if name not in names:
            if f.default is MISSING:
                raise TypeError(f"{cls.__name__}.{name} has no plain default: pass it")
            defaults[f"DEFAULT_{name}"] = f.default
    lines = [
        f"def build({', '.join(names)}):",
        *_filled(cls, {n: n if n in names else f"DEFAULT_{n}" for n in all_names}),
    ]
    build: Callable[..., T] = _compile(cls, all_names, lines, defaults)["build"]
    return build


def replacer(cls: type[T], *changed: str) -> Callable[..., T]:
    """A function copying a ``cls`` record with the ``changed`` fields given positionally.

    ``replacer(Transaction, "samples")(tx, samples)`` is ``evolve(tx, samples=samples)``
    for a path that always changes the same fields: no keyword dict to build, and no test
    per field of whether it changed, which costs a third of a copy of twenty fields.

    Raises:
        TypeError: for a class `evolve` would refuse, or a name that is not its field.
    """
    names = _field_names(cls)
    unknown = set(changed) - set(names)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {', '.join(sorted(unknown))}")
    lines = [
        f"def copy(record, {', '.join(changed)}):",
        *_filled(cls, {name: name if name in changed else f"record.{name}" for name in names}),
    ]
    copy: Callable[..., T] = _compile(cls, names, lines)["copy"]
    return copy


_UNSET = object()  # a parameter whose default comes from a factory was not passed
_Copier = Callable[[Any, dict[str, Any]], Any]
_COPIERS: dict[type, _Copier] = {}


def _copier(cls: type) -> _Copier:
    """The copy function of one record class, written out field by field.

    As `dataclasses` writes ``__init__``: no loop, and each field read as an attribute.
    """
    names = _field_names(cls)
    lines = [
        "def copy(record, changes):",
        "    if not NAMES.issuperset(changes):",
        "        raise TypeError(f'{CLS.__name__} has no field(s) '",
        "                        + ', '.join(sorted(set(changes) - NAMES)))",
        *_filled(
            cls,
            {
                name: f"changes[{name!r}] if {name!r} in changes else record.{name}"
                for name in names
            },
        ),
    ]
    copier: _Copier = _compile(cls, names, lines)["copy"]
    return copier


def _filled(cls: type, values: dict[str, str]) -> list[str]:
    """The lines making a new ``cls`` record from one expression per field, and returning it."""
    if _twin(cls) is None:
        return [
            "    new = NEW(CLS)",
            *(f"    SET_{name}(new, {value})" for name, value in values.items()),
            "    return new",
        ]
    return [
        "    new = NEW(TWIN)",
        *(f"    new.{name} = {value}" for name, value in values.items()),
        "    new.__class__ = CLS",
        "    return new",
    ]


_TWINS: dict[type, type | None] = {}


def _twin(cls: type) -> type | None:
    """A plain class with the slots of ``cls``, or None when Python would refuse the swap.

    Only a record whose every field is a slot of its own (no base class adding slots, no
    ``__dict__``) has a twin; the others are filled through their descriptors.
    """
    if cls in _TWINS:
        return _TWINS[cls]
    twin: type | None = None
    slots = cls.__dict__.get("__slots__")
    names = {f.name for f in fields(cls)}
    if cls.__bases__ == (object,) and isinstance(slots, tuple) and names <= set(slots):
        candidate = type(f"_{cls.__name__}Twin", (), {"__slots__": slots})
        probe: Any = object.__new__(candidate)
        try:
            probe.__class__ = cls  # the check every swap makes, once
        except TypeError:
            pass
        else:
            twin = candidate
    _TWINS[cls] = twin
    return twin


def _field_names(cls: type) -> tuple[str, ...]:
    # A __post_init__ or a field outside __init__ would be computed afresh by replace().
    if (
        not is_dataclass(cls)
        or hasattr(cls, "__post_init__")
        or not all(f.init for f in fields(cls))
    ):
        raise TypeError(f"evolve copies plain dataclass records, not {cls.__name__}")
    return tuple(f.name for f in fields(cls))


def _compile(
    cls: type, names: tuple[str, ...], lines: list[str], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "NAMES": frozenset(names),
        "CLS": cls,
        "NEW": object.__new__,
        "TWIN": _twin(cls),
        "UNSET": _UNSET,
        **{f"SET_{name}": _setter(cls, name) for name in names},
        **(extra or {}),
    }
    exec("\n".join(lines), scope)  # noqa: S102 - built from the class's own field names
    return scope


def _setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """What stores one field on a new record, past a frozen class's refusing ``__setattr__``.

    A slot's own descriptor stores faster than ``object.__setattr__``, which looks the
    descriptor up again on every call; a record without slots keeps the generic way.
    """
    slot = getattr(cls, name, None)
    if isinstance(slot, MemberDescriptorType):
        store: Callable[[Any, Any], None] = slot.__set__
        return store
    return partial(_set_attribute, name=name)


def _set_attribute(record: object, value: object, *, name: str) -> None:
    object.__setattr__(record, name, value)
