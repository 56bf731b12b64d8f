"""Parse and print sizes and durations exactly as rclone v1.75 does (SizeSuffix, Duration)."""

from __future__ import annotations

import time as _time
import unicodedata
from collections.abc import Callable

from .errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime as _dt

__all__ = [
    "go_quote",
    "format_rfc3339",
    "NS",
    "US",
    "MS",
    "SECOND",
    "MINUTE",
    "HOUR",
    "DAY",
    "WEEK",
    "MONTH",
    "YEAR",
    "KIBI",
    "MEBI",
    "GIBI",
    "TEBI",
    "PEBI",
    "EXBI",
    "INT64_MIN",
    "INT64_MAX",
    "SIZE_OFF",
    "DURATION_OFF",
    "parse_size",
    "parse_bwlimit",
    "bwlimit_at",
    "format_size",
    "format_size_short",
    "format_size_option",
    "roundtrip_size",
    "size_string",
    "format_bytes",
    "format_rate",
    "parse_duration",
    "parse_go_duration",
    "format_duration",
    "format_go_duration",
    "format_duration_readable",
    "format_elapsed",
    "format_elapsed_ns",
]

# Durations, in nanoseconds.
NS = 1
US = 1000 * NS
MS = 1000 * US
SECOND = 1000 * MS
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY  # rclone's "M"
YEAR = 365 * DAY  # rclone's "y"

# Binary size multipliers, in bytes.
KIBI = 1 << 10
MEBI = 1 << 20
GIBI = 1 << 30
TEBI = 1 << 40
PEBI = 1 << 50
EXBI = 1 << 60

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

SIZE_OFF = -1
DURATION_OFF = INT64_MAX


# --------------------------------------------------------------------------------------
# Go runtime emulation
# --------------------------------------------------------------------------------------


class _GoError(Exception):
    """An error message exactly as the Go function would word it."""


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _go_f64_to_i64(x: float) -> int:
    """Go's int64(float64) on amd64: truncate; NaN and out-of-range give math.MinInt64."""
    if x != x or x >= 9223372036854775808.0 or x < -9223372036854775808.0:
        return INT64_MIN
    return int(x)


_ESCAPES = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}


def _escape_rune(r: int, quote: str) -> str:
    """strconv's appendEscapedRune (not ASCII-only, not graphic-only)."""
    ch = chr(r)
    if ch == quote or ch == "\\":
        return "\\" + ch
    if ch.isprintable():
        return ch
    if r in _ESCAPES:
        return _ESCAPES[r]
    if r < 0x20 or r == 0x7F:
        return f"\\x{r:02x}"
    if 0xD800 <= r <= 0xDFFF or r > 0x10FFFF:
        r = 0xFFFD
    if r < 0x10000:
        return f"\\u{r:04x}"
    return f"\\U{r:08x}"


def go_quote(s: str) -> str:
    """Quote ``s`` as Go's ``%q`` / ``strconv.Quote`` does (used in rclone's messages).

    Lone surrogates from ``surrogateescape`` decoding stand for the raw bytes Go would
    see, and are written as ``\\xNN`` like Go writes invalid UTF-8.
    """
    out = ['"']
    for ch in s:
        cp = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 0xD800 <= cp <= 0xDFFF:
            if 0xDC80 <= cp <= 0xDCFF:
                out.append(f"\\x{cp - 0xDC00:02x}")
            else:
                out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
        elif ch == " " or (cp >= 0x20 and unicodedata.category(ch)[0] in "LMNPS"):
            out.append(ch)
        elif cp in _ESCAPES:
            out.append(_ESCAPES[cp])
        elif cp < 0x20 or cp == 0x7F:
            out.append(f"\\x{cp:02x}")
        elif cp < 0x10000:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)


def _go_quote_byte(b: int) -> str:
    """fmt's %q of a byte: the byte is taken as the rune of the same number."""
    return "'" + _escape_rune(b, "'") + "'"


def _time_quote(text: str) -> str:
    """The time package's private quote(): anything below space or above ASCII as \\xHH."""
    out = ['"']
    for ch in text:
        if " " <= ch < "\x80":
            if ch in '"\\':
                out.append("\\")
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in _utf8(ch))
    out.append('"')
    return "".join(out)


# ---- strconv.ParseFloat(s, 64) -------------------------------------------------------


def _lower(c: str) -> str:
    return c.lower() if "A" <= c <= "Z" else c


def _special_len(s: str) -> int:
    """Length of the inf/infinity/nan prefix strconv accepts, 0 if none."""
    i = 0
    if s[:1] in ("+", "-"):
        i = 1
    elif s[:3].lower() == "nan":
        return 3
    rest = s[i:].lower()
    if rest.startswith("infinity"):
        return i + 8
    if rest.startswith("inf"):
        return i + 3
    return 0


