"""Records: the dataclass subset pysync uses, built without importing ``dataclasses``.

Why: ``dataclasses`` imports ``inspect`` (and with it ``ast``, ``dis`` and ``tokenize``) and
compiles five or six methods per class with ``exec``. For the twenty-odd record classes a
no-op ``pysync sync`` loads, that was about 15 ms of a start-up rclone finishes in 70 ms.
``record`` makes the same classes from a handful of shared functions instead.

What it supports, with ``dataclasses``' meaning: fields from the class annotations in
declaration order (``ClassVar`` excluded), defaults and ``field(default_factory=...,
metadata=..., repr=...)``, positional or ``kw_only`` ``__init__``, ``frozen`` (assignment
raises ``FrozenInstanceError``, an AttributeError), ``slots``, ``eq`` (with ``__hash__`` over
the fields when frozen, none when not) and ``repr``. ``fields`` works on records and their
classes, ``replace`` and a shallow ``asdict`` on records; records pickle and copy. A class that
defines its own ``__init__``, ``__repr__`` or ``__eq__`` keeps it. A class built more than
``SPECIALIZE_AFTER`` times gets an ``__init__`` compiled for its fields, as dataclasses gives
every class at once; the classes a run builds only a few times compile nothing. Type checkers see a
dataclass (PEP 681).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:
    def dataclass_transform(**_kwargs):
        return lambda obj: obj

__all__ = ["record", "field", "fields", "replace", "asdict", "Field", "FrozenInstanceError"]


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Field:
    """One field of a record: its name, default or default factory, metadata, repr flag."""

    __slots__ = ("name", "default", "default_factory", "metadata", "repr")

    def __init__(self, default: Any = MISSING, default_factory: Callable[[], Any] | None = None,
                 metadata: Mapping[str, Any] | None = None, repr: bool = True) -> None:
        if default is not MISSING and default_factory is not None:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.metadata: Mapping[str, Any] = metadata if metadata is not None else {}
        self.repr = repr

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, default={self.default!r})"


def field(*, default: Any = MISSING, default_factory: Callable[[], Any] | None = None,
          metadata: Mapping[str, Any] | None = None, repr: bool = True) -> Any:
    """Declare a field with a default factory, metadata or ``repr=False`` (as dataclasses)."""
    return Field(default, default_factory, metadata, repr)


def fields(obj: Any) -> tuple[Field, ...]:
    """The fields of a record class or instance, in declaration order."""
    try:
        return obj.__record_fields__  # type: ignore[no-any-return]
    except AttributeError:
        raise TypeError("must be called with a record type or instance") from None


def replace(obj: T, /, **changes: Any) -> T:
    """A new record like ``obj`` with ``changes`` applied (as ``dataclasses.replace``)."""
    values = {f.name: getattr(obj, f.name) for f in fields(obj)}
    values.update(changes)
    return type(obj)(**values)


def asdict(obj: Any) -> dict[str, Any]:
    """The fields of ``obj`` as a dict (shallow: nested records are not converted)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _is_classvar(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return isinstance(text, str) and text.replace("typing.", "").startswith("ClassVar")


def _collect(cls: type) -> list[Field]:
    found: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in getattr(base, "__record_fields__", ()):
            found[f.name] = f
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if _is_classvar(annotation):
            continue
        value = cls.__dict__.get(name, MISSING)
        f = value if isinstance(value, Field) else Field(default=value)
        f.name = name
        found[name] = f
    return list(found.values())


#: Calls of a class's generic ``__init__`` after which it is replaced by one compiled for its
#: fields (as dataclasses makes from the start): a record built per file (an action, a
#: transfer's result) then costs ~0.5 µs instead of ~4, and a record built a few times at
#: start-up compiles nothing.
SPECIALIZE_AFTER = 32


def _make_init(cls: type, flds: list[Field], kw_only: bool, slots: bool,
               frozen: bool) -> Callable[..., None]:
    cls_name = cls.__name__
    names = frozenset(f.name for f in flds)
    positional = () if kw_only else tuple(f.name for f in flds)
    defaults = {f.name: f.default for f in flds if f.default is not MISSING}
    factories = tuple((f.name, f.default_factory) for f in flds if f.default_factory is not None)
    order = tuple(f.name for f in flds)
    count = len(flds)
    set_attr = object.__setattr__
    calls = 0

    def complain(values: dict[str, Any], given: dict[str, Any]) -> None:
        unknown = [k for k in given if k not in names]
        if unknown:
            raise TypeError(f"{cls_name}.__init__() got an unexpected keyword argument "
                            f"{unknown[0]!r}")
        missing = [n for n in order if n not in values]
        raise TypeError(f"{cls_name}.__init__() missing required argument(s): "
                        + ", ".join(repr(n) for n in missing))

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == SPECIALIZE_AFTER and cls.__dict__.get("__init__") is __init__:
            fast = _compile_init(cls, flds, kw_only, frozen)
            if fast is not None:
                cls.__init__ = fast  # type: ignore[misc]
        if args:
            if len(args) > len(positional):
                raise TypeError(f"{cls_name}.__init__() takes {len(positional) + 1} positional "
                                f"arguments but {len(args) + 1} were given")
            for name, value in zip(positional, args, strict=False):
                if name in kwargs:
                    raise TypeError(f"{cls_name}.__init__() got multiple values for argument "
                                    f"{name!r}")
                kwargs[name] = value
        values = defaults.copy()
        values.update(kwargs)
        for name, factory in factories:
            if name not in kwargs:
                values[name] = factory()
        if len(values) != count or not names.issuperset(kwargs):
            complain(values, kwargs)
        if slots:
            for name, value in values.items():
                set_attr(self, name, value)
        else:
            self.__dict__.update(values)

    __init__.__qualname__ = f"{cls_name}.__init__"
    return __init__


class _Factory:
    """The default of a parameter whose field has a default factory."""

    __slots__ = ()


def _compile_init(cls: type, flds: list[Field], kw_only: bool,
                  frozen: bool) -> Callable[..., None] | None:
    """An ``__init__`` compiled for ``cls``'s fields, with Python's own argument errors; None
    when the fields cannot make a signature (a required field after a defaulted one, as
    dataclasses refuses, or a name that is not a plain identifier)."""
    import keyword

    ns: dict[str, Any] = {"_set": object.__setattr__, "_FACTORY": _Factory()}
    plain = not frozen and cls.__setattr__ is object.__setattr__  # type: ignore[comparison-overlap]
    params: list[str] = []
    body: list[str] = []
    for i, f in enumerate(flds):
        n = f.name
        if not n.isidentifier() or keyword.iskeyword(n) or n == "self" or n.startswith("_r_"):
            return None
        if f.default is not MISSING:
            ns[f"_r_d{i}"] = f.default
            params.append(f"{n}=_r_d{i}")
        elif f.default_factory is not None:
            ns[f"_r_f{i}"] = f.default_factory
            params.append(f"{n}=_FACTORY")
            body.append(f" if {n} is _FACTORY: {n} = _r_f{i}()")
        else:
            params.append(n)
        body.append(f" self.{n} = {n}" if plain else f" _set(self, {n!r}, {n})")
    sig = ", ".join(["self", "*"] + params if kw_only and params else ["self"] + params)
    src = f"def __init__({sig}):\n" + "\n".join(body or [" pass"]) + "\n"
    try:
        exec(src, ns)  # noqa: S102 - built from field names checked above, as dataclasses
    except SyntaxError:
        return None
    fn: Callable[..., None] = ns["__init__"]
    fn.__qualname__ = f"{cls.__name__}.__init__"
    fn.__module__ = cls.__module__
    return fn


def _repr(self: Any) -> str:
    parts = [f"{f.name}={getattr(self, f.name)!r}" for f in self.__record_fields__ if f.repr]
    return f"{type(self).__qualname__}({', '.join(parts)})"


def _values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, f.name) for f in self.__record_fields__)


