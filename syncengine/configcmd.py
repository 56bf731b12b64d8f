"""``pysync config`` create/update/delete/password/touch/dump/paths/providers, the
interactive menu, and ``obscure``/``reveal``: rclone's commands over the same config file."""

# What rclone does is the spec (fs/config/config.go, fs/config/ui.go, cmd/config): an update
# sets the given keys in the remote's section (in the order given), obscures the values of the
# backend's IsPassword options unless they already reveal (or --obscure / --no-obscure say
# otherwise), and saves the whole file through syncengine.conffile (comments kept, temporary
# file renamed over it). The option tables come from rclone itself (providers_data).

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence

from .conffile import ConfigFile
from .confvalues import obscure, reveal
from .errors import ConfigError, UsageError
from .interactive import is_terminal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ConfigSession", "args_to_map", "backend_info", "providers_json", "obscure_command",
           "reveal_command", "paths_text", "edit_config", "PYSYNC_TYPES", "config_save_path",
           "non_interactive_output"]

#: The remote types pysync can configure: rclone's own (with rclone's option tables) plus
#: pysync's ``fsspec`` (a free set of storage options, none of them a password).
PYSYNC_TYPES = ("alias", "fsspec", "local", "memory", "sftp", "smb")

_NON_INTERACTIVE_OUT = '{\n\t"State": "",\n\t"Option": null,\n\t"Error": "",\n\t"Result": ""\n}\n'


def backend_info(kind: str) -> dict[str, Any] | None:
    """rclone's registry entry (``config providers``) of ``kind``, None when pysync has none.

    The sftp ``user`` default is the current user, as rclone computes it at start-up.
    """
    from .providers_data import BACKENDS

    for b in BACKENDS:
        if b["Name"] == kind:
            if kind == "sftp":
                b = _with_current_user(b)
            return b
    return None


def _with_current_user(b: dict[str, Any]) -> dict[str, Any]:
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = ""
    opts = [dict(o, Default=user, DefaultStr=user) if o["Name"] == "user" else o
            for o in b["Options"]]
    return dict(b, Options=opts)


def _password_options(kind: str) -> frozenset[str]:
    info = backend_info(kind)
    if info is None:
        return frozenset()
    return frozenset(o["Name"] for o in info["Options"] if o["IsPassword"])