def _underscore_ok(s: str) -> bool:
    saw = "^"
    i = 0
    if s[:1] in ("+", "-"):
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and _lower(s[1]) in "box":
        i = 2
        saw = "0"
        hexa = _lower(s[1]) == "x"
    while i < len(s):
        c = s[i]
        if "0" <= c <= "9" or (hexa and "a" <= _lower(c) <= "f"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
        i += 1
    return saw != "_"


def _read_float(s: str) -> tuple[int, bool]:
    """strconv's readFloat syntax check: (bytes consumed, ok)."""
    i = 0
    n = len(s)
    underscores = False
    if i < n and s[i] in "+-":
        i += 1
    base = 10
    exp_char = "e"
    if i + 2 < n and s[i] == "0" and _lower(s[i + 1]) == "x":
        base = 16
        i += 2
        exp_char = "p"
    saw_dot = saw_digits = False
    while i < n:
        c = s[i]
        if c == "_":
            underscores = True
        elif c == ".":
            if saw_dot:
                break
            saw_dot = True
        elif "0" <= c <= "9" or (base == 16 and "a" <= _lower(c) <= "f"):
            saw_digits = True
        else:
            break
        i += 1
    if not saw_digits:
        return i, False
    if i < n and _lower(s[i]) == exp_char:
        i += 1
        if i >= n:
            return i, False
        if s[i] in "+-":
            i += 1
        if i >= n or not "0" <= s[i] <= "9":
            return i, False
        while i < n and ("0" <= s[i] <= "9" or s[i] == "_"):
            if s[i] == "_":
                underscores = True
            i += 1
    elif base == 16:
        return i, False  # a hex mantissa needs a 'p' exponent
    if underscores and not _underscore_ok(s[:i]):
        return i, False
    return i, True


def _go_parse_float(s: str) -> float:
    """strconv.ParseFloat(s, 64), raising _GoError with strconv's exact message."""
    special = _special_len(s)
    if special and special == len(s):
        low = s.lower()
        if low == "nan":
            return float("nan")
        return float("-inf") if low.startswith("-") else float("inf")
    consumed, ok = _read_float(s) if not special else (special, False)
    if not ok or consumed != len(s):
        raise _GoError(f"strconv.ParseFloat: parsing {go_quote(s)}: invalid syntax")
    body = s.replace("_", "")
    try:
        if "x" in body[:3].lower():
            value = float.fromhex(body)
        else:
            value = float(body)
    except OverflowError:
        value = float("inf")
    if value in (float("inf"), float("-inf")):
        raise _GoError(f"strconv.ParseFloat: parsing {go_quote(s)}: value out of range")
    return value


def _format_float_f(x: float) -> str:
    """strconv.FormatFloat(x, 'f', -1, 64): shortest round-trip digits, never an exponent."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "+Inf" if x > 0 else "-Inf"
    from decimal import Decimal  # rare: float flag values only

    text = format(Decimal(repr(x)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# --------------------------------------------------------------------------------------
# Sizes (fs.SizeSuffix)
# --------------------------------------------------------------------------------------

_MULTIPLIERS = {
    "k": KIBI, "K": KIBI, "m": MEBI, "M": MEBI, "g": GIBI, "G": GIBI,
    "t": TEBI, "T": TEBI, "p": PEBI, "P": PEBI, "e": EXBI, "E": EXBI,
}


def _size_set(raw: bytes) -> int:
    """fs.SizeSuffix.Set on the UTF-8 bytes of the argument; raises _GoError."""
    if not raw:
        raise _GoError("empty string")
    if raw.lower() == b"off":
        return SIZE_OFF
    last = raw[-1]
    suffix_len = 1
    if chr(last) in "0123456789.":
        suffix_len = 0
        multiplier = float(KIBI)
    elif chr(last) in "bB":
        if len(raw) > 2 and raw[-2] == ord("i"):
            symbol = raw[-3]
            suffix_len = 3
            if chr(symbol) not in _MULTIPLIERS:
                raise _GoError(f"bad suffix {_go_quote_byte(symbol)}")
            multiplier = float(_MULTIPLIERS[chr(symbol)])
        else:
            multiplier = 1.0
    elif chr(last) in "iI":
        symbol = raw[-2] if len(raw) > 1 else last
        if len(raw) < 2 or chr(symbol) not in _MULTIPLIERS:
            raise _GoError(f"bad suffix {_go_quote_byte(symbol)}")
        suffix_len = 2
        multiplier = float(_MULTIPLIERS[chr(symbol)])
    else:
        if chr(last) not in _MULTIPLIERS:
            raise _GoError(f"bad suffix {_go_quote_byte(last)}")
        multiplier = float(_MULTIPLIERS[chr(last)])
    number = raw[: len(raw) - suffix_len].decode("utf-8", "surrogateescape")
    value = _go_parse_float(number)
    if value < 0:
        raise _GoError(f"size can't be negative {go_quote(number)}")
    return _go_f64_to_i64(value * multiplier)


def parse_size(text: str) -> int:
    """Parse a size flag value the way rclone's ``fs.SizeSuffix.Set`` does.

    A bare number is KiB (``"100"`` is 102400); ``B``/``b`` means bytes; ``K M G T P E``
    (either case) are binary multipliers, optionally followed by ``i``/``I`` or ``iB``/``ib``
    (the ``i`` must then be lower case; ``KB``/``MB`` are refused). Numbers use Go float
    syntax (``1.5``, ``.5``, ``1e3``, ``0x1p4``, ``1_000``), the product is truncated to whole
    bytes, and values that overflow int64 wrap to ``INT64_MIN`` as on amd64. ``off`` (any
    case) gives ``SIZE_OFF``. Raises ``UsageError`` worded as rclone words the part after
    the flag name, e.g. ``parsing "1MB" as fs.SizeSuffix failed: strconv.ParseFloat:
    parsing "1M": invalid syntax``.
    """
    try:
        return _size_set(_utf8(text))
    except _GoError as err:
        raise UsageError(f"parsing {go_quote(text)} as fs.SizeSuffix failed: {err}") from None


_SIZE_STEPS = ((KIBI, 1, ""), (MEBI, KIBI, "Ki"), (GIBI, MEBI, "Mi"), (TEBI, GIBI, "Gi"),
               (PEBI, TEBI, "Ti"), (EXBI, PEBI, "Pi"))


def _size_parts(n: int) -> tuple[str, str]:
    """fs.SizeSuffix.string(): the number and the binary prefix (``Ki``...) apart."""
    if n < 0:
        return "off", ""
    if n == 0:
        return "0", ""
    divisor, suffix = EXBI, "Ei"
    for limit, step_divisor, step_suffix in _SIZE_STEPS:
        if n < limit:
            divisor, suffix = step_divisor, step_suffix
            break
    scaled = float(n) / float(divisor)
    if scaled == int(scaled):
        return f"{scaled:.0f}", suffix
    return f"{scaled:.3f}", suffix


def format_size(n: int) -> str:
    """rclone's ``SizeSuffix.String()``: ``off`` if negative, ``0``, ``1023``, ``1Ki``,
    ``1.500Mi`` (three decimals unless the scaled value is whole; bytes carry no unit)."""
    value, suffix = _size_parts(n)
    return value + suffix


def format_size_short(n: int) -> str:
    """The size in dry-run notices ``(size 1.500Ki)`` and ``ls --human-readable``; this is
    ``SizeSuffix.String()``, i.e. the same as ``format_size``."""
    return format_size(n)


def format_size_option(n: int) -> str:
    """rclone's ``Option.String()`` for a size (``rc options/info`` ValueStr, config
    round-trips): ``format_size`` plus ``B`` after a bare non-zero number (``102B``)."""
    text = format_size(n)
    if text != "0" and text[-1:].isdigit():
        text += "B"
    return text


def roundtrip_size(n: int) -> int:
    """``parse_size(format_size_option(n))``: the value rclone 1.75.2's filters really use
    for ``--min-size``/``--max-size`` (its options are re-read from their string form, so
    ``1100B`` acts as 1099 bytes and ``1049000B`` as exactly 1 MiB)."""
    return parse_size(format_size_option(n))


def size_string(n: int, human_readable: bool) -> str:
    """rclone's ``operations.SizeString`` (ls/lsl columns): the plain integer, or with
    ``--human-readable`` ``format_size`` with a leading ``-`` for negative sizes."""
    if not human_readable:
        return str(n)
    if n < 0:
        return "-" + format_size(-n)
    return format_size(n)


def format_bytes(n: int) -> str:
    """rclone's ``SizeSuffix.ByteUnit()`` used by stats and ``size``: ``0 B``, ``11 B``,
    ``1.500 KiB``, ``10 GiB``; ``off`` for negative values."""
    value, suffix = _size_parts(n)
    if value == "off":
        return value
    return f"{value} {suffix}B"


def format_rate(bytes_per_s: float, *, bits: bool = False) -> str:
    """The stats speed: ``fs.SizeSuffix(speed).ByteRateUnit()`` (``0 B/s``, ``1.500 MiB/s``),
    the float truncated to whole bytes as Go converts it; with ``bits`` the
    ``--stats-unit bits`` form ``SizeSuffix(speed*8).BitRateUnit()`` (``12 Kibit/s``)."""
    n = _go_f64_to_i64(float(bytes_per_s) * 8 if bits else float(bytes_per_s))
    value, suffix = _size_parts(n)
    if value == "off":
        return value
    return f"{value} {suffix}{'bit/s' if bits else 'B/s'}"


# --------------------------------------------------------------------------------------
# Durations (fs.Duration and time.Duration)
# --------------------------------------------------------------------------------------

_UNITS = {"ns": NS, "us": US, "µs": US, "μs": US, "ms": MS, "s": SECOND, "m": MINUTE,
          "h": HOUR}


def _leading_int(s: str) -> tuple[int, str] | None:
    x = 0
    i = 0
    while i < len(s) and "0" <= s[i] <= "9":
        if x > (1 << 63) // 10:
            return None
        x = x * 10 + ord(s[i]) - 48
        if x > 1 << 63:
            return None
        i += 1
    return x, s[i:]


def _leading_fraction(s: str) -> tuple[int, float, str]:
    x = 0
    scale = 1.0
    overflow = False
    i = 0
    while i < len(s) and "0" <= s[i] <= "9":
        if not overflow:
            if x > ((1 << 63) - 1) // 10:
                overflow = True
            else:
                y = x * 10 + ord(s[i]) - 48
                if y > 1 << 63:
                    overflow = True
                else:
                    x = y
                    scale *= 10
        i += 1
    return x, scale, s[i:]


def _go_parse_duration(orig: str) -> int:
    """Go's time.ParseDuration, raising _GoError with Go's exact message."""
    invalid = _GoError(f"time: invalid duration {_time_quote(orig)}")
    s = orig
    neg = False
    if s[:1] in ("-", "+"):
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if s == "":
        raise invalid
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise invalid
        before = len(s)
        lead = _leading_int(s)
        if lead is None:
            raise invalid
        v, s = lead
        pre = before != len(s)
        post = False
        f, scale = 0, 1.0
        if s[:1] == ".":
            s = s[1:]
            before = len(s)
            f, scale, s = _leading_fraction(s)
            post = before != len(s)
        if not pre and not post:
            raise invalid
        i = 0
        while i < len(s) and not (s[i] == "." or "0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise _GoError(f"time: missing unit in duration {_time_quote(orig)}")
        unit_text, s = s[:i], s[i:]
        unit = _UNITS.get(unit_text)
        if unit is None:
            raise _GoError(
                f"time: unknown unit {_time_quote(unit_text)} in duration {_time_quote(orig)}")
        if v > (1 << 63) // unit:
            raise invalid
        v *= unit
        if f > 0:
            v += int(float(f) * (float(unit) / scale))
            if v > 1 << 63:
                raise invalid
        total += v
        if total > 1 << 63:
            raise invalid
    if neg:
        return -total
    if total > INT64_MAX:
        raise invalid
    return total


# ---- time.ParseInLocation for rclone's four layouts -----------------------------------

_LONG_YEAR, _ZERO_MONTH, _ZERO_DAY, _HOUR, _ZERO_MINUTE, _ZERO_SECOND, _ISO_COLON_TZ = range(7)
_STD_TEXT = ["2006", "01", "02", "15", "04", "05", "Z07:00"]

# Each layout as Go's nextStdChunk splits it: (literal prefix, std element).
_LAYOUTS: list[tuple[str, list[tuple[str, int]]]] = [
    ("2006-01-02T15:04:05Z07:00", [("", _LONG_YEAR), ("-", _ZERO_MONTH), ("-", _ZERO_DAY),
                                   ("T", _HOUR), (":", _ZERO_MINUTE), (":", _ZERO_SECOND),
                                   ("", _ISO_COLON_TZ)]),
    ("2006-01-02T15:04:05", [("", _LONG_YEAR), ("-", _ZERO_MONTH), ("-", _ZERO_DAY),
                             ("T", _HOUR), (":", _ZERO_MINUTE), (":", _ZERO_SECOND)]),
    ("2006-01-02 15:04:05", [("", _LONG_YEAR), ("-", _ZERO_MONTH), ("-", _ZERO_DAY),
                             (" ", _HOUR), (":", _ZERO_MINUTE), (":", _ZERO_SECOND)]),
    ("2006-01-02", [("", _LONG_YEAR), ("-", _ZERO_MONTH), ("-", _ZERO_DAY)]),
]


def _skip(value: str, prefix: str) -> tuple[str, bool]:
    while prefix:
        if prefix[0] == " ":
            if value and value[0] != " ":
                return value, False
            prefix = prefix.lstrip(" ")
            value = value.lstrip(" ")
            continue
        if not value or value[0] != prefix[0]:
            return value, False
        prefix = prefix[1:]
        value = value[1:]
    return value, True


def _digit(s: str, i: int) -> bool:
    return i < len(s) and "0" <= s[i] <= "9"


def _getnum(s: str, fixed: bool) -> tuple[int, str] | None:
    if not _digit(s, 0):
        return None
    if not _digit(s, 1):
        if fixed:
            return None
        return int(s[0]), s[1:]
    return int(s[:2]), s[2:]


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year, including 0)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _local_offset(unix: int) -> int:
    """The local zone's UTC offset in seconds at a Unix time (as Go's Location.lookup)."""
    for probe in (unix, max(min(unix, 253402300799), -62135596800)):
        try:
            return _time.localtime(probe).tm_gmtoff
        except (OverflowError, OSError, ValueError):
            continue
    return 0


def _go_parse_time(layout: str, chunks: list[tuple[str, int]], value: str) -> int:
    """time.ParseInLocation(layout, value, time.Local) as Unix nanoseconds."""
    avalue = value
    year = hour = minute = sec = nsec = 0
    month = day = -1
    utc = False
    zone_offset: int | None = None
    for prefix, std in chunks + [("", -1)]:
        stdstr = _STD_TEXT[std] if std >= 0 else ""
        value, ok = _skip(value, prefix)
        if not ok:
            raise _GoError(f"parsing time {_time_quote(avalue)} as {_time_quote(layout)}: "
                           f"cannot parse {_time_quote(value)} as {_time_quote(prefix)}")
        if std < 0:
            if value:
                raise _GoError(f"parsing time {_time_quote(avalue)}: extra text: "
                               f"{_time_quote(value)}")
            break
        hold = value
        bad = False
        range_err = ""
        if std == _LONG_YEAR:
            if len(value) < 4 or not _digit(value, 0) or not value[:4].isascii() \
                    or not value[:4].isdigit():
                bad = True
            else:
                year, value = int(value[:4]), value[4:]
        elif std in (_ZERO_MONTH, _ZERO_DAY, _HOUR, _ZERO_MINUTE, _ZERO_SECOND):
            got = _getnum(value, std != _HOUR)
            if got is None:
                bad = True
            else:
                num, value = got
                if std == _ZERO_MONTH:
                    month = num
                    if not 1 <= num <= 12:
                        range_err = "month"
                elif std == _ZERO_DAY:
                    day = num
                elif std == _HOUR:
                    hour = num
                    if num >= 24:
                        range_err = "hour"
                elif std == _ZERO_MINUTE:
                    minute = num
                    if num >= 60:
                        range_err = "minute"
                else:
                    sec = num
                    if num >= 60:
                        range_err = "second"
                    elif len(value) >= 2 and value[0] in ".," and _digit(value, 1):
                        # A fractional second the layout does not mention is accepted.
                        n = 2
                        while _digit(value, n):
                            n += 1
                        digits = value[1:min(n, 10)]
                        nsec = int(digits) * 10 ** (9 - len(digits))
                        value = value[n:]
        elif std == _ISO_COLON_TZ:
            if value[:1] == "Z":
                value = value[1:]
                utc = True
            elif len(value) < 6 or value[3] != ":":
                bad = True
            else:
                sign, hh, mm, value = value[0], value[1:3], value[4:6], value[6:]
                hr = _getnum(hh, True)
                mn = _getnum(mm, True) if hr is not None else None
                if hr is None or mn is None:
                    bad = True
                else:
                    if hr[0] > 24:
                        range_err = "time zone offset hour"
                    if mn[0] > 60:
                        range_err = "time zone offset minute"
                    zone_offset = (hr[0] * 60 + mn[0]) * 60
                    if sign == "-":
                        zone_offset = -zone_offset
                    elif sign != "+":
                        bad = True
        if range_err:
            raise _GoError(f"parsing time {_time_quote(avalue)}: {range_err} out of range")
        if bad:
            raise _GoError(f"parsing time {_time_quote(avalue)} as {_time_quote(layout)}: "
                           f"cannot parse {_time_quote(hold)} as {_time_quote(stdstr)}")
    if month < 0:
        month = 1
    if day < 0:
        day = 1
    if day < 1 or day > _days_in(month, year):
        raise _GoError(f"parsing time {_time_quote(avalue)}: day out of range")
    unix = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + sec
    if utc:
        pass
    elif zone_offset is not None:
        unix -= zone_offset
    else:
        # time.Date in time.Local: guess the offset, then correct it near a transition.
        offset = _local_offset(unix)
        if offset:
            unix -= _local_offset(unix - offset)
    return unix * SECOND + nsec


def _now_ns(now: _dt.datetime | None) -> int:
    if now is None:
        return _time.time_ns()
    import datetime as _dt
    if now.tzinfo is None:
        now = now.astimezone()
    delta = now - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * SECOND + delta.microseconds * US


_AGE_SUFFIXES = (("d", DAY), ("w", WEEK), ("M", MONTH), ("y", YEAR), ("", SECOND))


def _fs_parse_duration(text: str, now: Callable[[], int]) -> int:
    """fs.ParseDuration: Go syntax, then a number with a d/w/M/y/no suffix, then a date."""
    if text == "off":
        return DURATION_OFF
    try:
        return _go_parse_duration(text)
    except _GoError:
        pass
    for suffix, multiplier in _AGE_SUFFIXES:
        if text.endswith(suffix):
            try:
                period = _go_parse_float(text[: len(text) - len(suffix)])
            except _GoError:
                break
            return _go_f64_to_i64(period * float(multiplier))
    error = _GoError("unreachable")
    for layout, chunks in _LAYOUTS:
        try:
            instant = _go_parse_time(layout, chunks, text)
        except _GoError as err:
            error = err
            continue
        # time.Time.Sub saturates instead of overflowing.
        return max(INT64_MIN, min(INT64_MAX, now() - instant))
    raise error


def parse_duration(text: str, *, now: _dt.datetime | None = None) -> int:
    """Parse an ``fs.Duration`` flag value (``--min-age``, ``--max-age``) in nanoseconds.

    Tried in rclone's order: Go ``time.ParseDuration`` syntax (``1h30m``, ``-1.5h``,
    ``300ms``, ``0``); then a single Go float with an optional suffix ``d w M y`` (day,
    week, 30-day month, 365-day year) or none for seconds (``1.5``, ``2d``, ``1.s``), the
    product truncated as Go does (NaN/overflow give ``INT64_MIN``); then an absolute time
    (RFC 3339, ``2006-01-02T15:04:05``, ``2006-01-02 15:04:05``, ``2006-01-02``, the last
    three in local time, extra fractional seconds allowed) giving ``now - that time``,
    saturated to int64. ``off`` (lower case only) gives ``DURATION_OFF``. ``now`` (naive
    means local) replaces the clock. Raises ``UsageError`` with rclone's message, which
    for any bad value is the date parser's, e.g. ``parsing "foo" as fs.Duration failed:
    parsing time "foo" as "2006-01-02": cannot parse "foo" as "2006"``.
    """
    try:
        return _fs_parse_duration(text, lambda: _now_ns(now))
    except _GoError as err:
        raise UsageError(f"parsing {go_quote(text)} as fs.Duration failed: {err}") from None


def parse_go_duration(text: str) -> int:
    """Parse a flag whose default is a plain Go ``time.Duration`` (``--timeout``,
    ``--contimeout``, ``--max-duration``, ``--retries-sleep``, ``--modify-window``...):
    only ``time.ParseDuration`` syntax, so ``1d`` or ``off`` are refused. Returns
    nanoseconds; raises ``UsageError`` such as ``parsing "1d" as time.Duration failed:
    time: unknown unit "d" in duration "1d"``."""
    try:
        return _go_parse_duration(text)
    except _GoError as err:
        raise UsageError(f"parsing {go_quote(text)} as time.Duration failed: {err}") from None


def _fmt_frac(v: int, prec: int) -> tuple[str, int]:
    """Go's fmtFrac: the fraction of v/10**prec without trailing zeros, and v // 10**prec."""
    digits = []
    printed = False
    for _ in range(prec):
        digit = v % 10
        printed = printed or digit != 0
        if printed:
            digits.append(str(digit))
        v //= 10
    text = "." + "".join(reversed(digits)) if printed else ""
    return text, v


