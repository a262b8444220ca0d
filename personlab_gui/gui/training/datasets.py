"""The training tab's data: which sets a run trains and validates on, their counts, and
their preparation on disk (the project's reviewed images exported as COCO). No Qt here;
the tab calls these off the GUI thread. Problems are one-line ``InputError``s.

Validation is on human-verified labels only: held-out project images whose people were
all accepted, edited or added (``core.project_split``), or a COCO file that is not model
output (pseudo-labels carry a ``score`` per person); a set of fewer than
``MIN_VALIDATION_PEOPLE`` people is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...core.data.coco_read import load_coco
from ...core.errors import InputError
from ...core.data.image_io import list_images, safe_join
from ...core.project.split import (SetCounts, check_validation, coco_counts, export_project_split,
                                   project_validation, reviewed_coco, split_coco)
from .spec import DataSource

#: How the tab names a validation set held out of the project.
HELD_OUT = "held out (human-verified project images)"


@dataclass(frozen=True)
class DataRequest:
    """The form's data choices: validation is ``val`` (a COCO set) when given, else the
    ``val_fraction`` of the project's reviewed images held out (0: no validation);
    ``unlabeled`` image folders (distillation) make ground truth optional."""

    project: str | None
    extra: tuple[DataSource, ...] = ()
    val_fraction: float = 0.2
    val: DataSource | None = None
    unlabeled: tuple[str, ...] = ()

    def check(self) -> None:
        if not self.project and not self.extra and not self.unlabeled:
            raise InputError("training data", "none chosen: open a project with reviewed images, "
                                              "add a COCO file or unlabeled images")
        for folder in self.unlabeled:
            if not Path(folder).is_dir():
                raise InputError(folder, "unlabeled images: no such folder")
        if self.val is None and not self.project and self.val_fraction > 0:
            raise InputError("validation data", "held-out images need a project: open one, "
                                                "validate on a COCO file or set the fraction to 0")

    @property
    def held_out(self) -> float:
        """The share of the project's reviewed images held out for validation."""
        return 0.0 if self.val is not None else self.val_fraction


@dataclass(frozen=True)
class PreparedData:
    """The sets a run uses, ready on disk, and what it validates on (``val_counts`` None:
    no validation)."""

    train: tuple[DataSource, ...]
    val: DataSource | None
    val_counts: SetCounts | None = None
    val_origin: str = ""


@dataclass(frozen=True)
class DataSummary:
    """'Training: …' and 'Validation: …' lines, and why the validation set is refused
    (empty when it is not)."""

    text: str
    refusal: str = ""


def describe(request: DataRequest) -> DataSummary:
    """The images and people of each set, and the validation set's refusal if any."""
    request.check()
    parts, val, refusal = [], "none", ""
    if request.project:
        reviewed = reviewed_coco(request.project)
        train, held = split_coco(reviewed.data, request.held_out, reviewed.verified)
        parts.append(f"project {coco_counts(train)}")
        val = f"{coco_counts(held)} {HELD_OUT}" if held["images"] else val
        refusal = _refusal(lambda: project_validation(reviewed, request.held_out, request.project))
    for source in request.extra:
        parts.append(f"{Path(source.coco_json).name} {coco_counts(_load(source, 'training'))}")
    if request.unlabeled:
        parts.append(f"unlabeled {len(list_images(request.unlabeled))} images")
    if request.val is not None:
        data = _load(request.val, "validation")
        val = f"{Path(request.val.coco_json).name} {coco_counts(data)}"
        refusal = _refusal(lambda: check_coco_validation(request.val, data))
    return DataSummary(f"Training: {' + '.join(parts)}\nValidation: {val}", refusal)


def prepare(request: DataRequest, out_dir: Path) -> PreparedData:
    """Export the project's sets into ``out_dir``; check that every set has its images and
    that the validation set is human-verified and large enough."""
    request.check()
    train, val, counts, origin = list(request.extra), request.val, None, ""
    if request.project:
        split = export_project_split(request.project, out_dir, request.held_out)
        train.insert(0, DataSource(str(split.train_json), str(split.images)))
        if split.val_json is not None:
            val, counts, origin = DataSource(str(split.val_json), str(split.images)), split.val, HELD_OUT
    for source in request.extra:
        _check_files(source, _load(source, "training"))
    for folder in request.unlabeled:
        if not list_images([folder]):
            raise InputError(folder, "unlabeled images: no images in this folder")
    if request.val is not None:
        data = _load(request.val, "validation")
        check_coco_validation(request.val, data)
        _check_files(request.val, data)
        counts, origin = coco_counts(data), Path(request.val.coco_json).name
    return PreparedData(tuple(train), val, counts, origin)


def check_coco_validation(source: DataSource, data: dict) -> None:
    """An ``InputError`` when a COCO validation set is model output or too small."""
    people = [ann for ann in data["annotations"] if not ann.get("iscrowd")]
    if people and all("score" in ann for ann in people):
        raise InputError(source.coco_json, "validation: every person in it has a score: these are "
                                           "model predictions, not human-verified ground truth")
    check_validation(coco_counts(data), source.coco_json, "validate on a larger ground-truth set")


def _refusal(check) -> str:
    """The one-line reason ``check()`` gives, or ''."""
    try:
        check()
    except InputError as exc:
        return str(exc)
    return ""


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
