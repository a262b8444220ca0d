"""The project's SQLite file: schema and migrations, connections (writable, read-only),
SQLite's errors as one line, and publishing a file built beside its final name.

Schema (its version is ``PRAGMA user_version``; ``MIGRATIONS[i]`` takes version i to i + 1):

* ``meta(key, value)``: ``image_root`` (relative to the project file's folder when the
  images lie below that folder or its parent, so the two move together; else absolute;
  a migrated empty file gets ``.``), ``image_root_absolute`` (the same folder, absolute:
  used when the relative one is gone, i.e. when only the project file moved) and
  ``created`` (ISO time).
* ``images``: ``path`` (POSIX, relative to the image root), ``width``, ``height``, the
  file's ``size``, ``mtime_ns`` and ``sha1`` when added, ``review`` ('unreviewed' or
  'reviewed') and ``position`` (browsing order).
* ``people`` (ids never reused): ``keypoints`` as a blob of 17 x 3 little-endian float64 (x, y, v),
  ``mask_rle`` as compressed COCO RLE JSON (or NULL), ``bbox_x/y/w/h``, ``iscrowd``,
  ``score`` (or NULL), ``provenance`` (predicted, accepted, edited or manual) and the
  ``model`` and ``settings`` (JSON) that produced the person.
* ``coco_sources`` (version 2): the COCO annotation id each imported person came from,
  so importing the same annotations into the same images again is noticed.
* ``prediction_runs`` (version 3): one row per image that holds the model's people: the
  ``model`` and ``settings`` (canonical JSON) of its predictions, or NULL once imported
  people replaced them (``replace_predictions``, ``close_predictions``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError

_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    width INTEGER NOT NULL CHECK (width > 0),
    height INTEGER NOT NULL CHECK (height > 0),
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha1 TEXT NOT NULL,
    review TEXT NOT NULL DEFAULT 'unreviewed' CHECK (review IN ('unreviewed', 'reviewed')),
    position INTEGER NOT NULL UNIQUE CHECK (position >= 1)
);
CREATE INDEX images_review_position ON images (review, position);
CREATE TABLE people (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    keypoints BLOB NOT NULL CHECK (length(keypoints) = 408),
    mask_rle TEXT,
    bbox_x REAL NOT NULL, bbox_y REAL NOT NULL, bbox_w REAL NOT NULL, bbox_h REAL NOT NULL,
    iscrowd INTEGER NOT NULL CHECK (iscrowd IN (0, 1)),
    score REAL,
    provenance TEXT NOT NULL CHECK (provenance IN ('predicted', 'accepted', 'edited', 'manual')),
    model TEXT,
    settings TEXT
);
CREATE INDEX people_image ON people (image_id);
CREATE INDEX people_provenance_score ON people (provenance, score);
INSERT INTO meta VALUES ('image_root', '.');
"""

_V2 = """
CREATE TABLE coco_sources (
    person_id INTEGER PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    annotation_id INTEGER NOT NULL
);
"""

_V3 = """
CREATE TABLE prediction_runs (
    image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
    model TEXT,
    settings TEXT
);
"""

#: SQL scripts; script i migrates schema version i to i + 1 (version 0: an empty file).
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
SCHEMA_VERSION = len(MIGRATIONS)


class ProjectExistsError(InputError):
    """A new project's path is taken (perhaps by another process, while it was built)."""


def writable_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def read_only_connection(path: Path) -> sqlite3.Connection:
    """A connection that never writes; in a read-only folder, where SQLite cannot create
    the WAL index, the file is read as immutable."""
    uri = Path(os.path.abspath(path)).as_uri()
    try:
        return _readable(sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, timeout=10.0))
    except sqlite3.OperationalError:
        return _readable(sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None))


def _readable(conn: sqlite3.Connection) -> sqlite3.Connection:
    """``conn`` once a first read works (else closed, and the error raised)."""
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection, path: Path, read_only: bool) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise InputError(path, f"made by a newer PersonLab Studio (schema {version}; "
                               f"this one reads up to {SCHEMA_VERSION})")
    if version == 0 and conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
        raise InputError(path, "not a PersonLab project file (an SQLite database with other tables)")
    if read_only:
        if version == 0:
            raise InputError(path, "not a PersonLab project file (an empty file)")
        return
    for target in range(version + 1, SCHEMA_VERSION + 1):
        try:
            conn.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[target - 1]}; "
                               f"PRAGMA user_version = {target}; COMMIT;")
        except sqlite3.DatabaseError as exc:
            conn.rollback()
            raise InputError(path, f"cannot migrate schema {target - 1} to {target} ({exc})") from None


@contextmanager
def database_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn SQLite's errors inside (locked, read-only, damaged, integer overflow) into
    one-line ``InputError``s naming ``path``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise InputError(path, _database_problem(exc)) from None
    except OverflowError:  # sqlite3 refuses Python ints over 64 bits this way
        raise InputError(path, "a number too large for the project file (over 64 bits)") from None


def _database_problem(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"locked by another program, try again when it is done ({text})"
    if "readonly" in text or "read-only" in text:
        return f"read-only: cannot change it ({text})"
    if "malformed" in text or "disk image" in text:
        return f"damaged project file ({text}); restore a backup"
    return f"not a PersonLab project file ({text})"


def publish(building: Path, path: Path) -> None:
    """Give the finished hidden project file its name, never replacing a file there."""
    try:
        os.link(building, path)
    except FileExistsError:
        raise ProjectExistsError(path, "was created by another process meanwhile") from None
    except OSError:  # a file system without hard links
        if os.path.lexists(path):
            raise ProjectExistsError(path, "was created by another process meanwhile") from None
        os.rename(building, path)


def remove_database(path: Path) -> None:
    """Remove a database file this process created, with its journal files."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