def format_go_duration(ns: int) -> str:
    """Go's ``time.Duration.String()``: ``0s``, ``1.5µs``, ``300ms``, ``1h30m0s``,
    ``-2562047h47m16.854775808s``."""
    u = abs(ns)
    sign = "-" if ns < 0 else ""
    if u < SECOND:
        if u == 0:
            return "0s"
        if u < US:
            prec, unit = 0, "ns"
        elif u < MS:
            prec, unit = 3, "µs"
        else:
            prec, unit = 6, "ms"
        frac, whole = _fmt_frac(u, prec)
        return f"{sign}{whole}{frac}{unit}"
    frac, whole = _fmt_frac(u, 9)
    text = f"{whole % 60}{frac}s"
    whole //= 60
    if whole > 0:
        text = f"{whole % 60}m{text}"
        whole //= 60
        if whole > 0:
            text = f"{whole}h{text}"
    return sign + text


def format_duration(ns: int) -> str:
    """rclone's ``fs.Duration.String()``: ``off`` for ``DURATION_OFF``; from one day up the
    largest of ``y`` (365d), ``M`` (30d), ``w``, ``d`` with Go's shortest float digits
    (``1.5d``, ``1w``, ``1.4285714285714286w``, ``-292.471208677536y``); below a day Go's
    ``time.Duration.String()`` (``1h30m0s``, ``500ms``, ``0s``)."""
    if ns == DURATION_OFF:
        return "off"
    magnitude = abs(float(ns))
    for suffix, multiplier in (("y", YEAR), ("M", MONTH), ("w", WEEK), ("d", DAY)):
        if magnitude >= float(multiplier):
            return _format_float_f(float(ns) / float(multiplier)) + suffix
    return format_go_duration(ns)


