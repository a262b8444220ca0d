"""Decoding benchmark on CPU at the default input size.

    python bench/bench_decode.py

Per image (``shared/data/coco_dev/val/images``; the bundled astronaut when that is absent):
the network forward pass, PersonLab decoding and PoseNet decoding of the pose heads (field
fusion included: everything after the forward pass), and what mask decoding adds: the
default model (all five heads) decoded minus its pose-only parent decoded on the same image
(their backbones and pose heads are identical). Also the numba cold start: a fresh
interpreter's first decode with the on-disk cache present. Prints medians and ratios to the
forward pass from one run, then, as its last line, one JSON object with them.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from personlab_gui.core.inference.engine import Engine, InferenceSettings
from personlab_gui.core.data.image_io import load_image, list_images

ROOT = Path(__file__).resolve().parents[1]
VAL_IMAGES = ROOT.parent / "shared" / "data" / "coco_dev" / "val" / "images"
ASTRONAUT = ROOT / "personlab_gui" / "data" / "astronaut.jpg"
POSE_MODEL = "posenet_mnv1_075"
REPEATS = 5
COLD_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from personlab_gui.core.inference.engine import Engine, InferenceSettings
from personlab_gui.core.data.image_io import load_image
engine = Engine(sys.argv[1], "cpu")
maps = engine.forward(load_image(sys.argv[2]), InferenceSettings())
t1 = time.perf_counter()
result = engine.decode(maps, InferenceSettings())
t2 = time.perf_counter()
warm = engine.decode(maps, InferenceSettings())
print(json.dumps({"start_ms": (t1 - t0) * 1e3, "first_decode_ms": (t2 - t1) * 1e3,
                  "second_decode_ms": (time.perf_counter() - t2) * 1e3}))
"""


def median_decode_ms(engine: Engine, image: np.ndarray, settings: InferenceSettings) -> tuple[float, float]:
    """Median forward and decode (fusion included) times over repeated runs of one image."""
    forward, decode = [], []
    for _ in range(REPEATS):
        maps = engine.forward(image, settings)
        forward.append(maps.forward_ms)
        decode.append(engine.decode(maps, settings).decode_ms)
    return statistics.median(forward), statistics.median(decode)


def cold_start(model: str, image: Path) -> dict[str, float]:
    """First and second decode in a fresh interpreter (the first run fills a missing cache)."""
    command = [sys.executable, "-c", COLD_SCRIPT, model, str(image)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    t0 = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    return {**json.loads(done.stdout.strip().splitlines()[-1]),
            "subprocess_wall_ms": (time.perf_counter() - t0) * 1e3}


def main() -> None:
    paths = list_images([VAL_IMAGES]) if VAL_IMAGES.is_dir() else [ASTRONAUT]
    pose, full = Engine(POSE_MODEL, "cpu"), Engine("default", "cpu")
    personlab, posenet = InferenceSettings(), InferenceSettings(decoder="posenet")
    rows: dict[str, list[float]] = {k: [] for k in ("forward", "personlab", "posenet", "with_masks", "masks_added")}
    for path in paths:
        image = load_image(path)
        for engine in (pose, full):
            engine.run(image)                                  # warm-up (numba, caches)
        forward, pl = median_decode_ms(pose, image, personlab)
        _, pn = median_decode_ms(pose, image, posenet)
        _, wm = median_decode_ms(full, image, personlab)
        for key, value in zip(rows, (forward, pl, pn, wm, wm - pl)):
            rows[key].append(value)
    med = {k: statistics.median(v) for k, v in rows.items()}
    cold = cold_start("default", paths[0])
    print(f"{len(paths)} images at input long side {personlab.size}, CPU ({pose.device_name}); "
          f"pose model {POSE_MODEL}, masks model {full.model_name}")
    print(f"{'median per image':<40}{'ms':>9}{'/ forward':>11}")
    for label, key in (("network forward", "forward"), ("decode, PersonLab (pose)", "personlab"),
                       ("decode, PoseNet (pose)", "posenet"), ("decode with masks", "with_masks"),
                       ("mask decoding adds", "masks_added")):
        print(f"{label:<40}{med[key]:>9.2f}{med[key] / med['forward']:>11.3f}")
    print(f"cold start (fresh python, numba cache on disk): start {cold['start_ms']:.0f} ms, first decode "
          f"{cold['first_decode_ms']:.0f} ms, second {cold['second_decode_ms']:.1f} ms")
    summary = {"images": len(paths), "size": personlab.size, "device": pose.device_name,
               **{f"median_{k}_ms": round(v, 2) for k, v in med.items()},
               "personlab_over_forward": round(med["personlab"] / med["forward"], 4),
               "posenet_over_forward": round(med["posenet"] / med["forward"], 4),
               "masks_added_over_forward": round(med["masks_added"] / med["forward"], 4),
               **{f"cold_{k}": round(v, 1) for k, v in cold.items()}}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
