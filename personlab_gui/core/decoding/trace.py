"""The greedy decoder's trace: what it did, step by step, for the viewer to replay.

The decoder writes compact arrays (event codes ``TRACE_*``); ``trace_events`` turns them
into ``TraceEvent`` objects only when someone looks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRACE_SEED, TRACE_NMS_REJECT, TRACE_EDGE = 0, 1, 2
TRACE_KINDS = ("seed", "nms_reject", "edge")


@dataclass
class TraceEvent:
    """One decoder step, in network-input pixels.

    kinds: "seed" (a candidate popped from the queue starts person ``person``),
    "nms_reject" (a popped candidate lies within r of keypoint ``keypoint`` of ``person``),
    "edge" (the walk went from ``from_keypoint`` to ``keypoint`` along the mid-range field;
    ``score`` is the Hough score there), "place" (final position and expected-OKS score).
    """

    kind: str
    keypoint: int
    person: int
    x: float
    y: float
    score: float
    from_keypoint: int = -1
    from_x: float = float("nan")
    from_y: float = float("nan")


def trace_events(ev_i: np.ndarray, ev_f: np.ndarray, keypoints: np.ndarray,
                 person_ids: np.ndarray) -> list[TraceEvent]:
    """Raw trace arrays -> events; after each person's walk, one "place" event per keypoint.

    ``ev_i`` (m, 4): kind, keypoint, decoded person, from_keypoint; ``ev_f`` (m, 5): x, y,
    score, from_x, from_y; ``keypoints`` (n, K, 3) the decoded people in input px;
    ``person_ids`` (n,) maps decoding order to the index in ``InferenceResult.people``
    (-1: dropped by the instance-score threshold). Events carry that index.
    """
    events = []
    for n, (i, f) in enumerate(zip(ev_i.tolist(), ev_f.tolist())):
        person = int(person_ids[i[2]])
        events.append(TraceEvent(TRACE_KINDS[i[0]], i[1], person, f[0], f[1], f[2], i[3], f[3], f[4]))
        walk_ends = i[0] == TRACE_EDGE and (n + 1 == len(ev_i) or ev_i[n + 1, 0] != TRACE_EDGE)
        if walk_ends:
            events.extend(TraceEvent("place", k, person, float(x), float(y), float(s))
                          for k, (x, y, s) in enumerate(keypoints[i[2]].tolist()))
    return events
