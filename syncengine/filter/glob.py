"""rclone's glob → RE2 regexp translation, and an RE2 → Python ``re`` translator for the result."""

# How this module is organised
# ----------------------------
# 1. ``glob_to_regexp`` reproduces rclone's fs/filter/glob.go ``globToRegexp``: it returns the
#    RE2 source exactly as ``rclone --dump filters`` prints it, with rclone's error messages.
# 2. ``re2_to_python`` parses that RE2 source the way Go's regexp/syntax parser does (Perl
#    flags: ``ClassNL | OneLine | PerlX | UnicodeGroups``), reporting Go's parse errors with
#    Go's wording, and emits an equivalent Python pattern that needs no global flags.
#    Every character class is expanded to explicit code point ranges, case folding is done
#    with Go's simple-case-folding orbits (never Python's IGNORECASE, which differs for
#    e.g. U+0130), ``\d \w \s \b`` are ASCII as in RE2, ``$`` becomes ``\Z`` and mid-pattern
#    flags such as ``(?i)`` apply until the end of the enclosing group, as in RE2.
#    Runs like ``*a*a*b`` are emitted with atomic groups (see _atomic_chunks) so that
#    Python's backtracking stays polynomial where RE2 is linear.
# 3. ``glob_to_dir_globs`` reproduces ``globToDirGlobs``.
#
# Known, documented gaps: ``\p{Script}`` classes (Greek, Latin, ...) are accepted by rclone
# but Python has no script data, so they raise ``RegexpUnsupportedError``; Unicode tables
# are Python's (``unicodedata.unidata_version``) rather than Go's; Go's limits on the size
# of a compiled program and on nesting depth are checked approximately; a regexp written
# by the user inside ``{{...}}`` can still backtrack badly in Python where RE2 would not.

from __future__ import annotations

import bisect
import contextlib
import functools
import itertools
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator

from ..errors import FilterError
from ..lazyre import LazyPattern
from ..units import go_quote

__all__ = [
    "GlobError",
    "RegexpError",
    "RegexpUnsupportedError",
    "glob_to_regexp",
    "compile_regexp_groups",
    "re2_to_python",
    "compile_glob",
    "compile_regexp",
    "glob_to_dir_globs",
    "split_dir_globs",
    "dir_globs_too_hard",
    "dir_globs_info_message",
    "go_quote",
]


class GlobError(FilterError):
    """A glob that rclone refuses; the message is rclone's, word for word."""


class RegexpError(FilterError):
    """An RE2 regexp that Go's ``regexp.Compile`` refuses (message as Go words it)."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")
        self.code = code
        self.expr = expr

    def __reduce__(self) -> tuple[type[RegexpError], tuple[str, str]]:
        return (type(self), (self.code, self.expr))  # the constructor takes code, expr


class RegexpUnsupportedError(RegexpError):
    """A valid RE2 regexp this module cannot translate (e.g. ``\\p{Greek}``)."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(code, expr)
        self.message = f"regexp not supported by pysync: {code}: `{expr}`"
        self.args = (self.message,)


# Go regexp/syntax error codes.
_ERR_INVALID_CHAR_RANGE = "invalid character class range"
_ERR_INVALID_ESCAPE = "invalid escape sequence"
_ERR_INVALID_NAMED_CAPTURE = "invalid named capture"
_ERR_INVALID_PERL_OP = "invalid or unsupported Perl syntax"
_ERR_INVALID_REPEAT_OP = "invalid nested repetition operator"
_ERR_INVALID_REPEAT_SIZE = "invalid repeat count"
_ERR_MISSING_BRACKET = "missing closing ]"
_ERR_MISSING_PAREN = "missing closing )"
_ERR_MISSING_REPEAT_ARGUMENT = "missing argument to repetition operator"
_ERR_TRAILING_BACKSLASH = "trailing backslash at end of expression"
_ERR_UNEXPECTED_PAREN = "unexpected )"
_ERR_NESTING_DEPTH = "expression nests too deeply"
_ERR_LARGE = "expression too large"


# --------------------------------------------------------------------------------------
# Go's %q
# --------------------------------------------------------------------------------------

# --------------------------------------------------------------------------------------
# Glob → RE2 (fs/filter/glob.go globToRegexp)
# --------------------------------------------------------------------------------------


def _build_regexp(glob: str, path_mode: bool, add_anchors: bool, ignore_case: bool
                  ) -> tuple[str, str]:
    """Return ``(re2_source, glob_as_named_in_messages)`` without compiling the regexp."""
    out: list[str] = []
    if ignore_case:
        out.append("(?i)")
    if add_anchors:
        if path_mode:
            if glob.startswith("/"):
                glob = glob[1:]  # rclone's messages name the glob without this slash
                out.append("^")
            else:
                out.append("(^|/)")
        else:
            out.append("^")

    def fail(what: str) -> GlobError:
        return GlobError(f"{what} in glob {go_quote(glob)}")

    stars = 0

    def flush_stars() -> None:
        nonlocal stars
        if stars:
            if stars == 1:
                out.append("[^/]*" if path_mode else ".*")
            elif stars == 2 and path_mode:
                out.append(".*")
            else:
                raise GlobError(f"too many stars in {go_quote(glob)}")
        stars = 0

    def replace_last_char(c: str) -> None:
        out[-1] = out[-1][:-1] + c

    brace_depth = 0
    in_brackets = 0
    escaped = False
    in_regexp = False  # between {{ and }}
    regexp_ending = False  # saw the closing }}: more } extend the regexp
    prev = ""  # the previous character of the glob, whatever it meant
    for c in glob:
        last, prev = prev, c
        if 0xDC80 <= ord(c) <= 0xDCFF:  # an undecodable byte: Go ranges over it as U+FFFD
            c = "\ufffd"
        if escaped:
            out.append(c)
            escaped = False
            continue
        if regexp_ending:
            if c == "}":
                replace_last_char("}")
                out.append(")")
                continue
            regexp_ending = False
        if in_regexp:
            if c == "}" and last == "}":
                in_regexp = False
                regexp_ending = True
                replace_last_char(")")
            else:
                out.append(c)
            continue
        if c != "*":
            flush_stars()
        if in_brackets:
            out.append(c)
            if c == "[":
                in_brackets += 1
            elif c == "]":
                in_brackets -= 1
            continue
        if c == "\\":
            out.append(c)
            escaped = True
        elif c == "*":
            stars += 1
        elif c == "?":
            out.append("[^/]" if path_mode else ".")
        elif c == "[":
            out.append(c)
            in_brackets += 1
        elif c == "]":
            raise GlobError(f"mismatched ']' in glob {go_quote(glob)}")
        elif c == "{":
            if brace_depth > 0 and last == "{":
                # "{{" opens a raw regexp: the "(" the first "{" wrote wraps it.
                in_regexp = True
                brace_depth -= 1
            else:
                brace_depth += 1
                out.append("(")
        elif c == "}":
            if brace_depth <= 0:
                raise fail("mismatched '{' and '}'")
            out.append(")")
            brace_depth -= 1
        elif c == ",":
            out.append("|" if brace_depth > 0 else ",")
        elif c in ".+()|^$":
            out.append("\\" + c)
        else:
            out.append(c)
    flush_stars()
    if in_brackets:
        raise fail("mismatched '[' and ']'")
    if brace_depth:
        raise fail("mismatched '{' and '}'")
    if in_regexp:
        raise fail("mismatched '{{' and '}}'")
    if add_anchors:
        out.append("$")
    return "".join(out), glob


