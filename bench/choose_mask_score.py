"""Choose the score that ranks instance masks in COCO segm results.

    python bench/choose_mask_score.py [--models NAME ...] [--size N] [--cache DIR]

COCO mask AP ranks a split's masks by score; a mask inherits its person's keypoint
instance score s. For every decoded person with a mask this caches, once per model and
split (``--cache``), s, the mask and two mask statistics (bilinear at every mask pixel,
exactly as ``core.decoding.segment`` samples the grid): the mean segmentation probability p_S, and
the share of pixels whose embedding distance D to the person is at most a fraction f of the
mask threshold t. Every rule in ``RULES`` is then scored from the cache (segm AP; keypoint
results never depend on it). The rule is chosen on ``coco_dev/train`` (mean over the
models); ``coco_dev/val`` and ``ochuman_test`` are only reported. Last line: one JSON object.

Figures at 641 (mask AP; keypoint AP 0.310 / 0.534 / 0.290 for personlab_mnv1_075 and
0.263 / 0.392 / 0.276 for bodypix_mnv1_075 on train / val / ochuman, whatever the rule):

| rule | personlab train / val / ochuman | bodypix train / val / ochuman |
|---|---|---|
| s (keypoint score, today) | 0.117 / 0.167 / 0.162 | 0.124 / 0.197 / 0.165 |
| mean p_S | 0.055 / 0.056 / 0.126 | 0.049 / 0.066 / 0.095 |
| s x mean p_S | 0.121 / 0.165 / 0.163 | 0.129 / 0.196 / 0.167 |
| s x mean p_S^2 | 0.124 / 0.160 / 0.160 | 0.132 / 0.194 / 0.199 |
| s x share(D <= 0.25 t) | 0.120 / 0.157 / 0.130 | 0.110 / 0.189 / 0.143 |
| s x share(D <= 0.5 t) | 0.126 / 0.181 / 0.138 | 0.125 / 0.200 / 0.150 |
| s x share(D <= 0.75 t) | 0.121 / 0.186 / 0.136 | 0.126 / 0.203 / 0.159 |
| s x mean p_S x share(D <= 0.25 t) | 0.124 / 0.162 / 0.130 | 0.114 / 0.189 / 0.122 |
| **s x mean p_S x share(D <= 0.5 t)** (chosen on train) | 0.130 / 0.187 / 0.139 | 0.129 / 0.198 / 0.150 |
| s x mean p_S x share(D <= 0.75 t) | 0.126 / 0.189 / 0.147 | 0.132 / 0.205 / 0.159 |

The chosen rule lifts coco_dev/val (+0.020, +0.001) but lowers ochuman_test (-0.023,
-0.015), as every D-based rule does (presumably because an occluded person's mask holds
many pixels whose embedding lies near the threshold); s x mean p_S (^2) moves val by -0.007
to -0.001. No rule lifts both validation splits (ochuman_test: 3 images, 5 people, noisy,
but the drop is consistent over both models), so masks keep the keypoint instance score:
not adopted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from personlab_gui.core.inference.batch import run_batch
from personlab_gui.core.data.coco_eval import evaluate
from personlab_gui.core.data.coco_read import PERSON_CATEGORY_ID, load_coco
from personlab_gui.core.inference.engine import DEFAULT_SIZE, Engine, InferenceSettings
from personlab_gui.core.data.image_io import safe_join
from personlab_gui.core.decoding.result import InferenceResult
from personlab_gui.core.decoding.segment import _distances, _embedding, _embedding_weights, _taps
from personlab_gui.core.skeleton import MASK_THRESHOLD

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SPLITS = {"train": ("coco_dev/train", "person_keypoints.json"),
          "val": ("coco_dev/val", "person_keypoints.json"),
          "ochuman": ("ochuman_test", "test_ochuman.json")}
CHOOSE_ON = "train"
MODELS = ("personlab_mnv1_075", "bodypix_mnv1_075")
CLOSE_FRACTIONS = (0.25, 0.5, 0.75)

Stats = dict[str, float]
RULES: dict[str, Callable[[Stats], float]] = {
    "s (keypoint score)": lambda p: p["s"],
    "mean p_S": lambda p: p["ps"],
    "s x mean p_S": lambda p: p["s"] * p["ps"],
    "s x mean p_S^2": lambda p: p["s"] * p["ps"] ** 2,
    **{f"s x share(D <= {f} t)": (lambda p, f=f: p["s"] * p[f"close{f}"]) for f in CLOSE_FRACTIONS},
    **{f"s x mean p_S x share(D <= {f} t)": (lambda p, f=f: p["s"] * p["ps"] * p[f"close{f}"])
       for f in CLOSE_FRACTIONS},
}


def mask_statistics(result: InferenceResult, fractions: tuple[float, ...]) -> list[tuple[float, list[float]]]:
    """Per decoded person with a non-empty mask: the mean p_S over the mask and, per fraction
    f, the share of its pixels with D <= f t (bilinear at image pixels, as ``core.decoding.segment``
    reads the grid; D recomputed from ``result.long_refined`` the same way)."""
    if not result.people:
        return []
    taps = _taps(result.transform, result.field_stride, result.segmentation.shape)
    gx, gy = _embedding(result.long_refined, result.field_stride, *taps.extent)
    keypoints = np.stack([p.keypoints for p in result.people])
    targets = np.ascontiguousarray(result.transform.to_input(keypoints[..., :2]), dtype=np.float32)
    distance = _distances(gx, gy, targets, _embedding_weights(targets, keypoints[..., 2]))
    stats = []
    for person, plane in zip(result.people, distance):
        if person.mask is None or not person.mask.any():
            continue
        ys, xs = np.nonzero(person.mask)
        d = bilinear(plane, taps, ys, xs)
        stats.append((float(bilinear(result.segmentation, taps, ys, xs).mean()),
                      [float(np.mean(d <= f * MASK_THRESHOLD)) for f in fractions]))
    return stats


def bilinear(plane: np.ndarray, taps, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Values of a grid map at image pixels (ys, xs) through ``segment``'s bilinear taps."""
    i, j, a, b = taps.rows[ys], taps.cols[xs], taps.fy[ys], taps.fx[xs]
    top = plane[i, j] + (plane[i, j + 1] - plane[i, j]) * b
    bottom = plane[i + 1, j] + (plane[i + 1, j + 1] - plane[i + 1, j]) * b
    return top + (bottom - top) * a


