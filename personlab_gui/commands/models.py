"""``personlab-gui models``: list the model zoo and what each model's heads are trained for."""

from __future__ import annotations

import argparse
import json

from ..core.model import list_models
from ..core.model.zoo import DEFAULT_MODEL, zoo_dir
from ..core.skeleton import ALL_HEADS


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the list as JSON")


def _abilities(heads: list[str]) -> str:
    parts = []
    if {"heatmap", "short", "mid"} <= set(heads):
        parts.append("poses")
    if {"segmentation", "long"} <= set(heads):
        parts.append("instance masks")
    return " + ".join(parts) or "nothing usable"


def run(args: argparse.Namespace) -> int:
    models = list_models()
    if args.json:
        print(json.dumps([{**m, "path": str(m["path"])} for m in models], default=str))
        return 0
    print(f"model zoo: {zoo_dir()}")
    for m in models:
        default = " (default)" if m["name"] == DEFAULT_MODEL else ""
        extra = [h for h in m["trained_heads"] if h not in ALL_HEADS]  # optional heads, e.g. parts
        heads = ", ".join([h if h in m["trained_heads"] else f"{h}: untrained" for h in ALL_HEADS] + extra)
        metrics = m["meta"].get("metrics") or {}
        figures = "  ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, (int, float)))
        print(f"  {m['name']}{default}: {_abilities(m['trained_heads'])} [{heads}] {figures}".rstrip())
    return 0
