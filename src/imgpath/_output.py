"""The output and error files of one ``imgpath batch`` run: checked first, written as rows finish, settled last.

Before any work the paths are checked (:class:`UnusablePath`, exit 2): the output, the error file
and the input must be three different files, the folders must exist and be writable (a hidden
temporary file is created in each, which proves it), and neither target may be a folder.

While the run goes, each finished row is appended to a temporary file next to its target
(``.OUTPUT.xxxx.tmp``), so nothing finished lives only in memory. At the end, :meth:`Files.commit`
moves them into place (a CSV is written from the spooled rows, with every column any row has), and
removes an error file or ``.partial`` files a previous run left, so the files on disk always
describe this run. A run that stops early (Ctrl-C, SIGTERM, a dead worker) calls
:meth:`Files.keep_partial` instead: the finished rows become ``OUTPUT.partial`` (and
``ERRORS.partial``), and a previous complete ``OUTPUT`` is left untouched.

An error path that is not a regular file (``--errors /dev/null``) is written directly.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Any

from .errors import ImgpathError

__all__ = ["Files", "UnusablePath"]


class UnusablePath(ImgpathError, ValueError):
    """An output or error path that cannot be used (a folder, missing, unwritable, the input itself)."""


class Files:
    """Spools for the rows and the errors of one run; see the module docstring."""

    def __init__(self, output: Path, errors: Path, source: Path) -> None:
        _check(output, errors, source)
        self.output, self.errors = output, errors
        self.rows = self.error_count = 0
        self._direct_errors = errors.exists() and not errors.is_file()  # /dev/null, a pipe...
        self._out_spool, self._out = _spool(output)
        self._err_spool: Path | None = None
        self._err: IO[str]
        try:
            if self._direct_errors:
                self._err = errors.open("a", encoding="utf-8")
            else:
                self._err_spool, self._err = _spool(errors)
        except UnusablePath:
            self.discard()
            raise

    def row(self, record: dict[str, Any]) -> None:
        self._out.write(json.dumps(record, default=str) + "\n")
        self.rows += 1

    def error(self, record: dict[str, Any]) -> None:
        self._err.write(json.dumps(record) + "\n")
        self.error_count += 1

    def flush(self) -> None:
        """Hand what is written so far to the operating system (a killed run keeps it)."""
        self._out.flush()
        self._err.flush()

    def commit(self) -> None:
        """The run finished: the output and error files take their names; stale companions go."""
        self._close()
        _settle(self._out_spool, self.output)
        if self._err_spool is not None:
            if self.error_count:
                os.replace(self._err_spool, self.errors)
            else:
                self._err_spool.unlink()
                _remove_regular(self.errors)  # a clean run leaves no error file from an earlier one
        for stale in (_partial(self.output), _partial(self.errors)):
            _remove_regular(stale)

    def keep_partial(self) -> tuple[Path, Path | None]:
        """The run stopped early: keep what finished as ``OUTPUT.partial`` (and ``ERRORS.partial``)."""
        self._close()
        out = _partial(self.output)
        _settle(self._out_spool, out, suffix=self.output.suffix)
        err: Path | None = None
        if self._err_spool is not None:
            if self.error_count:
                err = _partial(self.errors)
                os.replace(self._err_spool, err)
            else:
                self._err_spool.unlink()
        elif self.error_count:
            err = self.errors
        return out, err

    def discard(self) -> None:
        """Nothing is kept (the run was refused after the spools were made)."""
        self._close()
        for spool in (self._out_spool, self._err_spool):
            if spool is not None:
                with contextlib.suppress(FileNotFoundError):
                    spool.unlink()

    def _close(self) -> None:
        for fh in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if fh is not None and not fh.closed:
                fh.close()


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def _check(output: Path, errors: Path, source: Path) -> None:
    """Refuse, before any work, paths that would overwrite the input or each other, or cannot be written."""
    if _same(output, errors):
        raise UnusablePath(f"the output {output} and the error file {errors} are the same file; "
                           "give --errors another path")
    for role, path in (("output", output), ("error file", errors)):
        for target in (path, _partial(path)):
            if _same(target, source):
                raise UnusablePath(f"the {role} {target} is the input file: it would be overwritten; "
                                   "write the results elsewhere")
        if path.is_dir():
            raise UnusablePath(f"the {role} {path} is a folder; give a file name")
        folder = path.parent
        if not folder.exists():
            raise UnusablePath(f"cannot write the {role} {path}: the folder {folder} does not exist")
        if not folder.is_dir():
            raise UnusablePath(f"cannot write the {role} {path}: {folder} is not a folder")


def _same(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def _spool(target: Path) -> tuple[Path, IO[str]]:
    try:
        fd, name = _temporary(target)
    except OSError as err:
        raise UnusablePath(f"cannot write {target}: {err.strerror or err}") from None
    return Path(name), os.fdopen(fd, "w", encoding="utf-8", newline="")


def _temporary(target: Path) -> tuple[int, str]:
    """A new hidden file beside ``target``, with the permissions ``target`` will have: its own if it
    exists, else what the umask gives a new file (mkstemp alone makes it private to the owner)."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        mode = stat.S_IMODE(target.stat().st_mode) if target.is_file() else 0o666 & ~_umask()
        os.chmod(name, mode)
    except OSError:
        pass  # the permissions stay private: never a reason to fail the run
    return fd, name


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _settle(spool: Path, target: Path, suffix: str | None = None) -> None:
    """Move the spooled rows to ``target``: as they are (JSONL), or as a CSV with every column seen."""
    if (suffix or target.suffix).lower() != ".csv":
        os.replace(spool, target)
        return
    columns: dict[str, None] = {"id": None, "as_of": None, "season": None}
    with spool.open(encoding="utf-8") as fh:
        for line in fh:
            columns.update(dict.fromkeys(json.loads(line)))
    fd, name = _temporary(target)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out, spool.open(encoding="utf-8") as fh:
            writer = csv.DictWriter(out, fieldnames=list(columns))
            writer.writeheader()
            for line in fh:
                writer.writerow(json.loads(line))
        os.replace(name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
    spool.unlink()


def _remove_regular(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISREG(path.lstat().st_mode):
            path.unlink()
