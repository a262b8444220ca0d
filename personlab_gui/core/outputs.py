"""Output paths that never destroy the user's data.

``check_output`` is called before any work starts: an output may replace an existing
regular file, but never one of the command's inputs (compared by file identity, so
symlinks, hard links and ``./x`` spellings are caught), a PersonLab project, a folder or a
non-regular file (device, FIFO, socket), and its folder must exist and be writable.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError

#: Suffix of PersonLab project files (``core.project``), never an output of another command.
PROJECT_SUFFIX = ".plab"
_SQLITE_MAGIC = b"SQLite format 3\x00"


class OutputError(InputError):
    """An output path that would destroy data or cannot be written."""


def _stat(path: str | os.PathLike) -> os.stat_result | None:
    """``os.stat`` (following links), or None when there is nothing there to stat."""
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return False


def _check_folder(path: Path, option: str) -> None:
    """The folder that will hold ``path`` exists and a file can be created in it."""
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(path, f"{option}: the folder {folder} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise OutputError(path, f"{option}: cannot write in {folder} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def check_output(out: str | os.PathLike, inputs: Iterable[str | os.PathLike], *,
                 option: str = "--out") -> bool:
    """Refuse an ``out`` that is an input, a project, a folder or a non-regular file, or
    whose folder is missing or read-only (``OutputError``, one line); return True when
    ``out`` is an existing regular file that will be replaced."""
    text = os.fspath(out)
    if not text or "\x00" in text:
        raise OutputError(repr(text), f"{option}: not a valid file name")
    path = Path(text)
    try:
        os.lstat(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise OutputError(path, f"{option}: {exc.strerror}") from None
    if path.suffix.lower() == PROJECT_SUFFIX:
        raise OutputError(path, f"{option}: is a PersonLab project file; write to another file")
    st = _stat(path)
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(path, f"{option}: is a folder; give a file name")
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(path, f"{option}: is not a regular file (a device, FIFO or socket)")
        if _identity(st) in {_identity(s) for s in map(_stat, inputs) if s is not None}:
            raise OutputError(path, f"{option}: is one of this command's inputs; "
                                    f"write to another file")
        if _is_sqlite(path):
            raise OutputError(path, f"{option}: is an SQLite database (a project?); "
                                    f"write to another file")
    _check_folder(path, option)
    return st is not None
