"""The benchmark harness on tiny data sets: figures for both tools, the table, FAIL rows, reuse,
and the remote rows against a loopback sshd and smbd (config accepted by both tools)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # bench/ is not an installed package
    sys.path.insert(0, str(REPO_ROOT))

from bench.cli import main as bench_main  # noqa: E402
from bench.datasets import Dataset, Sizes  # noqa: E402
from bench.report import format_table  # noqa: E402
from bench.rows import remote_kinds, select_rows  # noqa: E402
from bench.runner import (  # noqa: E402
    BenchConfig,
    build_command,
    default_tools,
    row_endpoints,
    run_bench,
    tool_env,
)
from bench.servers import ServerError, Servers, start_servers  # noqa: E402

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
    assert sorted(r["tool"] for r in runs) == ["pysync", "rclone", "reference"]
    for run in runs:
        assert run["ok"], run["stderr_tail"]
        assert run["seconds"] > 0 and run["maxrss_kib"] > 0
        assert run["dst_files"] == 10  # both tools (and cp -r) copied the whole tree
    assert [r["cmd"][:2] for r in runs if r["tool"] == "reference"] == [["cp", "-r"]]
    summary = saved["rows"][0]["summary"]
    assert summary["pysync"]["median_s"] > 0 and summary["rclone"]["median_s"] > 0
    assert summary["reference"]["median_s"] > 0 and summary["reference"]["label"] == "cp -r"
    for tool in ("pysync", "rclone"):  # the client's CPU seconds, user + sys
        run = next(r for r in runs if r["tool"] == tool)
        assert summary[tool]["median_cpu_s"] == round(run["user_s"] + run["sys_s"], 3) > 0
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


# ----- the remote rows: loopback sshd and smbd ---------------------------------------------------

REMOTE_ROWS = {"sftp-up-mailstore", "sftp-down-mailstore", "sftp-noop-sync-mailstore",
               "smb-up-mailstore", "smb-down-mailstore", "smb-noop-sync-mailstore",
               "sftp-up-mailstore-t1", "sftp-down-mailstore-t1", "smb-up-mailstore-t1",
               "smb-down-mailstore-t1", "sftp-up-mailstore-ssh", "sftp-down-mailstore-ssh",
               "sftp-up-small", "smb-up-small", "smb-down-small",
               *(f"{kind}-up-mailstore-dask{n}" for kind in ("sftp", "smb") for n in (1, 2, 4))}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_remote_rows_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    rows = select_rows(["sftp-*", "smb-*"])
    assert {r.name for r in rows} == REMOTE_ROWS
    assert remote_kinds(rows) == {"sftp", "smb"}
    assert remote_kinds(select_rows(["copy-*"])) == set()
    for row in rows:
        assert row.dataset == ("small" if row.name.endswith("-small") else "mailstore")
        assert row.direction in ("up", "down")
        assert row.setup in ("fresh", "prepared")
    assert {r.name for r in select_rows(None)} >= REMOTE_ROWS  # part of the full run
    assert bench_main(["--list", "--quick"]) == 0
    out = capsys.readouterr().out
    for name in REMOTE_ROWS:
        assert name in out
    assert "local -> sftp over 127.0.0.1" in out and "smb -> local over 127.0.0.1" in out


def test_remote_endpoints_and_commands(tmp_path: Path) -> None:
    ds = Dataset.for_sizes("mailstore", TINY, tmp_path)
    share = tmp_path / "srv" / "smbd" / "share"
    servers = Servers(base=tmp_path / "srv", conf=tmp_path / "srv" / "rclone.conf",
                      home=tmp_path / "srv" / "home", sshd=object(),
                      smbd=SimpleNamespace(share_path=share, share="pysync"))
    by_name = {r.name: r for r in select_rows(["sftp-*", "smb-*"])}
    up = row_endpoints(by_name["sftp-up-mailstore"], ds, tmp_path, servers)
    assert up.src == str(ds.src) and up.dst == f"benchsftp:{up.dst_disk}"
    ext_up = row_endpoints(by_name["sftp-up-mailstore-ssh"], ds, tmp_path, servers)
    assert ext_up.dst == f"benchsftpssh:{ext_up.dst_disk}"
    ext_down = row_endpoints(by_name["sftp-down-mailstore-ssh"], ds, tmp_path, servers)
    assert ext_down.src == f"benchsftpssh:{ds.src}"
    down = row_endpoints(by_name["sftp-down-mailstore"], ds, tmp_path, servers)
    assert down.src == f"benchsftp:{ds.src}" and down.dst_disk == tmp_path / "dst" / \
        "sftp-down-mailstore"
    smb_up = row_endpoints(by_name["smb-up-mailstore"], ds, tmp_path, servers)
    assert smb_up.dst == "benchsmb:pysync/dst/smb-up-mailstore"
    assert smb_up.dst_disk == share / "dst" / "smb-up-mailstore"
    smb_down = row_endpoints(by_name["smb-down-mailstore"], ds, tmp_path, servers)
    assert smb_down.staged is not None and smb_down.staged.parent == share / "data"
    assert smb_down.src == f"benchsmb:pysync/data/{ds.root.name}"
    cmd = build_command(["rclone"], by_name["smb-up-mailstore"], smb_up.src, smb_up.dst,
                        servers.config_args())
    assert cmd == ["rclone", "copy", "--config", str(servers.conf), str(ds.src), smb_up.dst]
    env = servers.env({"SSH_AUTH_SOCK": "/x", "RCLONE_SFTP_KEY_FILE": "k", "PATH": "/bin"})
    assert env == {"PATH": "/bin", "HOME": str(servers.home),
                   "RCLONE_CONFIG": str(servers.conf)}
    with pytest.raises(ServerError):
        row_endpoints(by_name["sftp-up-mailstore"], ds, tmp_path, None)


@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone not on PATH")
def test_servers_write_a_config_both_tools_accept(tmp_path: Path) -> None:
    servers = start_servers(tmp_path / "work", {"sftp", "smb"})
    pids = dict(servers.pids)
    try:
        assert set(pids) == {"sshd", "smbd"} and all(_alive(p) for p in pids.values())
        conf = servers.conf.read_text()
        assert "[benchsftp]" in conf and "[benchsmb]" in conf and "shell_type = unix" in conf
        assert "[benchsftpssh]" in conf and "StrictHostKeyChecking=yes" in conf
        for kind, ext in (("sftp", False), ("sftp", True), ("smb", False)):
            folder = servers.area(kind) / "probe"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"hello-{kind}.txt").write_text("hi\n")
            remote = servers.remote_path(kind, folder, external_ssh=ext)
            env = servers.env(tool_env())
            for prefix in default_tools().values():
                res = subprocess.run([*prefix, "lsf", *servers.config_args(), remote],
                                     capture_output=True, text=True, env=env, timeout=120,
                                     stdin=subprocess.DEVNULL)
                assert res.returncode == 0, f"{prefix[-1]} {kind}: {res.stderr}"
                assert res.stdout.split() == [f"hello-{kind}.txt"], (prefix, kind, res.stdout)
    finally:
        servers.stop()
    assert not any(_alive(p) for p in pids.values())
    assert not servers.base.exists()


@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone not on PATH")
def test_remote_rows_run_both_tools_and_stop_the_servers(tmp_path: Path) -> None:
    cfg = _config(tmp_path, ["sftp-up-mailstore", "sftp-down-mailstore", "smb-up-mailstore",
                             "smb-down-mailstore"], default_tools())
    results = run_bench(cfg)
    files = results["datasets"]["mailstore"]["files"]
    assert [r["name"] for r in results["rows"]] == [r.name for r in cfg.rows]
    for row in results["rows"]:
        assert sorted(r["tool"] for r in row["runs"]) == ["pysync", "rclone", "reference"]
        for run in row["runs"]:
            assert run["ok"], (row["name"], run["tool"], run["stderr_tail"])
            assert run["dst_files"] == files, (row["name"], run["tool"])
            if run["tool"] != "reference":
                assert "--config" in run["cmd"]
            else:  # the password is in smbclient's -A file, never on the command line
                assert not any("%" in a or a.startswith("--password") for a in run["cmd"])
        assert not row["summary"]["dst_mismatch"]
        label = row["summary"]["reference"]["label"]
        assert label == ("scp" if row["name"].startswith("sftp") else "smbclient")
    pids = results["servers"]["pids"]
    assert set(pids) == {"sshd", "smbd"} and not any(_alive(p) for p in pids.values())
    work = tmp_path / "work"
    assert not Path(results["servers"]["dir"]).exists() and not (work / "dst").exists()


@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone not on PATH")
def test_dask_row_runs_pysync_on_worker_processes_and_samples_the_tree(tmp_path: Path) -> None:
    """A -dask2 row: pysync alone gets --dask-workers 2 (rclone the row's plain flags), no
    reference run, both copy the whole data set, and the sampled process tree holds the
    two worker processes, whose memory the tree's RSS adds up."""
    cfg = _config(tmp_path, ["smb-up-mailstore-dask2"], default_tools())
    results = run_bench(cfg)
    files = results["datasets"]["mailstore"]["files"]
    row = results["rows"][0]
    assert row["pysync_args"] == ["--dask-workers", "2"]
    assert sorted(r["tool"] for r in row["runs"]) == ["pysync", "rclone"]
    for run in row["runs"]:
        assert run["ok"], (run["tool"], run["stderr_tail"])
        assert run["dst_files"] == files
        assert ("--dask-workers" in run["cmd"]) == (run["tool"] == "pysync")
    py = next(r for r in row["runs"] if r["tool"] == "pysync")
    assert py["tree_procs"] >= 3  # pysync and its two workers
    assert py["tree_rss_kib"] > py["maxrss_kib"]  # more than any one process
    summary = row["summary"]["pysync"]
    assert summary["peak_tree_rss_mib"] > summary["peak_rss_mib"]
    line = next(ln for ln in format_table(results).splitlines()
                if ln.startswith("smb-up-mailstore-dask2"))
    assert "(tree " in line


def test_tree_sampling_sums_the_processes_below_the_command() -> None:
    """``sample_tree``: two children holding 40 MiB each: the tree's peak is their sum,
    ``wait4``'s ru_maxrss the largest one alone."""
    from bench.measure import run_measured

    hold = ("import sys, time; b = bytearray(40 << 20); b[::4096] = b'x' * len(b[::4096]); "
            "time.sleep(2)")
    cmd = ["sh", "-c", f'"{sys.executable}" -c "{hold}" & "{sys.executable}" -c "{hold}"; wait']
    m = run_measured(cmd, sample_tree=True, timeout=120)
    assert m.ok, m.stderr_tail
    assert m.tree_procs >= 2
    assert m.tree_rss_kib >= 80 * 1024 > m.maxrss_kib
    assert m.tree_cpu_s >= 0.0
    plain = run_measured(["true"])
    assert (plain.tree_procs, plain.tree_rss_kib) == (0, 0)  # not sampled unless asked


def test_dask_rows_pass_their_flags_to_pysync_only(tmp_path: Path) -> None:
    from bench.reference import reference_label

    rows = {r.name: r for r in select_rows(["*-dask*"])}
    assert set(rows) == {f"{k}-up-mailstore-dask{n}" for k in ("sftp", "smb")
                         for n in (1, 2, 4)}
    row = rows["sftp-up-mailstore-dask4"]
    assert build_command(["py"], row, "s", "d", tool="pysync") == \
        ["py", "copy", "--dask-workers", "4", "s", "d"]
    assert build_command(["rclone"], row, "s", "d", tool="rclone") == ["rclone", "copy", "s", "d"]
    assert reference_label(row) is None


# ----- reference runs, CPU column (no servers needed) -------------------------------------------


def test_reference_commands_per_row_kind(tmp_path: Path) -> None:
    """cp -r for local tree copies, scp for sftp (strict host keys), smbclient for smb (the
    password in an -A file), none for rows a plain copy cannot match."""
    from bench.reference import reference_command, reference_label, smb_auth_file

    share = tmp_path / "share"
    sshd = SimpleNamespace(port=2222, client_key=tmp_path / "k", known_hosts=tmp_path / "kh",
                           user="u", host="127.0.0.1")
    smbd = SimpleNamespace(host="127.0.0.1", share="pysync", share_path=share, port=4455,
                           user="u", password="Pw-secret")
    servers = SimpleNamespace(sshd=sshd, smbd=smbd)
    rows = {r.name: r for r in select_rows(None)}
    src, dst = tmp_path / "src", tmp_path / "dst"
    assert reference_command(rows["copy-small"], src, dst) == \
        ["cp", "-r", "--preserve=timestamps", str(src), str(dst)]
    for name in ("noop-sync-small", "prestage-mailstore", "sync-10pct-mailstore",
                 "lsf-million", "sftp-noop-sync-mailstore", "smb-noop-sync-mailstore"):
        assert reference_label(rows[name]) is None
        assert reference_command(rows[name], src, dst, servers=servers) is None
    up = reference_command(rows["sftp-up-mailstore-t1"], src, dst, servers=servers)
    assert up is not None and up[-2:] == [str(src), f"u@127.0.0.1:{dst}"]
    assert "StrictHostKeyChecking=yes" in up and "aes128-gcm@openssh.com" in up
    down = reference_command(rows["sftp-down-mailstore"], src, dst, servers=servers,
                             remote_src=src)
    assert down is not None and down[-2:] == [f"u@127.0.0.1:{src}", str(dst)]
    share.mkdir()
    auth = smb_auth_file(tmp_path, smbd)
    assert auth.stat().st_mode & 0o777 == 0o600 and "Pw-secret" in auth.read_text()
    smb_up = reference_command(rows["smb-up-mailstore"], src, share / "dst" / "r",
                               servers=servers, auth=auth)
    assert smb_up is not None and "-A" in smb_up and "//127.0.0.1/pysync" in smb_up
    assert 'mkdir "dst/r"' in smb_up[-1] and "mput *" in smb_up[-1]
    smb_down = reference_command(rows["smb-down-mailstore"], src, dst, servers=servers,
                                 remote_src=share / "data" / "x", auth=auth)
    assert smb_down is not None and smb_down[:2] == ["sh", "-c"]
    assert 'cd "data/x"' in smb_down[2] and "mget *" in smb_down[2]
    assert not any("Pw-secret" in a for a in smb_up + smb_down)


def test_table_shows_reference_and_cpu_columns() -> None:
    """The summary's reference time and label and each tool's CPU seconds reach the table."""
    from bench.runner import summarize_row

    def run(tool: str, seconds: float, user: float, sys_: float) -> dict[str, object]:
        return {"tool": tool, "ok": True, "seconds": seconds, "user_s": user, "sys_s": sys_,
                "maxrss_kib": 2048, "maxrss_mib": 2.0, "dst_files": 3, "dst_bytes": 9}

    row = {"name": "sftp-up-mailstore-t1", "sweep": None, "reference": "scp",
           "runs": [run("pysync", 2.0, 1.5, 0.25), run("rclone", 4.0, 3.0, 1.0),
                    run("reference", 1.0, 0.5, 0.5)]}
    row["summary"] = summarize_row(row)
    assert row["summary"]["pysync"]["median_cpu_s"] == 1.75
    assert row["summary"]["reference"]["label"] == "scp"
    table = format_table({"reps": 1, "rows": [row]})
    header = table.splitlines()[1].split()
    assert header[:8] == ["row", "pysync", "s", "rclone", "s", "ratio", "ref", "s"]
    line = next(ln for ln in table.splitlines() if ln.startswith("sftp-up-mailstore-t1"))
    assert line.split()[1:] == ["2.00", "4.00", "0.50", "1.00", "scp", "1.75", "4.00", "2",
                                "2"]


def test_bulk_destinations_are_moved_aside_and_runs_wait_after_their_removal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh destination of many files is renamed aside (no inode freed before a timed
    run); a small one is removed; emptying the trash is a bulk deletion after which the next
    run waits (ext4's recently-deleted inode scan, see bench/README.md)."""
    from bench import runner

    big, small = tmp_path / "big", tmp_path / "small"
    for i in range(runner.BULK_FILES):
        (big / f"d{i % 7}").mkdir(parents=True, exist_ok=True)
        (big / f"d{i % 7}" / f"f{i}").write_bytes(b"x")
    small.mkdir()
    (small / "one").write_bytes(b"x")
    monkeypatch.setattr(runner, "_last_bulk_delete", -1e9)
    trash = runner._Trash(tmp_path / ".trash")
    trash.discard(big)
    trash.discard(small)
    assert not big.exists() and not small.exists()
    assert runner._count_files(tmp_path / ".trash", 10**6) == runner.BULK_FILES
    waits: list[float] = []
    monkeypatch.setattr(runner.time, "sleep", waits.append)
    runner._settle(lambda _msg: None)
    assert waits == []  # nothing was deleted in bulk yet
    trash.empty()
    assert not (tmp_path / ".trash").exists()
    runner._settle(lambda _msg: None)
    assert len(waits) == 1 and 0 < waits[0] <= runner.QUIET_AFTER_DELETE