def format_duration_readable(ns: int, max_units: int = 0) -> str:
    """rclone's ``Duration.ReadableString()`` (``1d2h23m20s``, ``292y24w3d23h47m16s``,
    ``1s500ms``); with ``max_units=3`` its ``ShortReadableString()`` used for the ETA."""
    if ns == DURATION_OFF:
        return "off"
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    d = _go_f64_to_i64(abs(float(ns)))  # Go goes through math.Abs(float64(d))

    def whole(unit: int) -> int:  # int64(d.Seconds()), int64(d.Minutes()), int64(d.Hours())
        q = _go_quo(d, unit)
        return _go_f64_to_i64(float(q) + float(_go_rem(d, unit)) / float(unit))

    seconds = _go_rem(whole(SECOND), 60)
    minutes = _go_rem(whole(MINUTE), 60)
    hours = _go_rem(whole(HOUR), 24)
    all_days = _go_quo(d, DAY)
    days = _go_rem(_go_rem(all_days, 365), 7)
    left_year_days = _go_rem(all_days, 365)
    weeks = _go_quo(left_year_days, 7)
    if 364 <= left_year_days < 365:
        weeks = 52
    years = _go_quo(all_days, 365)
    millis = (_go_quo(d, MS) - seconds * 1000 - minutes * 60000 - hours * 3600000
              - days * 86400000 - weeks * 604800000 - years * 31536000000)
    parts = []
    for value, unit in ((years, "y"), (weeks, "w"), (days, "d"), (hours, "h"),
                        (minutes, "m"), (seconds, "s"), (millis, "ms")):
        if value == 0:
            continue
        parts.append(f"{value}{unit}")
        if max_units > 0 and len(parts) >= max_units:
            break
    return sign + "".join(parts)


