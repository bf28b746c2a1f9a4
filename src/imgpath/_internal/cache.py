"""imgpath's on-disk cache: a per-user directory that is trusted only when it is safe.

A cache entry is loaded with :mod:`pickle` (a parsed rulebook) or executed (generated code), so a
file planted by someone else must never be read. Every read therefore checks, on the directory
and on the file, that they belong to the current user and that nobody else can write them
(``chmod 700`` directory, ``600`` files, created that way here); an entry also starts with a
header naming its key and the SHA-256 of its payload, so a truncated, corrupted or swapped file
is rebuilt, never trusted. Keys hash what the entry was built from (the rules' content) together
with imgpath's version and the Python version. Anything unsafe or unreadable is a cache miss;
correctness never depends on the cache.

The directory is ``$IMGPATH_CACHE_DIR``, else ``$XDG_CACHE_HOME/imgpath``, else
``~/.cache/imgpath``; ``IMGPATH_CACHE_DIR=off`` disables the cache.

>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> os.environ["IMGPATH_CACHE_DIR"] = d
>>> store("demo", "k1", b"payload")
True
>>> load("demo", "k1")
b'payload'
>>> load("demo", "other") is None
True
>>> del os.environ["IMGPATH_CACHE_DIR"]
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import sys
from pathlib import Path

from .version import VERSION

__all__ = ["directory", "key", "load", "package_source", "store"]

_MAGIC = b"imgpath-cache/1\n"


def directory() -> Path | None:
    """The cache directory (not created here), or None when the cache is off."""
    base = os.environ.get("IMGPATH_CACHE_DIR")
    if base == "off":
        return None
    if not base:
        base = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "imgpath")
    return Path(base)


@functools.cache
def package_source() -> str:
    """SHA-256 of imgpath's own source (every module's path and content), read once per process: part
    of the key of an entry holding instances of its classes, so code that changed never reads it."""
    package = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for module in sorted(package.rglob("*.py")):
        h.update(str(module.relative_to(package)).encode())
        h.update(module.read_bytes())
    return h.hexdigest()


def key(*parts: bytes | str) -> str:
    """A cache key: SHA-256 over ``parts``, imgpath's version and the Python version."""
    digest = hashlib.sha256()
    for part in (VERSION, sys.version, *parts):
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _safe(path: Path, *, is_dir: bool) -> bool:
    """Owned by this user, of the expected kind, not a symlink, writable by nobody else."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISLNK(st.st_mode) or (stat.S_ISDIR(st.st_mode) != is_dir):
        return False
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        return False
    return not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _entry(kind: str, entry_key: str) -> Path | None:
    base = directory()
    if base is None:
        return None
    return base / f"{kind}-{entry_key[:32]}.bin"


def load(kind: str, entry_key: str) -> bytes | None:
    """The payload stored under (``kind``, ``entry_key``), or None if absent or not trustworthy."""
    path = _entry(kind, entry_key)
    if path is None or not _safe(path.parent, is_dir=True) or not _safe(path, is_dir=False):
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(_MAGIC):
        return None
    parts = data[len(_MAGIC):].split(b"\n", 2)
    if len(parts) != 3:
        return None
    stored_key, stored_sum, payload = parts
    if stored_key != entry_key.encode() or stored_sum != hashlib.sha256(payload).hexdigest().encode():
        return None
    return payload


def store(kind: str, entry_key: str, payload: bytes) -> bool:
    """Write an entry atomically (private directory and file); False when the cache is unusable."""
    path = _entry(kind, entry_key)
    if path is None:
        return False
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _safe(path.parent, is_dir=True):
            return False
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(_MAGIC + entry_key.encode() + b"\n"
                         + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError:
        return False
    return True
