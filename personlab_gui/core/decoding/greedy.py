"""PersonLab's fast greedy decoding with part-based NMS and expected-OKS scoring.

All candidates of all keypoint types sit in ONE priority queue (best Hough score first).
A popped candidate within ``NMS_RADIUS`` of the same keypoint of an already detected person
is dropped; otherwise it seeds a person, whose other keypoints are reached by walking the
kinematic tree outward along the refined mid-range field: y_l = y_k + M_{k,l}(y_k).
Every step is written to a trace (``trace`` module) the viewer can replay. The refined
mid-range vector is computed at the exact walk position (``MID_REFINE_STEPS`` recurrent
steps with bilinear sampling), so no full refined field is needed to decode.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .jit import f32, kernel
from .refine import MID_REFINE_STEPS
from .sampling import bilinear, bilinear_vector
from ..skeleton import DIRECTED_EDGES, DISK_RADIUS, KAPPAS, NMS_RADIUS, K
from .trace import TRACE_EDGE, TRACE_NMS_REJECT, TRACE_SEED

MAX_PEOPLE = 100


def _tree_walks() -> np.ndarray:
    """(K, K - 1, 3): for each seed keypoint, the breadth-first walk over the kinematic tree
    as rows (from keypoint, to keypoint, directed edge)."""
    walks = np.empty((K, K - 1, 3), dtype=np.int64)
    for seed in range(K):
        reached, queue, row = {seed}, [seed], 0
        while queue:
            a = queue.pop(0)
            for c, (src, dst) in enumerate(DIRECTED_EDGES.tolist()):
                if src == a and dst not in reached:
                    walks[seed, row] = (a, dst, c)
                    reached.add(dst)
                    queue.append(dst)
                    row += 1
    return walks


TREE_WALKS = _tree_walks()
EDGE_TARGETS = np.ascontiguousarray(DIRECTED_EDGES[:, 1])


@njit(cache=True, inline="always")
def nms_blocker(people: np.ndarray, n_people: int, k: int, x: float, y: float, r2: float) -> int:
    """Part-based NMS: the first person whose keypoint k lies within sqrt(r2) of (x, y), or -1."""
    for p in range(n_people):
        dx, dy = people[p, k, 0] - x, people[p, k, 1] - y
        if dx * dx + dy * dy <= r2:
            return p
    return -1


@kernel("float32[:, ::1], float32[:, :, ::1], float32[:, :, :, ::1], float32[:, :, :, ::1], "
        "int64[::1], int64, int64[:, :, ::1], int64, int64, float64, float32[:, :, ::1], "
        "int64[:, ::1], float32[:, ::1]", "personlab")
def _greedy(cands, hough, short, mid, edge_targets, refine_steps, walks,
            field_stride, mid_stride, nms_radius, people, ev_i, ev_f):
    """Fill ``people`` (max people, K, 3) and the trace rows of ``ev_i`` (kind, keypoint,
    person, from keypoint) and ``ev_f`` (x, y, score, from x, from y); returns their counts."""
    max_people = people.shape[0]
    n_people = 0
    n_ev = 0
    r2 = nms_radius * nms_radius
    for c in range(cands.shape[0]):
        if n_people >= max_people:
            break
        k, x, y, s = int(cands[c, 0]), cands[c, 1], cands[c, 2], cands[c, 3]
        blocker = nms_blocker(people, n_people, k, x, y, r2)
        ev_i[n_ev, 0], ev_i[n_ev, 1], ev_i[n_ev, 2] = (TRACE_NMS_REJECT if blocker >= 0 else TRACE_SEED), k, (blocker if blocker >= 0 else n_people)
        ev_f[n_ev, 0], ev_f[n_ev, 1], ev_f[n_ev, 2] = x, y, s
        n_ev += 1
        if blocker >= 0:
            continue
        person = people[n_people]
        person[k, 0], person[k, 1], person[k, 2] = x, y, s
        for a, b, e in walks[k]:
            ax, ay = person[a, 0], person[a, 1]
            vx, vy = bilinear_vector(mid, e, ax / mid_stride, ay / mid_stride)
            for _ in range(refine_steps):
                sx, sy = bilinear_vector(short, edge_targets[e], (ax + vx) / field_stride,
                                         (ay + vy) / field_stride)
                vx, vy = vx + sx, vy + sy
            bx, by = ax + vx, ay + vy
            score = bilinear(hough, b, bx / field_stride, by / field_stride)
            person[b, 0], person[b, 1], person[b, 2] = bx, by, score
            ev_i[n_ev, 0], ev_i[n_ev, 1], ev_i[n_ev, 2], ev_i[n_ev, 3] = TRACE_EDGE, b, n_people, a
            ev_f[n_ev, 0], ev_f[n_ev, 1], ev_f[n_ev, 2], ev_f[n_ev, 3], ev_f[n_ev, 4] = bx, by, score, ax, ay
            n_ev += 1
        n_people += 1
    return n_people, n_ev


@kernel("float32[:, :, ::1], float32[:, :, ::1], float32[:, :, ::1], float32[::1], int64, float64",
        "personlab")
def _expected_oks(people, heat, hough, kappas, field_stride, radius):
    """s_jk = p_k(y) * sum_x hhat_k(x) exp(-|x - y|^2 / (2 lambda^2 kappa^2)), hhat in D_R(y),
    written over the scores (``people[:, :, 2]``)."""
    n, n_kp = people.shape[0], people.shape[1]
    h, w = hough.shape[1], hough.shape[2]
    rc = math.ceil(radius / field_stride)
    for p in range(n):
        x_lo, x_hi, y_lo, y_hi = people[p, 0, 0], people[p, 0, 0], people[p, 0, 1], people[p, 0, 1]
        for k in range(1, n_kp):
            x_lo, x_hi = min(x_lo, people[p, k, 0]), max(x_hi, people[p, k, 0])
            y_lo, y_hi = min(y_lo, people[p, k, 1]), max(y_hi, people[p, k, 1])
        lam2 = max((x_hi - x_lo) * (y_hi - y_lo), 1.0)
        for k in range(n_kp):
            x, y = people[p, k, 0], people[p, k, 1]
            ci, cj = int(round(y / field_stride)), int(round(x / field_stride))
            denom = 2.0 * lam2 * kappas[k] * kappas[k]
            i_lo, i_hi = max(ci - rc, 0), min(ci + rc + 1, h)
            j_lo, j_hi = max(cj - rc, 0), min(cj + rc + 1, w)
            total, weighted = 0.0, 0.0
            for i in range(i_lo, i_hi):
                dy2 = (i * field_stride - y) ** 2
                gauss_y = math.exp(-dy2 / denom)
                for j in range(j_lo, j_hi):
                    dx2 = (j * field_stride - x) ** 2
                    if dx2 + dy2 > radius * radius:
                        continue
                    v = hough[k, i, j]
                    total += v
                    weighted += v * gauss_y * math.exp(-dx2 / denom)
            p_k = bilinear(heat, k, x / field_stride, y / field_stride)
            people[p, k, 2] = p_k * weighted / total if total > 0 else 0.0


def instance_scores(keypoints: np.ndarray, nms_radius: float = NMS_RADIUS) -> np.ndarray:
    """Sum of keypoint scores not within r of the same keypoint of a higher-scoring person, / K.

    ``keypoints`` (n, K, 3) with expected-OKS scores; people ranked by their mean score.
    """
    order = np.argsort(-keypoints[:, :, 2].mean(axis=1), kind="stable")
    scores = np.zeros(len(keypoints), dtype=np.float32)
    for rank, p in enumerate(order):
        higher = keypoints[order[:rank], :, :2]
        d2 = ((higher - keypoints[p, None, :, :2]) ** 2).sum(-1)   # (rank, K)
        free = ~(d2 <= nms_radius ** 2).any(axis=0)
        scores[p] = keypoints[p, free, 2].sum() / K
    return scores


def greedy_decode(candidates: np.ndarray, heat: np.ndarray, hough: np.ndarray, short: np.ndarray,
                  mid: np.ndarray, field_stride: int, mid_stride: int, nms_radius: float = NMS_RADIUS
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode people from candidates and the raw mid-range field (refined on the fly).

    ``heat``, ``hough`` and ``short`` are on the field grid, ``mid`` on a grid of
    ``mid_stride`` input pixels per cell.

    Returns keypoints (n, K, 3) in input px with expected-OKS scores, instance scores (n,),
    and the raw trace arrays (int events (m, 4), float events (m, 5)).
    """
    hough, heat = f32(hough), f32(heat)
    people = np.zeros((MAX_PEOPLE, hough.shape[0], 3), dtype=np.float32)
    max_events = len(candidates) * 2 + people.shape[0] * people.shape[1] * 2 + 1
    ev_i = np.full((max_events, 4), -1, dtype=np.int64)
    ev_f = np.full((max_events, 5), np.nan, dtype=np.float32)
    n_people, n_ev = _greedy(f32(candidates), hough, f32(short), f32(mid), EDGE_TARGETS, MID_REFINE_STEPS,
                             TREE_WALKS, int(field_stride), int(mid_stride), float(nms_radius),
                             people, ev_i, ev_f)
    people = people[:n_people].copy()
    _expected_oks(people, heat, hough, KAPPAS, int(field_stride), DISK_RADIUS)
    return people, instance_scores(people, nms_radius), ev_i[:n_ev], ev_f[:n_ev]