def _go_quo(a: int, b: int) -> int:
    """Go integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _go_rem(a: int, b: int) -> int:
    """Go's % (sign follows the dividend)."""
    return a - _go_quo(a, b) * b


def format_elapsed_ns(ns: int) -> str:
    """The stats ``Elapsed time:`` value for an elapsed time in nanoseconds: whole minutes
    as ``ReadableString`` then seconds to 0.1 s, truncated (``0.0s``, ``1m2.5s``,
    ``1h2m3.0s``, ``1d0.0s``)."""
    minutes_part = ns - _go_rem(ns, MINUTE)
    tenths = ns - _go_rem(ns, 100 * MS)
    seconds_only = _go_rem(tenths, MINUTE)
    q = _go_quo(seconds_only, SECOND)
    secs = float(q) + float(seconds_only - q * SECOND) / 1e9
    head = format_duration_readable(minutes_part).rstrip("0s")
    return f"{head}{secs:.1f}s"


def format_elapsed(seconds: float) -> str:
    """``format_elapsed_ns`` for an elapsed time given in (float) seconds."""
    return format_elapsed_ns(round(seconds * SECOND))


def format_go_time(ns: int) -> str:
    """A Unix-ns time printed like Go's ``time.Time.String()`` in local time
    (``2026-11-28 16:38:32.234008551 +0100 CET``), as rclone prints times in messages."""
    import datetime as _dt

    sec, frac = divmod(ns, 1_000_000_000)
    t = _dt.datetime.fromtimestamp(sec).astimezone()
    frac_text = f".{frac:09d}".rstrip("0") if frac else ""
    return f"{t:%Y-%m-%d %H:%M:%S}{frac_text} {t:%z} {t.tzname()}"


