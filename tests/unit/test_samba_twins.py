"""The differential harness's tolerance for Samba's mangle cache (``samba_mangle_twins``):
only a renamed file whose two names differ as a mangled 8.3 name and its real name."""

from __future__ import annotations

from tests.differential.sync_harness import Node, samba_mangle_twins

F = Node("f", 5, "abc", 7)
START = {"X/A/mAILsTORE.fdb ": F, "X/A/plain.txt": F, "X": Node("d", 0, "", 1)}


def test_a_renamed_mangled_name_and_its_real_name_are_twins() -> None:
    a = {"X/A/MB8UX8~V.bak": F, "X/A/plain.txt": F}
    b = {"X/A/mAILsTORE.fdb .bak": F, "X/A/plain.txt": F}
    assert samba_mangle_twins(a, b, START) == {"X/A/MB8UX8~V.bak", "X/A/mAILsTORE.fdb .bak"}
    assert samba_mangle_twins(b, a, START) == {"X/A/MB8UX8~V.bak", "X/A/mAILsTORE.fdb .bak"}
    # a suffix that reads as an 8.3 extension
    assert samba_mangle_twins({"X/A/MB8UX8~V.BAK": F}, {"X/A/mAILsTORE.fdb .BAK": F},
                              START) == {"X/A/MB8UX8~V.BAK", "X/A/mAILsTORE.fdb .BAK"}


def test_other_differences_stay_differences() -> None:
    other = Node("f", 5, "abd", 7)
    assert samba_mangle_twins({"X/A/MB8UX8~V.bak": F}, {"X/A/mAILsTORE.fdb .bak": other},
                              START) == set()  # not the same content
    assert samba_mangle_twins({"X/B/MB8UX8~V.bak": F}, {"X/A/mAILsTORE.fdb .bak": F},
                              START) == set()  # not the same folder
    assert samba_mangle_twins({"X/A/MB8UX8~V.bak": F}, {"X/A/plain.txt.bak": F},
                              START) == set()  # plain.txt is never mangled
    assert samba_mangle_twins({"X/A/MB8UX8~V.bak": F}, {"X/A/mAILsTORE.fdb .old": F},
                              START) == set()  # not the same suffix
    assert samba_mangle_twins({"X/A/MB8UX8~V.bak": F}, {"X/A/mAILsTORE.fdb .bak": F},
                              {"X/A/plain.txt": F}) == set()  # no mangled name at the start
