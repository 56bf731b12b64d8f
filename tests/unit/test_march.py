"""The march's name rules that follow Go's strings package (rclone's case tests)."""

from __future__ import annotations

import pytest

from syncengine.march import go_equal_fold, go_lower


@pytest.mark.parametrize(("a", "b", "equal"), [
    ("ABC.dat", "abc.DAT", True),
    ("\u212a", "k", True),           # Kelvin sign folds to k
    ("\u017ftra\u00dfe", "STRA\u1e9eE", True),  # long s ~ S, sharp s ~ capital sharp s
    ("\u03c2", "\u03a3", True),      # final sigma ~ capital sigma
    ("stra\u00dfe", "STRASSE", False),  # no full folding (lengths differ)
    ("\u0131", "I", False),          # dotless i stays alone in Go
    ("\u0130", "i", False),          # so does the dotted capital I
    ("a", "b", False),
])
def test_go_equal_fold(a: str, b: str, equal: bool) -> None:
    assert go_equal_fold(a, b) is equal
    assert go_equal_fold(b, a) is equal


def test_go_lower_keeps_one_rune_per_rune() -> None:
    assert go_lower("\u0130STANBUL") == "istanbul"  # Python: 'i̇stanbul' (two runes)
    assert go_lower("\u212a") == "k"