def _translate_glob(glob: str, path_mode: bool, add_anchors: bool, ignore_case: bool
                    ) -> tuple[str, str]:
    """Return ``(re2_source, python_pattern)`` or raise rclone's error."""
    regexp, named = _build_regexp(glob, path_mode, add_anchors, ignore_case)
    try:
        python = re2_to_python(regexp)
    except RegexpError as err:
        raise GlobError(f"bad glob pattern {go_quote(named)} (regexp {go_quote(regexp)}): "
                        f"{err}") from err
    return regexp, python


def glob_to_regexp(glob: str, *, ignore_case: bool = False, path_mode: bool = True,
                   add_anchors: bool = True) -> str:
    """Translate an rclone glob to the RE2 regexp source rclone builds for it.

    ``path_mode`` (rclone's ``GlobPathToRegexp``, used by every filter rule): a leading
    ``/`` anchors at the root, otherwise the glob matches after any ``/``; ``*`` is
    ``[^/]*``, ``**`` is ``.*``, ``?`` is ``[^/]``.  With ``path_mode=False``
    (``GlobStringToRegexp``) ``*`` is ``.*``, ``?`` is ``.`` and ``**`` is an error;
    ``add_anchors=False`` then leaves out ``^``/``$``.  ``ignore_case`` prefixes ``(?i)``.

    The regexp is validated as Go's ``regexp.Compile`` would; every failure raises
    :class:`GlobError` (a ``FilterError``) carrying rclone's exact message.
    """
    return _translate_glob(glob, path_mode, add_anchors, ignore_case)[0]


@contextlib.contextmanager
def _deep_recursion() -> Iterator[None]:
    """Allow the recursion Go's nesting limit (height 1000) needs in emission and sre."""
    old = sys.getrecursionlimit()
    if old < _RECURSION_LIMIT:
        sys.setrecursionlimit(_RECURSION_LIMIT)
    try:
        yield
    finally:
        if old < _RECURSION_LIMIT:
            sys.setrecursionlimit(old)


def _py_compile(python: str, regexp: str) -> re.Pattern[str]:
    """``re.compile`` a translated pattern; Python-only failures become RegexpError."""
    try:
        with _deep_recursion():
            return re.compile(python)
    except RecursionError as err:  # nesting Go accepts (height <= 1000) but sre cannot
        raise RegexpUnsupportedError("nesting too deep for Python", regexp) from err
    except re.error as err:  # pragma: no cover - would be a translator bug
        raise RegexpUnsupportedError(f"Python re refused {python!r}: {err}", regexp) from err


@functools.lru_cache(maxsize=4096)
def _compile_cached(glob: str, ignore_case: bool, path_mode: bool
                    ) -> tuple[str, re.Pattern[str]]:
    regexp, python = _translate_glob(glob, path_mode, True, ignore_case)
    try:
        return regexp, _py_compile(python, regexp)
    except RegexpError as err:
        _, named = _build_regexp(glob, path_mode, True, ignore_case)
        raise GlobError(f"bad glob pattern {go_quote(named)} (regexp {go_quote(regexp)}): "
                        f"{err}") from err


def compile_glob(glob: str, *, ignore_case: bool = False, path_mode: bool = True
                 ) -> tuple[str, re.Pattern[str]]:
    """Compile an rclone filter glob.

    Returns ``(re2_source, pattern)``: the regexp as ``rclone --dump filters`` shows it and
    a compiled Python pattern with the same matches.  Test a path with
    ``pattern.search("dir/file.txt")`` (directories as ``"dir/sub/"``).  Raises
    :class:`GlobError` (a ``FilterError``) with rclone's message for a bad glob.
    """
    return _compile_cached(glob, ignore_case, path_mode)


@functools.lru_cache(maxsize=1024)
def compile_regexp(regexp: str) -> re.Pattern[str]:
    """Compile RE2 source (e.g. an rclone ``--*-regex`` style value) to a Python pattern.

    Raises :class:`RegexpError` with Go's message when Go would refuse the regexp.
    """
    return _py_compile(re2_to_python(regexp), regexp)


# --------------------------------------------------------------------------------------
# Directory globs (fs/filter/glob.go globToDirGlobs)
# --------------------------------------------------------------------------------------

# Braces holding "/" or "**", any "{{" or "}}" (regexps), nested braces.
_TOO_HARD = LazyPattern(r"({[^{}]*(\*\*|/)[^{}]*})|\{\{|\}\}|\{[^{}]*\{")
_SLASHES = LazyPattern(r"/{2,}")


@functools.lru_cache(maxsize=64)
def compile_regexp_groups(regexp: str) -> re.Pattern[str]:
    """As :func:`compile_regexp`, keeping the capturing groups (for ``$1`` replacements)."""
    return _py_compile(re2_to_python(regexp, captures=True), regexp)


def dir_globs_too_hard(glob: str) -> bool:
    """True when rclone cannot derive directory globs from ``glob`` and scans everything.

    For these globs :func:`glob_to_dir_globs` returns ``["/**"]`` and rclone logs
    :func:`dir_globs_info_message` at INFO level.
    """
    return _TOO_HARD.search(glob) is not None


def dir_globs_info_message(glob: str) -> str:
    """The INFO message rclone logs for a glob :func:`dir_globs_too_hard` rejects."""
    return (f"Can't figure out directory filters from {go_quote(glob)}: "
            "looking in all directories")


def split_dir_globs(glob: str) -> tuple[list[str], bool]:
    """Return ``(glob_to_dir_globs(glob), dir_globs_too_hard(glob))``."""
    if dir_globs_too_hard(glob):
        return ["/**"], True
    glob = _SLASHES.sub("/", glob)
    out: list[str] = []
    while True:
        slash = glob.rfind("/")
        stars = glob.rfind("**")
        cut, what = (stars, "**") if stars > slash else (slash, "")
        if cut < 0:
            if not out:
                out.append("/**")
            return out, False
        glob = glob[:cut]
        dir_glob = glob + what + "/"
        if not out or out[-1] != dir_glob:
            out.append(dir_glob)