def person_records(result: InferenceResult) -> list[dict]:
    """Per person with a non-empty mask: s, the mask (RLE) and its statistics."""
    masked = [p for p in result.people if p.mask is not None and p.mask.any()]
    records = []
    for person, (ps, close) in zip(masked, mask_statistics(result, CLOSE_FRACTIONS)):
        rle = mask_utils.encode(np.asfortranarray(person.mask.astype(np.uint8)))
        records.append({"s": person.score, "ps": ps, **{f"close{f}": c for f, c in zip(CLOSE_FRACTIONS, close)},
                        "rle": {"size": rle["size"], "counts": rle["counts"].decode("ascii")}})
    return records


def cached(model: str, size: int, split: str, cache: Path) -> tuple[dict, list[list[dict]], dict]:
    """Ground truth, per image the people's records, and keypoint AP (computed once)."""
    folder, gt_name = SPLITS[split]
    gt = load_coco(DATA / folder / gt_name)
    file = cache / f"{model}_{size}_{split}.json"
    if not file.is_file():
        paths = [safe_join(DATA / folder / "images", img["file_name"]) for img in gt["images"]]
        people, keypoints = [], []
        for img, item in zip(gt["images"], run_batch(Engine(model, "cpu"), paths, InferenceSettings(size=size))):
            if item.error:
                sys.exit(f"error: {item.error}")
            people.append(person_records(item.result))
            keypoints += [{"image_id": img["id"], "category_id": PERSON_CATEGORY_ID, "score": p.score,
                           "keypoints": p.keypoints.ravel().tolist()} for p in item.result.people]
        kp_ap = evaluate(gt, keypoints, ("keypoints",))["keypoints"]["AP"]
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps({"people": people, "keypoint_ap": kp_ap}))
    data = json.loads(file.read_text())
    return gt, data["people"], data["keypoint_ap"]


def mask_ap(gt: dict, people: list[list[dict]], rule: Callable[[Stats], float]) -> float:
    """COCO segm AP of the cached masks ranked by ``rule``."""
    results = [{"image_id": img["id"], "category_id": PERSON_CATEGORY_ID, "segmentation": p["rle"],
                "score": float(rule(p))} for img, image_people in zip(gt["images"], people) for p in image_people]
    return evaluate(gt, results, ("segm",))["segm"]["AP"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "plab_mask_score")
    args = parser.parse_args()
    table: dict[str, dict[str, dict[str, float]]] = {}   # rule -> model -> split -> AP
    keypoint_ap: dict[str, dict[str, float]] = {}
    for model in args.models:
        keypoint_ap[model] = {}
        for split in SPLITS:
            gt, people, kp = cached(model, args.size, split, args.cache)
            keypoint_ap[model][split] = kp
            for name, rule in RULES.items():
                table.setdefault(name, {}).setdefault(model, {})[split] = mask_ap(gt, people, rule)
    print(f"mask AP at {args.size} (keypoint AP is the same for every rule: {json.dumps(keypoint_ap)})")
    print(f"{'rule':38s} " + " ".join(f"{m[:18]:>18s}:{s:7s}" for m in args.models for s in SPLITS))
    for name, row in table.items():
        print(f"{name:38s} " + " ".join(f"{row[m][s]:26.3f}" for m in args.models for s in SPLITS))
    chosen = max(table, key=lambda name: np.mean([table[name][m][CHOOSE_ON] for m in args.models]))
    print(f"chosen on {CHOOSE_ON}: {chosen}")
    print(json.dumps({"size": args.size, "chosen": chosen, "keypoint_ap": keypoint_ap,
                      "baseline": table["s (keypoint score)"], "chosen_ap": table[chosen]}))


if __name__ == "__main__":
    main()
