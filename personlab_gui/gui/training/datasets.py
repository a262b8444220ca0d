"""The training tab's data: which sets a run trains and validates on, their counts, and
their preparation on disk (the project's reviewed images exported as COCO). No Qt here;
the tab calls these off the GUI thread. Problems are one-line ``InputError``s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...core.coco_io import load_coco
from ...core.errors import InputError
from ...core.image_io import safe_join
from ...core.project_split import coco_counts, export_project_split, reviewed_coco, split_coco
from .spec import DataSource


@dataclass(frozen=True)
class DataRequest:
    """The form's data choices: validation is ``val`` (a COCO set) when given, else the
    ``val_fraction`` of the project's reviewed images held out (0: no validation)."""

    project: str | None
    extra: tuple[DataSource, ...] = ()
    val_fraction: float = 0.2
    val: DataSource | None = None

    def check(self) -> None:
        if not self.project and not self.extra:
            raise InputError("training data", "none chosen: open a project with reviewed images "
                                              "or add a COCO file")
        if self.val is None and not self.project and self.val_fraction > 0:
            raise InputError("validation data", "held-out images need a project: open one, "
                                                "validate on a COCO file or set the fraction to 0")


@dataclass(frozen=True)
class PreparedData:
    """The sets a run uses, ready on disk."""

    train: tuple[DataSource, ...]
    val: DataSource | None


def describe(request: DataRequest) -> str:
    """'Training: …' and 'Validation: …' lines with images and people per set."""
    request.check()
    parts, val = [], "none"
    if request.project:
        data, _ = reviewed_coco(request.project)
        train, held = split_coco(data, 0.0 if request.val else request.val_fraction)
        parts.append(f"project {coco_counts(train)}")
        val = f"{coco_counts(held)} held out" if held["images"] else val
    for source in request.extra:
        parts.append(f"{Path(source.coco_json).name} {coco_counts(_load(source, 'training'))}")
    if request.val is not None:
        val = f"{Path(request.val.coco_json).name} {coco_counts(_load(request.val, 'validation'))}"
    return f"Training: {' + '.join(parts)}\nValidation: {val}"


def prepare(request: DataRequest, out_dir: Path) -> PreparedData:
    """Export the project's sets into ``out_dir``; check that every set has its images."""
    request.check()
    train, val = list(request.extra), request.val
    if request.project:
        split = export_project_split(request.project, out_dir, 0.0 if request.val else request.val_fraction)
        train.insert(0, DataSource(str(split.train_json), str(split.images)))
        if split.val_json is not None:
            val = DataSource(str(split.val_json), str(split.images))
    for source in request.extra:
        _check_files(source, _load(source, "training"))
    if request.val is not None:
        _check_files(request.val, _load(request.val, "validation"))
    return PreparedData(tuple(train), val)


def _load(source: DataSource, role: str) -> dict:
    """The set's COCO data; an ``InputError`` when it has no images."""
    data = load_coco(source.coco_json)
    if not data["images"]:
        raise InputError(source.coco_json, f"the {role} set is empty (no images)")
    return data


def _check_files(source: DataSource, data: dict) -> None:
    names = [image["file_name"] for image in data["images"]]
    missing = [name for name in names if not safe_join(source.images, name).is_file()]
    if missing:
        where = f"{len(missing)} of {len(names)} in {Path(source.coco_json).name}"
        raise InputError(safe_join(source.images, missing[0]), f"image missing on disk ({where})")
