"""Differential tests of ``-M/--metadata``, ``--metadata-set`` and ``--metadata-mapper``
between local trees: the real ``rclone`` and ``python -m syncengine`` run on twin sandboxes
(see ``sync_harness``), and besides the harness's comparison (exit codes, trees to the ns,
INFO/NOTICE messages) every destination entry's metadata is compared: mode, owner, group,
access time and ``user.*`` extended attributes.

Both sandboxes are built from the same description (not cloned: a clone would not keep the
owners). Access times are set in the future, so that reading a file or listing a directory
leaves them alone (relatime); an access time inside the run's window is "now".
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from . import sync_harness as sh
from .trees import DAY, NS

if sh.RCLONE is None:
    pytest.fail("rclone is not on PATH: the differential tests need the real rclone",
                pytrace=False)

FUTURE = 10 * DAY  # access times this far ahead of the build: never touched by reading


def F(content: bytes | int, age: int, *, mode: int = 0o644, uid: int = 0, gid: int = 0,
      x: dict[str, str] | None = None) -> dict[str, Any]:
    """A file of the description: content (bytes or a size), age, mode, owner, xattrs."""
    return {"content": content, "age": age, "mode": mode, "uid": uid, "gid": gid,
            "x": x or {}}


def D(age: int = 3 * DAY, *, mode: int = 0o755, uid: int = 0, gid: int = 0,
      x: dict[str, str] | None = None) -> dict[str, Any]:
    """A directory of the description."""
    return {"dir": True, "age": age, "mode": mode, "uid": uid, "gid": gid, "x": x or {}}


def build(root: Path, spec: dict[str, dict[str, Any]], now_ns: int) -> None:
    """Make ``root`` as ``spec`` says (parents not described: 0o755, 3 days old)."""
    import random

    root.mkdir(parents=True)
    dirs: dict[str, dict[str, Any]] = {"": D()}
    for rel in spec:
        parts = rel.split("/")
        for i in range(1, len(parts)):
            dirs.setdefault("/".join(parts[:i]), D())
    dirs.update({k: v for k, v in spec.items() if v.get("dir")})
    for rel in sorted(dirs, key=lambda p: p.count("/")):
        if rel:
            (root / rel).mkdir(exist_ok=True)
    for rel, f in spec.items():
        if f.get("dir"):
            continue
        if "link" in f:
            os.symlink(f["link"], root / rel)
            if os.geteuid() == 0:
                os.chown(root / rel, f["uid"], f["gid"], follow_symlinks=False)
            os.utime(root / rel, ns=(now_ns + FUTURE, now_ns - f["age"]),
                     follow_symlinks=False)
            continue
        content = f["content"]
        if isinstance(content, int):
            content = random.Random(f"meta-{rel}-{content}").randbytes(content)
        (root / rel).write_bytes(content)
        _apply(root / rel, f, now_ns)
    for rel in sorted(dirs, key=lambda p: -p.count("/") if p else 1):
        _apply(root / rel if rel else root, dirs[rel], now_ns)


def _apply(path: Path, item: dict[str, Any], now_ns: int) -> None:
    if os.geteuid() == 0:
        os.chown(path, item["uid"], item["gid"])
    os.chmod(path, item["mode"])
    for k, v in item["x"].items():
        os.setxattr(path, k, v.encode())
    os.utime(path, ns=(now_ns + FUTURE, now_ns - item["age"]))


def meta_snapshot(root: Path, window: tuple[int, int]) -> dict[str, tuple[object, ...]]:
    """Every entry below ``root`` (not the root: rclone leaves its metadata) as (mode, uid,
    gid, atime or "now", user xattrs)."""
    lo, hi = window[0] - sh.NOW_MARGIN_NS, window[1] + sh.NOW_MARGIN_NS
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            atime: object = "now" if lo <= st.st_atime_ns <= hi else st.st_atime_ns
            # Samba keeps its DOS attributes and the birth time in user.DOSATTRIB: its own
            # bookkeeping of when the file was made, not metadata either tool wrote
            xattrs = {k: os.getxattr(full, k, follow_symlinks=False)
                      for k in sorted(os.listxattr(full, follow_symlinks=False))
                      if k.startswith("user.") and k != "user.DOSATTRIB"}
            out[os.path.relpath(full, root)] = (oct(st.st_mode), st.st_uid, st.st_gid,
                                                atime, xattrs)
    return out


def _run(tmp_path: Path, src: dict[str, dict[str, Any]], dst: dict[str, dict[str, Any]] | None,
         mode: str, flags: list[str]) -> tuple[sh.Run, sh.Run, Path, Path]:
    now_ns = time.time_ns()
    work = tmp_path / "work"
    sands = (work / "r", work / "p")
    for sand in sands:
        build(sand / "src", src, now_ns)
        if dst is not None:
            build(sand / "dst", dst, now_ns)
    start = {"src": sh.snapshot(sands[0] / "src"), "dst": sh.snapshot(sands[0] / "dst"),
             "bak": {}}
    r, p, window = sh.run_pair(mode, flags, *sands)
    out = sh.compare_runs(r, p, window, *sands, start, dry_run="--dry-run" in flags)
    if r.rc == p.rc:
        got_r, got_p = sh.final_stats_counts(r.stderr), sh.final_stats_counts(p.stderr)
        if got_r != got_p:
            out.problems.append(f"final stats differ: rclone {got_r}, pysync {got_p}")
    for part in ("dst", "src"):
        mr = meta_snapshot(sands[0] / part, window)
        mp = meta_snapshot(sands[1] / part, window)
        for rel in sorted(set(mr) | set(mp)):
            if mr.get(rel) != mp.get(rel):
                out.problems.append(f"{part}/{rel} metadata: rclone {mr.get(rel)}, "
                                    f"pysync {mp.get(rel)}")
    if not out.ok:
        pytest.fail(sh.report(f"{mode} {flags}", r, p, out), pytrace=False)
    return r, p, sands[0], sands[1]


SRC = {
    "a.txt": F(b"hello a", DAY, mode=0o600, x={"user.tag": "keep", "user.Mixed": "Val"}),
    "b.txt": F(b"bee", 2 * DAY, mode=0o640, uid=1234, gid=4321),
    "setuid.bin": F(b"#!/bin/true\n", DAY, mode=0o4755),
    "d": D(2 * DAY, mode=0o751, x={"user.class": "Archive"}),
    "d/c.dat": F(5000, DAY, mode=0o444, x={"user.tag": "drop"}),
    "d/e": D(4 * DAY, mode=0o700, uid=42, gid=43),
    "d/e/f": F(b"f", 3 * DAY, mode=0o664, uid=42, gid=43, x={"user.n": "1"}),
    "empty": D(5 * DAY, mode=0o711, x={"user.e": "yes"}),
}

DST = {  # the same files and directories, other metadata, some other contents and times
    "a.txt": F(b"hello a", DAY),  # only the metadata differs: left alone
    "b.txt": F(b"bee", 5 * DAY, mode=0o600),  # only the time differs: time set
    "d": D(6 * DAY, mode=0o755),  # an existing directory of another time and mode
    "d/c.dat": F(4000, DAY),  # other contents: replaced, with the metadata
    "old.txt": F(b"old", DAY, mode=0o600, x={"user.gone": "x"}),  # sync deletes it
    "empty": D(5 * DAY, mode=0o700),  # the same time, another mode
}


@pytest.mark.parametrize("flags", [
    ["-M"], ["--metadata"], [],
    ["-M", "--create-empty-src-dirs"],
    ["-M", "--dry-run"], ["-M", "--dry-run", "--create-empty-src-dirs"],
    ["-M", "--metadata-set", "Source=pysync", "--metadata-set", "tag=set"],
    ["--metadata-set", "source=ignored-without-M"],
    ["-M", "--metadata-set", "mode=0640", "--metadata-set", "atime=2001-02-03T04:05:06Z"],
    ["-M", "--metadata-exclude", "tag=keep"],
    ["-M", "--metadata-include", "mode=1006*", "--create-empty-src-dirs"],
    ["-M", "--multi-thread-cutoff", "1k", "--multi-thread-streams", "2"],
    ["-M", "--inplace"],
    ["-M", "--checksum"],
    ["-M", "--no-update-dir-modtime", "--create-empty-src-dirs"],
    ["-M", "--name-transform", "all,uppercase"],
    ["-M", "--name-transform", "dir,suffix=.x", "--create-empty-src-dirs"],
], ids=" ".join)
@pytest.mark.parametrize("mode", ["copy", "sync"])
def test_metadata_into_empty(tmp_path: Path, mode: str, flags: list[str]) -> None:
    _run(tmp_path, SRC, None, mode, flags)


@pytest.mark.parametrize("flags", [
    ["-M"], [], ["-M", "--create-empty-src-dirs"], ["-M", "--dry-run"],
    ["-M", "--ignore-times"], ["-M", "--update"], ["-M", "--size-only"],
    ["-M", "--no-update-modtime"],
    ["-M", "--metadata-set", "extra=1", "--create-empty-src-dirs"],
    ["-M", "--no-update-dir-modtime"], ["-M", "--no-update-dir-modtime",
                                        "--create-empty-src-dirs"],
], ids=" ".join)
@pytest.mark.parametrize("mode", ["copy", "sync"])
def test_metadata_onto_existing(tmp_path: Path, mode: str, flags: list[str]) -> None:
    """A file whose metadata alone differs is not copied (rclone's rule: metadata is no
    reason for a transfer); one whose time differs gets its time only."""
    r, p, sand_r, sand_p = _run(tmp_path, SRC, DST, mode, flags)
    if flags == ["-M"]:  # what the comparison above pinned, spelt out
        a = os.stat(sand_p / "dst" / "a.txt")
        assert oct(a.st_mode & 0o7777) == "0o644" and not os.listxattr(sand_p / "dst/a.txt")
        c = os.stat(sand_p / "dst" / "d" / "c.dat")
        assert oct(c.st_mode & 0o7777) == "0o444"
        assert os.getxattr(sand_p / "dst/d/c.dat", "user.tag") == b"drop"


LINKS = {
    "t.txt": F(b"target", DAY, mode=0o640, x={"user.t": "1"}),
    "ln": {"link": "t.txt", "age": 2 * DAY, "uid": 77, "gid": 88},
    "d/dangling": {"link": "../nowhere", "age": 3 * DAY, "uid": 0, "gid": 0},
}


@pytest.mark.parametrize("flags", [["-M", "-l"], ["-M", "-L"], ["-l"], ["-M"]],
                         ids=" ".join)
def test_metadata_links(tmp_path: Path, flags: list[str]) -> None:
    """Symlinks: with -l a link keeps its own owner and times (rclone's lchown/lchtimes),
    with -L the target's metadata goes with the copied contents. (A dangling link under
    -L is left out: rclone counts it as a listing error, exit 6, where pysync only logs
    it; that is -L's deviation, not -M's.)"""
    links = {k: v for k, v in LINKS.items() if "-L" not in flags or k != "d/dangling"}
    _run(tmp_path, links, None, "copy", flags)


def test_metadata_setuid_dropped_and_owner_kept(tmp_path: Path) -> None:
    """The setuid bit is never restored (rclone v1.75's default); owners are (as root)."""
    _r, _p, _sr, sand_p = _run(tmp_path, SRC, None, "copy", ["-M"])
    st = os.stat(sand_p / "dst" / "setuid.bin")
    assert st.st_mode & 0o7777 == 0o755
    if os.geteuid() == 0:
        b = os.stat(sand_p / "dst" / "b.txt")
        assert (b.st_uid, b.st_gid) == (1234, 4321)
    assert os.getxattr(sand_p / "dst" / "a.txt", "user.mixed") == b"Val"  # keys lower-cased


MAPPER = """\
import json, sys
item = json.load(sys.stdin)
meta = item.get("Metadata") or {}
meta.pop("tag", None)
meta["mapped"] = item["Remote"] + ":" + item["DstFsType"] + ":" + str(item["IsDir"])
if item["Remote"].endswith(".bin"):
    meta["mode"] = "100600"
json.dump({"Metadata": meta}, sys.stdout)
"""


@pytest.mark.parametrize("extra", [[], ["--create-empty-src-dirs"]], ids=["", "empty-dirs"])
def test_metadata_mapper(tmp_path: Path, extra: list[str]) -> None:
    """rclone's --metadata-mapper: a program given the object as JSON on its standard input,
    whose output's Metadata is what gets written."""
    script = tmp_path / "mapper.py"
    script.write_text(MAPPER)
    _r, _p, _sr, sand_p = _run(tmp_path, SRC, None, "copy",
                               ["-M", "--metadata-mapper", f"{sys.executable} {script}", *extra])
    # the mapper is told the partial file's name, as rclone tells it (so *.bin is no match)
    mapped = os.getxattr(sand_p / "dst/a.txt", "user.mapped").decode()
    assert re.fullmatch(r"a\.txt\.[0-9a-f]{8}\.partial:local:False", mapped), mapped
    assert "user.tag" not in os.listxattr(sand_p / "dst/a.txt")
    assert os.stat(sand_p / "dst/setuid.bin").st_mode & 0o777 == 0o755
    if extra:
        assert os.getxattr(sand_p / "dst/empty", "user.mapped") == b"empty:local:False"


COUNTING_MAPPER = """\
import json, sys
item = json.load(sys.stdin)
meta = item.get("Metadata") or {}
meta["calls"] = meta.get("calls", "") + "+"
json.dump({"Metadata": meta}, sys.stdout)
"""


@pytest.mark.parametrize("extra", [[], ["--inplace"], ["--create-empty-src-dirs"]],
                         ids=" ".join)
def test_metadata_mapper_runs_as_often_as_rclones(tmp_path: Path, extra: list[str]) -> None:
    """rclone runs the mapper once on the copy and once more when the partial file is
    renamed (its local Move re-reads and re-maps the partial's metadata); a mapper that
    is not idempotent shows it. With --inplace there is no rename: once."""
    script = tmp_path / "mapper.py"
    script.write_text(COUNTING_MAPPER)
    _r, _p, _sr, sand_p = _run(tmp_path, SRC, None, "copy",
                               ["-M", "--metadata-mapper", f"{sys.executable} {script}",
                                *extra])
    want = b"+" if extra == ["--inplace"] else b"++"
    assert os.getxattr(sand_p / "dst/a.txt", "user.calls") == want


def test_metadata_mapper_failing(tmp_path: Path) -> None:
    """A mapper that fails fails each copy with rclone's message (exit 1)."""
    script = tmp_path / "mapper.py"
    script.write_text("import sys\nsys.stderr.write('no way\\n')\nsys.exit(3)\n")
    r, p, _sr, _sp = _run(tmp_path, {"a.txt": F(b"a", DAY)}, None, "copy",
                          ["-M", "--metadata-mapper", f"{sys.executable} {script}",
                           "--retries", "1"])
    assert p.rc == r.rc == 1
    assert b'"no way": exit status 3' in p.stderr


def test_metadata_set_malformed(tmp_path: Path) -> None:
    """A --metadata-set item without '=' is refused before anything is done, as rclone's
    fatal error (exit 1)."""
    r, p, _sr, _sp = _run(tmp_path, {"a.txt": F(b"a", DAY)}, None, "copy",
                          ["--metadata-set", "novalue"])
    assert p.rc == r.rc == 1
    msg = "Failed to parse 'novalue' as metadata key=value."
    assert msg in r.stderr.decode() and msg in p.stderr.decode()


@pytest.mark.parametrize("mapper", ['"unterminated', 'a"b', '"x"y'])
def test_metadata_mapper_malformed(tmp_path: Path, mapper: str) -> None:
    """A --metadata-mapper that is no space-separated list is refused as rclone refuses
    the flag's value (exit 2, the same error line), before anything is done."""
    now_ns = time.time_ns()
    work = tmp_path / "work"
    sands = (work / "r", work / "p")
    for sand in sands:
        build(sand / "src", {"a.txt": F(b"a", DAY)}, now_ns)
    start = {"src": sh.snapshot(sands[0] / "src"), "dst": {}, "bak": {}}
    r, p, _window = sh.run_pair("copy", ["-M", "--metadata-mapper", mapper], *sands)
    out = sh.compare_refused_runs(r, p, *sands, start)
    if not out.ok:
        pytest.fail(sh.report(f"copy --metadata-mapper {mapper}", r, p, out), pytrace=False)
    assert p.rc == 2 and "fs.SpaceSepList failed" in sh.first_error(p.stderr)


def test_metadata_json_log_keys(tmp_path: Path) -> None:
    """--metadata-mapper receives rclone's JSON fields (checked against what rclone sends)."""
    script = tmp_path / "mapper.py"
    dump = tmp_path / "seen"
    dump.mkdir()
    script.write_text(
        "import json, os, re, sys\nitem = json.load(sys.stdin)\n"
        "tool = os.path.basename(os.getcwd())\n"
        "name = re.sub(r'[.][0-9a-f]{8}[.]partial$', '', item['Remote'])\n"
        f"with open(os.path.join({str(dump)!r}, tool + '-' + name.replace('/', '_')),"
        " 'w') as fh:\n    json.dump(sorted(item), fh)\n"
        "json.dump({'Metadata': item.get('Metadata')}, sys.stdout)\n")
    _run(tmp_path, {"a.txt": F(b"a", DAY, x={"user.k": "v"})}, None, "copy",
         ["-M", "--metadata-mapper", f"{sys.executable} {script}"])
    seen = {p.name: json.loads(p.read_text()) for p in dump.iterdir()}
    assert seen["r-a.txt"] == seen["p-a.txt"]
    assert {"SrcFs", "DstFs", "Remote", "Size", "ModTime", "IsDir", "Metadata"} <= set(
        seen["p-a.txt"])


def test_ns_in_metadata_times(tmp_path: Path) -> None:
    """The nanoseconds of the source's times survive the trip through RFC 3339 text."""
    src = {"n.txt": F(b"n", DAY + 123456789)}
    _r, _p, sand_r, sand_p = _run(tmp_path, src, None, "copy", ["-M"])
    got = os.stat(sand_p / "dst/n.txt")
    want = os.stat(sand_p / "src/n.txt")
    assert got.st_mtime_ns == want.st_mtime_ns and got.st_atime_ns == want.st_atime_ns
    assert want.st_mtime_ns % NS != 0


def test_metadata_owner_not_permitted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the right to give files away (root without CAP_CHOWN, as any other user is),
    a file of another owner fails its copy as rclone's does: ``failed to set metadata:
    failed to change ownership: chown <partial>: operation not permitted``, the partial
    file removed, the run failed (exit 1); files of one's own keep going."""
    if os.geteuid() == 0:  # drop CAP_CHOWN for both tools
        prefix = ["setpriv", "--bounding-set", "-chown"]
        for name in ("rclone_cmd", "pysync_cmd"):
            orig = getattr(sh, name)
            monkeypatch.setattr(sh, name, lambda *a, _o=orig, **k: [*prefix, *_o(*a, **k)])
    src = {"mine.txt": F(b"mine", DAY), "d/theirs.txt": F(b"theirs", DAY, uid=1234, gid=4321),
           "d/x.txt": F(b"x", DAY, mode=0o600)}
    r, p, _sr, sand_p = _run(tmp_path, src, None, "copy", ["-M", "--retries", "1"])
    assert p.rc == r.rc == 1
    assert b"failed to change ownership: chown dst/d/theirs.txt." in p.stderr
    assert not (sand_p / "dst/d/theirs.txt").exists()
    assert os.stat(sand_p / "dst/d/x.txt").st_mode & 0o777 == 0o600
