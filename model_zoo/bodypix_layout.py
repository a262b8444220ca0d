"""Measure BodyPix's output layout on COCO ground truth (the evidence behind ``convert_bodypix``).

Runs the converted network with its heads in BodyPix's own channel order on the images of a
COCO keypoint file (long side 641, the project's preprocessing) and prints Markdown tables:

* heatmap: mean probability of each channel at the ground-truth keypoints of each type;
* parts: for each keypoint type, which body-part channel is the most likely at its
  ground-truth keypoints (how often), against the names in SOURCES.md;
* short and long offsets: mean error (px) of "[17 dy | 17 dx]" against "[17 dx | 17 dy]",
  for cells within R of a keypoint (short) or inside the person's mask (long);
* mid-range: the 64 channels read as 32 vectors (fwd [16 dy | 16 dx], then bwd); for every
  vector and every directed edge (a, b) of the tree, the median relative error
  ``|v(x) - (y_b - x)| / |y_b - x|`` over cells x within R of keypoint a (both keypoints
  visible). A zero vector scores 1. The edge order is the assignment of the 16 vector slots
  to the 16 tree edges minimising the summed error of both blocks (slot i of fwd and of bwd
  are the same edge, parent -> child and back); the same cost with the blocks swapped tests
  which block is fwd.

    python model_zoo/bodypix_layout.py GT_JSON [IMAGES_DIR GT_JSON IMAGES_DIR ...] [--tflite PATH]

Needs scipy (``linear_sum_assignment``) besides the converter's ``tflite``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convert_bodypix as cb  # noqa: E402

from personlab_gui.core.data.coco_read import load_coco
from personlab_gui.core.data.coco_write import annotation_mask  # noqa: E402
from personlab_gui.core.data.image_io import load_image  # noqa: E402
from personlab_gui.core.data.preprocess import prepare_input  # noqa: E402
from personlab_gui.core.skeleton import (  # noqa: E402
    DIRECTED_EDGES, DISK_RADIUS, K, KEYPOINT_NAMES, N_DIRECTED_EDGES, N_EDGES, N_PARTS, PART_NAMES)

SIZE, STRIDE = 641, 16
SHORT_NAMES = ("nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_sho", "r_sho", "l_elb", "r_elb",
               "l_wri", "r_wri", "l_hip", "r_hip", "l_knee", "r_knee", "l_ank", "r_ank")


class Stats:
    """Accumulated sums over every image."""

    def __init__(self) -> None:
        self.heat = np.zeros((K, K))          # channel x keypoint type: sum of probabilities
        self.heat_n = np.zeros(K)
        self.parts = np.zeros((N_PARTS, K))   # how often each part is the argmax there
        self.offsets = {name: np.zeros(2) for name in ("short", "long")}  # [yx, xy] error sums
        self.offsets_n = {"short": 0, "long": 0}
        self.mid: list[list[np.ndarray]] = [[] for _ in range(N_DIRECTED_EDGES)]  # (32, n) per edge

    def mid_errors(self) -> np.ndarray:
        """(vector, directed edge) median relative error."""
        return np.stack([np.median(np.concatenate(e, axis=1), axis=1) for e in self.mid], axis=1)


def raw_vectors(out: np.ndarray, n: int) -> np.ndarray:
    """(C, h, w) channels "[n dy | n dx]" -> (n, h, w, 2) as (dx, dy)."""
    return np.stack([out[n:2 * n], out[:n]], axis=-1)


def mid_vectors(out: np.ndarray) -> np.ndarray:
    """BodyPix mid output (64, h, w) -> (32, h, w, 2) (dx, dy): fwd vectors 0..15, bwd 16..31."""
    return np.concatenate([raw_vectors(out[:2 * N_EDGES], N_EDGES),
                           raw_vectors(out[2 * N_EDGES:], N_EDGES)])


def cell_positions(h: int, w: int) -> np.ndarray:
    """(h, w, 2) input-pixel (x, y) of every output cell."""
    ys, xs = np.mgrid[0:h, 0:w] * STRIDE
    return np.stack([xs, ys], axis=-1).astype(np.float64)


def accumulate(stats: Stats, out: dict[str, np.ndarray], people: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Add one image: ``people`` = [(keypoints (K, 3) in input px, (h, w) cells in its mask)]."""
    h, w = out["heatmap"].shape[1:]
    cells = cell_positions(h, w)
    heat = 1 / (1 + np.exp(-out["heatmap"]))
    best_part = out["parts"].argmax(axis=0)
    short, long_ = raw_vectors(out["short"], K), raw_vectors(out["long"], K)
    mid = mid_vectors(out["mid"])
    for kps, inside in people:
        visible = kps[:, 2] > 0
        for k in np.flatnonzero(visible):
            i, j = np.clip(np.round(kps[k, 1::-1] / STRIDE).astype(int), 0, [h - 1, w - 1])
            stats.heat[:, k] += heat[:, i, j]
            stats.parts[best_part[i, j], k] += 1
            stats.heat_n[k] += 1
            disk = np.linalg.norm(cells - kps[k, :2], axis=-1) <= DISK_RADIUS
            _offset_errors(stats, "short", short[k][disk], kps[k, :2] - cells[disk])
            _offset_errors(stats, "long", long_[k][inside], kps[k, :2] - cells[inside])
        for e, (a, b) in enumerate(DIRECTED_EDGES):
            if visible[a] and visible[b]:
                disk = np.linalg.norm(cells - kps[a, :2], axis=-1) <= DISK_RADIUS
                target = kps[b, :2] - cells[disk]
                length = np.maximum(np.linalg.norm(target, axis=-1), 1.0)
                stats.mid[e].append(np.linalg.norm(mid[:, disk] - target, axis=-1) / length)


