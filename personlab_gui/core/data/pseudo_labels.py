"""Pseudo-labels: which of the model's decoded people may become labels.

COCO results keep every decoded person (AP wants them all). Labels — ``infer --format
dataset`` and the predictions the app stores — keep a person only if it is

* complete: at least one keypoint labelled by ``labelled_keypoints`` (score >=
  ``MIN_KEYPOINT_SCORE`` and on the image -> v = 2; the others v = 0) and, when the model
  gives masks, a non-empty mask;
* not a near-duplicate: its OKS with every higher-scored label (and every person
  already labelled on the image, e.g. by the user) stays below ``DUPLICATE_OKS``
  (``pose_oks``: over its own labelled keypoints, the label's area as scale, so a
  fragment of a label is its duplicate and a neighbour sharing one keypoint is not);
* scoring at least the label threshold (``DEFAULT_LABEL_THRESHOLD`` unless set).

Everyone else is a *candidate*, with the reason (``judge``): viewable, never a label.
People arrive sorted by score (the engine's order); ``judge`` sorts anyway.

Both bounds are chosen on coco_dev/train by ``bench/choose_label_threshold.py`` (default
model ``personlab_mnv1_075``, input 641; coco_dev/val is only reported, never tuned on).
Labels are matched to the ground truth at OKS >= 0.5 by COCOeval's rule (greedy by score;
crowd regions and people without keypoints are ignored: neither hits nor misses).

* ``DUPLICATE_OKS`` = 0.7: the lowest of 0.5 .. 0.9 that suppresses no matched person
  (55 hits on train as without suppression; 0.5 loses 2, 0.6 loses 1) while it removes
  5 of 93 labels at the chosen threshold (duplicates of people the ground truth ignores).
* ``DEFAULT_LABEL_THRESHOLD`` = 0.09: the best F1 on a 0.01 grid (ties: the middle of the
  best run). train: 88 labels, 55 hits, 8 false, precision 0.873, recall 0.591, F1 0.705;
  val: 34 labels, 29 hits, 4 false, precision 0.879, recall 0.806, F1 0.841 (decoding
  gives 223 people on train and 82 on val; COCO results keep them all).

``MIN_KEYPOINT_SCORE`` (0.5) is the rule the app and ``infer`` used before; not tuned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ..skeleton import COCO_SIGMAS

#: A keypoint becomes a label (v = 2) when its expected-OKS score reaches this.
MIN_KEYPOINT_SCORE = 0.5
#: A person whose OKS with a higher-scored label reaches this is that label's duplicate.
DUPLICATE_OKS = 0.7
#: Instance score a label needs by default (chosen on coco_dev/train, see above).
DEFAULT_LABEL_THRESHOLD = 0.09
#: The smallest object area (px^2) ``pose_oks`` scales by: COCO's small-object bound.
MIN_OKS_AREA = 32.0 ** 2

LABEL, LOW_SCORE, DUPLICATE, NO_KEYPOINT, EMPTY_MASK = (
    "label", "low score", "duplicate", "no keypoint", "empty mask")


class PersonLike(Protocol):
    """What the policy reads from a decoded person (``result.Person`` fits)."""

    keypoints: np.ndarray    # (K, 3): x, y, score in image pixels
    score: float
    mask: np.ndarray | None  # (H, W) bool, or None when the model gives no masks


def labelled_keypoints(keypoints: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """(K, 3) x, y, v: v = 2 where the keypoint's score reaches ``MIN_KEYPOINT_SCORE`` and
    it lies on the (H, W) image, else 0 (the position is kept)."""
    labelled = np.array(keypoints, dtype=np.float64)
    x, y = labelled[:, 0], labelled[:, 1]
    on_image = (x >= 0) & (y >= 0) & (x < image_hw[1]) & (y < image_hw[0])
    labelled[:, 2] = np.where((labelled[:, 2] >= MIN_KEYPOINT_SCORE) & on_image, 2.0, 0.0)
    return labelled


def pose_oks(reference: np.ndarray, other: np.ndarray, area: float) -> float:
    """How much of ``other`` (labelled pose (K, 3)) ``reference`` already labels: COCO's
    OKS over ``other``'s labelled keypoints, those ``reference`` leaves unlabelled counting
    0, with ``area`` (at least ``MIN_OKS_AREA``) as the object scale."""
    own = other[:, 2] > 0
    if not own.any():
        return 0.0
    both = own & (reference[:, 2] > 0)
    d2 = ((reference[both, :2] - other[both, :2]) ** 2).sum(axis=1)
    variance = (2.0 * COCO_SIGMAS[both].astype(np.float64)) ** 2
    return float(np.exp(-d2 / (2.0 * max(area, MIN_OKS_AREA) * variance)).sum() / own.sum())


def _area(person: PersonLike, labelled: np.ndarray) -> float:
    """The person's mask area, else the area of its labelled keypoints' box."""
    if person.mask is not None:
        return float(np.count_nonzero(person.mask))
    xy = labelled[labelled[:, 2] > 0, :2]
    return float(np.prod(xy.max(axis=0) - xy.min(axis=0))) if len(xy) else 0.0


def judge(people: Sequence[PersonLike], image_hw: tuple[int, int], threshold: float = DEFAULT_LABEL_THRESHOLD,
          duplicate_oks: float = DUPLICATE_OKS, existing: Sequence[tuple[np.ndarray, float]] = ()) -> list[str]:
    """Per person of an (H, W) image (input order): ``LABEL``, or why it is only a
    candidate (incomplete, a duplicate of a higher-scored label or of an ``existing``
    (labelled pose (K, 3), area) one, or below ``threshold``)."""
    verdicts = [LABEL] * len(people)
    labels = list(existing)                         # (labelled keypoints, area) of the labels so far
    for i in sorted(range(len(people)), key=lambda j: -people[j].score):
        person = people[i]
        labelled = labelled_keypoints(person.keypoints, image_hw)
        if not labelled[:, 2].any():
            verdicts[i] = NO_KEYPOINT
        elif person.mask is not None and not person.mask.any():
            verdicts[i] = EMPTY_MASK
        elif any(pose_oks(ref, labelled, area) >= duplicate_oks for ref, area in labels):
            verdicts[i] = DUPLICATE
        elif person.score < threshold:
            verdicts[i] = LOW_SCORE
        else:
            labels.append((labelled, _area(person, labelled)))
    return verdicts


def select_labels(people: Sequence[PersonLike], image_hw: tuple[int, int],
                  threshold: float = DEFAULT_LABEL_THRESHOLD,
                  existing: Sequence[tuple[np.ndarray, float]] = ()) -> list[int]:
    """Indices of the people of an (H, W) image that become labels, in input order
    (``existing``: labels already on the image, see ``judge``)."""
    verdicts = judge(people, image_hw, threshold, existing=existing)
    return [i for i, verdict in enumerate(verdicts) if verdict == LABEL]