def glob_to_dir_globs(glob: str) -> list[str]:
    """Directory globs for a file glob, as rclone's ``globToDirGlobs``.

    Each returned glob, matched against a directory path with a trailing ``/``, says
    whether ``glob`` could match something inside that directory.  ``"/"`` (the root) is
    returned like rclone does; rclone's caller skips it.  A glob too hard to analyse
    (see :func:`dir_globs_too_hard`) gives ``["/**"]``.
    """
    return split_dir_globs(glob)[0]


# --------------------------------------------------------------------------------------
# Character class helpers: classes are lists of inclusive (lo, hi) code point ranges
# --------------------------------------------------------------------------------------

_MAX_RUNE = 0x10FFFF
_MIN_FOLD = 0x0041
_MAX_FOLD = 0x1E943

Ranges = list[tuple[int, int]]


def _clean(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sort and merge overlapping or abutting ranges."""
    out: Ranges = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _negate(ranges: Ranges) -> Ranges:
    """Complement of a clean class within [0, U+10FFFF]."""
    out: Ranges = []
    nxt = 0
    for lo, hi in ranges:
        if nxt <= lo - 1:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= _MAX_RUNE:
        out.append((nxt, _MAX_RUNE))
    return out


def _r(spec: str) -> Ranges:
    """Parse a compact ASCII range spec like ``"0-9A-Z_"``."""
    out: Ranges = []
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            out.append((ord(spec[i]), ord(spec[i + 2])))
            i += 3
        else:
            out.append((ord(spec[i]), ord(spec[i])))
            i += 1
    return _clean(out)


_PERL_GROUPS: dict[str, Ranges] = {
    "d": _r("0-9"),
    "s": _r("\t\n\f\r "),
    "w": _r("0-9A-Za-z_"),
}

_POSIX_GROUPS: dict[str, Ranges] = {
    "alnum": _r("0-9A-Za-z"),
    "alpha": _r("A-Za-z"),
    "ascii": [(0, 0x7F)],
    "blank": _r("\t "),
    "cntrl": [(0, 0x1F), (0x7F, 0x7F)],
    "digit": _r("0-9"),
    "graph": _r("!-~"),
    "lower": _r("a-z"),
    "print": _r(" -~"),
    "punct": _r("!-/:-@[-`{-~"),
    "space": _r("\t\n\v\f\r "),
    "upper": _r("A-Z"),
    "word": _r("0-9A-Za-z_"),
    "xdigit": _r("0-9A-Fa-f"),
}


# ---- case folding (Go's unicode.SimpleFold orbits) -----------------------------------

def _ascii_orbit(cp: int) -> tuple[int, ...]:
    c = chr(cp)
    if not c.isalpha():
        return (cp,)
    orbit = {ord(c.lower()), ord(c.upper())}
    if c in "kK":
        orbit.add(0x212A)  # KELVIN SIGN
    elif c in "sS":
        orbit.add(0x017F)  # LATIN SMALL LETTER LONG S
    return tuple(sorted(orbit))


_ASCII_ORBITS = {cp: _ascii_orbit(cp) for cp in range(0x80)}


@functools.lru_cache(maxsize=1)
def _fold_tables() -> tuple[list[int], dict[int, tuple[int, ...]]]:
    """All code points with a non-trivial fold orbit (sorted) and their orbits.

    Orbits group code points with the same simple case folding (CaseFolding.txt status
    C+S): ``str.casefold`` when it gives one character, else the one-character
    lowercase (the S mapping, e.g. U+1E9E → U+00DF), else the character itself.
    """
    chars = list(map(chr, range(_MIN_FOLD, _MAX_FOLD + 1)))
    key_of: dict[str, str] = {}
    for ch, folded, lower in zip(chars, map(str.casefold, chars), map(str.lower, chars),
                                 strict=True):
        if folded == ch:
            continue
        key = folded if len(folded) == 1 else lower if len(lower) == 1 else ch
        if key != ch:
            key_of[ch] = key
    groups: dict[str, set[int]] = {}
    for ch, key in key_of.items():
        while key in key_of and key_of[key] != key:  # follow chains to the fixed point
            key = key_of[key]
        groups.setdefault(key, {ord(key)}).add(ord(ch))
    orbits: dict[int, tuple[int, ...]] = {}
    for members in groups.values():
        orbit = tuple(sorted(members))
        for cp in orbit:
            orbits[cp] = orbit
    return sorted(orbits), orbits


def _orbit(cp: int) -> tuple[int, ...]:
    """The code points equal to ``cp`` under simple case folding (``cp`` included)."""
    if cp < 0x80:
        return _ASCII_ORBITS[cp]
    if cp > _MAX_FOLD:
        return (cp,)
    return _fold_tables()[1].get(cp, (cp,))


def _fold(ranges: Ranges) -> Ranges:
    """Close a class under simple case folding, as Go's appendFoldedRange does."""
    out: Ranges = list(ranges)
    for lo, hi in ranges:
        if (lo <= _MIN_FOLD and hi >= _MAX_FOLD) or hi < _MIN_FOLD or lo > _MAX_FOLD:
            continue
        lo, hi = max(lo, _MIN_FOLD), min(hi, _MAX_FOLD)
        if hi < 0x80:
            for cp in range(lo, hi + 1):
                out.extend((o, o) for o in _ASCII_ORBITS[cp])
            continue
        foldable, orbits = _fold_tables()
        for k in range(bisect.bisect_left(foldable, lo), len(foldable)):
            cp = foldable[k]
            if cp > hi:
                break
            out.extend((o, o) for o in orbits[cp])
    return _clean(out)


# ---- Unicode general categories --------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _category_ranges() -> dict[str, Ranges]:
    """Ranges of every two-letter general category, from Python's unicodedata."""
    table: dict[str, Ranges] = {}
    start = 0
    categories = map(unicodedata.category, map(chr, range(_MAX_RUNE + 1)))
    for cat, run in itertools.groupby(categories):
        length = len(list(run))
        table.setdefault(cat, []).append((start, start + length - 1))
        start += length
    return table


@functools.lru_cache(maxsize=64)
def _category(name: str) -> Ranges:
    """Ranges of a Go ``unicode.Categories`` entry (one or two letters, or ``LC``)."""
    table = _category_ranges()
    if name == "LC":
        parts: list[tuple[int, int]] = []
        for sub in ("Lu", "Ll", "Lt"):
            parts.extend(table.get(sub, []))
        return _clean(parts)
    if len(name) == 1:
        parts = []
        for cat, ranges in table.items():
            if cat[0] == name:
                parts.extend(ranges)
        return _clean(parts)
    return list(table.get(name, []))


_CATEGORIES = frozenset(
    "C Cc Cf Cn Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps "
    "S Sc Sk Sm So Z Zl Zp Zs".split())

# unicode.CategoryAliases (PropertyValueAliases.txt), keyed by Go's canonicalName.
_CATEGORY_ALIASES = {
    "Casedletter": "LC", "Closepunctuation": "Pe", "Combiningmark": "M",
    "Connectorpunctuation": "Pc", "Control": "Cc", "Cntrl": "Cc", "Currencysymbol": "Sc",
    "Dashpunctuation": "Pd", "Decimalnumber": "Nd", "Digit": "Nd", "Enclosingmark": "Me",
    "Finalpunctuation": "Pf", "Format": "Cf", "Initialpunctuation": "Pi", "Letter": "L",
    "Letternumber": "Nl", "Lineseparator": "Zl", "Lowercaseletter": "Ll", "Mark": "M",
    "Mathsymbol": "Sm", "Modifierletter": "Lm", "Modifiersymbol": "Sk",
    "Nonspacingmark": "Mn", "Number": "N", "Openpunctuation": "Ps", "Other": "C",
    "Otherletter": "Lo", "Othernumber": "No", "Otherpunctuation": "Po",
    "Othersymbol": "So", "Paragraphseparator": "Zp", "Privateuse": "Co",
    "Punctuation": "P", "Punct": "P", "Separator": "Z", "Spaceseparator": "Zs",
    "Spacingmark": "Mc", "Surrogate": "Cs", "Symbol": "S", "Titlecaseletter": "Lt",
    "Unassigned": "Cn", "Uppercaseletter": "Lu",
}

# Go unicode.Scripts keys that canonicalName leaves unchanged (the only ones RE2 in
# rclone can reach).  Python has no script data, so these are refused as unsupported.
_SCRIPTS = frozenset("""
Adlam Ahom Arabic Armenian Avestan Balinese Bamum Batak Bengali Bhaiksuki Bopomofo
Brahmi Braille Buginese Buhid Carian Chakma Cham Cherokee Chorasmian Common Coptic
Cuneiform Cypriot Cyrillic Deseret Devanagari Dogra Duployan Elbasan Elymaic Ethiopic
Garay Georgian Glagolitic Gothic Grantha Greek Gujarati Gurmukhi Han Hangul Hanunoo
Hatran Hebrew Hiragana Inherited Javanese Kaithi Kannada Katakana Kawi Kharoshthi Khmer
Khojki Khudawadi Lao Latin Lepcha Limbu Lisu Lycian Lydian Mahajani Makasar Malayalam
Mandaic Manichaean Marchen Medefaidrin Miao Modi Mongolian Mro Multani Myanmar Nabataean
Nandinagari Newa Nko Nushu Ogham Oriya Osage Osmanya Palmyrene Phoenician Rejang Runic
Samaritan Saurashtra Sharada Shavian Siddham Sinhala Sogdian Soyombo Sundanese Sunuwar
Syriac Tagalog Tagbanwa Takri Tamil Tangsa Tangut Telugu Thaana Thai Tibetan Tifinagh
Tirhuta Todhri Toto Ugaritic Vai Vithkuqi Wancho Yezidi Yi
""".split())


def _canonical_name(name: str) -> str:
    """Go regexp/syntax canonicalName: ``Xxxx`` with ``_``, ``-`` and spaces dropped."""
    out: list[str] = []
    first = True
    for c in name:
        if c in "_- ":
            continue
        if first:
            out.append(c.upper() if "a" <= c <= "z" else c)
            first = False
        else:
            out.append(c.lower() if "A" <= c <= "Z" else c)
    return "".join(out)


# unicode.FoldCategory keys: the only categories Go widens under (?i).
_FOLD_CATEGORIES = frozenset(("L", "Ll", "Lt", "Lu", "M", "Mn"))


def _unicode_table(name: str, seq: str) -> tuple[Ranges, int, bool] | None:
    """Ranges, sign and "widen under (?i)" for ``\\p{name}``; None for unknown names."""
    name = _canonical_name(name)
    if name == "Any":
        return [(0, _MAX_RUNE)], 1, True
    if name == "Assigned":
        return _category("Cn"), -1, True
    if name == "Ascii":
        return [(0, 0x7F)], 1, True
    if name == "Lc":
        return _category("LC"), 1, False  # Go has no FoldCategory["LC"]: U+0345 stays out
    if name in _CATEGORIES:
        return _category(name), 1, name in _FOLD_CATEGORIES
    if name in _SCRIPTS:
        raise RegexpUnsupportedError("Unicode script classes have no Python data", seq)
    if name in _CATEGORY_ALIASES:
        actual = _CATEGORY_ALIASES[name]
        return _category(actual), 1, actual in _FOLD_CATEGORIES
    return None


# --------------------------------------------------------------------------------------
# RE2 parse tree
# --------------------------------------------------------------------------------------

(_LIT, _CLASS, _ANY_NOT_NL, _ANY, _BOL, _EOL, _BOT, _EOT, _WORDB, _NOWORDB, _CAPTURE,
 _STAR, _PLUS, _QUEST, _REPEAT, _CONCAT, _ALT, _EMPTY) = range(18)
_LPAREN, _VBAR = 100, 101  # parse-stack markers; everything >= _LPAREN is one

# parser flags
_FOLD, _DOTNL, _ONELINE, _NONGREEDY = 1, 2, 4, 8

_MAX_REPEAT = 1000
_RECURSION_LIMIT = 12_000  # ~4 Python frames per nesting level, for Go's 1000 levels
_MAX_HEIGHT = 1000
_MAX_SIZE = (128 << 20) // 40


class _Node:
    __slots__ = ("op", "cp", "fold", "ranges", "subs", "min", "max", "greedy", "flags",
                 "cap", "name")

    def __init__(self, op: int, *, cp: int = 0, fold: bool = False,
                 ranges: Ranges | None = None, subs: list[_Node] | None = None,
                 lo: int = 0, hi: int = 0, greedy: bool = True, flags: int = 0,
                 cap: bool = False) -> None:
        self.op = op
        self.cp = cp
        self.fold = fold
        self.ranges = ranges
        self.subs = subs if subs is not None else []
        self.min = lo
        self.max = hi
        self.greedy = greedy
        self.flags = flags
        self.cap = cap
        self.name = ""  # a named capture's name


def _repeat_is_valid(node: _Node, n: int) -> bool:
    """Go repeatIsValid: nested counted repeats may not exceed ``n`` copies."""
    todo = [(node, n)]
    while todo:  # iterative: the tree may be deeper than Python's recursion limit
        node, n = todo.pop()
        if node.op == _REPEAT:
            m = node.max
            if m == 0:
                continue
            if m < 0:
                m = node.min
            if m > n:
                return False
            if m > 0:
                n //= m
        todo.extend((sub, n) for sub in node.subs)
    return True


def _hoist(subs: list[_Node], op: int) -> list[_Node]:
    """Go's collapse: never a concat directly inside a concat, nor an alternation in one."""
    out: list[_Node] = []
    for sub in subs:
        if sub.op == op:
            out.extend(sub.subs)
        else:
            out.append(sub)
    return out


_CHAR_CLASS_LIKE = frozenset((_LIT, _CLASS, _ANY, _ANY_NOT_NL))


def _is_alnum(c: str) -> bool:
    return "0" <= c <= "9" or "A" <= c <= "Z" or "a" <= c <= "z"


def _unhex(c: str) -> int:
    if "0" <= c <= "9":
        return ord(c) - 48
    if "a" <= c <= "f":
        return ord(c) - 87
    if "A" <= c <= "F":
        return ord(c) - 55
    return -1


class _Parser:
    """A parser for Go's RE2 syntax with ``syntax.Perl`` flags, building a _Node tree."""

    def __init__(self, s: str) -> None:
        self.s = s
        self.flags = _ONELINE
        self.stack: list[_Node] = []

    # ---- stack -------------------------------------------------------------------------
    def push(self, node: _Node) -> None:
        self.stack.append(node)

    def literal(self, cp: int) -> None:
        self.push(_Node(_LIT, cp=cp, fold=bool(self.flags & _FOLD)))

    def concat(self) -> None:
        k = len(self.stack)
        while k > 0 and self.stack[k - 1].op < _LPAREN:
            k -= 1
        subs = self.stack[k:]
        del self.stack[k:]
        if not subs:
            self.push(_Node(_EMPTY))
        elif len(subs) == 1:
            self.push(subs[0])
        else:
            self.push(_Node(_CONCAT, subs=_hoist(subs, _CONCAT)))

    def vertical_bar(self) -> None:
        self.concat()
        top = self.stack.pop()
        if self.stack and self.stack[-1].op == _VBAR:
            self.stack[-1].subs.append(top)
        else:
            self.push(_Node(_VBAR, subs=[top]))

    def alternate(self) -> None:
        self.concat()
        if len(self.stack) >= 2 and self.stack[-2].op == _VBAR:
            top = self.stack.pop()
            bar = self.stack.pop()
            bar.subs.append(top)
            self.push(_Node(_ALT, subs=_hoist(bar.subs, _ALT)))

    def right_paren(self) -> None:
        self.alternate()
        if len(self.stack) < 2 or self.stack[-2].op != _LPAREN:
            raise RegexpError(_ERR_UNEXPECTED_PAREN, self.s)
        top = self.stack.pop()
        paren = self.stack.pop()
        self.flags = paren.flags
        if paren.cap:
            node = _Node(_CAPTURE, subs=[top])
            node.name = paren.name
            top = node
        self.push(top)

    # ---- main loop ---------------------------------------------------------------------
    def parse(self) -> _Node:
        s, n = self.s, len(self.s)
        i = 0
        last_repeat = -1
        while i < n:
            repeat_at = -1
            c = s[i]
            if c == "(":
                if i + 1 < n and s[i + 1] == "?":
                    i = self.perl_flags(i)
                else:
                    self.push(_Node(_LPAREN, flags=self.flags, cap=True))
                    i += 1
            elif c == "|":
                self.vertical_bar()
                i += 1
            elif c == ")":
                self.right_paren()
                i += 1
            elif c == "^":
                self.push(_Node(_BOT if self.flags & _ONELINE else _BOL))
                i += 1
            elif c == "$":
                self.push(_Node(_EOT if self.flags & _ONELINE else _EOL))
                i += 1
            elif c == ".":
                self.push(_Node(_ANY if self.flags & _DOTNL else _ANY_NOT_NL))
                i += 1
            elif c == "[":
                i = self.parse_class(i)
            elif c in "*+?":
                op = _STAR if c == "*" else _PLUS if c == "+" else _QUEST
                repeat_at = i
                i = self.repeat(op, 0, 0, i, i + 1, last_repeat)
            elif c == "{":
                parsed = self.parse_repeat(i)
                if parsed is None:
                    self.literal(ord("{"))  # not a valid repeat: a literal brace
                    i += 1
                else:
                    lo, hi, after = parsed
                    if lo < 0 or lo > _MAX_REPEAT or hi > _MAX_REPEAT or 0 <= hi < lo:
                        raise RegexpError(_ERR_INVALID_REPEAT_SIZE, s[i:after])
                    repeat_at = i
                    i = self.repeat(_REPEAT, lo, hi, i, after, last_repeat)
            elif c == "\\":
                i = self.backslash(i)
            else:
                self.literal(ord(c))
                i += 1
            last_repeat = repeat_at
        self.alternate()
        if len(self.stack) != 1:
            raise RegexpError(_ERR_MISSING_PAREN, s)
        return self.stack[0]

    def repeat(self, op: int, lo: int, hi: int, before: int, after: int,
               last_repeat: int) -> int:
        s = self.s
        flags = self.flags
        if after < len(s) and s[after] == "?":
            after += 1
            flags ^= _NONGREEDY
        if last_repeat >= 0:
            raise RegexpError(_ERR_INVALID_REPEAT_OP, s[last_repeat:after])
        if not self.stack or self.stack[-1].op >= _LPAREN:
            raise RegexpError(_ERR_MISSING_REPEAT_ARGUMENT, s[before:after])
        node = _Node(op, subs=[self.stack[-1]], lo=lo, hi=hi,
                     greedy=not flags & _NONGREEDY)
        self.stack[-1] = node
        if op == _REPEAT and (lo >= 2 or hi >= 2) and not _repeat_is_valid(node, _MAX_REPEAT):
            raise RegexpError(_ERR_INVALID_REPEAT_SIZE, s[before:after])
        return after

    def parse_int(self, j: int) -> tuple[int, int] | None:
        s, n = self.s, len(self.s)
        if j >= n or not "0" <= s[j] <= "9":
            return None
        if j + 1 < n and s[j] == "0" and "0" <= s[j + 1] <= "9":
            return None  # no leading zeros
        value = 0
        while j < n and "0" <= s[j] <= "9":
            if value >= 0:
                value = -1 if value >= 100_000_000 else value * 10 + ord(s[j]) - 48
            j += 1
        return value, j

    def parse_repeat(self, i: int) -> tuple[int, int, int] | None:
        """Parse ``{n}``, ``{n,}`` or ``{n,m}`` at ``i``: (min, max or -1, index after)."""
        s, n = self.s, len(self.s)
        got = self.parse_int(i + 1)
        if got is None:
            return None
        lo, j = got
        if j >= n:
            return None
        if s[j] != ",":
            hi = lo
        else:
            j += 1
            if j >= n:
                return None
            if s[j] == "}":
                hi = -1
            else:
                got = self.parse_int(j)
                if got is None:
                    return None
                hi, j = got
                if hi < 0:
                    lo = -1
        if j >= n or s[j] != "}":
            return None
        return lo, hi, j + 1

    def perl_flags(self, i: int) -> int:
        s, n = self.s, len(self.s)
        with_p = n - i > 4 and s[i + 2] == "P" and s[i + 3] == "<"
        with_name = n - i > 3 and s[i + 2] == "<"
        if with_p or with_name:
            end = s.find(">", i)
            if end < 0:
                raise RegexpError(_ERR_INVALID_NAMED_CAPTURE, s[i:])
            name = s[i + (4 if with_p else 3):end]
            if not name or not all(c == "_" or _is_alnum(c) for c in name):
                raise RegexpError(_ERR_INVALID_NAMED_CAPTURE, s[i:end + 1])
            paren = _Node(_LPAREN, flags=self.flags, cap=True)
            paren.name = name
            self.push(paren)
            return end + 1
        flags = self.flags
        negated = False
        saw_flag = False
        j = i + 2
        while j < n:
            c = s[j]
            j += 1
            bit = {"i": _FOLD, "s": _DOTNL, "U": _NONGREEDY, "m": _ONELINE}.get(c)
            if bit is not None:
                # (?m) clears OneLine; every other flag sets its bit. "-" inverts.
                if (c == "m") != negated:
                    flags &= ~bit
                else:
                    flags |= bit
                saw_flag = True
            elif c == "-":
                if negated:
                    break
                negated = True
                saw_flag = False
            elif c in ":)":
                if negated and not saw_flag:
                    break
                if c == ":":
                    self.push(_Node(_LPAREN, flags=self.flags, cap=False))
                self.flags = flags
                return j
            else:
                break
        raise RegexpError(_ERR_INVALID_PERL_OP, s[i:j])

    def backslash(self, i: int) -> int:
        s, n = self.s, len(self.s)
        if i + 1 < n:
            c = s[i + 1]
            simple = {"A": _BOT, "b": _WORDB, "B": _NOWORDB, "z": _EOT}.get(c)
            if simple is not None:
                self.push(_Node(simple))
                return i + 2
            if c == "C":
                raise RegexpError(_ERR_INVALID_ESCAPE, s[i:i + 2])
            if c == "Q":
                end = s.find("\\E", i + 2)
                text = s[i + 2:] if end < 0 else s[i + 2:end]
                for ch in text:
                    self.literal(ord(ch))
                return n if end < 0 else end + 2
            if c in "pP":
                ranges, j = self.unicode_class(i)
                self.push(_Node(_CLASS, ranges=ranges))
                return j
            if c in "dDsSwW":
                self.push(_Node(_CLASS, ranges=self.group(_PERL_GROUPS[c.lower()],
                                                          c.isupper())))
                return i + 2
        cp, j = self.escape(i)
        self.literal(cp)
        return j

    def group(self, ranges: Ranges, negated: bool) -> Ranges:
        """A Perl or POSIX group, folded under (?i) before any negation (Go appendGroup)."""
        if self.flags & _FOLD:
            ranges = _fold(ranges)
        return _negate(ranges) if negated else ranges

    def escape(self, i: int) -> tuple[int, int]:
        """Parse a single-character escape at ``i`` (the backslash): (code point, next)."""
        s, n = self.s, len(self.s)
        j = i + 1
        if j >= n:
            raise RegexpError(_ERR_TRAILING_BACKSLASH, "")
        c = s[j]
        j += 1
        if ord(c) < 0x80 and not _is_alnum(c):
            return ord(c), j  # \_ \. \/ ... are the character itself
        octal = "01234567"
        if c in octal and (c == "0" or (j < n and s[j] in octal)):
            value = ord(c) - 48
            for _ in range(2):
                if j < n and s[j] in octal:
                    value = value * 8 + ord(s[j]) - 48
                    j += 1
                else:
                    break
            return value, j
        if c == "x" and j < n:
            c = s[j]
            j += 1
            if c == "{":
                digits = 0
                value = 0
                while True:
                    if j >= n:
                        raise RegexpError(_ERR_INVALID_ESCAPE, s[i:j])
                    c = s[j]
                    j += 1
                    if c == "}":
                        break
                    v = _unhex(c)
                    if v < 0:
                        raise RegexpError(_ERR_INVALID_ESCAPE, s[i:j])
                    value = value * 16 + v
                    if value > _MAX_RUNE:
                        raise RegexpError(_ERR_INVALID_ESCAPE, s[i:j])
                    digits += 1
                if digits == 0:
                    raise RegexpError(_ERR_INVALID_ESCAPE, s[i:j])
                return value, j
            x = _unhex(c)
            y = -1
            if j < n:
                y = _unhex(s[j])
                j += 1
            if x < 0 or y < 0:
                raise RegexpError(_ERR_INVALID_ESCAPE, s[i:j])
            return x * 16 + y, j
        control = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}.get(c)
        if control is not None:
            return control, j
        raise RegexpError(_ERR_INVALID_ESCAPE, s[i:j])

    def unicode_class(self, i: int) -> tuple[Ranges, int]:
        """Parse ``\\pX``, ``\\p{Name}``, ``\\PX``, ``\\P{^Name}`` at ``i``."""
        s, n = self.s, len(self.s)
        sign = -1 if s[i + 1] == "P" else 1
        j = i + 2
        if j >= n:
            seq, name = s[i:], ""
        elif s[j] != "{":
            j += 1
            seq, name = s[i:j], s[j - 1]
        else:
            end = s.find("}", i)
            if end < 0:
                raise RegexpError(_ERR_INVALID_CHAR_RANGE, s[i:])
            seq, name, j = s[i:end + 1], s[i + 3:end], end + 1
        if name.startswith("^"):
            sign = -sign
            name = name[1:]
        table = _unicode_table(name, seq)
        if table is None:
            raise RegexpError(_ERR_INVALID_CHAR_RANGE, seq)
        ranges, table_sign, foldable = table
        if self.flags & _FOLD and foldable:
            ranges = _fold(ranges)
        if sign * table_sign < 0:
            ranges = _negate(ranges)
        return ranges, j

    def class_char(self, j: int, start: int) -> tuple[int, int]:
        s = self.s
        if j >= len(s):
            raise RegexpError(_ERR_MISSING_BRACKET, s[start:])
        if s[j] == "\\":
            return self.escape(j)
        return ord(s[j]), j + 1

    def parse_class(self, i: int) -> int:
        """Parse a bracket expression starting at ``i``; push it; return the next index."""
        s, n = self.s, len(self.s)
        fold = bool(self.flags & _FOLD)
        j = i + 1
        negated = j < n and s[j] == "^"
        if negated:
            j += 1
        parts: Ranges = []
        first = True
        while j >= n or s[j] != "]" or first:
            first = False
            if n - j > 2 and s[j] == "[" and s[j + 1] == ":":
                end = s.find(":]", j + 2)
                if end >= 0:
                    name = s[j:end + 2]
                    inner = name[2:-2]
                    neg = inner.startswith("^")
                    group = _POSIX_GROUPS.get(inner[1:] if neg else inner)
                    if group is None:
                        raise RegexpError(_ERR_INVALID_CHAR_RANGE, name)
                    parts.extend(self.group(group, neg))
                    j = end + 2
                    continue
            if n - j >= 2 and s[j] == "\\" and s[j + 1] in "pP":
                ranges, j = self.unicode_class(j)
                parts.extend(ranges)
                continue
            if n - j >= 2 and s[j] == "\\" and s[j + 1] in "dDsSwW":
                c = s[j + 1]
                parts.extend(self.group(_PERL_GROUPS[c.lower()], c.isupper()))
                j += 2
                continue
            start = j
            lo, j = self.class_char(j, i)
            hi = lo
            if n - j >= 2 and s[j] == "-" and s[j + 1] != "]":
                hi, j = self.class_char(j + 1, i)
                if hi < lo:
                    raise RegexpError(_ERR_INVALID_CHAR_RANGE, s[start:j])
            parts.extend(_fold([(lo, hi)]) if fold else [(lo, hi)])
        ranges = _clean(parts)
        if negated:
            ranges = _negate(ranges)
        self.push(_Node(_CLASS, ranges=ranges))
        return j + 1


