"""CUDA throughput of the default model at 641: the network alone and the whole ``infer``
pipeline (``run_batch``), for each GPU backend (float32, fp16) at batch 1, 8 and 32.

    python bench/bench_gpu.py [--rounds 5] [--device cuda]

Inputs are coco_dev (train + val) images repeated to 64; a batch pads its images to a
common size, as ``infer --batch N`` does. Network figures are images/s, the median over
rounds, each round timed between CUDA synchronisations; pipeline figures include reading
and decoding (CPU threads). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from personlab_gui.core.inference.batch import run_batch
from personlab_gui.core.inference.engine import Engine, InferenceSettings
from personlab_gui.core.data.image_io import list_images, load_image
from personlab_gui.core.data.preprocess import prepare_input

ROOT = Path(__file__).resolve().parents[1]
COCO_DEV = ROOT.parent / "shared" / "data" / "coco_dev"
BACKENDS, BATCHES, IMAGES = ("float", "fp16"), (1, 8, 32), 64


def network_rate(engine: Engine, inputs: list, batch: int, rounds: int) -> float:
    """Median images/s of the network alone over ``inputs`` in batches of ``batch``."""
    rates = []
    for _ in range(rounds + 1):        # the first round warms cuDNN's choice of kernels
        torch.cuda.synchronize(engine.device)
        t0 = time.perf_counter()
        for start in range(0, len(inputs), batch):
            engine.runner.run(inputs[start:start + batch])
        torch.cuda.synchronize(engine.device)
        rates.append(len(inputs) / (time.perf_counter() - t0))
    return statistics.median(rates[1:])


def pipeline_rate(engine: Engine, paths: list[Path], settings: InferenceSettings, batch: int) -> float:
    t0 = time.perf_counter()
    for item in run_batch(engine, paths, settings, batch=batch):
        assert item.error is None, item.error
    return len(paths) / (time.perf_counter() - t0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("error: no CUDA device", file=sys.stderr)
        return 2
    paths = list_images([str(COCO_DEV / "train" / "images"), str(COCO_DEV / "val" / "images")])
    if not paths:
        print(f"error: {COCO_DEV}: shared data not found", file=sys.stderr)
        return 2
    paths = (paths * (IMAGES // len(paths) + 1))[:IMAGES]
    settings = InferenceSettings()
    inputs = [prepare_input(load_image(p), settings.size, 16)[0] for p in paths]
    figures: dict[str, dict[str, float]] = {"device": torch.cuda.get_device_name()}
    for backend in BACKENDS:
        engine = Engine("default", args.device, backend)
        engine.warm_up(settings)
        for batch in BATCHES:
            net = network_rate(engine, inputs, batch, args.rounds)
            pipe = pipeline_rate(engine, paths, settings, batch)
            figures[f"{backend}_b{batch}"] = {"network_img_s": round(net, 1), "infer_img_s": round(pipe, 1)}
            print(f"{backend:5s} batch {batch:2d}: network {net:8.1f} img/s   infer {pipe:6.1f} img/s", flush=True)
    base = figures["float_b1"]["network_img_s"]
    figures["fp16_b32_vs_float_b1"] = round(figures["fp16_b32"]["network_img_s"] / base, 2)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
