"""Pure: helpers shared by the per-version translators (OCPP date-times, record builders)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, fields, is_dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")


def ocpp_datetime(dt: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: the form every charger firmware parses."""
    # Every heartbeat answer comes here, nearly always with a UTC time already.
    utc = dt if dt.tzinfo is UTC else dt.astimezone(UTC)
    return utc.isoformat(timespec="milliseconds")[:-6] + "Z"  # "+00:00" -> "Z"


def optional_datetime(text: object) -> datetime | None:
    """Parse an OCPP date-time leniently: ``None`` when absent or unreadable."""
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def record_builder(cls: type[T], *names: str) -> Callable[..., T]:
    """A function building a frozen, slotted record from ``names`` given positionally.

    The record is the one ``cls(**dict(zip(names, args)))`` builds, every other field at its
    default. The translators build several records per MeterValues, and a frozen class's
    fields can only be stored through its slot descriptors, a generic call each (what
    `gateway.core.evolve.constructor` does). The builder instead fills a mutable twin of
    ``cls``, a class with the same slots and so the same memory layout, by plain
    attribute stores, then makes it a ``cls`` by ``__class__`` assignment, which CPython
    allows between classes of identical layout: half the cost for a record of nine fields.
    The twin's instances never escape ``__init__``.

    Raises:
        TypeError: for a class that is not a frozen, slotted dataclass without
            ``__post_init__``, a name that is not its field, a field left out that has no
            plain default, or a class CPython would not let the twin become.
    """
    params = getattr(cls, "__dataclass_params__", None)
    slots: tuple[str, ...] = vars(cls).get("__slots__", ())
    if (
        not is_dataclass(cls)
        or params is None
        or not params.frozen
        or not slots
        or hasattr(cls, "__post_init__")
    ):
        raise TypeError(f"record_builder builds frozen, slotted records, not {cls.__name__}")
    known = {f.name: f for f in fields(cls)}
    if not set(known).issubset(slots):
        raise TypeError(f"record_builder needs every field of {cls.__name__} in its own slots")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
    defaults: dict[str, Any] = {}
    for name, f in known.items():
        if name in names:
            continue
        if f.default is MISSING:
            raise TypeError(f"{cls.__name__}.{name} has no plain default: pass it")
        defaults[f"DEFAULT_{name}"] = f.default
    lines = [
        f"def __init__(self, {', '.join(names)}):",
        *(f"    self.{n} = {n if n in names else f'DEFAULT_{n}'}" for n in known),
        "    self.__class__ = CLS",
    ]
    scope: dict[str, Any] = {"CLS": cls, **defaults}
    exec("\n".join(lines), scope)  # noqa: S102 - built from the class's own field names
    twin = type(f"_{cls.__name__}Draft", (), {"__slots__": slots, "__init__": scope["__init__"]})
    # Refuse now, not on the first message, a class whose layout the twin does not share.
    try:
        trial = twin(*(None for _ in names))
    except TypeError as error:
        raise TypeError(f"record_builder cannot build {cls.__name__}: {error}") from None
    assert type(trial) is cls  # noqa: S101 - the twin's __init__ ends by becoming a cls
    build: Callable[..., T] = twin
    return build
