"""syncengine.record: the dataclass subset pysync's records use, checked against dataclasses."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from syncengine import record as record_module
from syncengine.record import FrozenInstanceError, asdict, field, fields, record, replace


@record(frozen=True, kw_only=True)
class Opts:
    name: str = "x"
    items: tuple[str, ...] = field(default_factory=tuple, metadata={"flag": "--items"})
    secret: str = field(default="", repr=False)


@record(frozen=True, slots=True)
class Pair:
    action: str
    reason: str = ""


@record
class Bag:
    found: list[str] = field(default_factory=list)
    count: int = 0


@dataclasses.dataclass(frozen=True)
class DPair:
    action: str
    reason: str = ""


def test_defaults_factories_and_field_order() -> None:
    o = Opts()
    assert (o.name, o.items, o.secret) == ("x", (), "")
    assert [f.name for f in fields(Opts)] == ["name", "items", "secret"]
    assert fields(o)[1].metadata == {"flag": "--items"}
    a, b = Bag(), Bag()
    a.found.append("f")
    assert b.found == []  # a fresh list per instance, not a shared default


def test_keyword_only_and_positional_init_errors() -> None:
    with pytest.raises(TypeError):
        Opts("y")  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        Opts(nope=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="missing"):
        Pair()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values"):
        Pair("a", action="b")  # type: ignore[misc]
    with pytest.raises(TypeError, match="positional"):
        Pair("a", "b", "c")  # type: ignore[call-arg]
    assert Pair("copy", reason="sizes differ").reason == "sizes differ"


def test_frozen_and_slots() -> None:
    o = Opts(name="a")
    with pytest.raises(FrozenInstanceError):
        o.name = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del o.name  # type: ignore[misc]
    p = Pair("skip")
    assert not hasattr(p, "__dict__")
    with pytest.raises(AttributeError):
        p.action = "copy"  # type: ignore[misc]
    bag = Bag()
    bag.count = 3  # not frozen: assignable
    assert bag.count == 3


def test_eq_hash_repr_as_dataclasses() -> None:
    assert Pair("a", "b") == Pair("a", "b") and Pair("a") != Pair("b")
    assert hash(Pair("a", "b")) == hash(Pair("a", "b"))
    assert Pair("a") != DPair("a")  # other classes never compare equal
    assert repr(Pair("a", "b")) == repr(DPair("a", "b")).replace("DPair", "Pair")
    assert repr(Opts(secret="hidden")) == "Opts(name='x', items=())"  # repr=False left out
    with pytest.raises(TypeError):
        hash(Bag())  # eq and not frozen: unhashable, as dataclasses


def test_replace_and_asdict() -> None:
    o = Opts(name="a", items=("i",))
    r = replace(o, name="b")
    assert (r.name, r.items) == ("b", ("i",)) and o.name == "a"
    with pytest.raises(TypeError):
        replace(o, nope=1)
    assert asdict(Pair("a", "b")) == {"action": "a", "reason": "b"}
    with pytest.raises(TypeError):
        fields(object())


@pytest.mark.parametrize("value", [Opts(name="a", items=("i",)), Pair("copy", "sizes differ")])
def test_records_pickle_and_copy(value: object) -> None:
    # frozen records refuse __setattr__: pickle and copy must build them all the same
    assert pickle.loads(pickle.dumps(value)) == value
    assert copy.copy(value) == value and copy.deepcopy(value) == value


def test_compiled_init_after_many_builds_behaves_as_the_generic_one() -> None:
    @record(frozen=True, slots=True)
    class Hot:
        action: str
        items: list[str] = field(default_factory=list)
        reason: str = ""

    @record(kw_only=True)
    class HotKw:
        count: int = 0
        name: str

    generic = Hot.__init__
    built = [Hot(str(i)) for i in range(record_module.SPECIALIZE_AFTER)]
    assert Hot.__init__ is not generic  # compiled once the class is built often
    assert built[-1] == Hot(str(record_module.SPECIALIZE_AFTER - 1))
    a, b = Hot("x"), Hot("x", reason="r")
    a.items.append("i")
    assert (a.items, b.items, b.reason) == (["i"], [], "r")  # a fresh list per instance
    assert Hot("x", ["j"], "r") == Hot(action="x", items=["j"], reason="r")
    with pytest.raises(FrozenInstanceError):
        a.action = "y"  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing"):
        Hot()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values"):
        Hot("a", action="b")  # type: ignore[misc]
    with pytest.raises(TypeError, match="positional"):
        Hot("a", [], "b", "c")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        Hot("a", nope=1)  # type: ignore[call-arg]
    for i in range(record_module.SPECIALIZE_AFTER + 1):
        Pair(str(i))
    assert pickle.loads(pickle.dumps(Pair("a", "b"))) == Pair("a", "b")

    # a required field after a defaulted one makes no signature unless keyword-only
    for i in range(record_module.SPECIALIZE_AFTER + 1):
        assert HotKw(name=str(i)).count == 0
    with pytest.raises(TypeError):
        HotKw("x")  # type: ignore[misc]
    bag_init = Bag.__init__
    for _ in range(record_module.SPECIALIZE_AFTER + 1):
        Bag()
    assert Bag.__init__ is not bag_init
    bag = Bag(count=2)
    bag.count += 1
    assert (bag.count, bag.found) == (3, []) and bag == Bag([], 3)