def _offset_errors(stats: Stats, name: str, pred: np.ndarray, target: np.ndarray) -> None:
    """Error sums of (n, 2) vectors read as [dy | dx] (``pred``) and as [dx | dy] (swapped)."""
    stats.offsets[name] += [np.linalg.norm(pred - target, axis=-1).sum(),
                            np.linalg.norm(pred[..., ::-1] - target, axis=-1).sum()]
    stats.offsets_n[name] += len(pred)


def run(stats: Stats, net: torch.nn.Module, gt_json: Path, images: Path) -> None:
    """Accumulate every image of one COCO keypoint file."""
    data = load_coco(gt_json)
    by_image: dict[int, list[dict]] = {}
    for ann in data["annotations"]:
        if not ann.get("iscrowd") and ann.get("num_keypoints", 0) > 0:
            by_image.setdefault(ann["image_id"], []).append(ann)
    for image in data["images"]:
        anns = by_image.get(image["id"])
        if not anns:
            continue
        rgb = load_image(images / image["file_name"])
        batch, t = prepare_input(rgb, SIZE, STRIDE)
        with torch.inference_mode():
            out = {k: v[0].numpy() for k, v in net(torch.from_numpy(batch)[None]).items()}
        xy = np.round(t.to_image(cell_positions(*out["heatmap"].shape[1:]))).astype(int)
        on_image = (xy >= 0).all(-1) & (xy[..., 0] < image["width"]) & (xy[..., 1] < image["height"])
        xy = np.minimum(np.maximum(xy, 0), [image["width"] - 1, image["height"] - 1])
        people = []
        for ann in anns:
            kps = np.asarray(ann["keypoints"], dtype=np.float64).reshape(K, 3)
            kps[:, :2] = t.to_input(kps[:, :2])
            mask = annotation_mask(ann, image["height"], image["width"])
            people.append((kps, mask[xy[..., 1], xy[..., 0]] & on_image))
        accumulate(stats, out, people)


