"""``--name-transform``: rclone's path name transforms (its lib/transform), reimplemented.

A transform is ``[file,|dir,|all,]KIND[=VALUE]``; several apply in the order given. ``file``
(the default) changes the leaf name of files, ``dir`` the directory names of a path and
``all`` every segment. :class:`NameTransform` turns a source path into the destination's:
the march matches a source entry's transformed name with the destination's names, and new
files and directories are written under their transformed paths.

Errors are rclone's: a transform that fails (a bad value, a base64 name that does not
decode, a command that exits non-zero) is logged ``Failed to transform: ...`` and counted
(not retried); the path keeps its name as far as the transform got. A specification that
does not parse is logged ``Failed to parse transform flags: ...`` at each use, counted, and
the transforms given before it still apply.
"""

from __future__ import annotations

import os
import posixpath
import re
import unicodedata
from collections.abc import Callable, Sequence

from . import log
from .errors import NoRetryError, PysyncError
from .lazyre import LazyPattern
from .march import go_lower
from .units import go_quote

TYPE_CHECKING = False
if TYPE_CHECKING:  # datetime and subprocess: imported when a transform needs them
    import datetime

__all__ = ["NameTransform", "TransformSpec", "parse_spec", "KINDS", "CHARMAPS",
           "go_time_format", "split_extension"]

#: the transform kinds, in rclone's order (its ``invalid choice`` message lists them so)
KINDS = ("none", "nfc", "nfd", "nfkc", "nfkd", "replace", "prefix", "suffix",
         "suffix_keep_extension", "trimprefix", "trimsuffix", "index", "date", "truncate",
         "truncate_keep_extension", "truncate_bytes", "truncate_bytes_keep_extension",
         "base64encode", "base64decode", "encoder", "decoder", "ISO-8859-1", "Windows-1252",
         "Macintosh", "charmap", "lowercase", "uppercase", "titlecase", "ascii", "url", "regex",
         "command")
_NEEDS_VALUE = frozenset(("replace", "prefix", "suffix", "suffix_keep_extension", "trimprefix",
                          "trimsuffix", "index", "date", "truncate", "truncate_keep_extension",
                          "truncate_bytes", "truncate_bytes_keep_extension", "encoder",
                          "decoder", "regex", "command"))

_LATIN1 = "latin-1"  # a code page holding exactly U+0000-U+00FF (the EBCDIC ones do)
#: the ``charmap=`` names (Go's x/text charmaps) and the Python codec of each repertoire
CHARMAPS: dict[str, str] = {
    "IBM-Code-Page-037": _LATIN1, "IBM-Code-Page-437": "cp437", "IBM-Code-Page-850": "cp850",
    "IBM-Code-Page-852": "cp852", "IBM-Code-Page-855": "cp855",
    "Windows-Code-Page-858": "cp858", "IBM-Code-Page-860": "cp860",
    "IBM-Code-Page-862": "cp862", "IBM-Code-Page-863": "cp863", "IBM-Code-Page-865": "cp865",
    "IBM-Code-Page-866": "cp866", "IBM-Code-Page-1047": _LATIN1,
    "IBM-Code-Page-1140": "cp1140", "ISO-8859-1": _LATIN1, "ISO-8859-2": "iso8859_2",
    "ISO-8859-3": "iso8859_3", "ISO-8859-4": "iso8859_4", "ISO-8859-5": "iso8859_5",
    "ISO-8859-6": "iso8859_6", "ISO-8859-7": "iso8859_7", "ISO-8859-8": "iso8859_8",
    "ISO-8859-9": "iso8859_9", "ISO-8859-10": "iso8859_10", "ISO-8859-13": "iso8859_13",
    "ISO-8859-14": "iso8859_14", "ISO-8859-15": "iso8859_15", "ISO-8859-16": "iso8859_16",
    "KOI8-R": "koi8_r", "KOI8-U": "koi8_u", "Macintosh": "mac_roman",
    "Macintosh-Cyrillic": "mac_cyrillic", "Windows-874": "cp874", "Windows-1250": "cp1250",
    "Windows-1251": "cp1251", "Windows-1252": "cp1252", "Windows-1253": "cp1253",
    "Windows-1254": "cp1254", "Windows-1255": "cp1255", "Windows-1256": "cp1256",
    "Windows-1257": "cp1257", "Windows-1258": "cp1258", "X-User-Defined": "x-user-defined",
}
# Go's (WHATWG) Windows-1252 and -874 give the bytes Python's codecs leave undefined the C1
# control of the same number: those characters are in the repertoire too
_C1_EXTRA = {"cp1252": frozenset("\x81\x8d\x8f\x90\x9d"), "cp874": frozenset()}


