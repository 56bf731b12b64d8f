"""An rclone.conf document read, edited and written back as rclone's INI library does."""

# rclone keeps its config in github.com/unknwon/goconfig (v1.0.0). Its rules, reproduced here
# so a file pysync writes reads the same in rclone and the reverse:
# - whole-line ``#``/``;`` comments belong to the next section header or key and are written
#   back before it; comments after the last key are lost; blank lines are not kept;
# - ``key = value`` or ``key: value``; a key or value is trimmed; a value may be wrapped in
#   backquotes or triple double quotes (``"""..."""``), which are removed; a key in
#   backquotes or double quotes may hold ``=`` or ``:``;
# - the keys before the first section form ``DEFAULT``, written first without a header;
# - on writing, a value holding a backquote is wrapped in ``"..."`` (``"""..."""`` when it
#   also holds a ``"``), a key holding ``=`` or ``:`` in backquotes; ``key = value`` lines,
#   a blank line after every section;
# - a key ``-`` is numbered (``#1``, ``#2``... in its section) and written back as ``-``.
# Saving follows rclone's configfile.Save: a temporary file in the same directory, the mode
# of the file it replaces (0600 for a new file), then a rename over it (through a symlink to
# its target).

from __future__ import annotations

import os

from .errors import ConfigError

__all__ = ["ConfigFile", "DEFAULT_SECTION", "save_text"]

#: The section of the keys before the first ``[section]`` header.
DEFAULT_SECTION = "DEFAULT"


class ConfigFile:
    """Sections of ``key = value`` in order, with the comments that precede them."""

    def __init__(self) -> None:
        self._data: dict[str, dict[str, str]] = {}
        self._section_comments: dict[str, str] = {}
        self._key_comments: dict[str, dict[str, str]] = {}

    def __repr__(self) -> str:  # section names only: values may be secrets
        return f"ConfigFile(sections={self.sections()!r})"

    # ----- reading ----------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, where: str = "(text)") -> ConfigFile:
        """The document ``text`` holds; ConfigError (worded as pysync's loader) when a line
        cannot be parsed or a key comes after an empty ``[]`` header."""
        doc = cls()
        text = text.removeprefix("\ufeff")
        section = DEFAULT_SECTION
        comments: list[str] = []
        count = 1
        for raw in text.split("\n"):
            line = raw.strip()
            if not line:
                continue
            if line[0] in "#;":
                comments.append(line)
                continue
            if line[0] == "[" and line[-1] == "]":
                section = line[1:-1].strip()
                name = section or DEFAULT_SECTION
                if comments:
                    doc._section_comments[name] = "\n".join(comments)
                    comments = []
                doc._data.setdefault(name, {})
                count = 1
                continue
            if section == "":
                raise ConfigError(f"Failed to load config file {where}: "
                                  "empty section name not allowed")
            key, value = _split_line(line, where)
            if key == "-":
                key = f"#{count}"
                count += 1
            doc.set(section, key, value)
            if comments:
                doc._key_comments.setdefault(section, {})[key] = "\n".join(comments)
                comments = []
        return doc

    # ----- queries ----------------------------------------------------------------------------

    def sections(self) -> list[str]:
        """Section names in file order (``DEFAULT`` only when it holds keys or a header)."""
        return list(self._data)

    def has_section(self, name: str) -> bool:
        """True when section ``name`` exists (with or without keys)."""
        return name in self._data

    def keys(self, section: str) -> list[str]:
        """The keys of ``section`` in order; [] for no such section."""
        return list(self._data.get(section, {}))

    def get(self, section: str, key: str) -> str | None:
        """The value of ``key`` in ``section``, None when unset."""
        return self._data.get(section, {}).get(key)

    def section(self, name: str) -> dict[str, str]:
        """A copy of section ``name`` ({} for no such section)."""
        return dict(self._data.get(name, {}))

    def as_dict(self) -> dict[str, dict[str, str]]:
        """Every section as ``{name: {key: value}}``, copied."""
        return {name: dict(keys) for name, keys in self._data.items()}

    # ----- edits ------------------------------------------------------------------------------

    def set(self, section: str, key: str, value: str) -> None:
        """Set ``key`` (appended when new, else kept in place); the section is created."""
        if not key:
            return
        self._data.setdefault(section or DEFAULT_SECTION, {})[key] = value

    def delete_key(self, section: str, key: str) -> bool:
        """Remove ``key`` of ``section`` and its comment; False when there was none."""
        keys = self._data.get(section)
        if keys is None or key not in keys:
            return False
        del keys[key]
        self._key_comments.get(section, {}).pop(key, None)
        return True

    def delete_section(self, name: str) -> bool:
        """Remove section ``name`` with its keys and comments; False when there was none."""
        if name not in self._data:
            return False
        del self._data[name]
        self._section_comments.pop(name, None)
        self._key_comments.pop(name, None)
        return True

    # ----- writing ----------------------------------------------------------------------------

    def serialize(self, shown: object = None) -> str:
        """The file text as rclone writes it. ``shown(section, key, value)`` may replace
        each value (``config show`` masks secrets with it)."""
        out: list[str] = []
        for name, keys in self._data.items():
            comment = self._section_comments.get(name)
            if comment:
                out.append(comment + "\n")
            if name != DEFAULT_SECTION:
                out.append(f"[{name}]\n")
            key_comments = self._key_comments.get(name, {})
            for key, value in keys.items():
                if key_comments.get(key):
                    out.append(key_comments[key] + "\n")
                if callable(shown):
                    value = shown(name, key, value)
                out.append(f"{_quote_key(key)} = {_quote_value(value)}\n")
            out.append("\n")
        return "".join(out)

    def save(self, path: str) -> None:
        """Write the document to ``path`` as rclone's configfile.Save does (see the module
        comment). Raises ConfigError (exit 1) in rclone's words when it cannot."""
        save_text(path, self.serialize())