# --------------------------------------------------------------------------------------
# Limits Go enforces on the parsed tree (checked approximately on the final tree)
# --------------------------------------------------------------------------------------

def _check_limits(root: _Node, whole: str) -> None:
    count = 0
    height_of: dict[int, int] = {}
    size_of: dict[int, int] = {}
    order: list[_Node] = []
    todo = [root]
    while todo:  # iterative post-order without recursion
        node = todo.pop()
        order.append(node)
        todo.extend(node.subs)
        count += 1
    for node in reversed(order):
        subs = node.subs
        if node.op == _CONCAT:  # literal runs form one node in Go
            lit_runs = sum(1 for k, sub in enumerate(subs)
                           if sub.op == _LIT and k and subs[k - 1].op == _LIT
                           and subs[k - 1].fold == sub.fold)
            count -= lit_runs
        if node.op == _ALT and all(sub.op in _CHAR_CLASS_LIKE for sub in subs):
            height_of[id(node)] = 1  # Go merges such an alternation into one class
        else:
            height_of[id(node)] = 1 + max((height_of[id(sub)] for sub in subs), default=0)
        sub_sizes = [size_of[id(sub)] for sub in subs]
        op = node.op
        if op == _LIT:
            size = 1
        elif op in (_CAPTURE, _STAR):
            size = 2 + sub_sizes[0]
        elif op in (_PLUS, _QUEST):
            size = 1 + sub_sizes[0]
        elif op == _CONCAT:
            size = sum(sub_sizes)
        elif op == _ALT:
            size = sum(sub_sizes) + len(subs) - 1
        elif op == _REPEAT:
            if node.max == -1:
                size = 2 + sub_sizes[0] if node.min == 0 else 1 + node.min * sub_sizes[0]
            else:
                size = node.max * sub_sizes[0] + node.max - node.min
        else:
            size = 1
        size_of[id(node)] = max(1, size)
    if count >= _MAX_HEIGHT and height_of[id(root)] > _MAX_HEIGHT:
        raise RegexpError(_ERR_NESTING_DEPTH, whole)
    if size_of[id(root)] > _MAX_SIZE:
        raise RegexpError(_ERR_LARGE, whole)


