"""Convert Google's BodyPix 2 (MobileNetV1 0.75, int8 TFLite) into ``model_zoo/bodypix_mnv1_075.pt``.

Source: ``bodypix_mobilenet_v1_075_720_1280_16_quant.tflite`` (google-coral/project-bodypix,
Apache-2.0), parsed with the ``tflite`` package (a conversion-time dependency only:
``pip install tflite``). Weights are int8 per output channel and biases int32; both are
dequantized exactly (bias scale = input scale x weight scale of its channel, checked).
The 14 backbone layers map one to one onto ``PersonLabNet("mobilenet_v1_075")``; the six
heads are reordered from BodyPix's layout to the project's (``personlab_gui.core.skeleton``),
with the channel orders measured on COCO ground truth (``model_zoo/bodypix_layout.py``,
evidence in ``model_zoo/README.md``).

    python model_zoo/convert_bodypix.py [--tflite PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from personlab_gui.core.model import PersonLabNet, save_checkpoint  # noqa: E402
from personlab_gui.core.skeleton import ALL_HEADS, K, N_EDGES  # noqa: E402

SOURCE_NAME = "bodypix_mobilenet_v1_075_720_1280_16_quant.tflite"
DEFAULT_SOURCE = ROOT.parent / "shared" / "models" / "bodypix" / SOURCE_NAME
DEFAULT_OUT = ROOT / "model_zoo" / "bodypix_mnv1_075.pt"
REPOSITORY = "google-coral/project-bodypix"
COMMIT = "a46c428d729741c82f64550d742b2c65fe92999b"
N_BLOCKS = 13
#: BodyPix head (TFLite graph output or displacement conv) -> project head.
HEAD_SOURCES = {"heatmap": "float_heatmaps", "short": "float_short_offsets",
                "segmentation": "float_segments", "long": "float_long_offsets",
                "parts": "float_part_heatmaps"}
#: For each project directed edge c (``skeleton.DIRECTED_EDGES``), the BodyPix mid-range
#: vector that predicts it: vectors 0..15 are displacement_fwd, 16..31 displacement_bwd.
#: Measured (README: "Mid-range edge order"): PoseNet's order, except that BodyPix's vector 5
#: of each block is nose-right shoulder (PoseNet's edge 10) and its vectors 6..10 are
#: PoseNet's edges 5..9 (left arm, left torso side, left leg).
_FWD_VECTORS = np.array([0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 5, 11, 12, 13, 14, 15])
EDGE_VECTORS = np.concatenate([_FWD_VECTORS, _FWD_VECTORS + N_EDGES])


@dataclass
class Layer:
    """One dequantized convolution: TFLite kernel layout, float32."""

    weight: np.ndarray   # conv [Cout, kh, kw, Cin]; depthwise [1, kh, kw, C]
    bias: np.ndarray     # [Cout]
    depthwise: bool


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tensor_array(model, graph, index: int, dtype: str) -> np.ndarray:
    tensor = graph.Tensors(index)
    raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
    return np.frombuffer(raw.tobytes(), dtype).reshape(tensor.ShapeAsNumpy())


def _scales(graph, index: int) -> np.ndarray:
    q = graph.Tensors(index).Quantization()
    if q.ZeroPointLength() and np.any(q.ZeroPointAsNumpy()):
        raise ValueError(f"tensor {graph.Tensors(index).Name().decode()}: non-zero weight zero point")
    return q.ScaleAsNumpy().astype(np.float64)


def _dequantize(model, graph, op, depthwise: bool) -> Layer:
    """Weights q * s[c] along the output-channel axis; bias q * s_in * s[c] (scale checked)."""
    inp, wi, bi = (int(i) for i in op.InputsAsNumpy())
    w_scale, b_scale = _scales(graph, wi), _scales(graph, bi)
    in_scale = float(graph.Tensors(inp).Quantization().ScaleAsNumpy()[0])
    if not np.allclose(b_scale, in_scale * w_scale, rtol=1e-5, atol=0):
        raise ValueError(f"op {graph.Tensors(wi).Name().decode()}: bias scale != input x weight scale")
    axis_shape = (1, 1, 1, -1) if depthwise else (-1, 1, 1, 1)
    weight = _tensor_array(model, graph, wi, "<i1") * w_scale.reshape(axis_shape)
    bias = _tensor_array(model, graph, bi, "<i4") * (in_scale * w_scale)
    return Layer(weight.astype(np.float32), bias.astype(np.float32), depthwise)


def _layer_key(weight_name: str) -> str:
    """'MobilenetV1/Conv2d_3_depthwise/...' -> 'Conv2d_3_depthwise'; heads -> their output name."""
    match = (re.match(r"MobilenetV1/(Conv2d_\d+(?:_depthwise|_pointwise)?)/", weight_name)
             or re.match(r"MobilenetV1/(displacement_(?:fwd|bwd))_2/", weight_name)
             or re.match(r"(float_\w+)/conv$", weight_name))
    if match is None:
        raise ValueError(f"unexpected layer {weight_name!r}")
    return match.group(1)


def read_layers(data: bytes) -> dict[str, Layer]:
    """Every CONV_2D / DEPTHWISE_CONV_2D of the flatbuffer, dequantized, by layer key.

    Raises ValueError when the data is not BodyPix's MobileNetV1 graph."""
    try:
        layers = _read_convolutions(data)
    except ValueError:
        raise
    except Exception as exc:  # the flatbuffer reader raises assorted errors on foreign bytes
        raise ValueError(f"not a TFLite flatbuffer ({type(exc).__name__}: {exc})") from None
    expected = {"Conv2d_0", "displacement_fwd", "displacement_bwd", *HEAD_SOURCES.values(),
                *(f"Conv2d_{i}_{kind}" for i in range(1, N_BLOCKS + 1) for kind in ("depthwise", "pointwise"))}
    missing = sorted(expected - set(layers))
    if missing:
        raise ValueError(f"not BodyPix's MobileNetV1 graph (no layer {', '.join(missing[:3])})")
    return layers


