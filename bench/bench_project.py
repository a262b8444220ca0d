"""Project benchmark: a synthetic 5,000-image project (3 people per image, with masks) in a
temporary folder; median time to open it, and median time to move to the next image
(``next_image`` + ``people``), over all images and over unreviewed ones (half are reviewed).

    python bench/bench_project.py [--images 5000] [--people 3] [--opens 20] [--steps 2000]

Prints the figures, then, as its last line, one JSON object with them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from personlab_gui.core.data.coco_write import mask_to_rle  # noqa: E402
from personlab_gui.core.project import PersonRecord, Project  # noqa: E402
from personlab_gui.core.skeleton import K  # noqa: E402

IMAGE_HW = (480, 640)


def build(folder: Path, n_images: int, n_people: int) -> Path:
    """Write ``n_images`` tiny image files and a project over them; return its path."""
    root = folder / "images"
    root.mkdir()
    png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    names = [f"{i:05d}.png" for i in range(n_images)]
    for name in names:
        (root / name).write_bytes(png)
    rng = np.random.default_rng(0)
    with Project.create(folder / "bench.plab", root) as project, project.transaction():
        ids = project.add_images(names, [IMAGE_HW[::-1]] * n_images)
        for image_id in ids:
            for _ in range(n_people):
                project.add_person(image_id, _random_person(rng))
        for image_id in ids[::2]:
            project.set_review(image_id, True)
    return folder / "bench.plab"


def _random_person(rng: np.random.Generator) -> PersonRecord:
    keypoints = np.column_stack([rng.uniform(0, IMAGE_HW[1], K), rng.uniform(0, IMAGE_HW[0], K),
                                 rng.choice([0, 1, 2], K)])
    mask = np.zeros(IMAGE_HW, dtype=np.uint8)
    centre = (int(rng.integers(100, 540)), int(rng.integers(100, 380)))
    cv2.ellipse(mask, centre, (60, 100), 0, 0, 360, 1, -1)
    return PersonRecord(keypoints, mask_to_rle(mask.astype(bool)), score=float(rng.uniform()),
                        provenance="predicted", model="bench", settings={"size": 801})


def median_open_ms(path: Path, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        project = Project.open(path)
        times.append(time.perf_counter() - start)
        project.close()
    return 1e3 * statistics.median(times)


def median_next_ms(path: Path, steps: int, unreviewed_only: bool) -> float:
    """Median of next_image + people(image), walking forward and wrapping at the end."""
    times = []
    with Project.open(path) as project:
        current = None
        for _ in range(steps):
            start = time.perf_counter()
            current = project.next_image(current, unreviewed_only) or project.next_image(None, unreviewed_only)
            project.people(current)
            times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--people", type=int, default=3)
    parser.add_argument("--opens", type=int, default=20)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path = build(Path(tmp), args.images, args.people)
        build_s = time.perf_counter() - start
        figures = {"images": args.images, "people": args.images * args.people,
                   "file_mb": round(path.stat().st_size / 2 ** 20, 2), "build_s": round(build_s, 2),
                   "open_ms": round(median_open_ms(path, args.opens), 3),
                   "next_ms": round(median_next_ms(path, args.steps, False), 3),
                   "next_unreviewed_ms": round(median_next_ms(path, args.steps, True), 3)}
    print(f"{figures['images']} images, {figures['people']} people, {figures['file_mb']} MB, "
          f"built in {figures['build_s']} s")
    print(f"median open                      {figures['open_ms']:.3f} ms")
    print(f"median next image + people       {figures['next_ms']:.3f} ms")
    print(f"median next unreviewed + people  {figures['next_unreviewed_ms']:.3f} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
