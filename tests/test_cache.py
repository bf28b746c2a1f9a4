"""The on-disk cache never runs what it did not write (issue 14, finding 12)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import imgpath
from imgpath._internal import cache as _cache
from imgpath.rulebook import load_rulebook, rules_dir
from imgpath.rulebook.book import cache_key as _cache_key


class _Exploit:
    """Unpickling this writes a marker file: stands for any planted command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (self.marker, "pwned"))


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("IMGPATH_CACHE_DIR", str(d))
    return d


def _plant(path: Path, payload: bytes, *, key: str, valid_sum: bool = True) -> None:
    import hashlib

    digest = hashlib.sha256(payload if valid_sum else b"other").hexdigest()
    path.write_bytes(b"imgpath-cache/1\n" + key.encode() + b"\n" + digest.encode() + b"\n" + payload)


def test_round_trip_and_private_modes(cache_dir: Path) -> None:
    assert _cache.store("t", "a" * 64, b"x")
    assert _cache.load("t", "a" * 64) == b"x"
    assert oct(cache_dir.stat().st_mode & 0o777) == "0o700"
    (entry,) = cache_dir.iterdir()
    assert oct(entry.stat().st_mode & 0o777) == "0o600"


def test_planted_pickle_in_a_shared_directory_is_never_loaded(cache_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    root = rules_dir()
    cache_dir.mkdir(mode=0o777)
    os.chmod(cache_dir, 0o777)  # a directory others can write: whatever is in it is untrusted
    key = _cache_key(root)
    _plant(cache_dir / f"rulebook-{key[:32]}.bin", pickle.dumps(_Exploit(marker)), key=key)
    book = load_rulebook(root, cache=True)
    assert not marker.exists()
    assert len(book.rules) > 0


def test_planted_file_writable_by_others_is_ignored(cache_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    cache_dir.mkdir(mode=0o700)
    key = _cache_key(rules_dir())
    target = cache_dir / f"rulebook-{key[:32]}.bin"
    _plant(target, pickle.dumps(_Exploit(marker)), key=key)
    os.chmod(target, 0o666)
    load_rulebook(rules_dir(), cache=True)
    assert not marker.exists()


def test_symlinked_entry_is_ignored(cache_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    cache_dir.mkdir(mode=0o700)
    key = _cache_key(rules_dir())
    elsewhere = tmp_path / "elsewhere.bin"
    _plant(elsewhere, pickle.dumps(_Exploit(marker)), key=key)
    (cache_dir / f"rulebook-{key[:32]}.bin").symlink_to(elsewhere)
    load_rulebook(rules_dir(), cache=True)
    assert not marker.exists()


def test_checksum_and_key_mismatch_are_misses(cache_dir: Path) -> None:
    cache_dir.mkdir(mode=0o700)
    key = "b" * 64
    path = cache_dir / f"t-{key[:32]}.bin"
    _plant(path, b"payload", key=key, valid_sum=False)
    os.chmod(path, 0o600)
    assert _cache.load("t", key) is None
    _plant(path, b"payload", key="c" * 64)
    assert _cache.load("t", key) is None
    _plant(path, b"payload", key=key)
    assert _cache.load("t", key) == b"payload"


def test_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGPATH_CACHE_DIR", "off")
    assert not _cache.store("t", "d" * 64, b"x")
    assert _cache.load("t", "d" * 64) is None


def test_default_rulebook_uses_the_cache_across_processes(cache_dir: Path) -> None:
    code = "import imgpath; print(len(imgpath.rulebook().rules))"
    env = {**os.environ, "IMGPATH_CACHE_DIR": str(cache_dir)}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert any(p.name.startswith("rulebook-") for p in cache_dir.iterdir())
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert second.stdout == first.stdout == f"{len(imgpath.rulebook().rules)}\n"