# --------------------------------------------------------------------------------------
# Python emission
# --------------------------------------------------------------------------------------

# precedence of an emitted fragment
_P_ALT, _P_CONCAT, _P_QUANTIFIED, _P_ZERO_WIDTH, _P_ATOM = range(5)


_PY_PLAIN = frozenset("_/,:;!\"'%@=<>`")  # never special to Python's re (no VERBOSE)


def _py_char(cp: int) -> str:
    """A code point as a Python pattern literal (outside brackets)."""
    c = chr(cp)
    if _is_alnum(c) or c in _PY_PLAIN or (cp >= 0x80 and not 0xD800 <= cp <= 0xDFFF
                                          and c.isprintable()):
        return c
    if 0x21 <= cp < 0x7F:
        return "\\" + c
    return _py_hex(cp)


def _py_hex(cp: int) -> str:
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def _py_class_char(cp: int) -> str:
    c = chr(cp)
    return c if _is_alnum(c) or c in _PY_PLAIN else _py_hex(cp)


def _py_class(ranges: Ranges) -> tuple[str, int]:
    if not ranges:
        return "(?!)", _P_ZERO_WIDTH  # an empty class never matches
    if ranges == [(0, _MAX_RUNE)]:
        return "(?s:.)", _P_ATOM
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return _py_char(ranges[0][0]), _P_ATOM
    if ranges == [(0, 9), (11, _MAX_RUNE)]:
        return ".", _P_ATOM  # no DOTALL anywhere: "." is everything but "\n"
    prefix = ""
    if ranges[0][0] == 0 and ranges[-1][1] == _MAX_RUNE:
        prefix, ranges = "^", _negate(ranges)
    body = []
    for lo, hi in ranges:
        if lo == hi:
            body.append(_py_class_char(lo))
        elif hi == lo + 1:
            body.append(_py_class_char(lo) + _py_class_char(hi))
        else:
            body.append(_py_class_char(lo) + "-" + _py_class_char(hi))
    return "[" + prefix + "".join(body) + "]", _P_ATOM


