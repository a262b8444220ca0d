"""Annotation projects: one SQLite file (``.plab``) holding images, people and review state.

The schema and its migrations are in ``database``; the records in ``records``.

Durability: WAL journal with ``synchronous=FULL``. Every edit is its own transaction,
committed before the method returns, so killing the process loses no finished edit;
``transaction()`` groups edits into one all-or-nothing transaction (imports). A new
project is built in a hidden file beside its path and linked into place only when it is
complete (``Project.build``): a failed build, or two processes creating one project at
once, never removes a file someone else wrote. ``Project.open(path, read_only=True)``
never writes (a read-only file or folder, or a file that is not a project yet).
SQLite errors become one-line ``InputError``s (``database_errors``).
Opening reads only the schema version and the meta table; browsing uses indexed queries.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from ..data.image_io import load_image, safe_join
from ..errors import ImageLoadError, InputError
from .database import (ProjectExistsError, database_errors, migrate, publish, read_only_connection,
                       remove_database, writable_connection)
from .records import PERSON_COLUMNS, PROVENANCES, ImageRecord, PersonRecord, person_from_row, person_values

_IMAGE_COLUMNS = "id, path, width, height, size, mtime_ns, sha1, review, position"



class Project:
    """An open ``.plab`` file. Use ``Project.create`` / ``Project.build`` / ``Project.open``,
    then ``close()`` (or a ``with`` block). Unknown image or person ids raise ``KeyError``."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self.image_root = _image_root(path, self.meta())

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def create(cls, path: str | os.PathLike, image_root: str | os.PathLike) -> Project:
        """A new, empty project file at ``path`` whose images live under ``image_root``."""
        with cls.build(path, image_root):
            pass
        return cls.open(path)

    @classmethod
    @contextmanager
    def build(cls, path: str | os.PathLike, image_root: str | os.PathLike) -> Iterator[Project]:
        """A new project, filled inside the ``with`` block and published at ``path`` only
        when the block succeeds (closed then; ``open`` it to go on). It is built in a
        hidden file beside ``path`` and hard-linked into place, so it never replaces a
        file: ``ProjectExistsError`` when ``path`` exists, also when another process
        created it meanwhile. On any failure only the hidden file is removed."""
        path, root = Path(path), Path(image_root)
        if os.path.lexists(path):
            raise ProjectExistsError(path, "already exists")
        if not root.is_dir():
            raise InputError(root, "image folder not found")
        building = path.with_name(f".{path.name}.{secrets.token_hex(6)}.building")
        try:
            os.close(os.open(building, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies
        except OSError as exc:
            raise InputError(path, f"cannot create the project file: {exc.strerror}") from None
        try:
            project = cls._connect(building, read_only=False)
            try:
                project.path = path
                with project.transaction():
                    project._store_root(root)
                    project._set_meta("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
                yield project
            finally:
                project.close()
            publish(building, path)
        finally:
            remove_database(building)

    @classmethod
    def open(cls, path: str | os.PathLike, read_only: bool = False) -> Project:
        """Open an existing project file, migrating an older schema (or an empty file);
        ``read_only`` never writes to the file or its folder (and migrates nothing)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "project file not found")
        if not read_only and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
            raise InputError(path, "read-only (the file or its folder cannot be written); "
                                   "exporting works, changing it needs write access")
        return cls._connect(path, read_only)

    @classmethod
    def _connect(cls, path: Path, read_only: bool) -> Project:
        conn = None
        try:
            with database_errors(path):
                conn = read_only_connection(path) if read_only else writable_connection(path)
                migrate(conn, path, read_only)
                return cls(path, conn)
        except BaseException:
            if conn is not None:
                conn.close()
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One all-or-nothing transaction around the edits inside (nested: joins the outer)."""
        if self._conn.in_transaction:
            yield
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.rollback()
            raise

    def meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM meta"))

    def _set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def set_image_root(self, image_root: str | os.PathLike) -> int:
        """Re-point the project at the folder its images moved to; returns how many of its
        images are there. ``InputError`` when none is (and the project has images)."""
        root = Path(image_root)
        if not root.is_dir():
            raise InputError(root, "image folder not found")
        paths = [row[0] for row in self._conn.execute("SELECT path FROM images")]
        found = sum((root / path).is_file() for path in paths)
        if paths and not found:
            raise InputError(root, f"none of the project's {len(paths)} images is in this folder "
                                   f"(the first is {paths[0]})")
        with self.transaction():
            self._store_root(root)
        self.image_root = _image_root(self.path, self.meta())
        return found

    def _store_root(self, root: Path) -> None:
        absolute = Path(os.path.abspath(root))
        folder = Path(os.path.abspath(self.path)).parent
        try:
            relative = Path(os.path.relpath(absolute, folder))
        except ValueError:  # another drive
            relative = None
        near = relative is not None and relative.parts.count("..") <= 1
        self._set_meta("image_root", relative.as_posix() if near else str(absolute))
        self._set_meta("image_root_absolute", str(absolute))
        self.image_root = absolute

    def check_integrity(self) -> None:
        """A one-line ``InputError`` when SQLite finds the file damaged (a linear scan)."""
        report = self._conn.execute("PRAGMA quick_check").fetchone()[0]
        if report != "ok":
            first = next(line for line in report.splitlines() + [report] if not line.startswith("***"))
            raise InputError(self.path, f"damaged project file ({first}); restore a backup")

    def images_missing(self) -> bool:
        """Whether the images are not where the project looks for them (they moved
        without the project): the image root, or its first image, is gone."""
        row = self._conn.execute("SELECT path FROM images ORDER BY position LIMIT 1").fetchone()
        return not self.image_root.is_dir() or (row is not None and not (self.image_root / row[0]).is_file())

    # ------------------------------------------------------------------ images

    def add_images(self, paths: Iterable[str | os.PathLike],
                   sizes: Sequence[tuple[int, int]] | None = None) -> list[int]:
        """Append image files (absolute, or relative to the image root; inside it) to the
        browsing order in one transaction; ``sizes`` (width, height) per path skip reading
        the headers. A path already in the project keeps its id. Returns ids in input order."""
        paths = list(paths)
        sizes = list(sizes) if sizes is not None else [None] * len(paths)
        rows = [self._image_row(path, size) for path, size in zip(paths, sizes, strict=True)]
        with self.transaction():
            return [self._insert_image(row) for row in rows]

    def relative_path(self, path: str | os.PathLike) -> str:
        """``path`` (absolute, or relative to the image root) as a POSIX path inside the root."""
        relative = Path(path)
        if relative.is_absolute():  # folders compared with symbolic links resolved; the file itself by name
            real = Path(os.path.realpath(relative.parent)) / relative.name
            try:
                relative = real.relative_to(os.path.realpath(self.image_root))
            except ValueError:
                raise InputError(path, f"outside the project's image root {self.image_root}") from None
        safe_join(self.image_root, relative)
        try:
            relative.as_posix().encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(path, "the file name is not UTF-8 text: rename the file") from None
        return relative.as_posix()

    def _image_row(self, path: str | os.PathLike, size: tuple[int, int] | None) -> tuple:
        relative = self.relative_path(path)
        file = safe_join(self.image_root, relative)
        if not file.is_file():
            raise ImageLoadError(file, "file not found")
        width, height = size if size is not None else displayed_size(file)
        stat = file.stat()
        return relative, width, height, stat.st_size, stat.st_mtime_ns, _sha1(file)

    def _insert_image(self, row: tuple) -> int:
        found = self._conn.execute("SELECT id FROM images WHERE path = ?", row[:1]).fetchone()
        if found:
            return found[0]
        (position,) = self._conn.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM images").fetchone()
        return self._conn.execute(
            "INSERT INTO images (path, width, height, size, mtime_ns, sha1, position) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (*row, position)).lastrowid

    def image(self, image_id: int) -> ImageRecord:
        row = self._conn.execute(f"SELECT {_IMAGE_COLUMNS} FROM images WHERE id = ?", (image_id,)).fetchone()
        if row is None:
            raise KeyError(f"no image {image_id}")
        return ImageRecord(*row[:7], reviewed=row[7] == "reviewed", position=row[8])

    def image_file(self, image_id: int) -> Path:
        """The image's file path (under the image root)."""
        return safe_join(self.image_root, self.image(image_id).path)

    def image_changed(self, image_id: int) -> bool:
        """Whether the file is gone or differs from when it was added (size and mtime
        first; the SHA-1 decides when those moved)."""
        record, file = self.image(image_id), self.image_file(image_id)
        if not file.is_file():
            return True
        stat = file.stat()
        if (stat.st_size, stat.st_mtime_ns) == (record.size, record.mtime_ns):
            return False
        return _sha1(file) != record.sha1

    def image_ids(self, reviewed_only: bool = False) -> list[int]:
        """Image ids in browsing order."""
        where = "WHERE review = 'reviewed' " if reviewed_only else ""
        return [row[0] for row in self._conn.execute(f"SELECT id FROM images {where}ORDER BY position")]

    def next_image(self, after_id: int | None = None, unreviewed_only: bool = False) -> int | None:
        """The image after ``after_id`` in browsing order (the first when None); None at the end."""
        return self._step(after_id, unreviewed_only, forward=True)

    def previous_image(self, before_id: int | None = None, unreviewed_only: bool = False) -> int | None:
        """The image before ``before_id`` (the last when None); None at the start."""
        return self._step(before_id, unreviewed_only, forward=False)

    def _step(self, from_id: int | None, unreviewed_only: bool, forward: bool) -> int | None:
        start = self.image(from_id).position if from_id is not None else (0 if forward else 2 ** 63 - 1)
        op, order = (">", "ASC") if forward else ("<", "DESC")
        review = "review = 'unreviewed' AND " if unreviewed_only else ""
        row = self._conn.execute(f"SELECT id FROM images WHERE {review}position {op} ? "
                                 f"ORDER BY position {order} LIMIT 1", (start,)).fetchone()
        return row[0] if row else None

    def set_review(self, image_id: int, reviewed: bool) -> None:
        with self.transaction():
            cursor = self._conn.execute("UPDATE images SET review = ? WHERE id = ?",
                                        ("reviewed" if reviewed else "unreviewed", image_id))
            if cursor.rowcount == 0:
                raise KeyError(f"no image {image_id}")

    def count_images(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]

    def count_reviewed(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM images WHERE review = 'reviewed'").fetchone()[0]

    # ------------------------------------------------------------------ people

    def people(self, image_id: int) -> dict[int, PersonRecord]:
        """Person id -> record for one image, in id order."""
        rows = self._conn.execute(f"SELECT id, {', '.join(PERSON_COLUMNS)} FROM people "
                                  "WHERE image_id = ? ORDER BY id", (image_id,))
        return {row[0]: person_from_row(row[1:]) for row in rows}

    def person(self, person_id: int) -> PersonRecord:
        row = self._conn.execute(f"SELECT {', '.join(PERSON_COLUMNS)} FROM people WHERE id = ?",
                                 (person_id,)).fetchone()
        if row is None:
            raise KeyError(f"no person {person_id}")
        return person_from_row(row)

    def add_person(self, image_id: int, person: PersonRecord) -> int:
        with self.transaction():
            self.image(image_id)
            return self._insert_person(image_id, person)

    def _insert_person(self, image_id: int, person: PersonRecord) -> int:
        marks = ", ".join("?" * (len(PERSON_COLUMNS) + 1))
        return self._conn.execute(f"INSERT INTO people (image_id, {', '.join(PERSON_COLUMNS)}) "
                                  f"VALUES ({marks})", (image_id, *person_values(person))).lastrowid

    def record_coco_source(self, person_id: int, annotation_id: int) -> None:
        """Note the COCO annotation id a person was imported from."""
        self._conn.execute("INSERT OR REPLACE INTO coco_sources VALUES (?, ?)", (person_id, annotation_id))

    def coco_sources(self, paths: Iterable[str]) -> set[tuple[str, int]]:
        """(image path, COCO annotation id) of the imported people still on these images."""
        found: set[tuple[str, int]] = set()
        for path in paths:
            found.update(self._conn.execute(
                "SELECT i.path, s.annotation_id FROM images i JOIN people p ON p.image_id = i.id "
                "JOIN coco_sources s ON s.person_id = p.id WHERE i.path = ?", (path,)))
        return found

    def update_person(self, person_id: int, **fields: object) -> None:
        """Change some ``PersonRecord`` fields of a person (validated like a new record)."""
        with self.transaction():
            person = dataclasses.replace(self.person(person_id), **fields)
            assignments = ", ".join(f"{column} = ?" for column in PERSON_COLUMNS)
            self._conn.execute(f"UPDATE people SET {assignments} WHERE id = ?",
                               (*person_values(person), person_id))

    def delete_person(self, person_id: int) -> None:
        with self.transaction():
            if self._conn.execute("DELETE FROM people WHERE id = ?", (person_id,)).rowcount == 0:
                raise KeyError(f"no person {person_id}")

    def wants_predictions(self, image_id: int, model: str, settings: dict) -> bool:
        """Whether ``replace_predictions`` would store this model's people on the image:
        it is unreviewed, takes predictions, and holds none of ``model`` with ``settings``."""
        row = self._conn.execute("SELECT i.review, r.image_id, r.model, r.settings FROM images i "
                                 "LEFT JOIN prediction_runs r ON r.image_id = i.id WHERE i.id = ?",
                                 (image_id,)).fetchone()
        if row is None:
            raise KeyError(f"no image {image_id}")
        review, run, run_model, run_settings = row
        closed = run is not None and run_model is None
        return review == "unreviewed" and not closed and (run_model, run_settings) != (model, _canonical(settings))

    def replace_predictions(self, image_id: int, people: Iterable[PersonRecord],
                            model: str, settings: dict) -> list[int] | None:
        """Store ``people`` as the image's predictions by ``model`` with ``settings``, in one
        transaction: its ``predicted`` people go, accepted, edited and manual people stay.
        Idempotent: None, and nothing changes, unless ``wants_predictions`` (one run per
        image: a second call with the same model and settings never doubles them).
        Returns the new ids."""
        with self.transaction():
            if not self.wants_predictions(image_id, model, settings):
                return None
            self._conn.execute("DELETE FROM people WHERE image_id = ? AND provenance = 'predicted'", (image_id,))
            self._conn.execute("INSERT OR REPLACE INTO prediction_runs VALUES (?, ?, ?)",
                               (image_id, model, _canonical(settings)))
            return [self._insert_person(image_id, dataclasses.replace(
                        person, provenance="predicted", model=model, settings=settings))
                    for person in people]

    def close_predictions(self, image_id: int) -> None:
        """Remove the image's ``predicted`` people and store no model's people on it any more
        (imported people replace them)."""
        with self.transaction():
            self.image(image_id)
            self._conn.execute("DELETE FROM people WHERE image_id = ? AND provenance = 'predicted'", (image_id,))
            self._conn.execute("INSERT OR REPLACE INTO prediction_runs VALUES (?, NULL, NULL)", (image_id,))

    def lowest_score_person(self, unreviewed_only: bool = True) -> tuple[int, int] | None:
        """(image id, person id) of the lowest-scored person still ``predicted`` (accepting
        or editing it moves the queue on), on unreviewed images only by default; None if none."""
        review = "AND i.review = 'unreviewed' " if unreviewed_only else ""
        row = self._conn.execute(
            "SELECT p.image_id, p.id FROM people p JOIN images i ON i.id = p.image_id "
            f"WHERE p.provenance = 'predicted' AND p.score IS NOT NULL {review}"
            "ORDER BY p.score, p.id LIMIT 1").fetchone()
        return tuple(row) if row else None

    def count_people(self) -> dict[str, int]:
        """Number of people per provenance."""
        counts = dict(self._conn.execute("SELECT provenance, COUNT(*) FROM people GROUP BY provenance"))
        return {provenance: counts.get(provenance, 0) for provenance in PROVENANCES}


def _image_root(path: Path, meta: dict[str, str]) -> Path:
    """The image folder from the meta table: the stored root (relative to the project
    file's folder, or absolute), else the absolute copy when only the relative one is gone."""
    stored = Path(meta["image_root"])
    if stored.is_absolute():
        return stored
    root = Path(os.path.abspath(path.parent / stored))
    fallback = meta.get("image_root_absolute")
    if not root.is_dir() and fallback and Path(fallback).is_dir():
        return Path(fallback)
    return root


def _canonical(settings: dict) -> str:
    """Settings as the one JSON text that ``prediction_runs`` compares."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


def _sha1(file: Path) -> str:
    digest = hashlib.sha1()
    with open(file, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def displayed_size(file: Path) -> tuple[int, int]:
    """(width, height) as displayed (EXIF rotations applied). The whole file is decoded, as
    the viewer does: a file it cannot show (truncated, corrupt) is refused here too."""
    height, width = load_image(file).shape[:2]
    return width, height
