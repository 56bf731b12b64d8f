"""Hashes by rclone's names (md5, sha1, sha256, crc32, xxh3, xxh128), updated in large slices."""

from __future__ import annotations

import zlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Protocol
else:
    Protocol = object  # typing.Protocol for type checkers only

__all__ = ["HASH_NAMES", "Hasher", "new_hasher", "hash_stream", "hash_file", "SLICE"]

SLICE = 4 * 1024 * 1024
HASH_NAMES = ("md5", "sha1", "sha256", "crc32", "xxh3", "xxh128")
_ALIASES = {"md5": "md5", "sha1": "sha1", "sha-1": "sha1", "sha256": "sha256",
            "sha-256": "sha256", "crc32": "crc32", "xxh3": "xxh3", "xxh128": "xxh128"}


class Hasher(Protocol):
    """The part of hashlib's interface pysync uses."""

    def update(self, data: bytes | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


class _Crc32:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes | memoryview, /) -> None:
        self.value = zlib.crc32(data, self.value)

    def hexdigest(self) -> str:
        return f"{self.value:08x}"


def canonical(kind: str) -> str:
    """rclone's canonical name for a hash kind; raises ValueError for an unknown one."""
    try:
        return _ALIASES[kind.lower()]
    except KeyError:
        raise ValueError(f'unknown hash type "{kind}"') from None


def new_hasher(kind: str) -> Hasher:
    """A fresh hasher for ``kind`` (xxh3 = XXH3 64-bit, xxh128 = XXH3 128-bit, as rclone)."""
    kind = canonical(kind)
    if kind == "xxh3":
        import xxhash
        return xxhash.xxh3_64()
    if kind == "xxh128":
        import xxhash
        return xxhash.xxh3_128()
    if kind == "crc32":
        return _Crc32()
    import hashlib  # only md5/sha1/sha256 need it: start-up stays lean

    return hashlib.new(kind)


def hash_stream(stream: BinaryIO, kind: str) -> str:
    """Hash everything left in ``stream``."""
    h = new_hasher(kind)
    buf = bytearray(SLICE)
    view = memoryview(buf)
    readinto = getattr(stream, "readinto", None)
    while True:
        if readinto is not None:
            n = readinto(buf)
            if not n:
                break
            h.update(view[:n])
        else:
            data = stream.read(SLICE)
            if not data:
                break
            h.update(data)
    return h.hexdigest()


def hash_file(path: str, kind: str) -> str:
    """Hash the local file at ``path``."""
    with open(path, "rb", buffering=0) as fh:
        return hash_stream(fh, kind)  # type: ignore[arg-type]