class TransformError(Exception):
    """One transform failed (the message is rclone's); ``result`` is what rclone's
    transform returns with the error (None: the segment unchanged)."""

    def __init__(self, message: str, result: str | None = None) -> None:
        super().__init__(message)
        self.result = result


class TransformSpec:
    """One parsed ``--name-transform`` value: ``tag`` (file, dir, all), ``kind``, ``value``."""

    __slots__ = ("tag", "kind", "value")

    def __init__(self, tag: str, kind: str, value: str) -> None:
        self.tag = tag
        self.kind = kind
        self.value = value

    def __repr__(self) -> str:
        return f"TransformSpec({self.tag!r}, {self.kind!r}, {self.value!r})"


def parse_spec(text: str) -> TransformSpec:
    """Parse one ``--name-transform`` value as rclone does; raises TransformError with
    rclone's message."""
    tag = "file"
    for t in ("file", "dir", "all"):
        if text.startswith(t + ","):
            tag, text = t, text[len(t) + 1:]
            break
    if text == "":
        return TransformSpec(tag, "none", "")
    if "=" not in text:
        _check_kind(text)
        if text in _NEEDS_VALUE:
            raise TransformError(f"value is required for {text}")
        return TransformSpec(tag, text, "")
    parts = text.split("=")
    if len(parts) != 2:
        raise TransformError("too many values")
    if parts[0] == "":
        raise TransformError("key cannot be blank")
    _check_kind(parts[0])
    return TransformSpec(tag, parts[0], parts[1])


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise TransformError(f'invalid choice "{kind}" from: {", ".join(KINDS)}')


# ----- Go's path functions ---------------------------------------------------------------

def _clean(p: str) -> str:
    if p == "":
        return "."
    out = posixpath.normpath(p)
    return "/" + out.lstrip("/") if out.startswith("//") else out


def _join(*parts: str) -> str:
    joined = "/".join(p for p in parts if p)
    return _clean(joined) if joined else ""


def _dir(p: str) -> str:
    return _clean(p[:p.rfind("/") + 1])


def _base(p: str) -> str:
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    return p[p.rfind("/") + 1:]


def _ext(p: str) -> str:
    for i in range(len(p) - 1, -1, -1):
        if p[i] == "/":
            break
        if p[i] == ".":
            return p[i:]
    return ""


# ----- extensions (Go's mime.TypeByExtension) ----------------------------------------------

_GO_BUILTIN_TYPES = (".avif", ".css", ".gif", ".htm", ".html", ".jpeg", ".jpg", ".js", ".json",
                     ".mjs", ".pdf", ".png", ".svg", ".wasm", ".webp", ".xml")
_mime_exts: frozenset[str] | None = None


