"""float vs int8 network on CPU: forward time at input 641 and COCO AP of both.

    python bench/bench_forward.py

Builds the default model's int8 network (``core.model.quantize``: calibrated on the shared
calibration images, or loaded from the cache), then times the network alone at input 641
on every ``shared/data/coco_dev`` image, float and int8 interleaved image by image (a shared
CPU's load falls on both), and evaluates both (keypoint and mask AP) on coco_dev/val and
coco_dev/train. Prints medians, the speedup and the AP of each, with the load average
before and after; the last line is one JSON object (``float_ms``, ``int8_ms``, ``speedup``,
``kp_ap_delta`` and ``segm_ap_delta`` = int8 - float on coco_dev/val, and every AP).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from personlab_gui.core.inference.engine import Engine, InferenceSettings
from personlab_gui.core.inference.evaluation import evaluate_engine, load_ground_truth
from personlab_gui.core.data.image_io import load_image
from personlab_gui.core.data.preprocess import prepare_input

ROOT = Path(__file__).resolve().parents[1]
COCO_DEV = ROOT.parent / "shared" / "data" / "coco_dev"
SIZE = 641


def forward_ms(engines: dict[str, Engine], paths: list[Path]) -> dict[str, float]:
    """Median network time per backend, the backends interleaved image by image."""
    times: dict[str, list[float]] = {name: [] for name in engines}
    inputs = [prepare_input(load_image(path), SIZE)[0] for path in paths]
    for name, engine in engines.items():   # warm-up
        engine.runner.run(inputs[:1])
    for x in inputs:
        for name, engine in engines.items():
            t0 = time.perf_counter()
            engine.runner.run([x])
            times[name].append((time.perf_counter() - t0) * 1e3)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    if not COCO_DEV.is_dir():
        print(f"error: {COCO_DEV}: shared data not found", file=sys.stderr)
        return 2
    load = os.getloadavg()
    t0 = time.perf_counter()
    engines = {"float": Engine("default", "cpu", "float"), "int8": Engine("default", "cpu", "int8")}
    print(f"engines ready in {time.perf_counter() - t0:.1f} s (int8 calibration or cache load)")
    splits = {split: load_ground_truth([COCO_DEV / split / "person_keypoints.json"], [COCO_DEV / split / "images"])
              for split in ("val", "train")}
    ms = forward_ms(engines, [p for gt in splits.values() for p in gt.paths])
    settings = InferenceSettings(size=SIZE)
    ap = {f"{name}_{split}_{kind}": evaluate_engine(engine, gt, settings).scores[kind]["AP"]
          for split, gt in splits.items() for name, engine in engines.items()
          for kind in ("keypoints", "segm")}
    figures = {"float_ms": round(ms["float"], 2), "int8_ms": round(ms["int8"], 2),
               "speedup": round(ms["float"] / ms["int8"], 3),
               "kp_ap_delta": round(ap["int8_val_keypoints"] - ap["float_val_keypoints"], 4),
               "segm_ap_delta": round(ap["int8_val_segm"] - ap["float_val_segm"], 4),
               **{key: round(value, 4) for key, value in ap.items()},
               "threads": torch.get_num_threads(), "load_before": load, "load_after": os.getloadavg()}
    print(f"forward at {SIZE}: float {ms['float']:.1f} ms, int8 {ms['int8']:.1f} ms "
          f"({figures['speedup']:.2f}x)")
    for split in splits:
        print(f"coco_dev/{split}: keypoint AP float {ap[f'float_{split}_keypoints']:.3f} int8 "
              f"{ap[f'int8_{split}_keypoints']:.3f}; mask AP float {ap[f'float_{split}_segm']:.3f} "
              f"int8 {ap[f'int8_{split}_segm']:.3f}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
