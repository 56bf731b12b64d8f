"""The sync differential harness with SFTP and SMB endpoints (see ``sync_harness``).

A *remote case* runs ``rclone MODE SRC DST FLAGS -v --stats 0`` and the same pysync command
where ``SRC``/``DST`` are a local relative path (``src``, ``dst``) or an rclone remote
(``src:``, ``dst:``).  Each tool gets its own ``rclone.conf`` (``RCLONE_CONFIG``) in which
``src``, ``dst``, ``bak`` and ``other`` are ``alias`` remotes pointing at that tool's own
directory on the real server (an OpenSSH sshd for ``sftp``, Samba smbd for ``smb``): the two
command lines are identical, and so are the messages once the per-tool directory name
(``<token>/r`` or ``<token>/p``) is replaced by ``<token>/X``.

The servers serve folders of this machine, so the trees are set up and snapshotted
directly in those folders (``clone_tree``/``snapshot``, ns mtimes), and compared as the
local suite compares them.  Backend precision needs no special case: both tools write
through the same server, so the same truncation applies to both (SFTP keeps whole
seconds, Samba 100 ns); rclone never sets directory times on SMB, so a changed SMB
directory has a time inside the run ("now").

Remote-only flags in the mixes: ``--backup-dir`` on the same remote (``bak:old``), inside
the destination (``dst:old``: an overlap error, or allowed when a filter excludes it), on
another remote, ``--max-transfer`` with each ``--cutoff-mode`` (when the limit is hit, only
what does not depend on scheduling is compared, see ``compare_runs(cutoff=True)``),
``--immutable``, and invalid flag values.
"""

from __future__ import annotations

import random
import re
import shlex
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from backends.smbd import SmbdServer
from backends.sshd import SshdServer

from . import sync_harness as sh

KINDS = ("local", "sftp", "smb")
PARTS = ("src", "dst", "bak", "other")


@dataclass
class Servers:
    """The running servers (session-scoped) and where their per-case folders go."""

    sshd: SshdServer
    sftp_root: Path  # folder on this machine that SFTP cases use (absolute paths)
    smbd: SmbdServer
    smb_pass: str  # obscured by ``rclone obscure``
    sftp_extra: dict[str, str] = field(default_factory=dict)  # more sftpsrv options

    def sections(self) -> str:
        """rclone.conf sections ``[sftpsrv]`` and ``[smbsrv]`` (the same for both tools)."""
        return self.sshd.section("sftpsrv", **self.sftp_extra) + "\n" + \
            self.smbd.rclone_section("smbsrv", self.smb_pass)


def rclone_obscure(text: str) -> str:
    """``rclone obscure`` of ``text`` (read from stdin: never on a command line)."""
    assert sh.RCLONE is not None
    res = subprocess.run([sh.RCLONE, "obscure", "-"], input=text, capture_output=True,
                         text=True, env=sh.tool_env(), timeout=60, check=True)
    return res.stdout.strip()