def _known_extensions() -> frozenset[str]:
    """The extensions Go's mime package knows here: its built-in ones and the system's
    (the shared-mime-info globs, else the mime.types files, as Go reads them on Unix)."""
    global _mime_exts
    if _mime_exts is not None:
        return _mime_exts
    found = {e for e in _GO_BUILTIN_TYPES}
    globbed = False
    for name in ("/usr/local/share/mime/globs2", "/usr/share/mime/globs2"):
        try:
            with open(name, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if line.startswith("#"):
                        continue
                    fields = line.rstrip("\n").split(":")
                    if len(fields) < 3 or not fields[2].startswith("*."):
                        continue
                    ext = fields[2][1:]
                    if not any(c in ext for c in "?*["):
                        found.add(ext.lower())
            globbed = True
            break
        except OSError:
            continue
    if not globbed:
        import mimetypes

        mimetypes.init()
        found.update(e.lower() for e in mimetypes.types_map)
    _mime_exts = frozenset(found)
    return _mime_exts


def split_extension(name: str) -> tuple[str, str]:
    """rclone's splitExtension: the base and the extensions of ``name``; the last
    extension always counts, earlier ones only when they are known MIME extensions
    (``file.tar.gz`` -> ``file``, ``.tar.gz``)."""
    base, exts, first = name, "", True
    ext = _ext(name)
    while ext:
        if not first and ext.lower() not in _known_extensions():
            break
        base = base[:len(base) - len(ext)]
        exts = ext + exts
        first = False
        ext = _ext(base)
    return base, exts


# ----- Go's time layouts --------------------------------------------------------------------

_NAMED_LAYOUTS = {
    "Layout": "01/02 03:04:05PM '06 -0700", "ANSIC": "Mon Jan _2 15:04:05 2006",
    "UnixDate": "Mon Jan _2 15:04:05 MST 2006", "RubyDate": "Mon Jan 02 15:04:05 -0700 2006",
    "RFC822": "02 Jan 06 15:04 MST", "RFC822Z": "02 Jan 06 15:04 -0700",
    "RFC850": "Monday, 02-Jan-06 15:04:05 MST", "RFC1123": "Mon, 02 Jan 2006 15:04:05 MST",
    "RFC1123Z": "Mon, 02 Jan 2006 15:04:05 -0700", "RFC3339": "2006-01-02T15:04:05Z07:00",
    "RFC3339Nano": "2006-01-02T15:04:05.999999999Z07:00", "Kitchen": "3:04PM",
    "Stamp": "Jan _2 15:04:05", "StampMilli": "Jan _2 15:04:05.000",
    "StampMicro": "Jan _2 15:04:05.000000", "StampNano": "Jan _2 15:04:05.000000000",
    "DateTime": "2006-01-02 15:04:05", "DateOnly": "2006-01-02", "TimeOnly": "15:04:05",
    "MacFriendlyTime": "2006-01-02 0304PM", "macfriendlytime": "2006-01-02 0304PM",
    "mac": "2006-01-02 0304PM", "YYYYMMDD": "20060102",
}
# Go's layout elements, longest first where one is a prefix of another
_TOKENS = ("January", "Jan", "Monday", "Mon", "MST", "2006", "-07:00:00", "-0700", "-07:00",
           "-070000", "-07", "Z07:00:00", "Z0700", "Z07:00", "Z070000", "Z07", "002", "01",
           "02", "03", "04", "05", "06", "_2", "__2", "15", "1", "2", "3", "4", "5", "PM", "pm")
_FRACTION = LazyPattern(r"[.,](0+|9+)(?![0-9])")


def _zone(t: datetime.datetime, token: str) -> str:
    import datetime

    off = t.utcoffset() or datetime.timedelta(0)
    secs = int(off.total_seconds())
    if token.startswith("Z") and secs == 0:
        return "Z"
    sign = "-" if secs < 0 else "+"
    secs = abs(secs)
    hh, mm, ss = secs // 3600, secs // 60 % 60, secs % 60
    body = token.lstrip("Z-")
    if body in ("07",):
        return f"{sign}{hh:02d}"
    if body == "0700":
        return f"{sign}{hh:02d}{mm:02d}"
    if body == "07:00":
        return f"{sign}{hh:02d}:{mm:02d}"
    if body == "070000":
        return f"{sign}{hh:02d}{mm:02d}{ss:02d}"
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"


def go_time_format(layout: str, t: datetime.datetime) -> str:
    """Format ``t`` with a Go layout (``2006-01-02 15:04:05``) as Go's Time.Format."""
    out: list[str] = []
    i = 0
    while i < len(layout):
        m = _FRACTION.match(layout, i)
        if m and (i == 0 or True):
            digits = len(m.group(1))
            frac = f"{t.microsecond * 1000:09d}"[:digits]
            if m.group(1)[0] == "9":
                frac = frac.rstrip("0")
                out.append(layout[i] + frac if frac else "")
            else:
                out.append(layout[i] + frac)
            i = m.end()
            continue
        for tok in _TOKENS:
            if layout.startswith(tok, i):
                if tok in ("Jan", "Mon") and layout[i + 3:i + 4].islower() \
                        and not layout.startswith(("January", "Monday"), i):
                    continue  # Go: "Jan" only when not followed by a lower-case letter
                out.append(_element(tok, t))
                i += len(tok)
                break
        else:
            out.append(layout[i])
            i += 1
    return "".join(out)


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _element(tok: str, t: datetime.datetime) -> str:
    hour12 = t.hour % 12 or 12
    table: dict[str, Callable[[], str]] = {
        "January": lambda: _MONTHS[t.month - 1], "Jan": lambda: _MONTHS[t.month - 1][:3],
        "Monday": lambda: _DAYS[t.weekday()], "Mon": lambda: _DAYS[t.weekday()][:3],
        "MST": lambda: t.tzname() or "UTC", "2006": lambda: f"{t.year:04d}",
        "06": lambda: f"{t.year % 100:02d}", "01": lambda: f"{t.month:02d}",
        "1": lambda: str(t.month), "02": lambda: f"{t.day:02d}", "2": lambda: str(t.day),
        "_2": lambda: f"{t.day:2d}", "__2": lambda: f"{t.timetuple().tm_yday:3d}",
        "002": lambda: f"{t.timetuple().tm_yday:03d}", "15": lambda: f"{t.hour:02d}",
        "03": lambda: f"{hour12:02d}", "3": lambda: str(hour12),
        "04": lambda: f"{t.minute:02d}", "4": lambda: str(t.minute),
        "05": lambda: f"{t.second:02d}", "5": lambda: str(t.second),
        "PM": lambda: "PM" if t.hour >= 12 else "AM",
        "pm": lambda: "pm" if t.hour >= 12 else "am",
    }
    if tok in table:
        return table[tok]()
    return _zone(t, tok)


def apply_time_globs(text: str, now: datetime.datetime) -> str:
    """rclone's AppyTimeGlobs: ``{...}`` (first ``{`` to last ``}``) is replaced by the
    time in that Go layout (or named layout such as ``DateOnly``, ``YYYYMMDD``)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return text
    glob = text[start:end + 1]
    name = glob.strip("{}")
    return text.replace(glob, go_time_format(_NAMED_LAYOUTS.get(name, name), now))


# ----- the segment transforms ------------------------------------------------------------

def _fffd(s: str) -> str:
    """Invalid UTF-8 (surrogate escapes) as Go's rune loops see it: U+FFFD."""
    return re.sub("[\udc80-\udcff]", "\ufffd", s)


def _simple(c: str, how: str) -> str:
    """Go's single-rune case mapping (unicode.ToUpper/ToLower/ToTitle) of ``c``."""
    if how == "lower":
        return go_lower(c)
    first = c.title() if how == "title" else c.upper()
    if len(first) == 1:
        return first
    second = c.upper() if how == "title" else c.title()
    return second if len(second) == 1 else c


def _case(s: str, how: str) -> str:
    if s.isascii():
        return s.lower() if how == "lower" else s.upper()
    return "".join(_simple(c, how) for c in _fffd(s))


def _go_b64decode(s: str) -> bytes:
    """base64.URLEncoding.DecodeString: strict, padded; Go's error offsets."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    dec = {c: i for i, c in enumerate(alphabet)}
    out = bytearray()
    si, n = 0, len(s)

    def corrupt(at: int) -> TransformError:
        return TransformError(f"illegal base64 data at input byte {at}",
                              os.fsdecode(bytes(out)))

    while True:
        vals: list[int] = []
        padded = False
        while len(vals) < 4:
            if si == n:
                if not vals:
                    return bytes(out)
                raise corrupt(si - len(vals))
            c = s[si]
            si += 1
            if c in "\r\n":
                continue
            if c in dec:
                vals.append(dec[c])
                continue
            if c != "=" or len(vals) < 2:
                raise corrupt(si - 1)
            if len(vals) == 2:  # "==" expected
                while si < n and s[si] in "\r\n":
                    si += 1
                if si == n:
                    raise corrupt(n)
                if s[si] != "=":
                    raise corrupt(si - 1)
                si += 1
            while si < n and s[si] in "\r\n":
                si += 1
            if si < n:
                raise corrupt(si)
            padded = True
            break
        acc = 0
        for v in vals:
            acc = acc << 6 | v
        acc <<= 6 * (4 - len(vals))
        chunk = acc.to_bytes(3, "big")[:len(vals) - 1 if len(vals) < 4 else 3]
        out += chunk
        if padded:
            return bytes(out)


def _regex_expand(template: str, m: re.Match[str]) -> str:
    """Go's Regexp.Expand of ``template`` ($1, ${1}, $name, ${name}, $$)."""
    out: list[str] = []
    i = 0
    while i < len(template):
        c = template[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        if template[i + 1:i + 2] == "$":
            out.append("$")
            i += 2
            continue
        j = i + 1
        brace = template[j:j + 1] == "{"
        if brace:
            j += 1
        k = j
        while k < len(template) and (template[k].isalnum() or template[k] == "_") \
                and template[k].isascii():
            k += 1
        name = template[j:k]
        if not name or (brace and template[k:k + 1] != "}"):
            out.append("$")  # malformed: a literal dollar
            i += 1
            continue
        i = k + 1 if brace else k
        if name.isdigit():
            idx = int(name)
            if idx <= (m.re.groups or 0):
                out.append(m.group(idx) or "")
        elif name in m.re.groupindex:
            out.append(m.group(name) or "")
    return "".join(out)


def _charmap(s: str, codec: str) -> str:
    if codec == "x-user-defined":
        return "".join(c if c < "\x80" or "\uf780" <= c <= "\uf7ff" else "_" for c in s)
    extra = _C1_EXTRA.get(codec, frozenset())
    out = []
    for c in s:
        if c in extra:
            out.append(c)
            continue
        try:
            c.encode(codec)
        except UnicodeError:
            out.append("_")
        else:
            out.append(c)
    return "".join(out)


def _truncate_chars(s: str, limit: int, keep_ext: bool) -> str:
    if limit <= 0 or len(s) <= limit:
        return s
    exts = ""
    if keep_ext:
        s, exts = split_extension(s)
    keep = limit - len(exts)
    if keep <= 0:
        raise TransformError("extension is longer than the truncation limit", "")
    return s[:keep] + exts


def _utf8(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _truncate_bytes(s: str, limit: int, keep_ext: bool) -> str:
    if limit <= 0 or len(_utf8(s)) <= limit:
        return s
    exts = ""
    if keep_ext:
        s, exts = split_extension(s)
    raw, tail = _utf8(s), _utf8(exts)
    for i in range(limit - len(tail), 0, -1):
        b = raw[:i] + tail
        if len(b) <= limit:
            try:
                return b.decode("utf-8")
            except UnicodeDecodeError:
                continue
    raise TransformError("could not truncate to valid UTF-8", "")


def _atoi(value: str) -> int:
    if re.fullmatch(r"[+-]?[0-9]+", value):
        return int(value)
    raise TransformError(f'strconv.Atoi: parsing {go_quote(value)}: invalid syntax')


def _command(s: str, command: str) -> str:
    import subprocess

    try:
        got = subprocess.run([command, s], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, check=False)
    except OSError as err:
        why = (f'exec: {go_quote(command)}: executable file not found in $PATH'
               if isinstance(err, FileNotFoundError) else str(err))
        raise TransformError(f": error running command {go_quote(command + ' ' + s)}: "
                             f"{why}") from None
    out = os.fsdecode(got.stdout.strip())
    if got.returncode != 0:
        raise TransformError(f"{out}: error running command {go_quote(command + ' ' + s)}: "
                             f"exit status {got.returncode}")
    return out


class _Segment:
    """The transform of one path segment (``apply``), with its parsed value cached."""

    def __init__(self, spec: TransformSpec, now: Callable[[], datetime.datetime]) -> None:
        self.spec = spec
        self.now = now
        self._regex: re.Pattern[str] | None = None
        self._encoder: object | None = None

    def apply(self, s: str) -> str:  # noqa: C901 - one branch per kind, as rclone's switch
        kind, value = self.spec.kind, self.spec.value
        if kind == "none":
            return s
        if kind in ("nfc", "nfd", "nfkc", "nfkd"):
            return unicodedata.normalize(kind.upper(), s)  # type: ignore[arg-type]
        if kind == "base64encode":
            import base64  # here: the imports only for the transforms that need them

            return base64.urlsafe_b64encode(_utf8(s)).decode("ascii")
        if kind == "base64decode":
            if s == ".DS_Store":
                return s
            try:
                return os.fsdecode(_go_b64decode(s))
            except TransformError:
                log.error(s or None, "base64 error")
                raise
        if kind == "replace":
            parts = value.split(":")
            if len(parts) != 2:
                raise TransformError(f"wrong number of values: {value}")
            return s.replace(parts[0], parts[1])
        if kind == "prefix":
            return value + s
        if kind == "suffix":
            return s + value
        if kind == "suffix_keep_extension":
            base, exts = split_extension(s)
            return base + value + exts
        if kind == "trimprefix":
            return s[len(value):] if value and s.startswith(value) else s
        if kind == "trimsuffix":
            return s[:-len(value)] if value and s.endswith(value) else s
        if kind in ("truncate", "truncate_keep_extension"):
            return _truncate_chars(s, _atoi(value), kind == "truncate_keep_extension")
        if kind in ("truncate_bytes", "truncate_bytes_keep_extension"):
            return _truncate_bytes(s, _atoi(value), kind == "truncate_bytes_keep_extension")
        if kind in ("encoder", "decoder"):
            enc = self._name_encoder(value)
            return enc.encode(s) if kind == "encoder" else enc.decode(s)  # type: ignore[attr-defined]
        if kind == "ISO-8859-1":
            return _charmap(s, _LATIN1)
        if kind == "Windows-1252":
            return _charmap(s, "cp1252")
        if kind == "Macintosh":
            return _charmap(s, "mac_roman")
        if kind == "charmap":
            if value not in CHARMAPS:
                raise TransformError(f'invalid choice "{value}" from: {", ".join(CHARMAPS)}')
            return _charmap(s, CHARMAPS[value])
        if kind == "lowercase":
            return _case(s, "lower")
        if kind == "uppercase":
            return _case(s, "upper")
        if kind == "titlecase":
            return _case(s, "title")
        if kind == "ascii":
            return "".join(c for c in s if c <= "\x7f")
        if kind == "url":
            from urllib.parse import quote_plus

            return quote_plus(s, safe="", encoding="utf-8", errors="surrogateescape")
        if kind == "date":
            return s + apply_time_globs(value, self.now())
        if kind == "regex":
            parts = value.split("/")
            if len(parts) != 2:
                raise TransformError(f"regex syntax error: {value}")
            if self._regex is None:
                from .filter.glob import RegexpError, compile_regexp_groups

                try:
                    self._regex = compile_regexp_groups(parts[0])
                except RegexpError as err:
                    raise TransformError(str(err)) from None
            template = parts[1]
            return self._regex.sub(lambda m: _regex_expand(template, m), s)
        if kind == "command":
            return _command(s, value)
        raise TransformError("this option is not yet implemented", "")  # index

    def _name_encoder(self, value: str) -> object:
        if self._encoder is None:
            from .backends.smb import NameEncoder, parse_encoding
            from .errors import ConfigError

            try:
                self._encoder = NameEncoder(parse_encoding(value))
            except ConfigError as err:
                raise TransformError(str(err)) from None
        return self._encoder


def _validate(seg: str) -> None:
    if seg.strip() == "":
        raise TransformError("transform cannot render path segments empty")
    if "/" in seg:
        raise TransformError(f"transform cannot add path separators: {seg}")


def _local_now() -> datetime.datetime:
    """The local time now, with its zone (the ``date`` transform's default clock)."""
    import datetime

    return datetime.datetime.now().astimezone()


class NameTransform:
    """The ``--name-transform`` values of a run, applied to paths as rclone's
    ``transform.Path``.

    ``error(path, exc, message)`` is called for each failure (rclone logs it as an ERROR
    and counts it); without it failures are logged only."""

    def __init__(self, specs: Sequence[str],
                 error: Callable[[str, BaseException, str], None] | None = None,
                 now: Callable[[], datetime.datetime] | None = None) -> None:
        self.specs = tuple(specs)
        self.error = error
        self.parsed: list[_Segment] = []
        self.parse_error: str | None = None
        clock = now or _local_now
        for text in self.specs:
            try:
                self.parsed.append(_Segment(parse_spec(text), clock))
            except TransformError as err:
                self.parse_error = str(err)
                break

    def __bool__(self) -> bool:
        return bool(self.specs)

    def _fail(self, path: str, message: str, retry: bool = False) -> None:
        if self.error is not None:
            cause = message.split(": ", 1)[-1]
            self.error(path, PysyncError(cause) if retry else NoRetryError(cause), message)
        else:
            log.error(path or None, message)

    def _path(self, s: str, t: _Segment, base_only: bool) -> str:
        """rclone's transformPath: every segment, or only the last (``base_only``)."""
        if s in ("", "/", "\\", "."):
            return ""
        if base_only:
            err: TransformError | None = None
            try:
                base = t.apply(_base(s))
            except TransformError as e:
                err = e
                base = _base(s) if e.result is None else e.result
            _validate(base)
            out = _join(_dir(s), base)
            if err is not None:
                raise _Partial(out, err)
            return out
        segs = []
        for seg in s.split("/"):
            conv = t.apply(seg)
            _validate(conv)
            segs.append(conv)
        return _join(*segs)

    def path(self, s: str, is_dir: bool) -> str:
        """The destination path of source path ``s`` (a directory when ``is_dir``)."""
        if not self.specs:
            return s
        old = s
        if self.parse_error is not None:
            self._fail(s, f"Failed to parse transform flags: {self.parse_error}", retry=True)
        for t in self.parsed:
            tag = t.spec.tag
            if is_dir and tag == "file":
                continue
            try:
                if tag == "dir" and not is_dir:
                    head = self._path(_dir(s), t, False)
                    s = _join(head, _base(s))
                else:
                    s = self._path(s, t, not is_dir and tag == "file")
            except _Partial as p:
                s = p.path
                self._fail(s, f"Failed to transform: {p.err}")
            except TransformError as err:
                s = ""
                self._fail(s, f"Failed to transform: {err}")
        if old != s:
            log.debug(old, f"transformed to: {s}")
        if old.count("/") != s.count("/"):
            self._fail(old, f"number of path segments must match: {old} ({old.count('/')}), "
                            f"{s} ({s.count('/')})")
            return old
        return s

    def name(self, name: str, is_dir: bool) -> str:
        """The transformed leaf ``name`` of a source entry (the march's matching name)."""
        return self.path(name, is_dir)


class _Partial(Exception):
    """A base-only transform that failed with a result (rclone returns both)."""

    def __init__(self, path: str, err: TransformError) -> None:
        super().__init__(str(err))
        self.path = path
        self.err = err
