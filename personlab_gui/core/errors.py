"""User-facing bad-input errors: each reads as one line, ``"<path>: <problem>"``."""

from __future__ import annotations

import os


def _one_line(text: str) -> str:
    """One line of printable text (undecodable file-name bytes shown as escapes)."""
    return " ".join(str(text).encode("utf-8", "backslashreplace").decode("utf-8").split())


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of an exception's message, cut at ``limit`` characters (its type name
    when it has none)."""
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines else type(exc).__name__


class InputError(Exception):
    """Base of every error caused by a bad user input (file, folder, path, dataset)."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = _one_line(os.fspath(path))
        self.problem = _one_line(problem)
        super().__init__(f"{self.path}: {self.problem}")

    def __reduce__(self):  # keep the two-argument constructor picklable (worker processes)
        return type(self), (self.path, self.problem)


class ImageLoadError(InputError):
    """An image file that cannot be read: missing, not an image, corrupt, truncated, too large."""


class CocoFormatError(InputError):
    """A COCO JSON file or dataset that is unreadable or breaks the COCO format."""
