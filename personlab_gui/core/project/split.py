"""Training data from an annotation project: its reviewed images as COCO files, split
deterministically into training and held-out validation images, and the counts shown
before training.

Validation measures the model against human-verified labels only: an image can be held
out when it is reviewed and every one of its people was accepted, edited or added (none
is an unedited prediction). Among those, an image is held out by the rank of a hash of
its path (the same on every run and machine): the ``round(fraction * n)`` lowest ranks
validate (n: all reviewed images; at least one when the fraction is positive), the rest
train. A validation set of fewer than ``MIN_VALIDATION_PEOPLE`` people is refused: its AP
would be noise. Masks are written as RLE (exact, no tracing).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..data.coco_write import write_json_atomic
from ..errors import InputError
from .coco import project_to_coco
from .database import database_errors
from .store import Project

#: The fewest (non-crowd) people a validation set may have.
MIN_VALIDATION_PEOPLE = 10


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


@dataclass(frozen=True)
class ReviewedData:
    """A project's reviewed images as COCO, their image root, and the file names of the
    human-verified ones (the images validation may hold out)."""

    data: dict
    root: Path
    verified: frozenset[str]


def held_out(file_names: list[str], fraction: float, eligible: frozenset[str] | None = None) -> set[str]:
    """The validation images among ``file_names``, chosen among ``eligible`` ones (default:
    all); see the module docstring."""
    candidates = [name for name in file_names if eligible is None or name in eligible]
    if fraction <= 0 or not candidates:
        return set()
    count = min(len(candidates), max(1, round(fraction * len(file_names))))
    ranked = sorted(candidates, key=lambda name: hashlib.sha1(name.encode()).hexdigest())
    return set(ranked[:count])


def check_validation(counts: SetCounts, where: str | os.PathLike, advice: str) -> None:
    """A one-line ``InputError`` (ending with ``advice``) for a validation set too small to
    measure anything."""
    if counts.people < MIN_VALIDATION_PEOPLE:
        raise InputError(where, f"the validation set has {counts}: at least {MIN_VALIDATION_PEOPLE} "
                                f"human-verified people are needed for a meaningful AP; {advice}")


def split_coco(data: dict, fraction: float, eligible: frozenset[str] | None = None) -> tuple[dict, dict]:
    """(training, validation) COCO dicts of ``data`` split by ``held_out``."""
    val_names = held_out([image["file_name"] for image in data["images"]], fraction, eligible)
    return (_subset(data, lambda image: image["file_name"] not in val_names),
            _subset(data, lambda image: image["file_name"] in val_names))


def _subset(data: dict, keep) -> dict:
    images = [image for image in data["images"] if keep(image)]
    ids = {image["id"] for image in images}
    return {**data, "images": images, "annotations": [a for a in data["annotations"] if a["image_id"] in ids]}


def reviewed_coco(project_path: str | os.PathLike) -> ReviewedData:
    """The project's reviewed images as COCO (RLE masks); a one-line ``InputError`` when
    there are none or one of their files is missing."""
    with database_errors(project_path), Project.open(project_path, read_only=True) as project:
        data = project_to_coco(project, reviewed_only=True, rle=True)
        root = project.image_root
        verified = frozenset(project.image(i).path for i in project.image_ids(reviewed_only=True)
                             if all(p.provenance != "predicted" for p in project.people(i).values()))
    if not data["images"]:
        raise InputError(project_path, "no reviewed images yet: mark the images whose labels "
                                       "you checked or corrected as reviewed, then train")
    missing = [image["file_name"] for image in data["images"] if not (root / image["file_name"]).is_file()]
    if missing:
        raise InputError(root / missing[0], f"image missing on disk ({len(missing)} of "
                                            f"{len(data['images'])} reviewed images); restore it or un-review it")
    return ReviewedData(data, root, verified)


def project_validation(reviewed: ReviewedData, fraction: float, where: str | os.PathLike) -> tuple[dict, dict]:
    """(training, validation) of the reviewed images, the validation set checked: an
    ``InputError`` names why it cannot validate (no human-verified image, too few people)."""
    train, val = split_coco(reviewed.data, fraction, reviewed.verified)
    if fraction > 0 and not reviewed.verified:
        raise InputError(where, f"validation: each of the {len(reviewed.data['images'])} reviewed images holds "
                                "unedited predictions (people neither accepted nor corrected); accept or "
                                "correct them on some images, validate on a COCO file or set the held-out "
                                "fraction to 0")
    if fraction > 0:
        check_validation(coco_counts(val), where, "accept or correct the people of more reviewed images, "
                                                  "raise the held-out fraction or validate on a COCO file")
    return train, val


def export_project_split(project_path: str | os.PathLike, out_dir: str | os.PathLike,
                         fraction: float) -> ProjectSplit:
    """Write ``train.json`` (and ``val.json`` with a positive ``fraction``) into ``out_dir``;
    an ``InputError`` when the held-out set cannot validate (``project_validation``)."""
    reviewed = reviewed_coco(project_path)
    data, root = reviewed.data, reviewed.root
    train, val = project_validation(reviewed, fraction, project_path)
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