def report(stats: Stats) -> None:
    heat = stats.heat / np.maximum(stats.heat_n, 1)
    print("| heatmap channel | best keypoint type (mean p) | p at its COCO keypoint | best other type (p) |")
    print("|---|---|---|---|")
    for c in range(K):
        best = int(heat[c].argmax())
        other = int(np.argmax(np.where(np.arange(K) == c, -1, heat[c])))
        print(f"| {c} | {KEYPOINT_NAMES[best]} ({heat[c, best]:.2f}) | {heat[c, c]:.2f} | "
              f"{KEYPOINT_NAMES[other]} ({heat[c, other]:.2f}) |")
    share = stats.parts / np.maximum(stats.heat_n, 1)
    print("\n| keypoint type | most likely part there: channel name (share) | 2nd |\n|---|---|---|")
    for k in range(K):
        first, second = np.argsort(-share[:, k])[:2]
        print(f"| {KEYPOINT_NAMES[k]} | {first} {PART_NAMES[first]} ({share[first, k]:.2f}) | "
              f"{second} {PART_NAMES[second]} ({share[second, k]:.2f}) |")
    print("\n| offsets | cells | mean error [dy \\| dx] | mean error [dx \\| dy] |\n|---|---|---|---|")
    for name, sums in stats.offsets.items():
        n = max(stats.offsets_n[name], 1)
        print(f"| {name} | {stats.offsets_n[name]} | {sums[0] / n:.1f} px | {sums[1] / n:.1f} px |")
    report_mid(stats.mid_errors())


def report_mid(err: np.ndarray) -> None:
    """Edge-order table and the measured ``EDGE_VECTORS``."""
    from scipy.optimize import linear_sum_assignment

    e = N_EDGES
    slots = {"as named (fwd first)": err[:e, :e] + err[e:, e:], "blocks swapped": err[:e, e:] + err[e:, :e]}
    for name, cost in slots.items():
        rows, cols = linear_sum_assignment(cost)
        print(f"\nsummed median relative error of the best slot assignment, {name}: {cost[rows, cols].sum():.2f}")
    slot_edge = linear_sum_assignment(slots["as named (fwd first)"])[1]
    assigned = np.concatenate([slot_edge, slot_edge + e])
    print("\n| vector | PoseNet's edge (error) | best single edge (error) | 2nd best (error) | assigned edge (error) |")
    print("|---|---|---|---|---|")
    for v in range(N_DIRECTED_EDGES):
        order = np.argsort(err[v])
        mark = "" if assigned[v] == v else "**"
        print(f"| {'fwd' if v < e else 'bwd'} {v % e} | {_edge(v)} ({err[v, v]:.2f}) | "
              f"{_edge(order[0])} ({err[v, order[0]]:.2f}) | {_edge(order[1])} ({err[v, order[1]]:.2f}) | "
              f"{mark}{_edge(assigned[v])}{mark} ({err[v, assigned[v]]:.2f}) |")
    edge_vectors = np.argsort(assigned)
    print("\nEDGE_VECTORS (vector predicting each project directed edge):", edge_vectors.tolist())
    if not np.array_equal(edge_vectors, cb.EDGE_VECTORS):
        print("WARNING: differs from convert_bodypix.EDGE_VECTORS")


def _edge(e: int) -> str:
    a, b = DIRECTED_EDGES[e]
    return f"{SHORT_NAMES[a]}>{SHORT_NAMES[b]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("splits", type=Path, nargs="+", help="GT_JSON IMAGES_DIR pairs")
    parser.add_argument("--tflite", type=Path, default=cb.DEFAULT_SOURCE)
    args = parser.parse_args()
    if len(args.splits) % 2:
        parser.error("give GT_JSON IMAGES_DIR pairs")
    net = cb.build_model(cb.read_layers(args.tflite.read_bytes()), raw=True)
    stats = Stats()
    for gt_json, images in zip(args.splits[::2], args.splits[1::2]):
        run(stats, net, gt_json, images)
    report(stats)


if __name__ == "__main__":
    main()
