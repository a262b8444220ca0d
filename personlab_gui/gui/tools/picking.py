"""Which of the document's people (and keypoint) lies under an image pixel."""

from __future__ import annotations

import numpy as np

from ..document import Document


def pick_keypoint(doc: Document, xy: np.ndarray, radius: float,
                  selected: int | None = None) -> tuple[int, int] | None:
    """(person, keypoint) of the labelled keypoint nearest to ``xy`` within ``radius``;
    the selected person's unlabelled keypoints with a position in the image count too."""
    best, hit = radius, None
    for person_id, person in doc.people.items():
        keypoints = person.keypoints
        pickable = keypoints[:, 2] > 0
        if person_id == selected:
            inside = (keypoints[:, :2] >= 0).all(axis=1) & (keypoints[:, :2] < doc.image_hw[::-1]).all(axis=1)
            pickable |= keypoints[:, :2].any(axis=1) & inside
        distance = np.where(pickable, np.hypot(*(keypoints[:, :2] - xy).T), np.inf)
        k = int(np.argmin(distance))
        if distance[k] <= best:
            best, hit = float(distance[k]), (person_id, k)
    return hit


def pick_person(doc: Document, xy: np.ndarray) -> int | None:
    """The person whose mask holds pixel ``xy``, else the one with the smallest box
    around it; None if none."""
    col, row = np.rint(xy).astype(int)
    inside_box = []
    for person_id, person in doc.people.items():
        mask = doc.mask(person_id)
        if mask is not None and 0 <= row < mask.shape[0] and 0 <= col < mask.shape[1] and mask[row, col]:
            return person_id
        x, y, w, h = person.bbox
        if x <= xy[0] <= x + w and y <= xy[1] <= y + h:
            inside_box.append((w * h, person_id))
    return min(inside_box)[1] if inside_box else None