@dataclass
class RemoteLayout:
    """Where each part (src, dst, bak, other) of one case lives, for each tool.

    ``kinds`` maps a part to ``local``/``sftp``/``smb``.  Local parts live in the tool's
    sandbox (its working directory); remote parts in the server's folder under
    ``<token>/<r|p>/<part>``.
    """

    servers: Servers
    work: Path
    kinds: dict[str, str]
    token: str

    @classmethod
    def new(cls, servers: Servers, work: Path, src_kind: str, dst_kind: str) -> RemoteLayout:
        token = "c" + uuid.uuid4().hex[:12]
        other = {"local": "sftp", "sftp": "smb", "smb": "sftp"}[dst_kind]
        kinds = {"src": src_kind, "dst": dst_kind, "bak": dst_kind, "other": other}
        return cls(servers, work, kinds, token)

    def sandbox(self, tool: str) -> Path:
        """The tool's working directory (local parts and its rclone.conf)."""
        return self.work / self.token / tool

    def _server_dir(self, kind: str) -> Path:
        if kind == "sftp":
            return self.servers.sftp_root / self.token
        return self.servers.smbd.share_path / self.token

    def root(self, tool: str, part: str) -> Path:
        """The folder on this machine that holds ``part`` for ``tool`` (``r``/``p``)."""
        kind = self.kinds[part]
        if kind == "local":
            return self.sandbox(tool) / part
        return self._server_dir(kind) / tool / part

    def spec(self, part: str) -> str:
        """How the command line names a part: ``src`` (local) or ``src:`` (a remote)."""
        return part if self.kinds[part] == "local" else f"{part}:"

    def backup_spec(self, where: str, sub: str = "old") -> str:
        """A ``--backup-dir`` value: ``same`` remote other folder, ``inside`` dst,
        ``other`` remote."""
        part = {"same": "bak", "inside": "dst", "other": "other"}[where]
        if self.kinds[part] == "local":
            return f"{part}/{sub}"
        return f"{part}:{sub}"

    def _target(self, tool: str, part: str) -> str:
        kind = self.kinds[part]
        path = self.root(tool, part)
        if kind == "sftp":
            return f"sftpsrv:{path}"
        rel = path.relative_to(self.servers.smbd.share_path)
        return f"smbsrv:{self.servers.smbd.share}/{rel.as_posix()}"

    def config_text(self, tool: str) -> str:
        parts = [self.servers.sections()]
        for part in PARTS:
            kind = self.kinds[part]
            target = str(self.root(tool, part)) if kind == "local" else self._target(tool, part)
            parts.append(f"[{part}]\ntype = alias\nremote = {target}\n")
        return "\n".join(parts)

    def write_configs(self) -> tuple[dict[str, str], dict[str, str]]:
        """Each tool's rclone.conf, and an environment that points at it."""
        envs = []
        for tool in ("r", "p"):
            sand = self.sandbox(tool)
            sand.mkdir(parents=True, exist_ok=True)
            conf = sand / "rclone.conf"
            conf.write_text(self.config_text(tool))
            conf.chmod(0o600)
            env = sh.tool_env()
            env["RCLONE_CONFIG"] = str(conf)
            envs.append(env)
        return envs[0], envs[1]

    def roots(self) -> dict[str, tuple[Path, Path]]:
        return {part: (self.root("r", part), self.root("p", part)) for part in PARTS}

    def clean(self) -> None:
        """Remove the case's folders (sandboxes and server folders)."""
        shutil.rmtree(self.work / self.token, ignore_errors=True)
        for kind in ("sftp", "smb"):
            shutil.rmtree(self._server_dir(kind), ignore_errors=True)

    def normalise(self, text: bytes) -> bytes:
        """The per-tool folder name ``<token>/r|p`` -> ``<token>/X`` (in messages; rclone's
        SMB errors separate with backslashes, written escaped in messages)."""
        return re.sub(rb"(" + self.token.encode() + rb"(?:/|\\\\|\\))[rp](?=[/\\]|\b|$)",
                      rb"\1X", text)


@dataclass
class RemoteCase:
    """One generated invocation on a layout: ``mode SRC DST flags``."""

    mode: str
    flags: list[str]
    src_kind: str
    dst_kind: str
    notes: list[str]
    cutoff: frozenset[int] | None = None  # see ``sync_harness.compare_runs``
    hardlink: bool = False  # the sftp remote has copy_is_hardlink (server-side copies)
    copy_dest: bool = False  # bak starts as a clone of src and is --copy-dest

    def line(self, layout: RemoteLayout) -> str:
        """The command line (after the program name) both tools run."""
        return shlex.join([self.mode, layout.spec("src"), layout.spec("dst"),
                           *resolve_flags(self.flags, layout), *sh.STD_FLAGS])


# ---------------------------------------------------------------------------------------
# flag mixes

CUTOFF_MODES = ("hard", "soft", "cautious")
# Exit codes rclone returns, from run to run, for the same --max-transfer case (see
# ``sync_harness.compare_runs``): hard cutoff (the default) fails with 8 or, when another
# error of the aborted transfers is the last one, 1; soft/cautious can also succeed.
RACY_RC_HARD = frozenset({1, 8})
RACY_RC_SOFT = frozenset({0, 1, 8})
INVALID_FLAGS: tuple[tuple[str, ...], ...] = (
    ("--max-delete", "many"), ("--max-transfer", "lots"), ("--max-transfer", "10x"),
    ("--cutoff-mode", "gentle"), ("--cutoff-mode", ""), ("--modify-window", "2 s"),
    ("--max-delete", "1.5"), ("--suffix", "a/b"), ("--backup-dir", "@dst"),
    ("--max-size", "-5x"), ("--min-age", "yesterday"), ("--max-depth", "two"),
)