def _go_json(value: Any, indent: str) -> str:
    """``value`` as Go's json.MarshalIndent writes it (HTML characters escaped)."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def providers_json() -> str:
    """``config providers``: rclone's registry JSON for the types pysync opens (no newline
    at the end, as rclone)."""
    from .providers_data import BACKENDS

    return _go_json([backend_info(b["Name"]) for b in BACKENDS], "    ")


def args_to_map(args: Sequence[str]) -> dict[str, str]:
    """rclone's argsToMap: ``key=value`` or ``key value`` pairs, in order (a later key wins).

    Raises UsageError ``found key without value`` for a trailing key.
    """
    out: dict[str, str] = {}
    i = 0
    while i < len(args):
        key = args[i]
        if "=" in key:
            key, value = key.split("=", 1)
        else:
            i += 1
            if i >= len(args):
                raise UsageError("found key without value")
            value = args[i]
        out[key] = value
        i += 1
    return out


def paths_text(config_path: str | None) -> str:
    """``config paths``: the config file, cache and temporary directories."""
    import tempfile

    path = config_save_path(config_path) or ""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return (f"Config file: {path}\nCache dir:   {os.path.join(cache, 'pysync')}\n"
            f"Temp dir:    {tempfile.gettempdir()}\n")


def obscure_command(arg: str, stdin: Any = None) -> str:
    """``obscure PASSWORD``: the obscured form, a line. ``-`` reads the first line of stdin
    when stdin is not a terminal (as rclone; on a terminal ``-`` is the password)."""
    stdin = sys.stdin if stdin is None else stdin
    password = arg
    if arg == "-" and not is_terminal(stdin):
        line = stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
    return obscure(password) + "\n"


def reveal_command(arg: str) -> str:
    """``reveal OBSCURED``: the clear text, a line; ConfigError ``Failed to reveal: ...``."""
    try:
        return reveal(arg) + "\n"
    except ValueError as err:
        raise ConfigError(f"Failed to reveal: {err}") from None


def _check_name(name: str) -> None:
    from .remotes import _check_remote_name

    if not name:
        raise UsageError("config name can't be empty")
    try:
        _check_remote_name(name)
    except ConfigError as err:
        raise UsageError(str(err)) from None


def config_save_path(config_path: str | None) -> str | None:
    """Where the config is saved: the file in use, else the first default location; None
    for a memory-only config (``--config ""``)."""
    from .remotes import _config_candidates, find_config_file

    found, explicit = find_config_file(config_path)
    if found is None and not explicit:
        return _config_candidates()[0]
    return found


class ConfigSession:
    """The config file loaded for editing: rclone's ``LoadedData`` plus its save.

    ``path`` is where it is saved (None: memory-only config, as ``--config ""``).
    """

    def __init__(self, config_path: str | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        from .remotes import find_config_file, load_config

        found, _ = find_config_file(config_path)
        self.environ = os.environ if environ is None else environ
        self.path: str | None = config_save_path(config_path)
        load_config(config_path)  # rclone's checks and notices (missing, encrypted, exposed)
        text = ""
        if found is not None and os.path.isfile(found):
            with open(found, encoding="utf-8", errors="surrogateescape") as fh:
                text = fh.read()
        self.doc = ConfigFile.parse(text, f'"{found}"')

    def save(self) -> None:
        """Write the file (nothing for a memory-only config)."""
        if self.path is not None:
            self.doc.save(self.path)

    def value(self, name: str, key: str) -> str:
        """rclone's GetValue: ``RCLONE_CONFIG_<NAME>_<KEY>`` first, then the file."""
        from .remotes import config_env_var

        var = config_env_var(name, key)
        if var in self.environ:
            return self.environ[var]
        return self.doc.get(name, key) or ""

    def _lookup(self, name: str, key: str) -> str | None:
        from .remotes import config_env_var

        var = config_env_var(name, key)
        if var in self.environ:
            return self.environ[var]
        return self.doc.get(name, key)

    # ----- commands ---------------------------------------------------------------------------

    def update(self, name: str, values: Mapping[str, str], *, obscure_all: bool = False,
               no_obscure: bool = False) -> None:
        """rclone's UpdateRemote: set ``values`` in remote ``name`` and save. Passwords are
        obscured unless they already reveal (``obscure_all``: always; ``no_obscure``: never).
        Raises UsageError (exit 2) with rclone's wording."""
        if obscure_all and no_obscure:
            raise UsageError("can't use --obscure and --no-obscure together")
        _check_name(name)
        kind = self.value(name, "type")
        if kind == "":
            raise UsageError("couldn't find type field in config")
        if kind not in PYSYNC_TYPES:
            raise UsageError(f"couldn't find backend for type {_go_quote(kind)}"
                             + (" (pysync can't configure it)" if kind in _rclone_types() else ""))
        passwords = frozenset() if no_obscure else _password_options(kind)
        checked: list[tuple[str, str]] = []
        for key, value in values.items():
            if any(c in key + value for c in "\n\r"):
                raise UsageError("update remote: invalid key or value contains \\n or \\r")
            if key in passwords:
                try:
                    reveal(value)
                    revealed = True
                except ValueError:
                    revealed = False
                if obscure_all or not revealed:
                    value = obscure(value)
            checked.append((key, value))
        for key, value in checked:
            self.doc.set(name, key, value)
        self.save()

    def create(self, name: str, kind: str, values: Mapping[str, str], **opts: bool) -> None:
        """rclone's CreateRemote: replace remote ``name`` by a new one of type ``kind``."""
        _check_name(name)
        backup = self.doc.section(name), self.doc.has_section(name)
        self.doc.delete_section(name)
        self.doc.set(name, "type", kind)
        try:
            self.update(name, values, **opts)
        except UsageError:
            self.doc.delete_section(name)
            if backup[1]:
                for k, v in backup[0].items():
                    self.doc.set(name, k, v)
            raise

    def password(self, name: str, values: Mapping[str, str]) -> None:
        """rclone's PasswordRemote: obscure every value given, then update."""
        _check_name(name)
        self.update(name, {k: obscure(v) for k, v in values.items()}, no_obscure=True)

    def unset(self, name: str, keys: Sequence[str]) -> list[str]:
        """rclone's UnsetRemote: remove ``keys`` (never ``type``) and save; the keys that
        were there. UsageError for no such remote."""
        _check_name(name)
        if self.value(name, "type") == "":
            raise UsageError(f"remote {_go_quote(name)} doesn't exist")
        if "type" in keys:
            raise UsageError('can\'t unset the "type" of a remote - use "config delete" to '
                             "remove the whole remote")
        removed = [k for k in keys if self.doc.delete_key(name, k)]
        self.save()
        return removed

    def delete(self, name: str) -> None:
        """rclone's DeleteRemote: drop the section (if any) and save."""
        self.doc.delete_section(name)
        self.save()

    def dump(self) -> str:
        """``config dump``: every section as JSON, values with environment overrides, keys
        sorted, no newline at the end (as rclone)."""
        data = {sec: {k: self.value(sec, k) for k in self.doc.keys(sec)}
                for sec in self.doc.sections()}
        return _go_json(_sorted(data), "    ") if data else "{}"

    def remote_lines(self, name: str, prefix: str = "", sep: str = " = ") -> str:
        """rclone's printRemoteOptions: the remote's keys, passwords ``*** ENCRYPTED ***``."""
        kind = self.value(name, "type")
        out = []
        if kind == "":
            out.append(f"# couldn't find type of fs for {_go_quote(name)}\n")
        elif kind not in PYSYNC_TYPES:
            out.append(f"# didn't find backend called {_go_quote(kind)}\n")
        passwords = _password_options(kind)
        for key in self.doc.keys(name):
            value = self.value(name, key)
            shown = "*** ENCRYPTED ***" if key in passwords and value else value
            out.append(f"{prefix}{key}{sep}{shown}\n")
        return "".join(out)

    def show_remote(self, name: str) -> str:
        """rclone's ShowRemote (the output of create/update/password)."""
        return f"[{name}]\n" + self.remote_lines(name)


