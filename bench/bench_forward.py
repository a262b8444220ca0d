"""float vs int8 vs ONNX Runtime network on CPU: forward time at input 641 and COCO AP of each.

    python bench/bench_forward.py

Builds the default model's int8 network (``core.model.quantize``: calibrated on the shared
calibration images, or loaded from the cache) and its ONNX Runtime float32 network
(``core.model.onnx_backend``, when onnxruntime is installed), then times the network alone
at input 641 on every ``shared/data/coco_dev`` image, the backends interleaved image by
image (a shared CPU's load falls on all), and evaluates each (keypoint and mask AP) on
coco_dev/val, coco_dev/train and ochuman_test (its images are not timed). Prints medians, speedups and the AP of each, with the load
average before and after; the last line is one JSON object (``float_ms``, ``int8_ms``,
``speedup``, ``kp_ap_delta`` and ``segm_ap_delta`` = int8 - float on coco_dev/val, the same
with an ``onnx_`` prefix, and every AP).
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
from personlab_gui.core.model.onnx_backend import onnx_available

ROOT = Path(__file__).resolve().parents[1]
COCO_DEV = ROOT.parent / "shared" / "data" / "coco_dev"
OCHUMAN = ROOT.parent / "shared" / "data" / "ochuman_test"
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
    engines = {name: Engine("default", "cpu", name)
               for name in ("float", "int8", *(("onnx",) if onnx_available() else ()))}
    print(f"engines ready in {time.perf_counter() - t0:.1f} s (int8 calibration or cache load)")
    splits = {split: load_ground_truth([COCO_DEV / split / "person_keypoints.json"], [COCO_DEV / split / "images"])
              for split in ("val", "train")}
    if (OCHUMAN / "test_ochuman.json").is_file():   # the other validation split
        splits["ochuman"] = load_ground_truth([OCHUMAN / "test_ochuman.json"], [OCHUMAN / "images"])
    ms = forward_ms(engines, [p for split in ("val", "train") for p in splits[split].paths])
    settings = InferenceSettings(size=SIZE)
    ap = {f"{name}_{split}_{kind}": evaluate_engine(engine, gt, settings).scores[kind]["AP"]
          for split, gt in splits.items() for name, engine in engines.items()
          for kind in ("keypoints", "segm")}
    figures: dict = {"float_ms": round(ms["float"], 2)}
    for name, prefix in (("int8", ""), ("onnx", "onnx_")):
        if name in engines:
            figures.update({f"{name}_ms": round(ms[name], 2), f"{prefix}speedup": round(ms["float"] / ms[name], 3),
                            f"{prefix}kp_ap_delta": round(ap[f"{name}_val_keypoints"] - ap["float_val_keypoints"], 4),
                            f"{prefix}segm_ap_delta": round(ap[f"{name}_val_segm"] - ap["float_val_segm"], 4)})
    figures.update({**{key: round(value, 4) for key, value in ap.items()},
                    "threads": torch.get_num_threads(), "load_before": load, "load_after": os.getloadavg()})
    print(f"forward at {SIZE}: " + ", ".join(f"{name} {ms[name]:.1f} ms ({ms['float'] / ms[name]:.2f}x)"
                                             for name in engines))
    for split in splits:
        print(f"{split}: keypoint / mask AP " + ", ".join(
            f"{name} {ap[f'{name}_{split}_keypoints']:.3f} / {ap[f'{name}_{split}_segm']:.3f}" for name in engines))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
