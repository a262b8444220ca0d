"""Decoder benchmark on CPU at the default input size: network forward, PersonLab and PoseNet
decoding, mask decoding (``segment.add_masks``) and the numba cold-start cost.

    python bench/bench_decode.py

Images: ``shared/data/coco_dev/val/images`` (the bundled astronaut when that is absent).
Masks are timed on the model's own segmentation and long-range fields when it has trained
them, else on perfect fields built from the ground truth (from the decoded poses, with
keypoint boxes as masks, for the astronaut). Prints a table of medians, then, as its last
line, one JSON object with them.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import numpy as np  # noqa: E402

from perfect_maps import perfect_field_maps  # noqa: E402
from personlab_gui.core.coco_io import load_coco  # noqa: E402
from personlab_gui.core.engine import Engine, FieldMaps, InferenceSettings, decode_fields  # noqa: E402
from personlab_gui.core.image_io import load_image  # noqa: E402
from personlab_gui.core.refine import refine_long  # noqa: E402
from personlab_gui.core.result import Person  # noqa: E402
from personlab_gui.core.segment import add_masks  # noqa: E402

VAL = ROOT.parent / "shared" / "data" / "coco_dev" / "val"
ASTRONAUT = ROOT / "personlab_gui" / "data" / "astronaut.jpg"
REPEATS = 5
COLD_SCRIPT = """
import json, sys, time
import numpy as np
t0 = time.perf_counter()
from personlab_gui.core.engine import FieldMaps, InferenceSettings, decode_fields
from personlab_gui.core.preprocess import InputTransform
t1 = time.perf_counter()
def maps(path):
    z = np.load(path)
    hw, r, i = (tuple(int(v) for v in z[k]) for k in ("image_hw", "resized_hw", "input_hw"))
    fields = {k[2:]: z[k] for k in z.files if k.startswith("f_")}
    return FieldMaps(hw, InputTransform(hw, r, i), fields, 0.0, 0.0, tuple(fields))
out = {"import_ms": (t1 - t0) * 1e3}
for name in ("pose", "masks"):
    m = maps(sys.argv[1] + "/" + name + ".npz")
    t = time.perf_counter()
    decode_fields(m, InferenceSettings())
    out[name + "_first_decode_ms"] = (time.perf_counter() - t) * 1e3
print(json.dumps(out))
"""


def images_and_annotations() -> list[tuple[np.ndarray, list[dict] | None]]:
    """(RGB image, its person annotations or None) for every benchmark image."""
    if not VAL.is_dir():
        return [(load_image(ASTRONAUT), None)]
    gt = load_coco(VAL / "person_keypoints.json")
    return [(load_image(VAL / "images" / image["file_name"]),
             [a for a in gt["annotations"] if a["image_id"] == image["id"]])
            for image in gt["images"]]


def pseudo_annotations(people: list[Person]) -> list[dict]:
    """COCO annotations from decoded poses: keypoints scoring > 0.2, keypoint box as mask."""
    anns = []
    for p in people:
        kept = p.keypoints[:, 2] > 0.2
        if kept.sum() < 2:
            continue
        (x0, y0), (x1, y1) = p.keypoints[kept, :2].min(axis=0), p.keypoints[kept, :2].max(axis=0)
        keypoints = np.where(kept[:, None], np.c_[p.keypoints[:, :2], np.full(len(kept), 2)], 0)
        anns.append({"keypoints": keypoints.ravel().tolist(), "iscrowd": 0,
                     "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]]})
    return anns


def mask_maps(engine: Engine, maps: FieldMaps, anns: list[dict] | None, people: list[Person]) -> FieldMaps:
    """Field maps with segmentation and long-range fields: the model's own, else perfect ones."""
    if {"segmentation", "long"} <= set(engine.trained_heads):
        return maps
    return perfect_field_maps(anns if anns is not None else pseudo_annotations(people), maps.image_hw)


def decode_ms(engine: Engine, maps: FieldMaps, settings: InferenceSettings) -> float:
    """Median ``result.decode_ms`` (field fusion included) over repeated decodes."""
    engine.decode(maps, settings)
    return statistics.median(engine.decode(maps, settings).decode_ms for _ in range(REPEATS))