def _eq(self: Any, other: object) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: Any) -> int:
    return hash(_values(self))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _slots_getstate(self: Any) -> list[Any]:
    return [getattr(self, f.name) for f in self.__record_fields__]


def _slots_setstate(self: Any, state: list[Any]) -> None:
    for f, value in zip(self.__record_fields__, state, strict=True):
        object.__setattr__(self, f.name, value)  # frozen too: unpickling builds the record


def _build(cls: type, *, frozen: bool, kw_only: bool, slots: bool, eq: bool,
           repr: bool) -> type:
    flds = _collect(cls)
    body = cls.__dict__
    names = {f.name for f in flds}
    if slots:
        # a slot cannot share its name with a class attribute: rebuild the class without the
        # defaults (they live in the fields), as dataclasses does
        namespace = {k: v for k, v in body.items()
                     if k not in ("__dict__", "__weakref__") and k not in names}
        namespace["__slots__"] = tuple(f.name for f in flds)
        if frozen:  # pickle and copy would set the slots with the refused __setattr__
            namespace.setdefault("__getstate__", _slots_getstate)
            namespace.setdefault("__setstate__", _slots_setstate)
        cls = type(cls)(cls.__name__, cls.__bases__, namespace)
    else:
        for f in flds:
            if isinstance(body.get(f.name), Field):
                if f.default is MISSING:
                    delattr(cls, f.name)
                else:
                    setattr(cls, f.name, f.default)
    cls.__record_fields__ = tuple(flds)  # type: ignore[attr-defined]
    if "__init__" not in body:
        cls.__init__ = _make_init(cls, flds, kw_only, slots, frozen)  # type: ignore[misc]
    if repr and "__repr__" not in body:
        cls.__repr__ = _repr  # type: ignore[assignment]
    if eq and "__eq__" not in body:
        cls.__eq__ = _eq  # type: ignore[assignment]
        cls.__hash__ = _hash if frozen else None  # type: ignore[assignment]
    if frozen:
        cls.__setattr__ = _frozen_setattr  # type: ignore[assignment]
        cls.__delattr__ = _frozen_delattr  # type: ignore[assignment]
    return cls


@dataclass_transform(field_specifiers=(field, Field))
def record(cls: type[T] | None = None, /, *, frozen: bool = False, kw_only: bool = False,
           slots: bool = False, eq: bool = True, repr: bool = True) -> Any:
    """Class decorator: make ``cls`` a record (``@record`` or ``@record(frozen=True, ...)``)."""
    def wrap(c: type[T]) -> type[T]:
        return _build(c, frozen=frozen, kw_only=kw_only, slots=slots, eq=eq,  # type: ignore[return-value]
                      repr=repr)
    return wrap if cls is None else wrap(cls)