def _last_cutoff_mode(flags: list[str]) -> str:
    """The --cutoff-mode that counts (the last one given), lower case; "" when none."""
    modes = [flags[i + 1].lower() for i, f in enumerate(flags[:-1]) if f == "--cutoff-mode"]
    return modes[-1] if modes else ""


def generate_remote_case(scn: sh.Scenario, case_no: int, src_kind: str,
                         dst_kind: str) -> RemoteCase:
    """A random case for a scenario: the local suite's mix (``generate_case``) with the
    remote names substituted, plus the flags of issue #11.

    ``--backup-dir`` values are placeholders (``@same``/``@inside``/``@other``, see
    :meth:`RemoteLayout.backup_spec`; ``@dst`` is dst itself) that :func:`resolve_flags`
    turns into names once the layout is known.
    """
    base = sh.generate_case(scn, case_no)
    rng = random.Random(f"remote-case-{scn.seed}-{case_no}-{src_kind}-{dst_kind}")
    flags = list(base.flags)
    notes: list[str] = []
    if "--backup-dir" in flags:
        i = flags.index("--backup-dir")
        r = rng.random()
        if r < 0.6:
            flags[i + 1] = "@same"
        elif r < 0.75:
            flags[i + 1] = "@inside"
            notes.append("backup dir inside dst: an overlap error")
        elif r < 0.9:
            flags[i + 1] = "@inside"
            flags += ["--exclude", "/old/**"]
            notes.append("backup dir inside dst, excluded by a filter")
        else:
            flags[i + 1] = "@other"
            notes.append("backup dir on another remote")
    elif rng.random() < 0.12 and base.mode == "sync":
        flags += ["--backup-dir", "@same"]
    cutoff = None
    if rng.random() < 0.15:
        flags += ["--max-transfer", rng.choice(("1", "2k", "20k", "100M"))]
        if rng.random() < 0.75:
            flags += ["--cutoff-mode", rng.choice(CUTOFF_MODES)]
        # the last --cutoff-mode counts, the local mix's own included (s34002-c2: its
        # "soft" let rclone finish every transfer it had started and exit 0)
        cutoff = RACY_RC_SOFT if _last_cutoff_mode(flags) not in ("", "hard") \
            else RACY_RC_HARD
        # rclone retries a run cut short by a soft/cautious cutoff ("context canceled" is
        # not fatal), and on SMB each such attempt waits ~80 s: one attempt is enough
        flags += ["--retries", "1"]
    if cutoff is None and sh.budget_runs_out(flags):
        # the local mix's own budget that runs out (sync_harness.generate_case): how far
        # rclone's march got before the stop cancelled it is scheduling, compared loosely
        cutoff = RACY_RC_SOFT if _last_cutoff_mode(flags) not in ("", "hard") \
            else RACY_RC_HARD
    if rng.random() < 0.1:
        flags.append("--immutable")
    if cutoff == RACY_RC_SOFT and "--immutable" in flags:
        # a graceful stop and --immutable's refusals are both no-retry errors: the last
        # one decides, 8 or 6 (rclone's order of checks and transfers, and so pysync's, is
        # scheduling); rclone's march cancelled mid-listing makes it 1 (s20011-c0)
        cutoff = RACY_RC_SOFT | {6}
    if rng.random() < 0.06:
        flags += list(rng.choice(INVALID_FLAGS))
        notes.append("an invalid flag value")
    # an sftp destination whose remote copies server-side (hard links): sftp -> sftp copies
    # are links, and --copy-dest (a clone of the source) links what it holds
    hardlink = copy_dest = False
    if dst_kind == "sftp" and rng.random() < 0.25:
        hardlink = True
        notes.append("copy_is_hardlink")
        if cutoff is None and "--backup-dir" not in flags and rng.random() < 0.6:
            copy_dest = True
            flags += ["--copy-dest", "@bak"]
            notes.append("--copy-dest holds a clone of src")
    return RemoteCase(base.mode, flags, src_kind, dst_kind, notes, cutoff, hardlink,
                      copy_dest)