def _sorted(data: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    def key(s: str) -> bytes:
        return s.encode("utf-8", "surrogateescape")

    return {sec: {k: data[sec][k] for k in sorted(data[sec], key=key)}
            for sec in sorted(data, key=key)}


def _rclone_types() -> frozenset[str]:
    from .remotes import KNOWN_TYPES

    return KNOWN_TYPES


def _go_quote(s: str) -> str:
    from .units import go_quote

    return go_quote(s)


def non_interactive_output() -> str:
    """What rclone's create/update print with ``--non-interactive`` when the backend asks
    no question (sftp, smb, local, alias: none has a config state machine)."""
    return _NON_INTERACTIVE_OUT


# ----- the interactive session (rclone's fs/config/ui.go) -----------------------------------


class _Ui:
    """Prompts on a terminal: lines in, text out; passwords read without echo."""

    def __init__(self, read_line: Callable[[str], str] | None = None,
                 read_password: Callable[[str], str] | None = None,
                 out: Any = None) -> None:
        self.out = sys.stdout if out is None else out
        self._read_line = read_line or self._tty_line
        self._read_password = read_password or self._tty_password

    def say(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def line(self, prompt: str) -> str:
        return self._read_line(prompt).strip()

    def _tty_line(self, prompt: str) -> str:
        self.say(prompt)
        line = sys.stdin.readline()
        if line == "":
            raise ConfigError("Failed to read line: EOF")
        return line

    @staticmethod
    def _tty_password(prompt: str) -> str:
        import getpass

        try:
            return getpass.getpass(prompt, stream=sys.stderr)
        except EOFError:
            raise ConfigError("Failed to read password: EOF") from None

    def command(self, commands: Sequence[str], default: int = -1) -> str:
        """rclone's CommandDefault: ``x) Text`` lines, one letter back."""
        letters = [c[0] for c in commands]
        for i, text in enumerate(commands):
            self.say(f"{text[0]}) {text[1:]}{' (default)' if i == default else ''}\n")
        while True:
            result = self.line("/".join(letters) + "> ").lower()
            if not result:
                if default >= 0:
                    return letters[default]
                self.say("This value is required and it has no default.\n")
            elif len(result) == 1 and result in letters:
                return result
            elif len(result) == 1:
                self.say("This value must be one of the following characters: "
                         f"{', '.join(letters)}.\n")
            else:
                self.say("This value must be a single character, one of the following: "
                         f"{', '.join(letters)}.\n")

    def confirm(self, default: bool) -> bool:
        return self.command(["yYes", "nNo"], 0 if default else 1) == "y"

    def choose(self, what: str, kind: str, choices: Sequence[str],
               helps: Sequence[str] | None, default: str, required: bool,
               new_ok: bool) -> str:
        """rclone's Choose: numbered choices, a number or (``new_ok``) any value back."""
        desc = "your own" if new_ok else "an existing"
        self.say(f"Choose a number from below, or type in {desc} {kind}.\n")
        if default:
            self.say(f"Press Enter for the default ({default}).\n")
        elif not required:
            self.say("Press Enter to leave empty.\n")
        for pos, text in enumerate(choices, 1):
            lines = []
            if helps is not None and helps[pos - 1]:
                lines = [*helps[pos - 1].split("\n"), f"({text})"]
            if not lines:
                self.say(f"{pos:2d} > {text}\n")
                continue
            mid = (len(lines) - 1) // 2
            for i, ln in enumerate(lines):
                sep = "/" if i == 0 else "\\" if i == len(lines) - 1 else "|"
                number = f"{pos:2d}" if i == mid else "  "
                self.say(f"{number} {sep} {ln}\n")
        while True:
            result = self.line(f"{what}> ")
            if result.lstrip("+-").isdigit():
                i = int(result)
                if 1 <= i <= len(choices):
                    return choices[i - 1]
                self.say("No choices with this number.\n")
                continue
            if result in choices:
                return result
            if result == "":
                if not required:
                    return result
                if default:
                    return default
                self.say("This value is required and it has no default.\n")
            elif new_ok:
                return result
            else:
                self.say(f"This value must match {desc} value.\n")

    def enter(self, what: str, kind: str, default: str, required: bool) -> str:
        """rclone's Enter: a free value."""
        self.say(f"Enter a {kind}.")
        if default:
            self.say(f" Press Enter for the default ({default}).\n")
        elif not required:
            self.say(" Press Enter to leave empty.\n")
        else:
            self.say("\n")
        while True:
            result = self.line(f"{what}> ")
            if not required or result:
                return result
            if default:
                return default
            self.say("This value is required and it has no default.\n")

    def choose_password(self, default: str, required: bool) -> str:
        """rclone's ChoosePassword: y (type it twice), g (generate) or n; the result is
        obscured (or ``default`` for n)."""
        self.say("Choose an alternative below.")
        actions = ["yYes, type in my own password", "gGenerate random password"]
        default_action = -1
        if default:
            default_action = len(actions)
            actions.append("nNo, keep existing")
        elif not required:
            default_action = len(actions)
            actions.append("nNo, leave this optional password blank")
        if default_action >= 0:
            self.say(f" Press Enter for the default ({actions[default_action][0]}).")
        self.say("\n")
        choice = self.command(actions, default_action)
        if choice == "n":
            return default
        if choice == "y":
            password = self._change_password("the")
        else:
            password = self._generate_password()
        return obscure(password)

    def _generate_password(self) -> str:
        import base64
        import secrets

        while True:
            self.say("Password strength in bits.\n64 is just about memorable\n128 is secure\n"
                     "1024 is the maximum\n")
            while True:
                raw = self.line("Bits> ")
                try:
                    bits = int(raw)
                except ValueError:
                    self.say(f'Bad number: strconv.Atoi: parsing "{raw}": invalid syntax\n')
                    continue
                if not 64 <= bits <= 1024:
                    self.say("Out of range - 64 to 1024 inclusive\n")
                    continue
                break
            raw_pw = secrets.token_bytes((bits + 7) // 8)
            password = base64.urlsafe_b64encode(raw_pw).decode("ascii").rstrip("=")
            self.say(f"Your password is: {password}\n")
            self.say("Use this password? Please note that an obscured version of this \n"
                     "password (and not the password itself) will be stored under your \n"
                     "configuration file, so keep this generated password in a safe place.\n")
            if self.confirm(True):
                return password

    def _change_password(self, what: str) -> str:
        while True:
            a = self._get_password(f"Enter {what} password:")
            b = self._get_password(f"Confirm {what} password:")
            if a == b:
                return a
            self.say("Passwords do not match!\n")

    def _get_password(self, prompt: str) -> str:
        sys.stderr.write(prompt + "\n")
        sys.stderr.flush()
        while True:
            password = self._read_password("password:")
            if password.strip() == "":
                sys.stderr.write("Bad password: no characters in password\n")
                continue
            if password != password.strip():
                sys.stderr.write("Your password contains leading/trailing whitespace - in "
                                 "previous versions of rclone this was stripped\n")
            return password


def _kind_text(option: Mapping[str, Any]) -> str:
    """What rclone's ChooseOption asks for ("value", "signed integer"...)."""
    default = option.get("Default")
    if default == "" or default is None:
        return "value"
    return {"bool": "boolean value (true or false)", "SizeSuffix": "size with suffix K,M,G,T",
            "Duration": "duration s,m,h,d,w,M,y", "int": "signed integer"}.get(
        option.get("Type", ""), f"value of type {option.get('Type', 'string')}")


def _canonical(option: Mapping[str, Any], value: str) -> str:
    """The value as rclone stores it after parsing it for the option's type."""
    kind = option.get("Type", "string")
    if kind == "bool":
        if value in ("1", "t", "T", "TRUE", "true", "True"):
            return "true"
        if value in ("0", "f", "F", "FALSE", "false", "False"):
            return "false"
        raise ValueError(f'parsing "{value}" as bool failed: strconv.ParseBool: parsing '
                         f'"{value}": invalid syntax')
    if kind == "int":
        try:
            return str(int(value, 10))
        except ValueError:
            raise ValueError(f'parsing "{value}" as int failed: strconv.ParseInt: parsing '
                             f'"{value}": invalid syntax') from None
    return value


class _Editor:
    """rclone's EditConfig loop over one ConfigSession."""

    def __init__(self, session: ConfigSession, ui: _Ui) -> None:
        self.s = session
        self.ui = ui

    def run(self) -> None:
        menu = ["eEdit existing remote", "nNew remote", "dDelete remote", "rRename remote",
                "cCopy remote", "sSet configuration password", "qQuit config"]
        while True:
            what = menu
            if self.s.doc.sections():
                self.ui.say("Current remotes:\n\n")
                self._show_remotes()
                self.ui.say("\n")
            else:
                self.ui.say("No remotes found, make a new one?\n")
                what = [menu[1], *menu[-2:]]
            choice = self.ui.command(what)
            if choice == "q":
                return
            self.ui.say("\n")
            if choice == "s":
                self.ui.say("pysync does not support configuration passwords (rclone's "
                            "encrypted config files): nothing changed.\n")
            elif choice == "n":
                name = self._new_name()
                self.ui.say("\n")
                self._new_remote(name)
            else:
                name = self._choose_remote()
                self.ui.say("\n")
                if choice == "e":
                    self._edit_remote(name)
                elif choice == "d":
                    self.s.delete(name)
                elif choice == "r":
                    self.ui.say(f"Enter new name for {_go_quote(name)} remote.\n")
                    new = self._copy(name)
                    if new != name:
                        self.s.doc.delete_section(name)
                        self.s.save()
                elif choice == "c":
                    self.ui.say(f"Enter name for copy of {_go_quote(name)} remote.\n")
                    self._copy(name)
                    self.s.save()
            self.ui.say("\n")

    def _show_remotes(self) -> None:
        names = sorted(self.s.doc.sections())
        self.ui.say(f"{'Name':<20} Type\n{'====':<20} ====\n")
        for name in names:
            self.ui.say(f"{name:<20} {self.s.value(name, 'type')}\n")

    def _choose_remote(self) -> str:
        self.ui.say("Select remote.\n")
        return self.ui.choose("remote", "value", sorted(self.s.doc.sections()), None, "",
                              True, False)

    def _new_name(self) -> str:
        from .remotes import _check_remote_name, is_drive_letter

        while True:
            self.ui.say("Enter name for new remote.\n")
            name = self.ui.line("name> ")
            if self.s.doc.has_section(name):
                self.ui.say(f"Remote {_go_quote(name)} already exists.\n")
                continue
            if name == "":
                self.ui.say("Can't use empty name.\n")
                continue
            if is_drive_letter(name):
                self.ui.say(f"Can't use {_go_quote(name)} as it can be confused with a drive "
                            "letter.\n")
                continue
            try:
                _check_remote_name(name)
            except ConfigError as err:
                self.ui.say(f"Can't use {_go_quote(name)} as {err}.\n")
                continue
            return name

    def _copy(self, name: str) -> str:
        new = self._new_name()
        for key in self.s.doc.keys(name):
            self.s.doc.set(new, key, self.s.doc.get(name, key) or "")
        return new

    def _new_remote(self, name: str) -> None:
        from .providers_data import BACKENDS

        backends = sorted(BACKENDS, key=lambda b: b["Name"])
        storage = {"Name": "Storage", "Help": "Type of storage to configure.", "Default": "",
                   "Required": True, "Exclusive": False, "IsPassword": False, "Type": "string",
                   "Examples": [{"Value": b["Name"], "Help": f"{b['Description']} - "
                                 f"{b['Overview']['Tier']}"} for b in backends]}
        while True:
            kind = self._choose_option(storage, "")
            if backend_info(kind) is not None:
                break
            self.ui.say(f"Bad remote {_go_quote(kind)}: didn't find backend called "
                        f"{_go_quote(kind)}\n")
        self.ui.say("\n")
        self.s.doc.delete_section(name)
        self.s.doc.set(name, "type", kind)
        self._ask_all(name, edit=False)
        if self._ok_remote(name):
            self.s.save()
            return
        self.ui.say("\n")
        self._edit_remote(name)

    def _edit_remote(self, name: str) -> None:
        kind = self.s.value(name, "type")
        if kind == "":
            raise ConfigError(f"Couldn't find type of fs for {_go_quote(name)}")
        if backend_info(kind) is None:
            raise ConfigError(f"didn't find backend called {_go_quote(kind)}")
        self.ui.say(f"Editing existing {_go_quote(name)} remote with options:\n")
        self.ui.say(self.s.remote_lines(name, "- ", ": "))
        self.ui.say("\n")
        while True:
            self._ask_all(name, edit=True)
            if self._ok_remote(name):
                break
        self.s.save()

    def _ok_remote(self, name: str) -> bool:
        self.ui.say("Configuration complete.\nOptions:\n")
        self.ui.say(self.s.remote_lines(name, "- ", ": "))
        self.ui.say(f"Keep this {_go_quote(name)} remote?\n")
        choice = self.ui.command(["yYes this is OK", "eEdit this remote",
                                  "dDelete this remote"], 0)
        if choice == "d":
            self.s.doc.delete_section(name)
            return True
        return choice == "y"

    def _ask_all(self, name: str, *, edit: bool) -> None:
        """rclone's configAll: every option (basic, then advanced if asked), then save."""
        info = backend_info(self.s.value(name, "type")) or {"Options": []}
        options = [o for o in info["Options"] if not o.get("Hide", 0) & 2]
        self._ask(name, options, advanced=False, edit=edit)
        # rclone asks again after the advanced questions, until the answer is no
        while any(o["Advanced"] for o in info["Options"]):
            self.ui.say("Edit advanced config?\n")
            yes = self.ui.confirm(False)
            self.ui.say("\n")
            if not yes:
                break
            self._ask(name, options, advanced=True, edit=edit)
        self.s.save()

    def _ask(self, name: str, options: Sequence[Mapping[str, Any]], *, advanced: bool,
             edit: bool) -> None:
        for option in options:
            if option["Advanced"] != advanced:
                continue
            current = self.s._lookup(name, option["Name"])
            shown = dict(option)
            if edit and current is not None:
                shown["Default"] = current
                shown["DefaultStr"] = current
            result = self._choose_option(shown, name)
            if result == "":
                result = str(shown.get("DefaultStr", ""))
            if (current if current is not None else option.get("DefaultStr", "")) != result:
                self.s.doc.set(name, option["Name"], result)
            self.ui.say("\n")

    def _choose_option(self, option: Mapping[str, Any], name: str) -> str:
        """rclone's ChooseOption (and Confirm for a plain Yes/No question)."""
        self.ui.say(f"Option {option['Name']}.\n")
        help_text = option.get("Help", "").strip().replace("\n\n", "\n")
        if help_text:
            import re

            help_text = re.sub(r"\[([^\]]+)\]\((/[^)]*)\)", r"\1 (https://rclone.org\2)",
                               help_text)
            self.ui.say(help_text + "\n")
        default = option.get("DefaultStr", option.get("Default", ""))
        default = "" if default is None else str(default)
        if option.get("IsPassword"):
            return self.ui.choose_password(default, bool(option.get("Required")))
        kind = _kind_text(option)
        while True:
            examples = option.get("Examples") or []
            if examples:
                value = self.ui.choose(option["Name"], kind, [e["Value"] for e in examples],
                                       [e["Help"] for e in examples], default,
                                       bool(option.get("Required")),
                                       not option.get("Exclusive"))
            else:
                value = self.ui.enter(option["Name"], kind, default,
                                      bool(option.get("Required")))
            if value == "":
                return value
            try:
                return _canonical(option, value)
            except ValueError as err:
                self.ui.say(f"Failed to parse {_go_quote(value)}: {err}\n")


def edit_config(config_path: str | None, *, ui: _Ui | None = None) -> None:
    """``pysync config``: rclone's interactive menu on the terminal. Raises UsageError when
    stdin is not a terminal (pysync never reads answers from a pipe) and ConfigError
    ``Failed to read line: EOF`` when the terminal closes."""
    if ui is None:
        if not is_terminal(sys.stdin):
            raise UsageError("pysync config needs a terminal for its questions (stdin is not "
                             "one) - use \"pysync config create|update|delete|password\" in "
                             "scripts")
        ui = _Ui()
    _Editor(ConfigSession(config_path), ui).run()
