"""Choose the pseudo-label instance-score threshold on the dev splits.

    python bench/choose_label_threshold.py [--model NAME] [--size N] [--cache DIR]

Runs the model once over ``shared/data/coco_dev/{train,val}`` (the decoded people are
cached in ``--cache``, so re-running only re-scores), applies the pseudo-label policy
(``core.pseudo_labels``: complete, deduplicated) and, for every threshold on a 0.01 grid,
matches the labels scoring at least it to the ground truth with COCOeval's keypoint
matching at OKS >= 0.5 (greedy by score; crowd regions and people without keypoints are
ignored, neither hits nor misses). Prints precision, recall and F1 per threshold and
split, then the rule's choice: the best F1 on train (ties: the middle of the best run),
reported on train and val. The same figures for other duplicate-OKS bounds justify
``DUPLICATE_OKS``. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.cocoeval import COCOeval

from personlab_gui.core.data import pseudo_labels
from personlab_gui.core.inference.batch import run_batch
from personlab_gui.core.data.coco_eval import _coco_api, _ground_truth_for
from personlab_gui.core.data.coco_read import PERSON_CATEGORY_ID, load_coco
from personlab_gui.core.data.coco_write import detections_to_results
from personlab_gui.core.inference.engine import DEFAULT_SIZE, Engine, InferenceSettings
from personlab_gui.core.data.image_io import safe_join
from personlab_gui.core.decoding.result import Person

ROOT = Path(__file__).resolve().parents[1]
COCO_DEV = ROOT.parent / "shared" / "data" / "coco_dev"
SPLITS = ("train", "val")
THRESHOLDS = np.round(np.arange(0.0, 0.61, 0.01), 2)
MATCH_OKS = 0.5
NO_SUPPRESSION = 2.0                            # above any OKS
DUPLICATE_BOUNDS = (0.5, 0.6, 0.7, 0.8, 0.9, NO_SUPPRESSION)


def decoded_people(model: str, size: int, split: str, cache: Path) -> tuple[dict, list[list[Person]]]:
    """The split's ground truth and every image's decoded people (from the cache when there)."""
    gt = load_coco(COCO_DEV / split / "person_keypoints.json")
    file = cache / f"{model}_{size}_{split}.json"
    if not file.is_file():
        paths = [safe_join(COCO_DEV / split / "images", img["file_name"]) for img in gt["images"]]
        engine = Engine(model, "cpu")
        records = []
        for item in run_batch(engine, paths, InferenceSettings(size=size)):
            if item.error:
                sys.exit(f"error: {item.error}")
            records.append([{"keypoints": p.keypoints.tolist(), "score": p.score, "mask": _rle(p.mask)}
                            for p in item.result.people])
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(records))
    records = json.loads(file.read_text())
    return gt, [[Person(np.array(p["keypoints"]), p["score"], _unrle(p["mask"])) for p in people]
                for people in records]


def _rle(mask: np.ndarray | None) -> dict | None:
    if mask is None:
        return None
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def _unrle(rle: dict | None) -> np.ndarray | None:
    return None if rle is None else mask_utils.decode(rle).astype(bool)


def matches(gt: dict, people: list[list[Person]], duplicate_oks: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Scores of the policy's labels at threshold 0, whether each is a hit (-1: ignored),
    and the number of ground-truth people that count. Labels at a higher threshold are a
    prefix of these per image (greedy matching by score), so one COCOeval serves all."""
    results = []
    for img, image_people in zip(gt["images"], people, strict=True):
        verdicts = pseudo_labels.judge(image_people, (img["height"], img["width"]), 0.0, duplicate_oks)
        results += detections_to_results(img["id"], [p for p, v in zip(image_people, verdicts)
                                                     if v == pseudo_labels.LABEL])
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = _coco_api(_ground_truth_for(gt, "keypoints"))
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(results), "keypoints")
        evaluator.params.catIds = [PERSON_CATEGORY_ID]
        evaluator.params.iouThrs = np.array([MATCH_OKS])
        evaluator.params.maxDets = [1000]
        evaluator.params.areaRng, evaluator.params.areaRngLbl = [[0, 1e10]], ["all"]
        evaluator.evaluate()
    scores, hits, n_gt = [], [], 0
    for e in evaluator.evalImgs:
        if e is None:
            continue
        n_gt += int((~np.asarray(e["gtIgnore"], bool)).sum())
        scores += e["dtScores"]
        hits += np.where(e["dtIgnore"][0], -1, e["dtMatches"][0] > 0).astype(int).tolist()
    return np.array(scores), np.array(hits), n_gt


