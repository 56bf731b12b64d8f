"""--order-by parsing and ordering (syncengine.ordering), as rclone's pipe reads it."""

from __future__ import annotations

import pytest

from syncengine.backends.base import Entry
from syncengine.errors import FatalError
from syncengine.ordering import OrderBy, parse_order_by

FILES = [Entry("b", 30, 3), Entry("a", 10, 2), Entry("c", 20, 1), Entry("d", 40, 4)]


@pytest.mark.parametrize(("text", "want"), [
    ("", None), ("size", OrderBy("size")), ("NAME,DESC", OrderBy("name", True)),
    ("modtime,asc", OrderBy("modtime")), ("size,descending", OrderBy("size", True)),
    ("size,mixed", OrderBy("size", False, 50)), ("size,mixed,25", OrderBy("size", False, 25)),
])
def test_parse(text: str, want: OrderBy | None) -> None:
    assert parse_order_by(text) == want


@pytest.mark.parametrize(("text", "message"), [
    ("foo", 'unknown --order-by comparison "foo"'),
    ("size,up", 'unknown --order-by sort direction "up"'),
    ("size,mixed,x", 'bad mixed fraction --order-by "x"'),
    ("size,asc,3", 'bad --order-by string "size,asc,3"'),
    ("size,mixed,5,1", 'bad --order-by string "size,mixed,5,1"'),
])
def test_parse_errors_are_fatal_with_rclones_message(text: str, message: str) -> None:
    with pytest.raises(FatalError, match="^" + message.replace("(", r"\(") + "$") as err:
        parse_order_by(text)
    assert err.value.exit_code == 7


@pytest.mark.parametrize(("text", "want"), [
    ("size", "acbd"), ("size,desc", "dbca"), ("name", "abcd"), ("name,desc", "dcba"),
    ("modtime", "cabd"), ("size,mixed", "adcb"), ("size,mixed,0", "dbca"),
])
def test_arrange(text: str, want: str) -> None:
    order = parse_order_by(text)
    assert order is not None
    got = order.arrange(FILES, lambda e: e, workers=2)
    assert "".join(e.path for e in got) == want