def format_rfc3339(ns: int, fraction: str = "nano") -> str:
    """A Unix-ns time in local time as Go prints it with ``time.RFC3339Nano``
    (``2006-01-02T15:04:05.999999999Z07:00``: trailing zeros of the fraction dropped, ``Z``
    for UTC); ``fraction`` "max" keeps all nine digits (rclone's ``max`` layout), "none"
    drops the fraction (``time.RFC3339``)."""
    import datetime as _dt

    sec, frac = divmod(ns, 1_000_000_000)
    t = _dt.datetime.fromtimestamp(sec).astimezone()
    frac_text = "" if fraction == "none" else f".{frac:09d}"
    if fraction == "nano":
        frac_text = frac_text.rstrip("0").rstrip(".")
    zone = t.strftime("%z")
    zone = "Z" if zone == "+0000" else f"{zone[:3]}:{zone[3:]}"
    return f"{t:%Y-%m-%dT%H:%M:%S}{frac_text}{zone}"


# ----- --bwlimit (fs.BwTimetable) ---------------------------------------------------------

_WEEKDAYS = {"sun": 0, "sunday": 0, "mon": 1, "monday": 1, "tue": 2, "tuesday": 2,
             "wed": 3, "wednesday": 3, "thu": 4, "thursday": 4, "fri": 5, "friday": 5,
             "sat": 6, "saturday": 6}