_SIMPLE_EMIT = {
    _ANY_NOT_NL: (".", _P_ATOM),
    _ANY: ("(?s:.)", _P_ATOM),
    _BOT: ("\\A", _P_ZERO_WIDTH),
    _EOT: ("\\Z", _P_ZERO_WIDTH),
    _BOL: ("(?m:^)", _P_ZERO_WIDTH),
    _EOL: ("(?m:$)", _P_ZERO_WIDTH),
    _WORDB: ("(?a:\\b)", _P_ZERO_WIDTH),
    _NOWORDB: ("(?a:\\B)", _P_ZERO_WIDTH),
    _EMPTY: ("", _P_CONCAT),
}


# Python's backtracking turns runs like "*a*a*a*b" ([^/]*a[^/]*a[^/]*a[^/]*b) into
# O(n^k) work where RE2 is linear.  In a run  C* F1 C* F2 ... C* Fk  (every star over the
# same set C, every Fi a sequence of single characters from C) placing F1..F(k-1) at
# their leftmost possible positions never loses a match: whatever a later match needs,
# the last star can still stretch over.  So those pairs become atomic, lazy groups
# (?>C*?Fi), which Python 3.11+ supports, and matching stays polynomial of low degree.
_ATOMIC_GROUPS = sys.version_info >= (3, 11)


