"""Training data from an annotation project: its reviewed images as COCO files, split
deterministically into training and held-out validation images, and the counts shown
before training.

An image is held out by the rank of a hash of its path (the same on every run and
machine): the ``round(fraction * n)`` lowest ranks validate (at least one when the
fraction is positive), the rest train. Masks are written as RLE (exact, no tracing).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .coco_io import write_json_atomic
from .errors import InputError
from .project import Project
from .project_coco import project_to_coco


@dataclass(frozen=True)
class SetCounts:
    """Images and (non-crowd) people of one data set."""

    images: int
    people: int

    def __str__(self) -> str:
        return f"{self.images} images, {self.people} people"


@dataclass(frozen=True)
class ProjectSplit:
    """Where the exported sets are; ``val_json`` is None without a held-out fraction."""

    train_json: Path
    val_json: Path | None
    images: Path              # the project's image root: every file_name is relative to it
    train: SetCounts
    val: SetCounts


def coco_counts(data: dict) -> SetCounts:
    """Counts of a COCO dataset dict."""
    people = sum(1 for ann in data["annotations"] if not ann.get("iscrowd"))
    return SetCounts(len(data["images"]), people)


def held_out(file_names: list[str], fraction: float) -> set[str]:
    """The validation images among ``file_names`` (see the module docstring)."""
    if fraction <= 0 or not file_names:
        return set()
    count = max(1, round(fraction * len(file_names)))
    ranked = sorted(file_names, key=lambda name: hashlib.sha1(name.encode()).hexdigest())
    return set(ranked[:count])


def split_coco(data: dict, fraction: float) -> tuple[dict, dict]:
    """(training, validation) COCO dicts of ``data`` split by ``held_out``."""
    val_names = held_out([image["file_name"] for image in data["images"]], fraction)
    return (_subset(data, lambda image: image["file_name"] not in val_names),
            _subset(data, lambda image: image["file_name"] in val_names))


def _subset(data: dict, keep) -> dict:
    images = [image for image in data["images"] if keep(image)]
    ids = {image["id"] for image in images}
    return {**data, "images": images, "annotations": [a for a in data["annotations"] if a["image_id"] in ids]}


def reviewed_coco(project_path: str | os.PathLike) -> tuple[dict, Path]:
    """The project's reviewed images as COCO (RLE masks) and its image root; a one-line
    ``InputError`` when there are none or one of their files is missing."""
    with Project.open(project_path) as project:
        data = project_to_coco(project, reviewed_only=True, rle=True)
        root = project.image_root
    if not data["images"]:
        raise InputError(project_path, "no reviewed images yet: mark the images whose labels "
                                       "you checked or corrected as reviewed, then train")
    missing = [image["file_name"] for image in data["images"] if not (root / image["file_name"]).is_file()]
    if missing:
        raise InputError(root / missing[0], f"image missing on disk ({len(missing)} of "
                                            f"{len(data['images'])} reviewed images); restore it or un-review it")
    return data, root


def export_project_split(project_path: str | os.PathLike, out_dir: str | os.PathLike,
                         fraction: float) -> ProjectSplit:
    """Write ``train.json`` (and ``val.json`` with a positive ``fraction``) into ``out_dir``."""
    data, root = reviewed_coco(project_path)
    train, val = split_coco(data, fraction)
    if not train["images"]:
        raise InputError(project_path, f"all {len(data['images'])} reviewed images would be held out "
                                       "for validation: review more images, lower the fraction "
                                       "or validate on a COCO file")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / "train.json", train)
    val_json = None
    if val["images"]:
        val_json = out_dir / "val.json"
        write_json_atomic(val_json, val)
    return ProjectSplit(out_dir / "train.json", val_json, root, coco_counts(train), coco_counts(val))