def _bw_pair(text: str) -> tuple[int, int]:
    """fs.BwPair.Set: ``TX`` or ``TX:RX`` sizes (bytes per second, -1 for off)."""
    tx, sep, rx = text.partition(":")
    up = _size_set(_utf8(tx))
    return up, _size_set(_utf8(rx)) if sep else up


def _bw_hour(hhmm: str) -> int:
    """rclone's validateHour: ``hh:mm`` as hh*100+mm."""
    if len(hhmm) != 5:
        raise _GoError(f"invalid time specification (hh:mm): {go_quote(hhmm)}")
    try:
        hh = int(hhmm[0:2])
    except ValueError:
        raise _GoError(f"invalid hour in time specification {go_quote(hhmm)}: "
                       f'strconv.Atoi: parsing {go_quote(hhmm[0:2])}: invalid syntax') from None
    if not 0 <= hh <= 23:
        raise _GoError(f"invalid hour (must be between 00 and 23): {hh}")
    try:
        mm = int(hhmm[3:])
    except ValueError:
        raise _GoError(f"invalid minute in time specification: {go_quote(hhmm)}: "
                       f'strconv.Atoi: parsing {go_quote(hhmm[3:])}: invalid syntax') from None
    if not 0 <= mm <= 59:
        raise _GoError(f"invalid minute (must be between 00 and 59): {mm}")
    return hh * 100 + mm


