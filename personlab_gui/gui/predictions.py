"""The model's people as stored predictions: which decoded people become ``predicted``
records, and the settings they are stored with.

The pseudo-label policy (``core.data.pseudo_labels``) decides, at the result's label
threshold (the settings'): only complete, deduplicated people scoring at least it, none a duplicate of a
person the user accepted, edited or added; labelled keypoints get v = 2, the others keep
their position with v = 0. When an image gets them is the
project's rule (``Project.wants_predictions``): once per model and settings, never on a
reviewed image nor where people were imported; user people are never touched.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable

from ..core.data.boxes import nonzero_box, slices
from ..core.inference.engine import InferenceSettings
from ..core.project import PersonRecord
from ..core.data.pseudo_labels import labelled_keypoints, select_labels
from ..core.decoding.result import InferenceResult, Person
from ..core.data.rle import box_rle


def prediction_records(result: InferenceResult, user_people: Iterable[PersonRecord] = ()) -> list[PersonRecord]:
    """The result's labels as project records (provenance set when stored), none a
    duplicate of one of ``user_people``."""
    existing = [(p.keypoints, float(p.mask_area() or p.bbox[2] * p.bbox[3])) for p in user_people]
    return [_record(result.people[i], result.image_hw)
            for i in select_labels(result.people, result.image_hw, result.label_threshold, existing)]


def _record(person: Person, image_hw: tuple[int, int]) -> PersonRecord:
    box = nonzero_box(person.mask) if person.mask is not None else None
    rle = None if box is None else box_rle(person.mask[slices(box)], box, image_hw)
    return PersonRecord(labelled_keypoints(person.keypoints, image_hw), rle, score=person.score,
                        provenance="predicted")


def settings_record(settings: InferenceSettings) -> dict:
    """The settings as stored with a person (JSON types)."""
    return json.loads(json.dumps(dataclasses.asdict(settings)))
