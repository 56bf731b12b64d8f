"""Run statistics: counters, rclone's totals, speeds, error classes and the exact formats."""

from __future__ import annotations

import threading

import pytest

from syncengine.accounting import (
    CheckStat,
    Stats,
    StatsSnapshot,
    TransferStat,
    classify_error,
    eta_seconds,
    eta_string,
    format_stats_block,
    format_stats_one_line,
    format_transfer_line,
    percent,
    progress_lines,
    shorten_name,
    stats_json,
)
from syncengine.errors import (
    DirNotFoundError,
    FatalError,
    MaxDeleteError,
    MaxDurationError,
    MaxTransferError,
    NoRetryError,
    PysyncError,
    RetryableError,
    SourceChangedError,
    UsageError,
)


class FakeClock:
    """A settable monotonic clock."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def tick(self, dt: float) -> None:
        self.t += dt


# --------------------------------------------------------------------------------------
# Small formulas (cases from rclone's own stats_test.go / accounting_test.go)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b", "want"), [
    (0, 1000, "0%"), (1, 1000, "0%"), (9, 1000, "1%"), (500, 1000, "50%"),
    (1000, 1000, "100%"), (10**8, 10**9, "10%"), (0, 0, "-"), (100, -100, "-"),
    (-100, 100, "-"), (-100, -100, "-"), (5, 1000, "1%"), (167936, 270336, "62%"),
])
def test_percent(a: int, b: int, want: str) -> None:
    assert percent(a, b) == want


_MAX = (1 << 63) - 1
_ETA_MAX = _MAX // 10**9


@pytest.mark.parametrize(("size", "total", "rate", "want_eta", "want_str"), [
    (0, 365 * 86400, 1.0, 365 * 86400, "1y"),
    (0, 7 * 86400, 1.0, 7 * 86400, "1w"),
    (0, 86400, 1.0, 86400, "1d"),
    (0, 1110 * 86400, 1.0, 1110 * 86400, "3y2w1d"),
    (0, 15 * 86400, 1.0, 15 * 86400, "2w1d"),
    (0, 129600, 1.0, 129600, "1d12h"),
    (0, 95000, 1.0, 95000, "1d2h23m"),
    (0, 1, 2.0, 0, "0s"),
    (0, 1, 1.0, 1, "1s"),
    (0, 1, 0.5, 2, "2s"),
    (0, 100, 1.0, 100, "1m40s"),
    (50, 100, 1.0, 50, "50s"),
    (100, 100, 1.0, 0, "0s"),
    (-1, 100, 1.0, None, "-"),
    (200, 100, 1.0, None, "-"),
    (10, -1, 1.0, None, "-"),
    (10, 20, 0.0, None, "-"),
    (10, 20, -1.0, None, "-"),
    (0, 0, 1.0, None, "-"),
    (0, _MAX, 1.0, _ETA_MAX, "-"),
    (0, _ETA_MAX, 1.0, _ETA_MAX, "-"),
    (0, _ETA_MAX - 1, 1.0, _ETA_MAX - 1, "292y24w3d"),
    (0, _ETA_MAX - 1, 0.1, _ETA_MAX, "-"),
])
def test_eta(size: int, total: int, rate: float, want_eta: int | None, want_str: str) -> None:
    assert eta_seconds(size, total, rate) == want_eta
    assert eta_string(size, total, rate) == want_str


@pytest.mark.parametrize(("name", "size", "want"), [
    ("", 0, ""), ("abcde", 10, "abcde"), ("abcde", 0, "abcde"), ("abcde", -1, "abcde"),
    ("abcde", 5, "abcde"), ("abcde", 4, "ab…e"), ("abcde", 3, "a…e"), ("abcde", 2, "a…"),
    ("abcde", 1, "…"), ("abcdef", 6, "abcdef"), ("abcdef", 5, "ab…ef"),
    ("abcdef", 4, "ab…f"), ("abcdef", 3, "a…f"), ("abcdef", 2, "a…"), ("áßcdèf", 1, "…"),
    ("áßcdè", 5, "áßcdè"), ("áßcdè", 4, "áß…è"), ("áßcdè", 3, "á…è"), ("áßcdè", 2, "á…"),
    ("áßcdèł", 5, "áß…èł"), ("áßcdèł", 4, "áß…ł"),
    ("a_very_long_file_name_that_goes_beyond_forty_five_columns.bin", 45,
     "a_very_long_file_name_…forty_five_columns.bin"),
    ("ab\udcffcdef", 5, "ab…ef"), ("\udcffbcdef", 5, "\ufffdb…ef"),
])
def test_shorten_name(name: str, size: int, want: str) -> None:
    assert shorten_name(name, size) == want


# --------------------------------------------------------------------------------------
# Final blocks captured from rclone v1.75.2 (`rclone copy|sync -v ...`, the INFO record
# after "INFO  : "), formatted here from the same counts.
# --------------------------------------------------------------------------------------

BLOCKS = [
    pytest.param(  # sync: one new file, one replaced, one file and one dir deleted
        dict(bytes=21, total_bytes=21, checks=2, total_checks=2, listed=6, deletes=1,
             deletes_size=21, deleted_dirs=1, transfers=2, total_transfers=2),
        "\nTransferred:   \t         21 B / 21 B, 100%, 0 B/s, ETA -\n"
        "Checks:                 2 / 2, 100%, Listed 6\n"
        "Deleted:                1 (files), 1 (dirs), 21 B (freed)\n"
        "Transferred:            2 / 2, 100%\n"
        "Elapsed time:         0.0s\n", id="sync-deletes"),
    pytest.param(  # copy into an empty destination
        dict(bytes=21, total_bytes=21, listed=3, transfers=2, total_transfers=2),
        "\nTransferred:   \t         21 B / 21 B, 100%, 0 B/s, ETA -\n"
        "Checks:                 0 / 0, -, Listed 3\n"
        "Transferred:            2 / 2, 100%\n"
        "Elapsed time:         0.0s\n", id="copy-new"),
    pytest.param(  # nothing to transfer
        dict(checks=2, total_checks=2, listed=6),
        "\nTransferred:   \t          0 B / 0 B, -, 0 B/s, ETA -\n"
        "Checks:                 2 / 2, 100%, Listed 6\n"
        "Elapsed time:         0.0s\n", id="up-to-date"),
    pytest.param(  # mkdir fails (a file in the way) in all 3 attempts
        dict(bytes=11, total_bytes=11, errors=1, retry_error=True, checks=2, total_checks=2,
             listed=14, transfers=1, total_transfers=1),
        "\nTransferred:   \t         11 B / 11 B, 100%, 0 B/s, ETA -\n"
        "Errors:                 1 (retrying may help)\n"
        "Checks:                 2 / 2, 100%, Listed 14\n"
        "Transferred:            1 / 1, 100%\n"
        "Elapsed time:         0.0s\n", id="errors-retry"),
    pytest.param(  # sync --max-delete 1 with two files to delete
        dict(errors=2, fatal_error=True, checks=4, total_checks=4, listed=8, deletes=1,
             deletes_size=3),
        "\nTransferred:   \t          0 B / 0 B, -, 0 B/s, ETA -\n"
        "Errors:                 2 (fatal error encountered)\n"
        "Checks:                 4 / 4, 100%, Listed 8\n"
        "Deleted:                1 (files), 0 (dirs), 3 B (freed)\n"
        "Elapsed time:         0.0s\n", id="max-delete-fatal"),
    pytest.param(  # copy --transfers 1 --max-transfer 150k of 3 x 100 KiB
        dict(bytes=167936, total_bytes=270336, errors=1, fatal_error=True, listed=3,
             transfers=1, total_transfers=2),
        "\nTransferred:   \t      164 KiB / 264 KiB, 62%, 0 B/s, ETA -\n"
        "Errors:                 1 (fatal error encountered)\n"
        "Checks:                 0 / 0, -, Listed 3\n"
        "Transferred:            1 / 2, 50%\n"
        "Elapsed time:         0.0s\n", id="max-transfer-hard"),
    pytest.param(  # same with --cutoff-mode soft
        dict(bytes=204800, total_bytes=204800, errors=2, listed=3, transfers=2,
             total_transfers=2, elapsed_ns=312_000_000),
        "\nTransferred:   \t      200 KiB / 200 KiB, 100%, 0 B/s, ETA -\n"
        "Errors:                 2 (no need to retry)\n"
        "Checks:                 0 / 0, -, Listed 3\n"
        "Transferred:            2 / 2, 100%\n"
        "Elapsed time:         0.3s\n", id="max-transfer-soft"),
    pytest.param(  # same with --cutoff-mode cautious
        dict(bytes=102400, total_bytes=204800, errors=2, listed=3, transfers=1,
             total_transfers=2),
        "\nTransferred:   \t      100 KiB / 200 KiB, 50%, 0 B/s, ETA -\n"
        "Errors:                 2 (no need to retry)\n"
        "Checks:                 0 / 0, -, Listed 3\n"
        "Transferred:            1 / 2, 50%\n"
        "Elapsed time:         0.0s\n", id="max-transfer-cautious"),
    pytest.param(  # sync --track-renames: one file renamed by a server-side move
        dict(checks=2, total_checks=2, listed=2, renames=1, server_side_moves=1,
             server_side_move_bytes=5000),
        "\nTransferred:   \t          0 B / 0 B, -, 0 B/s, ETA -\n"
        "Checks:                 2 / 2, 100%, Listed 2\n"
        "Renamed:                1\n"
        "Server Side Moves:      1 @ 4.883 KiB\n"
        "Elapsed time:         0.0s\n", id="track-renames"),
    pytest.param(  # sync --dry-run: 2 copies and 1 delete skipped (logged at NOTICE)
        dict(bytes=21, total_bytes=21, checks=1, total_checks=1, listed=4, deletes=1,
             deletes_size=3, transfers=2, total_transfers=2),
        "\nTransferred:   \t         21 B / 21 B, 100%, 0 B/s, ETA -\n"
        "Checks:                 1 / 1, 100%, Listed 4\n"
        "Deleted:                1 (files), 0 (dirs), 3 B (freed)\n"
        "Transferred:            2 / 2, 100%\n"
        "Elapsed time:         0.0s\n", id="dry-run"),
    pytest.param(  # last block of `copy --bwlimit 1M --stats 1s` (speed after the loop)
        dict(bytes=5003000, total_bytes=5003000, speed=1055900.0, listed=5, transfers=5,
             total_transfers=5, elapsed_ns=4_712_000_000),
        "\nTransferred:   \t    4.771 MiB / 4.771 MiB, 100%, 1.007 MiB/s, ETA 0s\n"
        "Checks:                 0 / 0, -, Listed 5\n"
        "Transferred:            5 / 5, 100%\n"
        "Elapsed time:         4.7s\n", id="bwlimit-final"),
]


@pytest.mark.parametrize(("counts", "want"), BLOCKS)
def test_block_matches_rclone(counts: dict, want: str) -> None:
    assert format_stats_block(StatsSnapshot(**counts)) == want


# A periodic block of `rclone copy --use-json-log -v --bwlimit 1M --transfers 2 --stats
# 1500ms` (3 small files done, 2 big ones in flight); its "stats" object follows.
LIVE_MSG = (
    "\nTransferred:   \t    3.058 MiB / 4.771 MiB, 64%, 1.029 MiB/s, ETA 1s\n"
    "Checks:                 0 / 0, -, Listed 5\n"
    "Transferred:            3 / 5, 60%\n"
    "Elapsed time:         2.9s\n"
    "Transferring:\n"
    " * a_very_long_file_name_…forty_five_columns.bin: 54% / 2.861 MiB, 539.368 KiB/s, 2s\n"
    " *                                     short.bin: 78% / 1.907 MiB, 509.952 KiB/s, 0s\n"
)
LIVE_JSON = {
    "bytes": 3206072, "checks": 0, "deletedDirs": 0, "deletes": 0,
    "elapsedTime": 2.999860808, "errors": 0, "eta": 1, "fatalError": False, "listed": 5,
    "renames": 0, "retryError": False, "serverSideCopies": 0, "serverSideCopyBytes": 0,
    "serverSideMoveBytes": 0, "serverSideMoves": 0, "speed": 1078740.7630783692,
    "totalBytes": 5003000, "totalChecks": 0, "totalTransfers": 5,
    "transferTime": 2.998960008,
    "transferring": [
        {"bytes": 1634304, "dstFs": "d14", "eta": 2, "group": "global_stats",
         "name": "a_very_long_file_name_that_goes_beyond_forty_five_columns.bin",
         "percentage": 54, "size": 3000000, "speed": 545092.1275867348,
         "speedAvg": 552313.545413991, "srcFs": "slow"},
        {"bytes": 1568768, "dstFs": "d14", "eta": 0, "group": "global_stats",
         "name": "short.bin", "percentage": 78, "size": 2000000, "speed": 524954.8942764803,
         "speedAvg": 522191.3044663514, "srcFs": "slow"},
    ],
    "transfers": 3,
}


def _live_snapshot(elapsed_ns: int = 2_900_000_000) -> StatsSnapshot:
    t = [TransferStat(d["name"], d["size"], d["bytes"], d["speed"], d["speedAvg"],
                      float(i), d["srcFs"], d["dstFs"])
         for i, d in enumerate(LIVE_JSON["transferring"])]
    return StatsSnapshot(bytes=3206072, total_bytes=5003000, speed=1078740.7630783692,
                         listed=5, transfers=3, total_transfers=5,
                         transfer_time=2.998960008, elapsed_ns=elapsed_ns,
                         transferring=tuple(t))


def test_transferring_block_matches_rclone() -> None:
    assert format_stats_block(_live_snapshot()) == LIVE_MSG


def test_stats_json_matches_rclone() -> None:
    got = stats_json(_live_snapshot(2_999_860_808))
    assert got == LIVE_JSON
    assert list(got) == sorted(got)
    assert "transferring" not in stats_json(_live_snapshot(), short=True)


def test_stats_json_errors_matches_rclone() -> None:
    # `--use-json-log` stats of the max-transfer-hard run above
    s = StatsSnapshot(bytes=167936, total_bytes=270336, errors=1, fatal_error=True,
                      last_error="max transfer limit reached as set by --max-transfer",
                      listed=3, transfers=1, total_transfers=2, transfer_time=0.004821113,
                      elapsed_ns=5_832_270)
    assert stats_json(s) == {
        "bytes": 167936, "checks": 0, "deletedDirs": 0, "deletes": 0,
        "elapsedTime": 0.00583227, "errors": 1, "eta": None, "fatalError": True,
        "lastError": "max transfer limit reached as set by --max-transfer", "listed": 3,
        "renames": 0, "retryError": False, "serverSideCopies": 0, "serverSideCopyBytes": 0,
        "serverSideMoveBytes": 0, "serverSideMoves": 0, "speed": 0, "totalBytes": 270336,
        "totalChecks": 0, "totalTransfers": 2, "transferTime": 0.004821113, "transfers": 1,
    }
    assert "lastError" not in stats_json(StatsSnapshot(last_error="x"))


@pytest.mark.parametrize(("t", "want"), [
    (TransferStat("a_very_long_file_name_that_goes_beyond_forty_five_columns.bin", 3000000,
                  629000), "a_very_long_file_name_…forty_five_columns.bin: 20% / 2.861 MiB, "
                           "0 B/s, -"),
    (TransferStat("short.bin", 2000000, 1520000, 500000.0, 522167.0),
     "                                    short.bin: 76% / 1.907 MiB, 509.929 KiB/s, 0s"),
    (TransferStat("x", -1, 500, 10.0, 10.0), "                                            x:"
                                              "  0% / off, 10 B/s, -"),
    (TransferStat("big", 10 << 30, 0, 0.0, 1 << 20),
     "                                          big:  0% / 10 GiB, 1 MiB/s, 2h50m40s"),
    (TransferStat("f", 100, 100, 1.0, 1.0), "                                            f:"
                                            "100% / 100 B, 1 B/s, 0s"),
])
def test_transfer_line(t: TransferStat, want: str) -> None:
    assert format_transfer_line(t) == want


def test_transfer_line_name_length_and_bits() -> None:
    t = TransferStat("abcdef", 1024, 512, 0.0, 1536.0)
    assert format_transfer_line(t, file_name_length=5) == "ab…ef: 50% / 1 KiB, 1.500 KiB/s, 0s"
    assert format_transfer_line(t, file_name_length=0, bits=True) == \
        "abcdef: 50% / 1 KiB, 12 Kibit/s, 0s"


def test_checking_lines_exclude_transferring() -> None:
    s = StatsSnapshot(checks=1, total_checks=4, listed=9,
                      checking=(CheckStat("a"), CheckStat("b", "deleting"), CheckStat("c")),
                      transferring=(TransferStat("c", 10, 5),))
    assert format_stats_block(s).endswith(
        "Elapsed time:         0.0s\n"
        "Checking:\n"
        " *                                             a: checking\n"
        " *                                             b: deleting\n"
        "Transferring:\n"
        " *                                             c: 50% / 10 B, 0 B/s, -\n")
    assert stats_json(s)["checking"] == ["a", "b", "c"]
    # a non-empty checking map whose entries are all transferring: rclone's empty list
    s = StatsSnapshot(checking=(CheckStat("c"),), transferring=(TransferStat("c", 10, 5),))
    assert "Checking:\n\nTransferring:\n" in format_stats_block(s)


@pytest.mark.parametrize(("counts", "want"), [
    (dict(errors=3), "Errors:                 3 (no need to retry)\n"),
    (dict(errors=3, retry_error=True), "Errors:                 3 (retrying may help)\n"),
    (dict(errors=3, retry_error=True, fatal_error=True),
     "Errors:                 3 (fatal error encountered)\n"),
    (dict(server_side_copies=2, server_side_copy_bytes=3 << 20),
     "Server Side Copies:     2 @ 3 MiB\n"),
    (dict(server_side_moves=12345678), "Server Side Moves:12345678 @ 0 B\n"),
    (dict(renames=7), "Renamed:                7\n"),
    (dict(deleted_dirs=2), "Deleted:                0 (files), 2 (dirs), 0 B (freed)\n"),
    (dict(elapsed_ns=61_560_000_000), "Elapsed time:       1m1.5s\n"),
    (dict(elapsed_ns=3_723_999_000_000), "Elapsed time:     1h2m3.9s\n"),
    (dict(elapsed_ns=90061_000_000_000), "Elapsed time:   1d1h1m1.0s\n"),
    (dict(elapsed_ns=727261_050_000_000), "Elapsed time:  1w1d10h1m1.0s\n"),
])
def test_optional_lines(counts: dict, want: str) -> None:
    assert want in format_stats_block(StatsSnapshot(**counts))


def test_no_optional_lines_when_zero() -> None:
    assert format_stats_block(StatsSnapshot()) == (
        "\nTransferred:   \t          0 B / 0 B, -, 0 B/s, ETA -\n"
        "Elapsed time:         0.0s\n")


# `rclone copy -v --stats 1s --stats-one-line[-date] --transfers 1 --bwlimit 500k` of six
# 300000-byte files, and `--stats-unit bits`.
ONE_LINE = [
    (dict(bytes=562144, total_bytes=1800000, transfers=1, total_transfers=6,
          transfer_queue=4), "", "  548.969 KiB / 1.717 MiB, 31%, 0 B/s, ETA - (xfr#1/6)"),
    (dict(bytes=1064000, total_bytes=1800000, transfers=3, total_transfers=6,
          transfer_queue=2), "", "    1.015 MiB / 1.717 MiB, 59%, 0 B/s, ETA - (xfr#3/6)"),
    (dict(bytes=1565500, total_bytes=1800000, transfers=5, total_transfers=6),
     "", "    1.493 MiB / 1.717 MiB, 87%, 0 B/s, ETA -"),
    (dict(bytes=1800000, total_bytes=1800000, transfers=6, total_transfers=6),
     "", "    1.717 MiB / 1.717 MiB, 100%, 0 B/s, ETA -"),
    (dict(bytes=529376, total_bytes=1800000, transfers=1, total_transfers=6,
          transfer_queue=4), "2026/11/28 15:13:37 - ",
     "2026/11/28 15:13:37 -   516.969 KiB / 1.717 MiB, 29%, 0 B/s, ETA - (xfr#1/6)"),
    (dict(bytes=1031072, total_bytes=1800000, transfers=3, total_transfers=6,
          transfer_queue=2), "2026/11/28 15:13:38 - ",
     "2026/11/28 15:13:38 -  1006.906 KiB / 1.717 MiB, 57%, 0 B/s, ETA - (xfr#3/6)"),
    (dict(bytes=21, total_bytes=21, transfers=2, total_transfers=2, listed=3),
     "", "         21 B / 21 B, 100%, 0 B/s, ETA -"),
    (dict(checks=2, total_checks=2, listed=6), "", "          0 B / 0 B, -, 0 B/s, ETA -"),
    (dict(checks=1, total_checks=5, check_queue=3, transfers=0, total_transfers=2,
          transfer_queue=1), "", "          0 B / 0 B, -, 0 B/s, ETA - (xfr#0/2, chk#1/5)"),
]


@pytest.mark.parametrize(("counts", "prefix", "want"), ONE_LINE)
def test_one_line_matches_rclone(counts: dict, prefix: str, want: str) -> None:
    assert format_stats_one_line(StatsSnapshot(**counts), date_prefix=prefix) == want


def test_one_line_bits_matches_rclone() -> None:
    s = StatsSnapshot(bytes=1800000, total_bytes=1800000, transfers=6, total_transfers=6)
    assert format_stats_one_line(s, bits=True) == \
        "    1.717 MiB / 1.717 MiB, 100%, 0 bit/s, ETA -"


def test_progress_lines() -> None:
    lines = progress_lines(_live_snapshot(), 60)
    assert lines[0] == "Transferred:   \t    3.058 MiB / 4.771 MiB, 64%, 1.029 MiB/s,"
    assert lines[-1] == " *                                     short.bin: 78% / 1.90"
    assert lines[-2] == " * a_very_long_file_name_…forty_five_columns.bin: 54% / 2."
    assert lines[1:5] == LIVE_MSG.split("\n")[2:6]
    # rclone cuts bytes: a cut inside "…" leaves its raw leading bytes
    cut = progress_lines(_live_snapshot(), 26)[-2]
    assert cut.encode("utf-8", "surrogateescape") == b" * a_very_long_file_name_\xe2"
    assert len(progress_lines(_live_snapshot())) == 7


# --------------------------------------------------------------------------------------
# Live counters driven through the API, compared with the rclone captures above
# --------------------------------------------------------------------------------------


def test_live_sync_run_matches_rclone() -> None:
    clock = FakeClock()
    st = Stats(clock=clock)
    st.listed(3)
    st.listed(3)
    st.start_check("a.txt")
    st.add_total_transfer(11)
    st.end_check("a.txt")
    st.add_total_transfer(10)
    for name, size in (("sub/b.txt", 10), ("a.txt", 11)):
        with st.start_transfer(name, size) as tr:
            tr.add(size)
    st.start_check("old.txt", "deleting")
    st.deleted(21)
    st.end_check("old.txt")
    st.deleted_dir()
    clock.tick(0.04)
    assert format_stats_block(st.snapshot()) == BLOCKS[0].values[1]
    assert str(st) == BLOCKS[0].values[1]


def test_live_max_transfer_run_matches_rclone() -> None:
    clock = FakeClock()
    st = Stats(clock=clock)
    st.listed(3)
    for _ in range(3):
        st.add_total_transfer(102400)
    tr = st.start_transfer("f1", 102400)
    tr.add(65536)
    tr.add(36864)
    tr.done()
    tr = st.start_transfer("f2", 102400)
    tr.add(65536)
    snap = st.snapshot()
    assert (snap.total_transfers, snap.total_bytes, snap.transfer_queue) == (3, 307200, 1)
    err = MaxTransferError("max transfer limit reached as set by --max-transfer")
    tr.done(err)
    st.error(err)  # the engine counts it again: rclone counts an error once
    assert format_stats_block(st.snapshot()) == BLOCKS[5].values[1]
    assert stats_json(st.snapshot())["lastError"] == str(err)


def test_live_one_line_with_queue_matches_rclone() -> None:
    st = Stats(clock=FakeClock())
    for _ in range(6):
        st.add_total_transfer(300000)
    tr = st.start_transfer("f1", 300000)
    tr.add(300000)
    tr.done(None)
    tr = st.start_transfer("f2", 300000)
    tr.add(262144)
    assert format_stats_one_line(st.snapshot()) == ONE_LINE[0][2]


def test_live_transferring_lines() -> None:
    clock = FakeClock()
    st = Stats(clock=clock)
    st.listed(5)
    a = st.start_transfer("a_very_long_file_name_that_goes_beyond_forty_five_columns.bin",
                          3000000, src_fs="slow", dst_fs="d14")
    clock.tick(0.001)
    b = st.start_transfer("short.bin", 2000000)
    a.add(629000)
    b.add(480000)
    clock.tick(0.5)
    block = format_stats_block(st.snapshot())
    assert block.endswith(
        "Transferring:\n"
        " * a_very_long_file_name_…forty_five_columns.bin: 20% / 2.861 MiB, 0 B/s, -\n"
        " *                                     short.bin: 24% / 1.907 MiB, 0 B/s, -\n")
    j = stats_json(st.snapshot())
    assert [t["name"] for t in j["transferring"]] == [a.name, b.name]
    assert j["transferring"][0]["srcFs"] == "slow" and "srcFs" not in j["transferring"][1]
    assert j["transferring"][0]["speed"] == pytest.approx(629000 / 0.501)
    assert j["transferring"][0]["speedAvg"] == 0 and j["transferring"][0]["eta"] is None
    b.done(None)
    a.done(None)
    assert "Transferring" not in format_stats_block(st.snapshot())


def test_failed_transfer_leaves_totals_but_keeps_bytes() -> None:
    st = Stats(clock=FakeClock())
    st.add_total_transfer(100)
    tr = st.start_transfer("x", 100)
    tr.add(40)
    tr.done(OSError("boom"))
    tr.done(OSError("again"))  # ignored
    s = st.snapshot()
    assert (s.transfers, s.total_transfers, s.bytes, s.total_bytes, s.errors) == \
        (0, 0, 40, 40, 1)


def test_queue_bookkeeping() -> None:
    st = Stats(clock=FakeClock())
    st.add_total_transfer(100)
    st.add_total_transfer(-1)  # unknown size counts as 0
    st.add_total_check(3)
    s = st.snapshot()
    assert (s.total_transfers, s.total_bytes, s.total_checks) == (2, 100, 3)
    st.dequeue_transfer(100)
    st.start_check("a")
    st.start_transfer("u", -1).add(7)
    s = st.snapshot()
    assert (s.transfer_queue, s.total_transfers, s.total_bytes) == (0, 1, 7)
    assert (s.check_queue, s.total_checks) == (2, 3)
    tr = st.start_transfer("v", 50, queued=False)  # empty queue anyway: never negative
    st.set_transfer_queue(4, 400)
    st.set_check_queue(0)
    s = st.snapshot()
    assert (s.total_transfers, s.total_bytes, s.total_checks) == (6, 457, 1)
    assert st.bytes_with_pending() == 7 + 50
    tr.done(None)


def test_dry_run_transfer_counts_like_rclone() -> None:
    st = Stats(clock=FakeClock())
    st.add_total_transfer(11)
    st.dry_run_transfer("a.txt", 11)
    s = st.snapshot()
    assert (s.transfers, s.total_transfers, s.bytes, s.total_bytes) == (1, 1, 11, 11)


def test_server_side_bytes() -> None:
    st = Stats(clock=FakeClock())
    st.server_side_copy(1000)
    st.server_side_move(5000, checking=True)
    st.add_bytes(10, network=False)
    s = st.snapshot()
    assert (s.bytes, s.server_side_copies, s.server_side_copy_bytes) == (1010, 1, 1000)
    assert (s.server_side_moves, s.server_side_move_bytes) == (1, 5000)


def test_max_delete_limits() -> None:
    st = Stats(clock=FakeClock())
    st.deleted(10, max_delete=1)
    with pytest.raises(MaxDeleteError, match="^--max-delete threshold reached$"):
        st.deleted(10, max_delete=1)
    with pytest.raises(MaxDeleteError, match="^--max-delete-size threshold reached$"):
        st.deleted(91, max_delete_size=100)
    st.deleted(-1, max_delete_size=10)  # unknown sizes count as 0
    s = st.snapshot()
    assert (s.deletes, s.deletes_size) == (2, 10)


def test_reset_counters() -> None:
    clock = FakeClock()
    st = Stats(clock=clock)
    st.listed(4)
    st.error(OSError("x"))
    st.dry_run_transfer("a", 3)
    clock.tick(5)
    st.reset_counters()
    clock.tick(0.25)
    s = st.snapshot()
    assert (s.listed, s.errors, s.transfers, s.bytes, s.elapsed_ns) == (0, 0, 0, 0, 250_000_000)


# --------------------------------------------------------------------------------------
# Speeds and times
# --------------------------------------------------------------------------------------


def test_speed_is_zero_before_the_first_tick() -> None:
    clock = FakeClock()
    st = Stats(clock=clock)
    tr = st.start_transfer("a", 10 << 20)
    tr.add(5 << 20)
    clock.tick(0.99)
    s = st.snapshot()
    assert s.speed == 0 and s.transferring[0].speed_avg == 0
    assert s.transferring[0].speed == pytest.approx((5 << 20) / 0.99)


def test_speed_constant_rate() -> None:
    clock = FakeClock()
    st = Stats(clock=clock)
    tr = st.start_transfer("a", 100 << 20)
    for _ in range(50):  # 1 MiB every 0.1 s
        clock.tick(0.1)
        tr.add(1 << 20)
        st.snapshot()
    s = st.snapshot()
    assert s.speed == pytest.approx(10 << 20, rel=1e-6)
    assert s.transferring[0].speed_avg == pytest.approx(10 << 20, rel=1e-6)
    assert s.eta == 5 and s.transferring[0].eta == 5
    # the float average may land a hair under 10 MiB/s, which Go truncates to 10485759
    assert format_stats_block(s).startswith(
        "\nTransferred:   \t       50 MiB / 100 MiB, 50%, 10")
    assert "MiB/s, ETA 5s\n" in format_stats_block(s)
    assert format_stats_block(s).endswith(" 50% / 100 MiB, 10.000 MiB/s, 5s\n") or \
        format_stats_block(s).endswith(" 50% / 100 MiB, 10 MiB/s, 5s\n")


def test_speed_soft_start_and_decay() -> None:
    clock = FakeClock()
    st = Stats(clock=clock)
    tr = st.start_transfer("a", -1)
    tr.add(1600)
    clock.tick(1.0)
    assert st.snapshot().speed == pytest.approx(1600)  # period 1: the first second alone
    clock.tick(1.0)  # nothing read: (0 + 1600*1)/2
    assert st.snapshot().speed == pytest.approx(800)
    clock.tick(100.0)  # one lazy evaluation covering 100 ticks decays like 100 ticks
    want = 800.0
    for period in range(3, 103):
        want = want * (min(period, 16) - 1) / min(period, 16)
    assert st.snapshot().speed == pytest.approx(want)
    # bytes between ticks are kept for the next tick
    clock.tick(0.5)
    tr.add(1000)
    assert st.snapshot().speed == pytest.approx(want)


def test_speed_kept_after_last_transfer_and_loop_restarts() -> None:
    clock = FakeClock()
    st = Stats(clock=clock)
    tr = st.start_transfer("a", 3000)
    for _ in range(3):
        tr.add(1000)
        clock.tick(1.0)
    tr.done(None)
    clock.tick(30)
    assert st.snapshot().speed == pytest.approx(1000)  # frozen when the loop stopped
    # short transfers one after the other never see a tick (rclone shows 0 B/s)
    st2 = Stats(clock=clock)
    for i in range(5):
        t = st2.start_transfer(f"f{i}", 300000)
        clock.tick(0.6)
        t.add(300000)
        t.done(None)
    assert st2.snapshot().speed == 0


def test_transfer_time_is_union_of_active_ranges() -> None:
    clock = FakeClock()
    st = Stats(clock=clock)
    a = st.start_transfer("a", 1)
    clock.tick(1)
    b = st.start_transfer("b", 1)
    clock.tick(1)
    a.done(None)
    clock.tick(1)
    b.done(None)
    clock.tick(5)  # idle
    st.start_check("c")
    clock.tick(0.5)
    assert st.snapshot().transfer_time == pytest.approx(3.5)
    st.end_check("c")
    clock.tick(2)
    for i in range(50):  # many sequential ones are culled into a running total
        t = st.start_transfer(f"x{i}", 1)
        clock.tick(0.1)
        t.done(None)
        clock.tick(0.1)
    s = st.snapshot()
    assert s.transfer_time == pytest.approx(8.5)
    assert len(st._old_ranges) <= 1
    assert s.elapsed_ns == 20_500_000_000


def test_restart_resets_file_progress_only() -> None:
    st = Stats(clock=FakeClock())
    tr = st.start_transfer("a", 100)
    tr.add(60)
    tr.restart()
    tr.add(100)
    s = st.snapshot()
    assert (s.transferring[0].bytes, s.transferring[0].percentage, s.bytes) == (100, 100, 160)


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def _chained(outer: BaseException, cause: BaseException) -> BaseException:
    try:
        raise outer from cause
    except BaseException as err:  # noqa: BLE001 - building a chain
        return err


class _RetryAfter(Exception):
    retry_after = 1_900_000_000.0


@pytest.mark.parametrize(("err", "kind"), [
    (OSError("disk"), "retry"),
    (FileNotFoundError("gone"), "retry"),
    (ValueError("bug"), "retry"),
    (PysyncError("generic"), "retry"),
    (RetryableError("again"), "retry"),
    (NoRetryError("no"), "no-retry"),
    (SourceChangedError("changing"), "retry"),
    (DirNotFoundError("dir"), "retry"),  # rclone: ErrorDirNotFound is a plain error
    (FatalError("stop"), "fatal"),
    (MaxDeleteError("--max-delete threshold reached"), "fatal"),
    (MaxTransferError("max transfer"), "fatal"),
    (MaxDurationError("max duration"), "fatal"),
    (UsageError("bad"), "fatal"),
    (_RetryAfter("later"), "retry"),
    (_chained(OSError("wrapped"), NoRetryError("inner")), "no-retry"),
    (_chained(OSError("wrapped"), FatalError("inner")), "fatal"),
    (_chained(NoRetryError("outer"), _RetryAfter("inner")), "retry"),
])
def test_error_classes(err: BaseException, kind: str) -> None:
    assert classify_error(err) == kind
    st = Stats(clock=FakeClock())
    assert st.error(err) is True
    s = st.snapshot()
    assert (s.errors, s.fatal_error, s.retry_error) == (1, kind == "fatal", kind == "retry")
    detail = {"fatal": "fatal error encountered", "retry": "retrying may help",
              "no-retry": "no need to retry"}[kind]
    assert f"Errors:                 1 ({detail})\n" in format_stats_block(s)


def test_error_sequence_like_rclone() -> None:
    st = Stats(clock=FakeClock())
    assert not st.errored and st.errors == 0 and st.last_error is None
    assert st.error(None) is False and st.errors == 0
    eof = EOFError("EOF")
    st.error(eof)
    assert (st.errors, st.fatal, st.retryable, st.last_error) == (1, False, True, eof)
    assert st.should_retry and st.retry_after is None
    st.error(_RetryAfter("later"))
    assert st.retry_after == 1_900_000_000.0
    st.error(FatalError("stop"))
    assert (st.errors, st.fatal, st.retryable, st.should_retry) == (3, True, True, False)
    st.reset_errors()
    assert (st.errors, st.fatal, st.retryable, st.last_error, st.errored) == \
        (0, False, False, None, False)
    st.error(NoRetryError("no"))
    assert (st.errors, st.fatal, st.retryable, st.should_retry) == (1, False, False, False)
    assert stats_json(st.snapshot())["lastError"] == "no"


def test_error_counted_once() -> None:
    err = OSError("once")
    st = Stats(clock=FakeClock())
    tr = st.start_transfer("a", 1)
    tr.done(err)
    assert st.error(err) is False
    st.end_check("b", err)
    assert st.errors == 1
    st.end_check("c", OSError("other"))
    assert st.errors == 2 and st.checks == 2


def test_counts_usable_as_attribute_or_call() -> None:
    st = Stats(clock=FakeClock())
    st.error(OSError("x"))
    st.dry_run_transfer("a", 1)
    assert st.errors == 1 and st.errors() == 1 and st.transfers() == 1
    assert f"{st.errors:3d}" == "  1" and st.get_bytes() == st.bytes_total() == 1


# --------------------------------------------------------------------------------------
# Threads
# --------------------------------------------------------------------------------------


def test_thread_safety_totals_exact() -> None:
    st = Stats()
    n_threads, n_chunks = 16, 2000
    barrier = threading.Barrier(n_threads)
    snaps: list[StatsSnapshot] = []

    def work(i: int) -> None:
        barrier.wait()
        st.add_total_transfer(n_chunks * 3)
        st.start_check(f"c{i}")
        tr = st.start_transfer(f"t{i}", n_chunks * 3)
        for k in range(n_chunks):
            tr.add(3)
            st.add_bytes(1)
            st.listed(1)
            if k % 500 == 0:
                snaps.append(st.snapshot())
                st.error(OSError(f"e{i}-{k}"))
        tr.done(None)
        st.end_check(f"c{i}")
        st.deleted(1)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = st.snapshot()
    assert s.bytes == n_threads * n_chunks * 4
    assert s.total_bytes == s.bytes
    assert (s.transfers, s.total_transfers) == (n_threads, n_threads)
    assert (s.checks, s.total_checks, s.listed) == (n_threads, n_threads, n_threads * n_chunks)
    assert (s.errors, s.deletes, s.deletes_size) == (n_threads * 4, n_threads, n_threads)
    assert not s.transferring and not s.checking and s.transfer_queue == 0
    for snap in snaps:  # every snapshot was internally consistent
        assert snap.bytes <= snap.total_bytes or snap.transfer_queue == 0
        assert sum(t.bytes for t in snap.transferring) <= snap.bytes