def resolve_flags(flags: list[str], layout: RemoteLayout) -> list[str]:
    """The flags with the ``@...`` backup-dir placeholders replaced for ``layout``."""
    out = []
    for f in flags:
        if f in ("@same", "@inside", "@other"):
            f = layout.backup_spec(f[1:])
        elif f == "@dst":  # an invalid --backup-dir: dst itself
            f = layout.spec("dst")
        elif f == "@bak":  # the bak part itself (a --copy-dest)
            f = layout.spec("bak")
        out.append(f)
    return out


# ---------------------------------------------------------------------------------------
# running


def prepare(layout: RemoteLayout, proto: Path, start: dict[str, sh.Snapshot],
            bak_from: Path | None = None) -> None:
    """Clone the prototype's src/dst (and bak, when it starts with entries: from
    ``bak_from`` if given) into each tool's place for them."""
    for tool in ("r", "p"):
        layout.sandbox(tool).mkdir(parents=True, exist_ok=True)
        for part in ("src", "dst", "bak"):
            if part == "bak" and not start.get("bak"):
                continue
            root = layout.root(tool, part)
            if layout.kinds[part] != "local":
                root.parent.mkdir(parents=True, exist_ok=True)
            origin = bak_from if part == "bak" and bak_from is not None else proto / part
            if origin.exists():
                sh.clone_tree(origin, root, start[part])


def run_remote(layout: RemoteLayout, proto: Path, start: dict[str, sh.Snapshot], mode: str,
               flags: list[str], *, cutoff: frozenset[int] | None = None,
               compare_logs: bool = True, bak_from: Path | None = None
               ) -> tuple[sh.Run, sh.Run, sh.Outcome]:
    """Set up, run both tools, and compare (the per-tool names normalised)."""
    for attempt in (1, 2):
        prepare(layout, proto, start, bak_from)
        envs = layout.write_configs()
        r, p, window = sh.run_pair(mode, flags, layout.sandbox("r"), layout.sandbox("p"),
                                   src=layout.spec("src"), dst=layout.spec("dst"), envs=envs)
        if attempt == 1 and _killed(r) and not _killed(p) \
                and not sh.reference_hung(r, p, cutoff):  # that one hangs every time
            # the reference hung, not pysync (seen once, session 11: rclone's SMB pool
            # redialling for ~100 s after a fatal --max-transfer cancel, "dial tcp ...:
            # operation was canceled"; the case passed on its rerun): both tools run
            # again from a fresh set-up
            layout.clean()
            continue
        break
    r.stderr, p.stderr = layout.normalise(r.stderr), layout.normalise(p.stderr)
    out = sh.compare_runs(r, p, window, layout.sandbox("r"), layout.sandbox("p"), start,
                          dry_run="--dry-run" in flags, max_delete="--max-delete" in flags,
                          compare_logs=compare_logs, roots=layout.roots(), cutoff=cutoff,
                          samba_parts=frozenset(part for part in ("dst", "bak")
                                                if layout.kinds[part] == "smb"))
    if cutoff is None:  # --max-transfer's cut: see sh.compare_budget_runs
        sh.compare_final_stats(r, p, out)
    return r, p, out


def _killed(run: sh.Run) -> bool:
    """The harness killed ``run`` at its time limit."""
    return b"[harness] killed after" in run.stderr


def redacted_config(layout: RemoteLayout, tool: str = "p") -> str:
    """The tool's rclone.conf for a failure report, without the (obscured) password."""
    text = layout.config_text(tool)
    return re.sub(r"(?m)^pass = .*$", "pass = ***", text)


def describe_layout(layout: RemoteLayout) -> str:
    lines = [f"  layout: {', '.join(f'{k}={v}' for k, v in layout.kinds.items())}; "
             f"token {layout.token} (per-tool folders <token>/r and <token>/p)"]
    for part in PARTS:
        lines.append(f"    {part}: rclone {layout.root('r', part)}")
    lines.append("  pysync's rclone.conf (password redacted):\n    "
                 + redacted_config(layout).strip().replace("\n", "\n    "))
    return "\n".join(lines)