def time_ms(fn, repeats: int = REPEATS) -> float:
    """Median wall time of ``fn()`` in ms (after one untimed call)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def mask_timings(maps: FieldMaps) -> dict[str, float]:
    """Median add_masks and refine_long times, timed alternately (so that their difference,
    the mask decoding outside refine_long, is paired against load swings), and people."""
    decoded = decode_fields(maps, InferenceSettings())
    seg, long = maps.fields["segmentation"], maps.fields["long"]
    masks, refine = [], []
    for _ in range(REPEATS + 1):
        masks.append(time_ms(lambda: add_masks(decoded, seg, long), 1))
        refine.append(time_ms(lambda: refine_long(long, decoded.short, decoded.field_stride), 1))
    rest = [m - r for m, r in zip(masks, refine)]
    return {"masks_ms": statistics.median(masks), "refine_long_ms": statistics.median(refine),
            "masks_without_refine_ms": statistics.median(rest), "people": len(decoded.people)}


def in_process(engine: Engine, items: list) -> tuple[dict[str, list[float]], FieldMaps, FieldMaps]:
    """Per-image timings, plus the pose and mask field maps of the image with most people."""
    figures: dict[str, list[float]] = {k: [] for k in (
        "forward_ms", "fuse_ms", "decode_personlab_ms", "decode_posenet_ms", "masks_ms",
        "refine_long_ms", "masks_without_refine_ms", "people")}
    posenet = InferenceSettings(decoder="posenet")
    engine.run(items[0][0])                                            # warm-up
    busiest = (-1, None, None)
    for image, anns in items:
        maps = engine.forward(image, InferenceSettings())
        result = engine.decode(maps, InferenceSettings())
        figures["forward_ms"].append(result.forward_ms)
        figures["fuse_ms"].append(maps.fuse_ms)
        figures["decode_personlab_ms"].append(decode_ms(engine, maps, InferenceSettings()))
        figures["decode_posenet_ms"].append(decode_ms(engine, maps, posenet))
        full = mask_maps(engine, maps, anns, result.people)
        for name, value in mask_timings(full).items():
            figures[name].append(value)
        if len(result.people) > busiest[0]:
            busiest = (len(result.people), maps, full)
    return figures, busiest[1], busiest[2]


def save_maps(path: Path, maps: FieldMaps) -> None:
    t = maps.transform
    np.savez(path, image_hw=t.image_hw, resized_hw=t.resized_hw, input_hw=t.input_hw,
             **{f"f_{k}": v for k, v in maps.fields.items()})


def cold_start(pose: FieldMaps, masks: FieldMaps) -> dict[str, float]:
    """First decodes in a fresh interpreter with the numba cache on disk (run twice: the first
    run fills the cache should it be missing); also the whole subprocess wall time."""
    with tempfile.TemporaryDirectory() as folder:
        save_maps(Path(folder) / "pose.npz", pose)
        save_maps(Path(folder) / "masks.npz", masks)
        command = [sys.executable, "-c", COLD_SCRIPT, folder]
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        t0 = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
        wall = (time.perf_counter() - t0) * 1e3
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "subprocess_wall_ms": wall}


def main() -> None:
    engine = Engine("default", "cpu")
    items = images_and_annotations()
    figures, pose, masks = in_process(engine, items)
    medians = {k: statistics.median(v) for k, v in figures.items()}
    warm_pose = time_ms(lambda: decode_fields(pose, InferenceSettings()))
    warm_masks = time_ms(lambda: decode_fields(masks, InferenceSettings()))
    cold = cold_start(pose, masks)
    forward = medians["forward_ms"]
    rows = [("network forward", forward), ("decode, personlab", medians["decode_personlab_ms"]),
            ("decode, posenet", medians["decode_posenet_ms"]),
            ("  of which field fusion", medians["fuse_ms"]),
            ("mask decoding (add_masks)", medians["masks_ms"]),
            ("  refine_long alone", medians["refine_long_ms"]),
            ("  add_masks minus refine_long", medians["masks_without_refine_ms"])]
    print(f"model {engine.model_name} on {engine.device_name}, {len(items)} images at "
          f"{InferenceSettings().size} px, heads {','.join(engine.trained_heads)}; masks on "
          f"{'model' if masks is pose else 'perfect'} fields, median {medians['people']:.0f} people")
    print(f"{'median over images':<30}{'ms':>10}{'/ forward':>12}")
    for name, ms in rows:
        print(f"{name:<30}{ms:>10.2f}{ms / forward:>12.3f}")
    print("numba cold start (fresh python, on-disk cache present):")
    print(f"  import engine {cold['import_ms']:.0f} ms; first decode {cold['pose_first_decode_ms']:.1f} ms "
          f"(warm {warm_pose:.1f} ms); first decode with masks {cold['masks_first_decode_ms']:.1f} ms "
          f"(warm {warm_masks:.1f} ms); whole subprocess {cold['subprocess_wall_ms']:.0f} ms")
    summary = {"model": engine.model_name, "device": engine.device_name, "images": len(items),
               "size": InferenceSettings().size, "median_people_masks": medians["people"],
               "mask_fields": "model" if masks is pose else "perfect",
               **{f"median_{k}": round(v, 3) for k, v in medians.items() if k != "people"},
               "decode_personlab_over_forward": round(medians["decode_personlab_ms"] / forward, 4),
               "decode_posenet_over_forward": round(medians["decode_posenet_ms"] / forward, 4),
               "masks_over_forward": round(medians["masks_ms"] / forward, 4),
               "cold_import_ms": round(cold["import_ms"], 1),
               "cold_first_decode_ms": round(cold["pose_first_decode_ms"], 2),
               "warm_decode_ms": round(warm_pose, 2),
               "cold_first_decode_masks_ms": round(cold["masks_first_decode_ms"], 2),
               "warm_decode_masks_ms": round(warm_masks, 2),
               "cold_subprocess_wall_ms": round(cold["subprocess_wall_ms"], 1)}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