def _char_set(node: _Node) -> Ranges | None:
    """The characters a single-character node matches, or None for other nodes."""
    if node.op == _LIT:
        return _clean((o, o) for o in _orbit(node.cp)) if node.fold else [(node.cp, node.cp)]
    if node.op == _CLASS:
        return node.ranges or []
    if node.op == _ANY_NOT_NL:
        return [(0, 9), (11, _MAX_RUNE)]
    if node.op == _ANY:
        return [(0, _MAX_RUNE)]
    return None


def _subset(inner: Ranges, outer: Ranges) -> bool:
    starts = [lo for lo, _ in outer]
    for lo, hi in inner:
        k = bisect.bisect_right(starts, lo) - 1
        if k < 0 or outer[k][1] < hi:
            return False
    return True


def _atomic_chunks(subs: list[_Node]) -> dict[int, int]:
    """Map the start of each star+fixed chunk that may be atomic to its end index."""
    chunks: dict[int, int] = {}
    i = 0
    while i < len(subs):
        star_set = _char_set(subs[i].subs[0]) if subs[i].op == _STAR else None
        if star_set is None:
            i += 1
            continue
        pairs: list[tuple[int, int]] = []
        j = i
        while (j < len(subs) and subs[j].op == _STAR
               and _char_set(subs[j].subs[0]) == star_set):
            k = j + 1
            while k < len(subs):
                chars = _char_set(subs[k])
                if chars is None or not _subset(chars, star_set):
                    break
                k += 1
            if k == j + 1:
                break
            pairs.append((j, k))
            j = k
        for start, end in pairs[:-1]:
            chunks[start] = end
        i = max(j, i + 1)
    return chunks


