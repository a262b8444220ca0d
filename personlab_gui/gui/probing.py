"""Reading the result at one image pixel: grid cells, map values, offsets, the embedding.

Qt-free, so the inspector's numbers can be tested (and reused) without a window. All
positions are original-image pixels unless a name says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.decoding.result import InferenceResult
from ..core.skeleton import DIRECTED_EDGES, KEYPOINT_NAMES, MASK_THRESHOLD

#: Heatmap probability above which short- and mid-range offsets mean something.
HEATMAP_THRESHOLD = 0.1
EDGE_NAMES: tuple[str, ...] = tuple(f"{KEYPOINT_NAMES[a]}→{KEYPOINT_NAMES[b]}" for a, b in DIRECTED_EDGES)


def pixel_index(hw: tuple[int, int], xy: np.ndarray) -> tuple[int, int] | None:
    """(row, col) of the pixel of an (h, w) array nearest to position ``xy``; None outside."""
    col, row = np.rint(np.asarray(xy, dtype=np.float64)).astype(int)
    return (int(row), int(col)) if 0 <= row < hw[0] and 0 <= col < hw[1] else None


def grid_cell(result: InferenceResult, xy: np.ndarray) -> tuple[int, int] | None:
    """(row, col) of the field-grid cell nearest to image pixel ``xy``; None outside."""
    return pixel_index(result.grid_hw, result.image_to_grid(xy))


def to_image_vector(result: InferenceResult, vector: np.ndarray) -> np.ndarray:
    """An offset in network-input pixels (..., 2) -> the same offset in image pixels."""
    return np.asarray(vector, dtype=np.float64) / result.transform.scale_xy


def vector_text(vector: np.ndarray) -> str:
    dx, dy = vector
    return f"({dx:+.1f}, {dy:+.1f}) px, |{np.hypot(dx, dy):.1f}|"


def embedding(result: InferenceResult, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Geometric embedding of the grid cell x nearest to ``xy``: (x, G) in image pixels,
    G (K, 2) with G_k(x) = x + L_k(x) (refined field); None without long-range offsets."""
    cell = grid_cell(result, xy)
    if result.long_refined is None or cell is None:
        return None
    x_input = np.array([cell[1], cell[0]], dtype=np.float64) * result.field_stride
    g_input = x_input + result.long_refined[:, cell[0], cell[1]]
    return result.transform.to_image(x_input), result.transform.to_image(g_input)


def embedding_distances(result: InferenceResult, xy: np.ndarray) -> np.ndarray | None:
    """D_j from the grid cell nearest to ``xy`` to every detected person j, as the mask
    assignment computes it (``core.decoding.segment``): D = sum_k p_k |G_k(x) - y_jk| /
    (lambda_j sum_k p_k), p_k the person's keypoint scores, lambda_j the square root of
    its keypoint box area, in network-input pixels; None without long-range offsets."""
    found = embedding(result, xy)
    if found is None:
        return None
    g = result.transform.to_input(found[1])
    distances = np.full(len(result.people), np.inf)
    for j, person in enumerate(result.people):
        y, p = result.transform.to_input(person.keypoints[:, :2]), person.keypoints[:, 2]
        span = y.max(axis=0) - y.min(axis=0)
        lam = np.sqrt(max(span[0] * span[1], 1.0))
        if p.sum() > 0:
            distances[j] = float(np.sum(p * np.linalg.norm(g - y, axis=1))) / (lam * p.sum())
    return distances


def distance_text(d: float) -> str:
    """D, and whether it is close enough for the pixel to join the person's mask."""
    return f"{d:.3f}  ≤ t: joins" if d <= MASK_THRESHOLD else f"{d:.3f}"


def click_rows(result: InferenceResult, xy: np.ndarray,
               name: Callable[[int], str] = "#{}".format) -> list[tuple[str, str]]:
    """What a click reports: D to every person (with long-range; ``name`` names decoded
    person j), else the pixel's vectors."""
    distances = embedding_distances(result, xy)
    if distances is not None:
        return [(f"D to person {name(j)}", distance_text(distances[j])) for j in np.argsort(distances)]
    return [(label, vector_text(vector)) for label, vector in pixel_vectors(result, xy)]


def pixel_vectors(result: InferenceResult, xy: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Offsets at ``xy`` in image pixels: S_k for every type, refined M_kl where p_k > 0.1."""
    cell = grid_cell(result, xy)
    if cell is None:
        return []
    vectors = [(f"S {name}", result.short[k][cell]) for k, name in enumerate(KEYPOINT_NAMES)]
    mid = result.mid_refined[-1] if result.mid_refined else result.mid_raw
    sources = result.heatmaps[DIRECTED_EDGES[:, 0], cell[0], cell[1]] > HEATMAP_THRESHOLD
    vectors += [(f"M {EDGE_NAMES[e]}", mid[e][cell]) for e in np.nonzero(sources)[0]]
    return [(label, to_image_vector(result, v)) for label, v in vectors]
