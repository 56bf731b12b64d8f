"""The benchmark harness on tiny data sets: figures for both tools, the table, FAIL rows, reuse."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # bench/ is not an installed package
    sys.path.insert(0, str(REPO_ROOT))

from bench.datasets import Dataset, Sizes  # noqa: E402
from bench.report import format_table  # noqa: E402
from bench.rows import select_rows  # noqa: E402
from bench.runner import BenchConfig, default_tools, run_bench  # noqa: E402

TINY = Sizes(large_files=1, large_size=64 * 1024, mail_stores=1, mail_dat_per_store=2,
             mail_dat_size=32 * 1024, small_files=10, small_min=1024, small_max=4096,
             small_per_dir=4, million_files=20, million_per_dir=8)


def _config(tmp_path: Path, rows: list[str], tools: dict[str, list[str]]) -> BenchConfig:
    return BenchConfig(workdir=tmp_path / "work", sizes=TINY, reps=1, rows=select_rows(rows),
                       out=tmp_path / "results.json", timeout=60, tools=tools,
                       log=lambda msg: None)


@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone not on PATH")
def test_one_row_has_both_tools_figures_and_prints_a_table(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    results = run_bench(_config(tmp_path, ["copy-small"], default_tools()))
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rows"][0]["name"] == "copy-small"
    runs = saved["rows"][0]["runs"]
    assert sorted(r["tool"] for r in runs) == ["pysync", "rclone"]
    for run in runs:
        assert run["ok"], run["stderr_tail"]
        assert run["seconds"] > 0 and run["maxrss_kib"] > 0
        assert run["dst_files"] == 10  # both tools copied the whole tree
    summary = saved["rows"][0]["summary"]
    assert summary["pysync"]["median_s"] > 0 and summary["rclone"]["median_s"] > 0
    assert summary["ratio"] is not None and not summary["dst_mismatch"]
    assert saved["datasets"]["small"]["files"] == 10
    print(format_table(results))
    out = capsys.readouterr().out
    assert "copy-small" in out and "ratio" in out and "FAIL" not in out.split("ratio =")[0]
    # destinations are cleaned up; the data set stays for the next run
    assert not (tmp_path / "work" / "dst").exists()
    assert Path(saved["datasets"]["small"]["path"]).is_dir()


def test_failing_tool_is_recorded_as_fail_with_stderr(tmp_path: Path) -> None:
    tools = {"pysync": [sys.executable, "-c", "import sys; sys.exit(0)"],
             "rclone": [sys.executable, "-c",
                        "import sys; sys.stderr.write('boom: disk on fire\\n'); sys.exit(3)"]}
    results = run_bench(_config(tmp_path, ["noop-sync-small"], tools))
    row = results["rows"][0]
    bad = [r for r in row["runs"] if r["tool"] == "rclone"][0]
    assert bad["rc"] == 3 and not bad["ok"] and "disk on fire" in bad["stderr_tail"]
    assert row["summary"]["rclone"]["status"] == "FAIL"
    assert row["summary"]["pysync"]["status"] == "ok"
    table = format_table(results)
    line = [ln for ln in table.splitlines() if ln.startswith("noop-sync-small")][0]
    assert "FAIL" in line


def test_data_set_is_generated_once_then_reused(tmp_path: Path) -> None:
    ds = Dataset.for_sizes("mailstore", TINY, tmp_path)
    first = ds.ensure()
    assert first["files"] > 2 and any(n.endswith(".fdb") for n in ds.files())
    stamp = ds.marker.stat().st_mtime_ns
    again = Dataset.for_sizes("mailstore", TINY, tmp_path)
    assert again.ensure()["generated_at"] == first["generated_at"]
    assert again.marker.stat().st_mtime_ns == stamp
    other = Dataset.for_sizes("mailstore", Sizes(mail_stores=1, mail_dat_per_store=1,
                                                 mail_dat_size=1024), tmp_path)
    assert other.root != ds.root
