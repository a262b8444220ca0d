"""One colour and one name per person, shared by every layer and panel that names people.

A person's colour and number come from its stable id, never from a list position: in the
plain viewer the decoded index (a result's people keep their order), with a project open
the project's person number (``Document.number``); a decoded person then carries the
number of the prediction stored from it (``Numbers``: decoded index -> project number).
"""

from __future__ import annotations

import numpy as np

_PALETTE = np.array([
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
    (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128), (128, 128, 128),
], dtype=np.uint8)


def person_color(index: int) -> tuple[int, int, int]:
    """RGB colour of person ``index``."""
    r, g, b = _PALETTE[index % len(_PALETTE)]
    return int(r), int(g), int(b)


#: Decoded index -> project number of the people a result stored as predictions (None: no project).
Numbers = dict[int, int] | None


def decoded_label(index: int, numbers: Numbers = None) -> str:
    """How layers and panels name decoded person ``index`` (-1: dropped by the score threshold)."""
    if index < 0:
        return "a dropped candidate"
    if numbers is None:
        return f"#{index}"
    return f"#{numbers[index]}" if index in numbers else f"candidate {index} (not stored)"


def decoded_colors(count: int, numbers: Numbers = None) -> np.ndarray:
    """(count, 3) uint8 RGB colours of decoded people 0..count-1: their project number's
    when stored (``numbers``), else their index's."""
    keys = np.array([(numbers or {}).get(j, j) for j in range(count)], int)
    return _PALETTE[keys % len(_PALETTE)]


def decoded_color(index: int, numbers: Numbers = None) -> tuple[int, int, int]:
    """RGB colour of decoded person ``index`` (see ``decoded_colors``)."""
    return person_color((numbers or {}).get(index, index))