def _split_line(line: str, where: str) -> tuple[str, str]:
    """``(key, value)`` of a ``key = value`` line, goconfig's quoting removed."""

    def bad() -> ConfigError:
        return ConfigError(f"Failed to load config file {where}: could not parse line: {line}")

    key_quote = ""
    if line[0] == '"':
        key_quote = '"""' if len(line) >= 6 and line.startswith('"""') else '"'
    elif line[0] == "`":
        key_quote = "`"
    if key_quote:
        q = len(key_quote)
        pos = line.find(key_quote, q)
        if pos < 0:
            raise bad()
        rel = _index_any(line[pos:], "=:")
        if rel <= 0:
            raise bad()
        sep = pos + rel
        key = line[q:pos]
    else:
        sep = _index_any(line, "=:")
        if sep <= 0:
            raise bad()
        key = line[:sep].strip()
    right = line[sep + 1:].strip()
    value_quote = ""
    if len(right) >= 2 and right[0] == "`":
        value_quote = "`"
    elif len(right) >= 6 and right.startswith('"""'):
        value_quote = '"""'
    if value_quote:
        q = len(value_quote)
        pos = right.rfind(value_quote, q)
        if pos < 0:
            raise bad()
        return key, right[q:pos]
    return key, right


def _index_any(s: str, chars: str) -> int:
    found = [i for i in (s.find(c) for c in chars) if i >= 0]
    return min(found) if found else -1


def _quote_key(key: str) -> str:
    if key.startswith("#"):
        return "-"
    if "=" in key or ":" in key:
        if "`" in key:
            return f'"""{key}"""' if '"' in key else f'"{key}"'
        return f"`{key}`"
    return key


def _quote_value(value: str) -> str:
    if "`" in value:
        return f'"""{value}"""' if '"' in value else f'"{value}"'
    return value


def save_text(path: str, text: str) -> None:
    """Replace the file ``path`` by ``text`` atomically: a temporary file beside it (or beside
    the target of a symlink ``path``), synced, given the old file's mode (0600 when new), then
    renamed over it. Parent directories are created. Raises ConfigError on failure."""
    target = path
    try:
        if os.path.islink(target):
            link = os.readlink(target)
            target = link if os.path.isabs(link) else os.path.join(os.path.dirname(target),
                                                                   link)
        directory, name = os.path.split(os.path.abspath(target))
        os.makedirs(directory, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"failed to create config directory: {err.strerror or err}"
                          ) from None
    import tempfile  # here: the config is written rarely, read on every run

    try:
        fd, tmp = tempfile.mkstemp(prefix=name, dir=directory)
    except OSError as err:
        raise ConfigError(f"failed to create temp file for new config: {err.strerror or err}"
                          ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = os.stat(target).st_mode & 0o7777
        except OSError:
            mode = 0o600
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ConfigError(f"failed to save config file: {err.strerror or err}") from None