def curve(scores: np.ndarray, hits: np.ndarray, n_gt: int) -> list[dict]:
    """Per threshold: the labels scoring at least it (ignored ones included), hits, false
    positives, precision, recall and F1."""
    rows = []
    for t in THRESHOLDS:
        kept = scores >= t
        tp, fp = int((kept & (hits == 1)).sum()), int((kept & (hits == 0)).sum())
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / n_gt if n_gt else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"threshold": float(t), "labels": int(kept.sum()), "tp": tp, "fp": fp,
                     "precision": precision, "recall": recall, "f1": f1})
    return rows


def choose(rows: list[dict]) -> dict:
    """The row with the best F1 (ties: the middle of the first run of best rows)."""
    best = max(round(r["f1"], 9) for r in rows)
    first = next(i for i, r in enumerate(rows) if round(r["f1"], 9) == best)
    last = first
    while last + 1 < len(rows) and round(rows[last + 1]["f1"], 9) == best:
        last += 1
    return rows[(first + last) // 2]


def at(rows: list[dict], threshold: float) -> dict:
    return next(r for r in rows if r["threshold"] == threshold)


def print_table(curves: dict[str, list[dict]]) -> None:
    print("threshold | " + " | ".join(f"{s}: labels   tp   fp  P      R      F1   " for s in curves))
    for i, t in enumerate(THRESHOLDS):
        cells = [f"{s}: {c[i]['labels']:6d} {c[i]['tp']:4d} {c[i]['fp']:4d}  {c[i]['precision']:.3f}  "
                 f"{c[i]['recall']:.3f}  {c[i]['f1']:.3f}" for s, c in curves.items()]
        print(f"{t:9.2f} | " + " | ".join(cells))


def choose_duplicate_bound(data: dict) -> tuple[float, dict]:
    """The lowest bound whose best train F1 threshold keeps as many hits as no suppression
    (a lower one suppresses real neighbours), and the train figures of every bound."""
    figures = {}
    for bound in DUPLICATE_BOUNDS:
        best = choose(curve(*matches(*data["train"], bound)))
        figures[bound] = best
        print(f"duplicate OKS {bound}: best train F1 {best['f1']:.3f} at {best['threshold']:.2f}: "
              f"{best['labels']} labels, {best['tp']} hits, {best['fp']} false")
    return min(b for b in DUPLICATE_BOUNDS if figures[b]["tp"] == figures[NO_SUPPRESSION]["tp"]), figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="personlab_mnv1_075")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "plab_label_threshold")
    args = parser.parse_args()
    data = {split: decoded_people(args.model, args.size, split, args.cache) for split in SPLITS}
    bound, bounds = choose_duplicate_bound(data)
    curves = {split: curve(*matches(*data[split], bound)) for split in SPLITS}
    print(f"\nduplicate OKS {bound}, labels matched at OKS {MATCH_OKS}")
    print_table(curves)
    threshold = choose(curves["train"])["threshold"]
    chosen = {split: at(rows, threshold) for split, rows in curves.items()}
    for split, row in chosen.items():
        print(f"chosen {threshold:.2f} on {split}: {row['labels']} labels, {row['tp']} hits, {row['fp']} false, "
              f"precision {row['precision']:.3f}, recall {row['recall']:.3f}, F1 {row['f1']:.3f}")
    print(json.dumps({"model": args.model, "size": args.size, "duplicate_oks": bound, "threshold": threshold,
                      **chosen, "duplicate_bounds_train": {str(b): r for b, r in bounds.items()}}))


if __name__ == "__main__":
    main()