def _emit(node: _Node, captures: bool = False) -> tuple[str, int]:
    op = node.op
    if op in _SIMPLE_EMIT:
        return _SIMPLE_EMIT[op]
    if op == _LIT:
        if node.fold:
            orbit = _orbit(node.cp)
            if len(orbit) > 1:
                return _py_class(_clean((o, o) for o in orbit))
        return _py_char(node.cp), _P_ATOM
    if op == _CLASS:
        return _py_class(node.ranges or [])
    if op == _CAPTURE:
        if not captures:
            return _emit(node.subs[0])  # Go has no backreferences: captures only group
        inner = _emit(node.subs[0], True)[0]
        name = node.name if node.name.isidentifier() else ""
        return (f"(?P<{name}>{inner})" if name else f"({inner})"), _P_ATOM
    if op in (_STAR, _PLUS, _QUEST, _REPEAT):
        text, prec = _emit(node.subs[0], captures)
        if prec != _P_ATOM:
            text = f"(?:{text})"
        if op == _STAR:
            text += "*"
        elif op == _PLUS:
            text += "+"
        elif op == _QUEST:
            text += "?"
        elif node.max == -1:
            text += f"{{{node.min},}}"
        elif node.max == node.min:
            text += f"{{{node.min}}}"
        else:
            text += f"{{{node.min},{node.max}}}"
        if not node.greedy:
            text += "?"
        return text, _P_QUANTIFIED
    if op == _CONCAT:
        subs = node.subs
        atomic = _atomic_chunks(subs) if _ATOMIC_GROUPS else {}
        parts = []
        k = 0
        while k < len(subs):
            if k in atomic:
                end = atomic[k]
                star = _emit(subs[k].subs[0], captures)[0]
                fixed = "".join(_emit(sub, captures)[0] for sub in subs[k + 1:end])
                parts.append(f"(?>{star}*?{fixed})")
                k = end
                continue
            text, prec = _emit(subs[k], captures)
            parts.append(f"(?:{text})" if prec == _P_ALT else text)
            k += 1
        return "".join(parts), _P_CONCAT
    if op == _ALT:
        return "|".join(_emit(sub, captures)[0] for sub in node.subs), _P_ALT
    raise AssertionError(f"unexpected node {op}")  # pragma: no cover


def re2_to_python(regexp: str, captures: bool = False) -> str:
    """Translate Go RE2 source (as ``regexp.Compile`` accepts it) into a Python pattern.

    The result needs no flags: compile it with ``re.compile(result)``.  It matches
    exactly what Go matches: ``\\d \\w \\s \\b`` and POSIX classes are ASCII, ``(?i)``
    uses Go's simple case folding, ``$`` means end of text, ``(?i)``/``(?s)``/``(?m)``/
    ``(?U)`` in mid-pattern apply to the end of their group, ``\\Q..\\E``, ``\\x{...}``,
    octal escapes, ``(?P<n>..)``/``(?<n>..)`` and ``\\p{..}`` categories are supported.

    ``captures``: keep Go's capturing groups as Python groups (numbered, and named where
    the name is a Python identifier), for replacements; else they only group.

    Raises :class:`RegexpError` with Go's message for a regexp Go refuses, and
    :class:`RegexpUnsupportedError` for ``\\p{Script}`` classes.
    """
    root = _Parser(regexp).parse()
    _check_limits(root, regexp)
    try:
        with _deep_recursion():
            return _emit(root, captures)[0]
    except RecursionError as err:  # deeper than Python's stack (Go allows height 1000)
        raise RegexpUnsupportedError("nesting too deep for Python", regexp) from err
