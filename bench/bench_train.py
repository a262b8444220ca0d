"""Training throughput on CPU at the Training tab's default settings.

    python bench/bench_train.py

Fine-tunes the default model on ``shared/data/coco_dev/train`` (41 images) through the real
training loop (``core.training.Trainer``: data loading, augmentation, targets, forward,
backward, optimizer), at the tab's default input size, batch size and data workers,
training the heads only and the whole network, in interleaved rounds (the CPU may be
shared: interleaving spreads other processes' load over both). A step's time is the wall
time between consecutive steps' ends (data loading included); each round's first steps
are warm-up; medians are over every timed step of every round.
Prints medians, images/s and the full/heads ratio, plus heads-only images/s for 0, 1 and
2 data workers, and the machine's load average before and after (other processes on a
shared CPU slow every figure); the last line is one JSON object with every figure.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from personlab_gui.core.training import HookBase, TrainConfig, Trainer
from personlab_gui.gui.training.spec import TrainingSpec

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT.parent / "shared" / "data" / "coco_dev" / "train"
WARMUP, STEPS, ROUNDS = 3, 10, 3
TAB = TrainingSpec(name="bench")


class StepTimer(HookBase):
    """Wall time between consecutive steps' ends."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._last = 0.0

    def before_train(self) -> None:
        self._last = time.perf_counter()

    def after_step(self) -> None:
        now = time.perf_counter()
        self.times.append(now - self._last)
        self._last = now


def step_times(parts: str, workers: int) -> list[float]:
    """Seconds per training step of one round, after the warm-up."""
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(train_json=str(TRAIN / "person_keypoints.json"), train_images=str(TRAIN / "images"),
                             out=str(Path(tmp) / "bench.pt"), init_model=TAB.init_model, train_parts=parts,
                             input_size=TAB.size, batch_size=TAB.batch, max_steps=WARMUP + STEPS,
                             num_workers=workers, device="cpu")
        timer = StepTimer()
        Trainer(config, hooks=[timer]).train()
    return timer.times[WARMUP:]


def median_step_s(configs: list[tuple[str, int]]) -> dict[tuple[str, int], float]:
    """Median seconds per step of each (parts, workers), over ``ROUNDS`` interleaved rounds."""
    times: dict[tuple[str, int], list[float]] = {config: [] for config in configs}
    for _ in range(ROUNDS):
        for config in configs:
            times[config] += step_times(*config)
    return {config: statistics.median(values) for config, values in times.items()}


def main() -> int:
    if not (TRAIN / "person_keypoints.json").is_file():
        print(f"no training data at {TRAIN}", file=sys.stderr)
        return 2
    load_before = os.getloadavg()[0]
    print(f"CPU threads {torch.get_num_threads()}, input {TAB.size}, batch {TAB.batch}, "
          f"workers {TAB.workers}, {ROUNDS} rounds of {STEPS} timed steps after {WARMUP} warm-up, "
          f"load {load_before:.2f}")
    others = [("heads", workers) for workers in (0, 1, 2) if workers != TAB.workers]
    medians = median_step_s([("heads", TAB.workers), ("all", TAB.workers), *others])
    heads, full = medians[("heads", TAB.workers)], medians[("all", TAB.workers)]
    print(f"heads only:    {heads * 1e3:7.0f} ms/step  {TAB.batch / heads:5.2f} img/s")
    print(f"full backbone: {full * 1e3:7.0f} ms/step  {TAB.batch / full:5.2f} img/s  ({full / heads:.2f}x heads)")
    by_workers = {}
    for workers in (0, 1, 2):
        by_workers[workers] = round(TAB.batch / medians[("heads", workers)], 3)
        print(f"heads only, {workers} data workers: {by_workers[workers]:5.2f} img/s")
    load_after = os.getloadavg()[0]
    print(f"load average (1 min) before {load_before:.2f}, after {load_after:.2f}")
    print(json.dumps({"input_size": TAB.size, "batch": TAB.batch, "workers": TAB.workers,
                      "threads": torch.get_num_threads(),
                      "heads_ms_per_step": round(heads * 1e3, 1), "full_ms_per_step": round(full * 1e3, 1),
                      "heads_img_per_s": round(TAB.batch / heads, 3), "full_img_per_s": round(TAB.batch / full, 3),
                      "full_over_heads": round(full / heads, 3), "heads_img_per_s_by_workers": by_workers,
                      "load_before": round(load_before, 2), "load_after": round(load_after, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
