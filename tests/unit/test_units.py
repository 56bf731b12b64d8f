"""Table-driven tests of syncengine.units against rclone v1.75 (and, if on PATH, the binary)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from syncengine.errors import UsageError
from syncengine.units import (
    DAY,
    DURATION_OFF,
    EXBI,
    GIBI,
    HOUR,
    INT64_MAX,
    INT64_MIN,
    KIBI,
    MEBI,
    MINUTE,
    MONTH,
    MS,
    NS,
    PEBI,
    SECOND,
    SIZE_OFF,
    TEBI,
    US,
    WEEK,
    YEAR,
    format_bytes,
    format_duration,
    format_duration_readable,
    format_elapsed,
    format_elapsed_ns,
    format_go_duration,
    format_rate,
    format_size,
    format_size_option,
    format_size_short,
    parse_duration,
    parse_go_duration,
    parse_size,
    roundtrip_size,
    size_string,
)

UTC = dt.timezone.utc
T = TypeVar("T")
R = TypeVar("R")

# --------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------

SIZE_CASES = [
    # bare numbers are KiB
    ("100", 100 * KIBI),
    ("0", 0),
    ("-0", 0),
    ("-0.0", 0),
    ("+1", KIBI),
    ("1.5", 1536),
    ("0.1", 102),  # 102.4 truncated
    ("1.", KIBI),
    (".5", 512),
    ("00001", KIBI),
    ("1e3", 1000 * KIBI),
    ("1e0010", 10**10 * KIBI),
    ("1e-400", 0),  # underflow is not an error
    ("0.0009765625", 1),
    ("0.00048828125", 0),
    # Go float syntax: underscores between digits, hex floats with a p exponent
    ("1_000", 1000 * KIBI),
    ("0x10p0", 16 * KIBI),
    ("0x1p10k", MEBI),
    ("0x1.8p1", 3 * KIBI),
    ("0x.8p1k", KIBI),
    ("0X1P3", 8 * KIBI),
    ("0x_1p0", KIBI),
    # bytes
    ("1b", 1),
    ("1B", 1),
    ("1023B", 1023),
    ("2047.9999999B", 2047),
    ("12345678901B", 12345678901),
    # binary multipliers, either case, with optional i / iB / ib
    ("1k", KIBI),
    ("1K", KIBI),
    ("1Ki", KIBI),
    ("1KI", KIBI),
    ("1kI", KIBI),
    ("1KiB", KIBI),
    ("1Kib", KIBI),
    ("1M", MEBI),
    ("1Mi", MEBI),
    ("1MiB", MEBI),
    ("1mI", MEBI),
    ("1.5G", 1536 * MEBI),
    ("1gI", GIBI),
    ("1T", TEBI),
    ("1tI", TEBI),
    ("1P", PEBI),
    ("1pib", PEBI),
    ("1E", EXBI),
    ("1e", EXBI),  # the suffix wins over a dangling exponent
    ("1Ei", EXBI),
    ("1EiB", EXBI),
    ("2.5e", 2882303761517117440),
    ("7.99E", 9211842821808707584),
    ("1.23456789M", 1294538),
    ("1.999999M", 2097150),
    ("1e3k", 1000 * KIBI),
    ("1e+3k", 1000 * KIBI),
    # off, in any case
    ("off", SIZE_OFF),
    ("OFF", SIZE_OFF),
    ("oFf", SIZE_OFF),
    # float64 -> int64 overflow and NaN give math.MinInt64 on amd64, which acts as "off"
    ("8E", INT64_MIN),
    ("9223372036854775807B", INT64_MIN),
    ("9223372036854775295B", 9223372036854774784),
    ("infk", INT64_MIN),
    ("infinityk", INT64_MIN),
    ("nank", INT64_MIN),
    ("NaNk", INT64_MIN),
]


@pytest.mark.parametrize(("text", "want"), SIZE_CASES, ids=[c[0] for c in SIZE_CASES])
def test_parse_size(text: str, want: int) -> None:
    assert parse_size(text) == want


SIZE_ERRORS = [
    ("", "empty string"),
    ("1MB", 'strconv.ParseFloat: parsing "1M": invalid syntax'),
    ("1KB", 'strconv.ParseFloat: parsing "1K": invalid syntax'),
    ("1kb", 'strconv.ParseFloat: parsing "1k": invalid syntax'),
    ("1KIB", 'strconv.ParseFloat: parsing "1KI": invalid syntax'),
    ("b", 'strconv.ParseFloat: parsing "": invalid syntax'),
    ("iB", 'strconv.ParseFloat: parsing "i": invalid syntax'),
    ("k", 'strconv.ParseFloat: parsing "": invalid syntax'),
    ("KiB", 'strconv.ParseFloat: parsing "": invalid syntax'),
    (".", 'strconv.ParseFloat: parsing ".": invalid syntax'),
    (".k", 'strconv.ParseFloat: parsing ".": invalid syntax'),
    ("1..5", 'strconv.ParseFloat: parsing "1..5": invalid syntax'),
    ("1.5.", 'strconv.ParseFloat: parsing "1.5.": invalid syntax'),
    (" 1", 'strconv.ParseFloat: parsing " 1": invalid syntax'),
    ("_1", 'strconv.ParseFloat: parsing "_1": invalid syntax'),
    ("1__0", 'strconv.ParseFloat: parsing "1__0": invalid syntax'),
    ("1_k", 'strconv.ParseFloat: parsing "1_": invalid syntax'),
    ("0x10", 'strconv.ParseFloat: parsing "0x10": invalid syntax'),  # hex needs p
    ("0xp1", 'strconv.ParseFloat: parsing "0xp1": invalid syntax'),
    ("1e+", "bad suffix '+'"),
    ("1ek", 'strconv.ParseFloat: parsing "1e": invalid syntax'),
    ("-nank", 'strconv.ParseFloat: parsing "-nan": invalid syntax'),
    ("infinitk", 'strconv.ParseFloat: parsing "infinit": invalid syntax'),
    ("1e400", 'strconv.ParseFloat: parsing "1e400": value out of range'),
    ("1e400k", 'strconv.ParseFloat: parsing "1e400": value out of range'),
    ("0x1p99999", 'strconv.ParseFloat: parsing "0x1p99999": value out of range'),
    ("x", "bad suffix 'x'"),
    ("1x", "bad suffix 'x'"),
    ("1 ", "bad suffix ' '"),
    ("inf", "bad suffix 'f'"),
    ("nan", "bad suffix 'n'"),
    ("i", "bad suffix 'i'"),
    ("1iB", "bad suffix '1'"),
    ("1xiB", "bad suffix 'x'"),
    ("1é", "bad suffix '©'"),  # the last UTF-8 byte 0xA9, printed as rune U+00A9
    ("éiB", "bad suffix '©'"),
    ("1\t", "bad suffix '\\t'"),
    ("-1", 'size can\'t be negative "-1"'),
    ("-1k", 'size can\'t be negative "-1"'),
    ("-0.5MiB", 'size can\'t be negative "-0.5"'),
    ("-infk", 'size can\'t be negative "-inf"'),
]


@pytest.mark.parametrize(("text", "inner"), SIZE_ERRORS, ids=[repr(c[0]) for c in SIZE_ERRORS])
def test_parse_size_errors(text: str, inner: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_size(text)
    assert info.value.exit_code == 2
    quoted = json.dumps(text, ensure_ascii=False)
    assert str(info.value) == f"parsing {quoted} as fs.SizeSuffix failed: {inner}"


def test_parse_size_error_quotes_like_go() -> None:
    with pytest.raises(UsageError) as info:
        parse_size("a\x00\x7f\u00adb")
    assert str(info.value) == ('parsing "a\\x00\\x7f\\u00adb" as fs.SizeSuffix failed: '
                               'strconv.ParseFloat: parsing "a\\x00\\x7f\\u00ad": invalid syntax')


FORMAT_SIZE_CASES = [
    # n, String(), Option.String(), ByteUnit()
    (-1, "off", "off", "off"),
    (INT64_MIN, "off", "off", "off"),
    (0, "0", "0", "0 B"),
    (1, "1", "1B", "1 B"),
    (102, "102", "102B", "102 B"),
    (1023, "1023", "1023B", "1023 B"),
    (1024, "1Ki", "1Ki", "1 KiB"),
    (1025, "1.001Ki", "1.001Ki", "1.001 KiB"),
    (1100, "1.074Ki", "1.074Ki", "1.074 KiB"),
    (1536, "1.500Ki", "1.500Ki", "1.500 KiB"),
    (2047, "1.999Ki", "1.999Ki", "1.999 KiB"),
    (100 * KIBI, "100Ki", "100Ki", "100 KiB"),
    (1048575, "1023.999Ki", "1023.999Ki", "1023.999 KiB"),
    (MEBI, "1Mi", "1Mi", "1 MiB"),
    (1049000, "1.000Mi", "1.000Mi", "1.000 MiB"),  # rounds to 1.000 but is not whole
    (GIBI - 1, "1024.000Mi", "1024.000Mi", "1024.000 MiB"),  # the unit is chosen first
    (GIBI, "1Gi", "1Gi", "1 GiB"),
    (1536 * MEBI, "1.500Gi", "1.500Gi", "1.500 GiB"),
    (12345678901, "11.498Gi", "11.498Gi", "11.498 GiB"),
    (5 * 10**12, "4.547Ti", "4.547Ti", "4.547 TiB"),
    (TEBI, "1Ti", "1Ti", "1 TiB"),
    (PEBI, "1Pi", "1Pi", "1 PiB"),
    (EXBI - 1, "1024Pi", "1024Pi", "1024 PiB"),  # float64(2**60-1) is 2**60
    (EXBI, "1Ei", "1Ei", "1 EiB"),
    (2**63 - 1, "8Ei", "8Ei", "8 EiB"),
]


@pytest.mark.parametrize(("n", "string", "option", "byte_unit"), FORMAT_SIZE_CASES,
                         ids=[str(c[0]) for c in FORMAT_SIZE_CASES])
def test_format_size(n: int, string: str, option: str, byte_unit: str) -> None:
    assert format_size(n) == string
    assert format_size_short(n) == string
    assert format_size_option(n) == option
    assert format_bytes(n) == byte_unit


@pytest.mark.parametrize("n", [0, 1, 1023, 1024, 1536, 100 * KIBI, MEBI, 3 * GIBI, EXBI])
def test_option_string_round_trips_exact_values(n: int) -> None:
    assert parse_size(format_size_option(n)) == n


ROUNDTRIP_CASES = [
    (-1, -1),
    (0, 0),
    (1023, 1023),
    (1024, 1024),
    (1100, 1099),  # "1.074Ki" -> 1099.776 -> 1099
    (1045, 1045),
    (2047, 2046),
    (1049000, MEBI),  # "1.000Mi"
    (GIBI - 1, GIBI),  # "1024.000Mi"
]


@pytest.mark.parametrize(("n", "want"), ROUNDTRIP_CASES, ids=[str(c[0]) for c in ROUNDTRIP_CASES])
def test_roundtrip_size(n: int, want: int) -> None:
    assert roundtrip_size(n) == want


@pytest.mark.parametrize(("n", "human", "want"), [
    (0, False, "0"),
    (1536, False, "1536"),
    (-1, False, "-1"),
    (1536, True, "1.500Ki"),
    (1023, True, "1023"),
    (-1536, True, "-1.500Ki"),
    (-1, True, "-1"),
])
def test_size_string(n: int, human: bool, want: str) -> None:
    assert size_string(n, human) == want


@pytest.mark.parametrize(("rate", "bits", "want"), [
    (0.0, False, "0 B/s"),
    (0.9, False, "0 B/s"),  # truncated like Go's int64(float64)
    (11.0, False, "11 B/s"),
    (1536.9, False, "1.500 KiB/s"),
    (1.5 * MEBI, False, "1.500 MiB/s"),
    (10.0 * GIBI, False, "10 GiB/s"),
    (-1.0, False, "off"),
    (float("nan"), False, "off"),
    (0.0, True, "0 bit/s"),
    (1536.9, True, "12.007 Kibit/s"),
    (128.0, True, "1 Kibit/s"),
])
def test_format_rate(rate: float, bits: bool, want: str) -> None:
    assert format_rate(rate, bits=bits) == want


# --------------------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------------------

DURATION_CASES = [
    # Go time.ParseDuration syntax first
    ("0", 0),
    ("-0", 0),
    ("+0", 0),
    ("1h30m", 90 * MINUTE),
    ("300ms", 300 * MS),
    ("-1.5h", -90 * MINUTE),
    ("+5s", 5 * SECOND),
    ("1.s", SECOND),
    (".5s", 500 * MS),
    ("1ns", NS),
    ("1us", US),
    ("1µs", US),  # U+00B5 micro sign
    ("1μs", US),  # U+03BC greek mu
    ("1.5µs", 1500),
    ("1ms1ms", 2 * MS),
    ("1.000000001h", 3600000003600),
    ("23h59m59.999999999s", DAY - 1),
    ("2562047h", 2562047 * HOUR),
    ("9223372036854775807ns", DURATION_OFF),  # the largest value is "off"
    ("-9223372036854775808ns", INT64_MIN),
    ("-2562047h47m16.854775808s", INT64_MIN),
    # then one number with an rclone suffix, or none for seconds
    ("1.5", 1500 * MS),
    ("5.", 5 * SECOND),
    (".5", 500 * MS),
    ("-1", -SECOND),
    ("-0.5", -500 * MS),
    ("0.1", 100 * MS),
    ("1e3", 1000 * SECOND),
    ("1e-9", 1),
    ("1e-10", 0),
    ("1.5e3", 1500 * SECOND),
    ("1_0", 10 * SECOND),
    ("0x1p3", 8 * SECOND),
    ("12345.678", 12345678 * MS),
    ("86400", DAY),
    ("1d", DAY),
    ("-1d", -DAY),
    ("0.5d", 12 * HOUR),
    ("1_0d", 10 * DAY),
    ("1e3d", 1000 * DAY),
    ("0.0000000001d", 8640),
    ("1w", WEEK),
    ("1.5w", 907200 * SECOND),
    ("1M", MONTH),
    ("3M", 90 * DAY),
    ("1.5M", 45 * DAY),
    ("1y", YEAR),
    ("1.5y", 547 * DAY + 12 * HOUR),
    ("292y", 292 * YEAR),
    ("106751d", 106751 * DAY),
    # float64 -> int64 overflow and NaN give math.MinInt64 (amd64)
    ("293y", INT64_MIN),
    ("1000y", INT64_MIN),
    ("106752d", INT64_MIN),
    ("-106752d", INT64_MIN),
    ("inf", INT64_MIN),
    ("-inf", INT64_MIN),
    ("nan", INT64_MIN),
    ("infd", INT64_MIN),
    ("9223372036.854775807", INT64_MIN),
    ("off", DURATION_OFF),
]


@pytest.mark.parametrize(("text", "want"), DURATION_CASES, ids=[c[0] for c in DURATION_CASES])
def test_parse_duration(text: str, want: int) -> None:
    assert parse_duration(text) == want


NOW = dt.datetime(2020, 9, 5, 8, 15, 5, 250, tzinfo=UTC)  # 250 µs past the second


@pytest.mark.parametrize(("text", "instant"), [
    ("2022-03-26T17:48:19Z", dt.datetime(2022, 3, 26, 17, 48, 19, tzinfo=UTC)),
    ("2020-09-04T08:15:05Z", dt.datetime(2020, 9, 4, 8, 15, 5, tzinfo=UTC)),
    ("2020-09-04T10:15:05+02:00", dt.datetime(2020, 9, 4, 8, 15, 5, tzinfo=UTC)),
    ("2020-09-04T03:15:05-05:00", dt.datetime(2020, 9, 4, 8, 15, 5, tzinfo=UTC)),
    ("2020-09-04T08:15:05.5Z", dt.datetime(2020, 9, 4, 8, 15, 5, 500000, tzinfo=UTC)),
    ("2020-09-04T08:15:05,25Z", dt.datetime(2020, 9, 4, 8, 15, 5, 250000, tzinfo=UTC)),
    ("2020-09-04T08:15:05+24:00", dt.datetime(2020, 9, 3, 8, 15, 5, tzinfo=UTC)),
    ("2020-09-04T8:15:05Z", dt.datetime(2020, 9, 4, 8, 15, 5, tzinfo=UTC)),  # hour 1 digit
])
def test_parse_duration_absolute_with_zone(text: str, instant: dt.datetime) -> None:
    assert parse_duration(text, now=NOW) == (NOW - instant) // dt.timedelta(microseconds=1) * US


@pytest.fixture
def local_tz() -> Iterator[Callable[[str], None]]:
    saved = os.environ.get("TZ")

    def use(name: str) -> None:
        if name != "UTC" and not Path("/usr/share/zoneinfo", name).exists():
            pytest.skip(f"no tzdata for {name}")
        os.environ["TZ"] = name
        time.tzset()

    yield use
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


@pytest.mark.parametrize(("tz", "text", "instant_utc"), [
    ("UTC", "2020-09-04", dt.datetime(2020, 9, 4, tzinfo=UTC)),
    ("UTC", "2020-09-04 08:15:05", dt.datetime(2020, 9, 4, 8, 15, 5, tzinfo=UTC)),
    ("UTC", "2020-09-04T08:15:05", dt.datetime(2020, 9, 4, 8, 15, 5, tzinfo=UTC)),
    ("UTC", "2020-09-04   08:15:05.123456789999", dt.datetime(2020, 9, 4, 8, 15, 5, 123456,
                                                             tzinfo=UTC)),
    ("Europe/Paris", "2020-09-04", dt.datetime(2020, 9, 3, 22, tzinfo=UTC)),
    ("Europe/Paris", "2020-01-04 10:00:00", dt.datetime(2020, 1, 4, 9, tzinfo=UTC)),
    # a time skipped by the spring-forward gap is read with the offset before the gap
    ("Europe/Paris", "2020-03-29 02:30:00", dt.datetime(2020, 3, 29, 1, 30, tzinfo=UTC)),
    # an ambiguous autumn time is read as winter time (the second occurrence)
    ("Europe/Paris", "2020-10-25 02:30:00", dt.datetime(2020, 10, 25, 1, 30, tzinfo=UTC)),
    ("America/New_York", "2020-09-04T04:15:05", dt.datetime(2020, 9, 4, 8, 15, 5, tzinfo=UTC)),
    # an explicit zone ignores the local one
    ("Europe/Paris", "2020-09-04T08:15:05Z", dt.datetime(2020, 9, 4, 8, 15, 5, tzinfo=UTC)),
])
def test_parse_duration_absolute_local(local_tz: Callable[[str], None], tz: str, text: str,
                                       instant_utc: dt.datetime) -> None:
    local_tz(tz)
    got = parse_duration(text, now=NOW)
    want = (NOW - instant_utc) // dt.timedelta(microseconds=1) * US
    if "123456789" in text:
        want -= 789  # nanoseconds datetime cannot hold
    assert got == want


def test_parse_duration_naive_now_is_local(local_tz: Callable[[str], None]) -> None:
    local_tz("UTC")
    naive = dt.datetime(2020, 9, 5, 0, 0)
    assert parse_duration("2020-09-04", now=naive) == DAY


def test_parse_duration_uses_clock_and_saturates() -> None:
    one_day_ago = dt.datetime.now(UTC) - dt.timedelta(days=1)
    got = parse_duration(one_day_ago.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert DAY - 2 * SECOND < got <= DAY + 2 * SECOND
    # time.Time.Sub saturates: year 0000 is "off", year 9999 is -2**63
    assert parse_duration("0000-01-01") == DURATION_OFF
    assert parse_duration("9999-12-31") == INT64_MIN


DATE_ERR = 'parsing time "{0}" as "2006-01-02": cannot parse "{1}" as "{2}"'
DURATION_ERRORS = [
    ("", 'parsing time "" as "2006-01-02": cannot parse "" as "2006"'),
    ("foo", DATE_ERR.format("foo", "foo", "2006")),
    ("OFF", DATE_ERR.format("OFF", "OFF", "2006")),
    ("Off", DATE_ERR.format("Off", "Off", "2006")),
    (" ", DATE_ERR.format(" ", " ", "2006")),
    ("d", DATE_ERR.format("d", "d", "2006")),
    (".s", DATE_ERR.format(".s", ".s", "2006")),
    ("1 d", DATE_ERR.format("1 d", "1 d", "2006")),
    ("1h 30m", DATE_ERR.format("1h 30m", "1h 30m", "2006")),
    ("1H", DATE_ERR.format("1H", "1H", "2006")),
    ("1m30", DATE_ERR.format("1m30", "1m30", "2006")),
    ("1h1d", DATE_ERR.format("1h1d", "1h1d", "2006")),
    ("2d3h", DATE_ERR.format("2d3h", "2d3h", "2006")),
    ("1e3s", DATE_ERR.format("1e3s", "1e3s", "2006")),
    ("2562048h", DATE_ERR.format("2562048h", "048h", "-")),  # year 2562 read, then "-"
    ("9223372036854775808ns", DATE_ERR.format("9223372036854775808ns", "372036854775808ns",
                                              "-")),
    ("2020x", DATE_ERR.format("2020x", "x", "-")),
    ("2020-", DATE_ERR.format("2020-", "", "01")),
    ("2020-1-01", DATE_ERR.format("2020-1-01", "1-01", "01")),
    ("2020-01-1", DATE_ERR.format("2020-01-1", "1", "02")),
    ("20a0-01-01", DATE_ERR.format("20a0-01-01", "20a0-01-01", "2006")),
    ("-2020-01-01", DATE_ERR.format("-2020-01-01", "-2020-01-01", "2006")),
    (" 2020-01-02", DATE_ERR.format(" 2020-01-02", " 2020-01-02", "2006")),
    ("2020-13-01", 'parsing time "2020-13-01": month out of range'),
    ("2020-00-01", 'parsing time "2020-00-01": month out of range'),
    ("2020-02-30", 'parsing time "2020-02-30": day out of range'),
    ("2021-02-29", 'parsing time "2021-02-29": day out of range'),
    ("2020-01-00", 'parsing time "2020-01-00": day out of range'),
    ("2020-01-02x", 'parsing time "2020-01-02x": extra text: "x"'),
    ("2020-01-02 ", 'parsing time "2020-01-02 ": extra text: " "'),
    ("2020-01-02T25:00:00", 'parsing time "2020-01-02T25:00:00": extra text: "T25:00:00"'),
    ("2020-01-02é", 'parsing time "2020-01-02\\xc3\\xa9": extra text: "\\xc3\\xa9"'),
    ("1ä", DATE_ERR.format("1\\xc3\\xa4", "1\\xc3\\xa4", "2006")),
]


@pytest.mark.parametrize(("text", "inner"), DURATION_ERRORS,
                         ids=[repr(c[0]) for c in DURATION_ERRORS])
def test_parse_duration_errors(text: str, inner: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_duration(text, now=NOW)
    assert info.value.exit_code == 2
    quoted = json.dumps(text, ensure_ascii=False)
    assert str(info.value) == f"parsing {quoted} as fs.Duration failed: {inner}"


GO_DURATION_CASES = [
    ("0", 0),
    ("-0", 0),
    ("1h30m", 90 * MINUTE),
    ("1.5h", 90 * MINUTE),
    ("300ms", 300 * MS),
    ("1.s", SECOND),
    ("-2562047h47m16.854775808s", INT64_MIN),
    ("9223372036854775807ns", 2**63 - 1),
    ("0.000000001s", 1),
    ("0.0000000009s", 0),
]


@pytest.mark.parametrize(("text", "want"), GO_DURATION_CASES,
                         ids=[c[0] for c in GO_DURATION_CASES])
def test_parse_go_duration(text: str, want: int) -> None:
    assert parse_go_duration(text) == want


GO_DURATION_ERRORS = [
    ("", 'time: invalid duration ""'),
    ("1d", 'time: unknown unit "d" in duration "1d"'),
    ("1.5", 'time: missing unit in duration "1.5"'),
    ("off", 'time: invalid duration "off"'),
    ("-", 'time: invalid duration "-"'),
    (".s", 'time: invalid duration ".s"'),
    ("1e-9", 'time: unknown unit "e-" in duration "1e-9"'),
    ("1h 30m", 'time: unknown unit "h " in duration "1h 30m"'),
    ("1µ", 'time: unknown unit "\\xc2\\xb5" in duration "1\\xc2\\xb5"'),
    ("2562048h", 'time: invalid duration "2562048h"'),
    ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
    ("-9223372036854775809ns", 'time: invalid duration "-9223372036854775809ns"'),
]


@pytest.mark.parametrize(("text", "inner"), GO_DURATION_ERRORS,
                         ids=[repr(c[0]) for c in GO_DURATION_ERRORS])
def test_parse_go_duration_errors(text: str, inner: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_go_duration(text)
    quoted = json.dumps(text, ensure_ascii=False)
    assert str(info.value) == f"parsing {quoted} as time.Duration failed: {inner}"


FORMAT_DURATION_CASES = [
    # ns, fs.Duration.String(), time.Duration.String()
    (0, "0s", "0s"),
    (1, "1ns", "1ns"),
    (999, "999ns", "999ns"),
    (US, "1µs", "1µs"),
    (1500, "1.5µs", "1.5µs"),
    (300 * MS, "300ms", "300ms"),
    (-500 * MS, "-500ms", "-500ms"),
    (1500 * MS, "1.5s", "1.5s"),
    (SECOND, "1s", "1s"),
    (90 * MINUTE, "1h30m0s", "1h30m0s"),
    (-90 * MINUTE, "-1h30m0s", "-1h30m0s"),
    (12 * HOUR, "12h0m0s", "12h0m0s"),
    (3600000003600, "1h0m0.0000036s", "1h0m0.0000036s"),
    (DAY - 1, "23h59m59.999999999s", "23h59m59.999999999s"),
    (DAY, "1d", "24h0m0s"),
    (-DAY, "-1d", "-24h0m0s"),
    (36 * HOUR, "1.5d", "36h0m0s"),
    (86400 * US, "86.4ms", "86.4ms"),
    (WEEK, "1w", "168h0m0s"),
    (10 * DAY, "1.4285714285714286w", "240h0m0s"),
    (29 * DAY, "4.142857142857143w", "696h0m0s"),
    (MONTH, "1M", "720h0m0s"),
    (31 * DAY, "1.0333333333333334M", "744h0m0s"),
    (364 * DAY, "12.133333333333333M", "8736h0m0s"),
    (YEAR, "1y", "8760h0m0s"),
    (366 * DAY, "1.0027397260273974y", "8784h0m0s"),
    (1000 * DAY, "2.73972602739726y", "24000h0m0s"),
    (8 * 10**18, "253.67833587011668y", "2222222h13m20s"),
    (2562047 * HOUR, "292.4711187214612y", "2562047h0m0s"),
    (INT64_MIN, "-292.471208677536y", "-2562047h47m16.854775808s"),
    (DURATION_OFF, "off", "2562047h47m16.854775807s"),
]


@pytest.mark.parametrize(("ns", "fs_string", "go_string"), FORMAT_DURATION_CASES,
                         ids=[str(c[0]) for c in FORMAT_DURATION_CASES])
def test_format_duration(ns: int, fs_string: str, go_string: str) -> None:
    assert format_duration(ns) == fs_string
    assert format_go_duration(ns) == go_string


@pytest.mark.parametrize("text", ["1.5d", "1w", "1.4285714285714286w", "12.133333333333333M",
                                  "1h30m0s", "1.5µs", "-1d", "2.73972602739726y"])
def test_format_duration_round_trips(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


READABLE_CASES = [
    # ns, ReadableString(), ShortReadableString()
    (DURATION_OFF, "off", "off"),
    (0, "0s", "0s"),
    (MS, "1ms", "1ms"),
    (SECOND + 500 * MS, "1s500ms", "1s500ms"),
    (MINUTE * 3 // 2, "1m30s", "1m30s"),
    (HOUR + 2 * MINUTE + 3 * SECOND, "1h2m3s", "1h2m3s"),
    (DAY, "1d", "1d"),
    (WEEK, "1w", "1w"),
    (364 * DAY, "52w", "52w"),
    (YEAR, "1y", "1y"),
    (4 * DAY + 3 * HOUR + 2 * MINUTE + SECOND, "4d3h2m1s", "4d3h2m"),
    ((365 * 3 + 15) * DAY + 2 * HOUR + SECOND, "3y2w1d2h1s", "3y2w1d"),
    ((365 + 17) * DAY + 4 * HOUR + 5 * MINUTE + 6 * SECOND + 7 * MS, "1y2w3d4h5m6s7ms",
     "1y2w3d"),
    # float64 rounding loses a millisecond, as in rclone's own test
    (DURATION_OFF // MS * MS, "292y24w3d23h47m16s853ms", "292y24w3d"),
]


@pytest.mark.parametrize(("ns", "long", "short"), READABLE_CASES,
                         ids=[str(c[0]) for c in READABLE_CASES])
def test_format_duration_readable(ns: int, long: str, short: str) -> None:
    assert format_duration_readable(ns) == long
    assert format_duration_readable(ns, 3) == short
    if ns not in (0, DURATION_OFF):
        assert format_duration_readable(-ns) == "-" + long


@pytest.mark.parametrize(("seconds", "want"), [
    (0.0, "0.0s"),
    (0.05, "0.0s"),
    (0.1, "0.1s"),
    (2.5, "2.5s"),
    (59.99, "59.9s"),  # truncated to 0.1 s, never rounded up
    (60.0, "1m0.0s"),
    (62.5, "1m2.5s"),
    (600.0, "10m0.0s"),
    (3600.0, "1h0.0s"),
    (3723.0, "1h2m3.0s"),
    (86400.0, "1d0.0s"),
    (8 * 86400 + 61.25, "1w1d1m1.2s"),
])
def test_format_elapsed(seconds: float, want: str) -> None:
    assert format_elapsed(seconds) == want
    assert format_elapsed_ns(round(seconds * SECOND)) == want


# --------------------------------------------------------------------------------------
# Cross-check against the real rclone binary
# --------------------------------------------------------------------------------------

RCLONE = shutil.which("rclone")
needs_rclone = pytest.mark.skipif(RCLONE is None, reason="rclone binary not on PATH")

# Global options `rclone rc --loopback options/info` reports (Value, ValueStr) for.
SIZE_FLAGS = ["min_size", "max_size", "max_delete_size", "buffer_size",
              "streaming_upload_cutoff", "max_transfer", "max_buffer_memory",
              "multi_thread_cutoff", "multi_thread_write_buffer_size",
              "multi_thread_chunk_size", "log_file_max_size"]
GO_DURATION_FLAGS = ["modify_window", "timeout", "expect_continue_timeout", "retries_sleep",
                     "max_duration", "fs_cache_expire_duration", "fs_cache_expire_interval",
                     "kv_lock_time", "contimeout"]
WRITE_FAILED = 'failed to write options from block "filter": Reshape failed to Unmarshal: '


def _rclone(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RCLONE_CONFIG=str(tmp / "none.conf"))
    return subprocess.run([RCLONE or "rclone", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def _in_parallel(func: Callable[[T], R], items: list[T]) -> list[R]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(func, items))


def _rc_batch(inputs: list[dict[str, object]], tmp: Path) -> list[dict[str, object]]:
    """Run many rc calls in order in one rclone process (job/batch), one result per input."""
    batch = json.dumps({"inputs": inputs, "concurrency": 1})
    proc = _rclone(["rc", "--loopback", "job/batch", "--json", batch], tmp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)["results"]
    assert len(results) == len(inputs)
    return results


def _options_info(flags: list[str], values: list[str], tmp: Path) -> list[tuple[object, str]]:
    """Set global flags on the command line and read back (Value, ValueStr) of each."""
    chunks = [values[i:i + len(flags)] for i in range(0, len(values), len(flags))]

    def one(chunk: list[str]) -> list[tuple[object, str]]:
        args = ["rc", "--loopback", "options/info"]
        args += [f"--{f.replace('_', '-')}={v}" for f, v in zip(flags, chunk, strict=False)]
        proc = _rclone(args, tmp)
        assert proc.returncode == 0, proc.stderr[-2000:]
        by_name = {o["Name"]: o for block in json.loads(proc.stdout).values() for o in block}
        return [(by_name[f]["Value"], by_name[f]["ValueStr"]) for f in flags[: len(chunk)]]

    return [item for chunk in _in_parallel(one, chunks) for item in chunk]


def _same_number(reported: object, want: int) -> bool:
    # rc values go through float64, so only 53 bits survive
    return isinstance(reported, int | float) and float(reported) == float(want)


def _inner(err: UsageError) -> str:
    return str(err).split(" failed: ", 1)[1]


@needs_rclone
def test_sizes_match_rclone(tmp_path: Path) -> None:
    """Good table strings: value and Option.String() as ``rc options/info`` reports them."""
    values = [c[0] for c in SIZE_CASES] + [f"{c[0]}B" for c in FORMAT_SIZE_CASES if c[0] >= 0]
    for text, (value, value_str) in zip(values, _options_info(SIZE_FLAGS, values, tmp_path),
                                        strict=True):
        mine = parse_size(text)
        assert _same_number(value, mine), (text, value, mine)
        assert value_str == format_size_option(mine), text


@needs_rclone
def test_size_errors_match_rclone(tmp_path: Path) -> None:
    """Bad table strings through SizeSuffix.Set, all in one rclone process."""
    texts = [c[0] for c in SIZE_ERRORS]
    inputs: list[dict[str, object]] = [
        {"_path": "options/set", "filter": {"MinSize": text}} for text in texts]
    for text, result in zip(texts, _rc_batch(inputs, tmp_path), strict=True):
        with pytest.raises(UsageError) as info:
            parse_size(text)
        assert result.get("error") == WRITE_FAILED + _inner(info.value), text


@needs_rclone
def test_durations_match_rclone(tmp_path: Path) -> None:
    """fs.Duration parsing and String(), which the filter prints when --min-age is larger
    than --max-age; all table strings in one rclone process."""
    texts = ([c[0] for c in DURATION_CASES] + [f"{c[0]}ns" for c in FORMAT_DURATION_CASES]
             + [c[0] for c in DURATION_ERRORS])
    dates = ["2020-01-02", "2020-07-02 10:30:00", "2020-07-02T10:30:00.5",
             "2020-07-02T10:30:00+05:30", "1900-01-01"]
    # --max-age -(2**63-1)ns puts the oldest allowed time 292 years ahead, so any set
    # --min-age (even INT64_MIN, as Go's time.Add(-INT64_MIN) wraps) is "larger"
    lowest = f"{-INT64_MAX}ns"
    inputs: list[dict[str, object]] = [
        {"_path": "options/set", "filter": {"MinAge": text, "MaxAge": lowest}}
        for text in texts + dates]
    results = _rc_batch(inputs, tmp_path)
    too_large = re.compile(r'failed to reload options from block "filter": filter: --min-age '
                           r'"(.*)" can\'t be larger than --max-age "(.*)"')
    for text, result in zip(texts + dates, results, strict=True):
        try:
            mine = parse_duration(text)
        except UsageError as err:
            assert result.get("error") == WRITE_FAILED + _inner(err), text
            continue
        if mine == DURATION_OFF:
            assert "error" not in result, (text, result)
            continue
        match = too_large.fullmatch(str(result.get("error")))
        assert match, (text, result)
        assert match[2] == format_duration(-INT64_MAX)
        if text in dates:  # the two clocks are read apart
            assert abs(parse_duration(match[1]) - mine) < 30 * SECOND, (text, match[1])
        else:
            assert match[1] == format_duration(mine), text


@needs_rclone
def test_duration_values_match_rclone(tmp_path: Path) -> None:
    """Exact nanoseconds for cases where float64 arithmetic matters."""
    flags = ["min_age", "log_file_max_age", "rc_job_expire_duration", "rc_job_expire_interval"]
    values = ["1.5y", "1.000000001h", "0.0000000001d", "1e-9", "12345.678", "1_0d", "nan",
              "293y"]
    for text, (value, _) in zip(values, _options_info(flags, values, tmp_path), strict=True):
        assert _same_number(value, parse_duration(text)), (text, value)


@needs_rclone
def test_go_durations_match_rclone(tmp_path: Path) -> None:
    values = [c[0] for c in GO_DURATION_CASES] + [
        f"{c[0]}ns" for c in FORMAT_DURATION_CASES if abs(c[0]) < DAY or c[0] == DURATION_OFF]
    for text, (value, value_str) in zip(values, _options_info(GO_DURATION_FLAGS, values,
                                                               tmp_path), strict=True):
        mine = parse_go_duration(text)
        assert _same_number(value, mine), (text, value, mine)
        assert value_str == format_go_duration(mine), text


@needs_rclone
def test_cli_error_wording_matches_rclone(tmp_path: Path) -> None:
    cases: list[tuple[str, Callable[[str], int], str]] = [
        ("--min-size", parse_size, "1MB"),
        ("--min-size", parse_size, "1é"),
        ("--max-age", parse_duration, "2020-13-01"),
        ("--max-age", parse_duration, "1h 30m"),
        ("--timeout", parse_go_duration, "1d"),
        ("--contimeout", parse_go_duration, "1µ"),
    ]

    def run(case: tuple[str, Callable[[str], int], str]) -> tuple[int, str]:
        flag, _, text = case
        proc = _rclone(["rc", "--loopback", "options/info", f"{flag}={text}"], tmp_path)
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error: ")]
        return proc.returncode, lines[0] if lines else proc.stderr[-500:]

    for (flag, parse, text), (code, line) in zip(cases, _in_parallel(run, cases), strict=True):
        with pytest.raises(UsageError) as info:
            parse(text)
        assert code == 2, (text, line)
        quoted = json.dumps(text, ensure_ascii=False)
        assert line == f'Error: invalid argument {quoted} for "{flag}" flag: {info.value}'


@needs_rclone
def test_listing_sizes_match_rclone(tmp_path: Path) -> None:
    """``ls --human-readable`` prints String(), ``size`` prints ByteUnit()."""
    sizes = [0, 1, 1023, 1024, 1100, 1536, 1048575, 1049000, GIBI - 1, 5 * 10**12]
    folder = tmp_path / "files"
    folder.mkdir()
    for n in sizes:
        with open(folder / f"f{n}", "wb") as handle:
            handle.truncate(n)  # sparse
    listed, total = _in_parallel(lambda args: _rclone(args, tmp_path).stdout,
                                 [["ls", "--human-readable", str(folder)], ["size", str(folder)]])
    got = {name: size for size, name in (line.split() for line in listed.splitlines())}
    assert got == {f"f{n}": format_size(n) for n in sizes}
    assert f"Total size: {format_bytes(sum(sizes))} ({sum(sizes)} Byte)" in total.splitlines()


@needs_rclone
def test_filter_uses_roundtripped_size(tmp_path: Path) -> None:
    """--min-size/--max-size X select exactly the files of size roundtrip_size(X), and
    ``--dump filters`` shows that value as ByteUnit()."""
    texts = ["1100B", "1049000B", "1536B", "102B", "1", "1.5k"]

    def run(text: str) -> tuple[str, list[str]]:
        want = roundtrip_size(parse_size(text))
        folder = tmp_path / text
        folder.mkdir()
        for n in {want - 1, want, want + 1, parse_size(text)}:
            with open(folder / f"f{n}", "wb") as handle:
                handle.truncate(n)
        proc = _rclone(["lsf", "--format", "s", f"--min-size={text}", f"--max-size={text}",
                        "--dump", "filters", str(folder)], tmp_path)
        assert proc.returncode == 0, proc.stderr
        return text, proc.stdout.splitlines()

    for text, lines in _in_parallel(run, texts):
        want = roundtrip_size(parse_size(text))
        assert [int(ln) for ln in lines if ln.isdigit()] == [want], text
        assert f"Minimum size is: {format_bytes(want)}" in lines
        assert f"Maximum size is: {format_bytes(want)}" in lines


@pytest.mark.parametrize(("text", "quoted"), [
    ("plain", '"plain"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ("nl\ntab\tbell\a", '"nl\\ntab\\tbell\\a"'),
    ("nul\x00del\x7f", '"nul\\x00del\\x7f"'),
    ("é ü", '"é ü"'),
    ("nbsp\u00a0", '"nbsp\\u00a0"'),  # a space other than ' ' is not graphic for Go
    ("zw\u200b", '"zw\\u200b"'),  # a format character
    ("smile\U0001F600", '"smile\U0001F600"'),
    ("raw\udcff", '"raw\\xff"'),  # an undecodable byte kept by surrogateescape
])
def test_go_quote_is_strconv_quote(text: str, quoted: str) -> None:
    """One Go %q for every message (filter globs, units, remotes)."""
    from syncengine.filter.glob import go_quote as glob_quote
    from syncengine.units import go_quote

    assert go_quote(text) == quoted
    assert glob_quote is go_quote


# ----- --bwlimit timetables (rclone's fs.BwTimetable Set and LimitAt) ---------------------

_MON_0930 = dt.datetime(2026, 11, 30, 9, 30)  # a Monday
_SUN_0000 = dt.datetime(2026, 11, 29, 0, 0)


@pytest.mark.parametrize(("text", "when", "rates"), [
    ("1M", _MON_0930, (1 << 20, 1 << 20)),
    ("1M:2M", _MON_0930, (1 << 20, 2 << 20)),
    ("off", _MON_0930, (-1, -1)),
    ("08:00,512k 12:00,10M", _MON_0930, (512 << 10, 512 << 10)),
    ("08:00,512k 09:30,10M", _MON_0930, (10 << 20, 10 << 20)),  # starts at that minute
    ("08:00,512k;18:00,off", _MON_0930, (512 << 10, 512 << 10)),
    # before Monday's first slot: the latest slot of the week before (Sunday 18:00)
    ("10:00,1M 18:00,2M", _MON_0930, (2 << 20, 2 << 20)),
    ("Mon-09:00,1M Tue-09:00,2M", _MON_0930, (1 << 20, 1 << 20)),
    # nothing at or before Sunday 00:00: the list's last slot
    ("Mon-09:00,1M Tue-09:00,2M", _SUN_0000, (2 << 20, 2 << 20)),
])
def test_bwlimit_rate_in_force(text: str, when: dt.datetime, rates: tuple[int, int]) -> None:
    from syncengine.units import bwlimit_at, parse_bwlimit

    assert bwlimit_at(parse_bwlimit(text), when) == rates


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty string"),
    ("bogus", "bad suffix 's'"),
    ("1x:2M", "bad suffix 'x'"),
    ("25:00,1M", "invalid hour (must be between 00 and 23): 25"),
    ("10:60,1M", "invalid minute (must be between 00 and 59): 60"),
    ("1000,1M", 'invalid time specification (hh:mm): "1000"'),
    ("Mox-10:00,1M", 'invalid weekday: "mox"'),
    ("Mon-Tue-10:00,1M", 'invalid time specification: "Mon-Tue-10:00"'),
    ("10:00,1M,2", 'invalid time/bandwidth specification: "10:00,1M,2"'),
])
def test_bwlimit_refused_as_rclone(text: str, message: str) -> None:
    from syncengine.errors import UsageError
    from syncengine.units import parse_bwlimit

    with pytest.raises(UsageError) as info:
        parse_bwlimit(text)
    assert str(info.value) == f"parsing {json.dumps(text)} as fs.BwTimetable failed: {message}"
