"""``infer`` throughput (images/s) over coco_dev (train + val, 55 images), one image at a
time as before pipelining and through the pipelined ``run_batch``, on CPU.

    python bench/bench_infer.py [--backends float [onnx int8]] [--rounds 2]

Sequential: load, network, decode, one image after the other (the loop ``infer`` had).
Pipelined: ``core.inference.batch.run_batch`` (threads read images ahead and decode the previous
image while the network runs), for each backend given. Rounds alternate backends and
modes so a shared CPU's load falls on all; images/s is the median over rounds, and each
later backend's pipelined rate is also given as a ratio to the first's. Prints the load
average before and after; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from personlab_gui.core.inference.batch import run_batch
from personlab_gui.core.inference.engine import Engine, InferenceSettings
from personlab_gui.core.data.image_io import list_images, load_image

ROOT = Path(__file__).resolve().parents[1]
COCO_DEV = ROOT.parent / "shared" / "data" / "coco_dev"


def sequential(engine: Engine, paths: list[Path], settings: InferenceSettings) -> float:
    t0 = time.perf_counter()
    for path in paths:
        engine.run(load_image(path), settings)
    return len(paths) / (time.perf_counter() - t0)


def pipelined(engine: Engine, paths: list[Path], settings: InferenceSettings) -> float:
    t0 = time.perf_counter()
    for _ in run_batch(engine, paths, settings):
        pass
    return len(paths) / (time.perf_counter() - t0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["float"], choices=("float", "onnx", "int8"))
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    paths = list_images([str(COCO_DEV / "train" / "images"), str(COCO_DEV / "val" / "images")])
    if not paths:
        print(f"error: {COCO_DEV}: shared data not found", file=sys.stderr)
        return 2
    load = os.getloadavg()
    settings = InferenceSettings()
    engines = {name: Engine("default", "cpu", name) for name in args.backends}
    for engine in engines.values():
        engine.warm_up(settings)
        engine.run(load_image(paths[0]), settings)
    rates = {name: {"sequential": [], "pipelined": []} for name in engines}
    for _ in range(args.rounds):   # backends and modes alternate, so a shared CPU's load falls on all
        for name, engine in engines.items():
            rates[name]["sequential"].append(sequential(engine, paths, settings))
            rates[name]["pipelined"].append(pipelined(engine, paths, settings))
    figures: dict = {"images": len(paths)}
    for name in engines:
        before, after = (statistics.median(rates[name][k]) for k in ("sequential", "pipelined"))
        print(f"{len(paths)} images at {settings.size}, backend {name}: sequential {before:.2f} img/s, "
              f"pipelined {after:.2f} img/s ({after / before:.2f}x)")
        figures[name] = {"sequential_img_s": round(before, 3), "pipelined_img_s": round(after, 3),
                         "ratio": round(after / before, 3), "rounds": rates[name]}
    first = args.backends[0]
    for name in args.backends[1:]:
        ratio = figures[name]["pipelined_img_s"] / figures[first]["pipelined_img_s"]
        figures[f"{name}_over_{first}"] = round(ratio, 3)
        print(f"{name} / {first}, pipelined: {ratio:.2f}x")
    print(json.dumps({**figures, "load_before": load, "load_after": os.getloadavg()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