def parse_bwlimit(text: str) -> list[tuple[int, int, tuple[int, int]]]:
    """Parse a ``--bwlimit`` value as rclone's ``fs.BwTimetable.Set`` does.

    Returns the time slots ``(weekday 0=Sunday, hh*100+mm, (tx, rx))``: one slot at
    Sunday 00:00 for a plain rate (``10M``, ``1M:2M``, ``off``), else one per day for an
    ``hh:mm,RATE`` entry and one for ``Mon-hh:mm,RATE`` (entries split on blanks or ``;``).
    Raises ``UsageError`` worded like rclone's, e.g. ``parsing "x" as fs.BwTimetable
    failed: bad suffix 'x'``.
    """
    try:
        return _bw_timetable(text)
    except _GoError as err:
        raise UsageError(f"parsing {go_quote(text)} as fs.BwTimetable failed: {err}") from None


def _bw_timetable(text: str) -> list[tuple[int, int, tuple[int, int]]]:
    if not text:
        raise _GoError("empty string")
    if " " not in text and "," not in text:
        return [(0, 0, _bw_pair(text))]
    slots: list[tuple[int, int, tuple[int, int]]] = []
    for tok in text.replace(";", " ").split():
        tv = tok.split(",")
        if len(tv) != 2:
            raise _GoError(f"invalid time/bandwidth specification: {go_quote(tok)}")
        if "-" not in tv[0]:
            hhmm = _bw_hour(tv[0])
            pair = _bw_pair(tv[1])
            slots.extend((day, hhmm, pair) for day in range(7))
            continue
        spec = tv[0].split("-")
        if len(spec) != 2:
            raise _GoError(f"invalid time specification: {go_quote(tv[0])}")
        day = _WEEKDAYS.get(spec[0].lower())
        if day is None:
            raise _GoError(f"invalid weekday: {go_quote(spec[0].lower())}")
        slots.append((day, _bw_hour(spec[1]), _bw_pair(tv[1])))
    return slots


def bwlimit_at(slots: list[tuple[int, int, tuple[int, int]]], when: _dt.datetime
               ) -> tuple[int, int]:
    """rclone's ``BwTimetable.LimitAt``: the ``(tx, rx)`` rates in force at ``when`` (the
    latest slot at or before it in the week, else the last slot of the list)."""
    if not slots:
        return (-1, -1)
    weekday = (when.weekday() + 1) % 7  # Go: Sunday is 0
    now = weekday * 10000 + when.hour * 100 + when.minute

    def minutes(v: int) -> int:
        return (v // 10000) * 24 * 60 + ((v // 100) % 100) * 60 + v % 100

    best = slots[-1][2]
    best_dif: int | None = None
    for day, hhmm, pair in slots:
        at = day * 10000 + hhmm
        if now < at:
            continue
        dif = minutes(now) - minutes(at)
        if best_dif is None or dif <= best_dif:
            best_dif, best = dif, pair
    return best