def _read_convolutions(data: bytes) -> dict[str, Layer]:
    import tflite  # conversion-time dependency only

    model = tflite.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    kinds = {tflite.BuiltinOperator.CONV_2D: False, tflite.BuiltinOperator.DEPTHWISE_CONV_2D: True}
    layers = {}
    for j in range(graph.OperatorsLength()):
        op = graph.Operators(j)
        code = model.OperatorCodes(op.OpcodeIndex())
        depthwise = kinds.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
        if depthwise is None:
            continue
        name = graph.Tensors(int(op.InputsAsNumpy()[1])).Name().decode()
        layers[_layer_key(name)] = _dequantize(model, graph, op, depthwise)
    return layers


def torch_kernel(layer: Layer) -> np.ndarray:
    """TFLite conv [Cout, kh, kw, Cin] -> [Cout, Cin, kh, kw]; depthwise [1, kh, kw, C] -> [C, 1, kh, kw]."""
    return layer.weight.transpose(3, 0, 1, 2) if layer.depthwise else layer.weight.transpose(0, 3, 1, 2)


def backbone_state(layers: dict[str, Layer]) -> dict[str, np.ndarray]:
    """Conv2d_0 -> conv0; Conv2d_{i}_depthwise / _pointwise -> blocks.{i-1}."""
    names = {"conv0": "Conv2d_0"}
    for i in range(N_BLOCKS):
        names[f"blocks.{i}.depthwise"] = f"Conv2d_{i + 1}_depthwise"
        names[f"blocks.{i}.pointwise"] = f"Conv2d_{i + 1}_pointwise"
    state = {}
    for ours, theirs in names.items():
        state[f"backbone.{ours}.weight"] = torch_kernel(layers[theirs])
        state[f"backbone.{ours}.bias"] = layers[theirs].bias
    return state


