"""The model's people as stored predictions: which decoded people become ``predicted``
records, and when an image's predictions are (re)stored.

Only confident people are kept (the people layer's rule), keypoints scoring at least
``MIN_KEYPOINT_SCORE`` are labelled visible (the others keep their position, v = 0).
An image gets the predictions of a model and settings once: when none of its people
came from them yet, and never once it is reviewed. User people are never touched.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from ..core.boxes import nonzero_box, slices
from ..core.engine import InferenceSettings
from ..core.project import PersonRecord
from ..core.result import InferenceResult, Person
from ..core.rle import box_rle
from .layers.people import confident

MIN_KEYPOINT_SCORE = 0.5


def prediction_records(result: InferenceResult) -> list[PersonRecord]:
    """The result's confident people as project records (provenance set when stored)."""
    if not result.people:
        return []
    keep = confident(np.array([p.score for p in result.people]))
    return [_record(person, result.image_hw) for person, kept in zip(result.people, keep) if kept]


def _record(person: Person, image_hw: tuple[int, int]) -> PersonRecord:
    keypoints = person.keypoints.copy()
    keypoints[:, 2] = np.where(keypoints[:, 2] >= MIN_KEYPOINT_SCORE, 2, 0)
    box = nonzero_box(person.mask) if person.mask is not None else None
    rle = None if box is None else box_rle(person.mask[slices(box)], box, image_hw)
    return PersonRecord(keypoints, rle, score=person.score, provenance="predicted")


def settings_record(settings: InferenceSettings) -> dict:
    """The settings as stored with a person (JSON types)."""
    return json.loads(json.dumps(dataclasses.asdict(settings)))


def needs_predictions(people: dict[int, PersonRecord], reviewed: bool, model: str, settings: dict) -> bool:
    """Whether an image should get this model's predictions now."""
    return not reviewed and not any(p.model == model and p.settings == settings for p in people.values())