def yx_to_pairs(n: int) -> np.ndarray:
    """Gather index: BodyPix [n dy, n dx] channels -> (dx, dy) pairs."""
    return np.stack([np.arange(n) + n, np.arange(n)], axis=1).reshape(-1)


def mid_order(edge_vectors: np.ndarray) -> np.ndarray:
    """Gather index from BodyPix's mid output (fwd [16 dy | 16 dx], then bwd likewise) to the
    project's (dx, dy) pairs of directed edge c, taken from vector ``edge_vectors[c]``."""
    block, vector = np.divmod(edge_vectors, N_EDGES)
    dy = block * 2 * N_EDGES + vector
    return np.stack([dy + N_EDGES, dy], axis=1).reshape(-1)


def head_state(layers: dict[str, Layer], raw: bool = False) -> dict[str, np.ndarray]:
    """Head parameters in the project's layout (``raw``: in BodyPix's own channel order)."""
    heads = {name: layers[source] for name, source in HEAD_SOURCES.items()}
    fwd, bwd = layers["displacement_fwd"], layers["displacement_bwd"]
    heads["mid"] = Layer(np.concatenate([fwd.weight, bwd.weight]), np.concatenate([fwd.bias, bwd.bias]), False)
    orders = {"short": yx_to_pairs(K), "long": yx_to_pairs(K), "mid": mid_order(EDGE_VECTORS)}
    state = {}
    for name, layer in heads.items():
        order = np.arange(len(layer.bias)) if raw else orders.get(name, np.arange(len(layer.bias)))
        state[f"heads.{name}.weight"] = torch_kernel(layer)[order]
        state[f"heads.{name}.bias"] = layer.bias[order]
    return state


def build_model(layers: dict[str, Layer], raw: bool = False) -> PersonLabNet:
    """PersonLabNet with the parts head and BodyPix's weights (``raw``: heads in BodyPix order)."""
    model = PersonLabNet("mobilenet_v1_075", extra_heads=("parts",))
    state = {**backbone_state(layers), **head_state(layers, raw)}
    current = model.state_dict()
    if set(state) != set(current):
        raise ValueError(f"parameters differ: {sorted(set(state) ^ set(current))[:4]}")
    for name, value in state.items():
        if current[name].shape != value.shape:
            raise ValueError(f"{name}: {value.shape} vs {tuple(current[name].shape)}")
        current[name] = torch.from_numpy(np.ascontiguousarray(value))
    model.load_state_dict(current)
    return model.eval()


def convert(source: Path, out: Path) -> None:
    data = source.read_bytes()
    model = build_model(read_layers(data))
    meta = {
        "parent": None,
        "source": f"{REPOSITORY}@{COMMIT}: models/{SOURCE_NAME}",
        "license": "Apache-2.0 (Google BodyPix 2, via google-coral/project-bodypix)",
        "sha256": {SOURCE_NAME: sha256(data)},
        "date": datetime.date.today().isoformat(),
        "converter": "model_zoo/convert_bodypix.py",
        "input_normalisation": "BodyPix was trained on (u - 128) / 128; the project feeds u / 127.5 - 1",
        "notes": "int8 per-channel weights and int32 biases dequantized exactly; all six heads trained by Google",
        # its long-range field decodes best with the paper's two self-refinement steps
        # (coco_dev/val mask AP 0.223 vs 0.197 with one; model_zoo/README.md)
        "decoding": {"long_self_steps": 2},
    }
    save_checkpoint(out, model, [*ALL_HEADS, "parts"], meta)
    print(f"wrote {out} (sha256 {sha256(out.read_bytes())})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tflite", type=Path, default=DEFAULT_SOURCE, help="the BodyPix .tflite file")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    try:
        convert(args.tflite, args.out)
    except ModuleNotFoundError as exc:
        sys.exit(f"{exc.name} is not installed: pip install -e \".[convert]\"")
    except (OSError, ValueError) as exc:
        sys.exit(f"{args.tflite}: {getattr(exc, 'strerror', None) or exc}")


if __name__ == "__main__":
    main()
