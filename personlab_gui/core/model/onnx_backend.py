"""float32 CPU inference through ONNX Runtime: the same arithmetic as PyTorch's float network
(outputs equal to float rounding, the same AP) in a fraction of its time on a CPU, since
its kernels fuse MobileNet's depthwise and pointwise convolutions with their ReLU6.

The network is exported once per checkpoint (TF-'SAME' convolutions as plain ones with
symmetric padding, exact for the engine's ``output_stride * n + 1`` inputs; batch, height
and width dynamic) and cached in ``quantize.cache_dir()`` under its tensors' sha256 and
torch's version, written atomically; a damaged cache is exported again. Needs the optional
``onnx`` and ``onnxruntime`` packages (``pip install "personlab-gui[onnx]"``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from .quantize import cache_dir, static_padding

_OPSET = 17
_log = logging.getLogger(__name__)


def onnx_available() -> bool:
    """Whether ``onnx`` (to export) and ``onnxruntime`` (to run) are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))


class _Outputs(nn.Module):
    """The network with its output dict as a tuple (``heads`` order), as ONNX wants it."""

    def __init__(self, net: nn.Module, heads: tuple[str, ...]) -> None:
        super().__init__()
        self.net, self.heads = net, heads

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net(x)
        return tuple(out[head] for head in self.heads)


class OnnxNet:
    """An ONNX Runtime session with ``PersonLabNet``'s interface: (N, 3, H, W) float inputs
    -> {head: (N, C, h, w) float tensor}."""

    def __init__(self, path: Path, heads: tuple[str, ...], output_stride: int) -> None:
        import onnxruntime
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        # idle pool threads sleep rather than spin: reading and decoding run beside the network
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.heads, self.output_stride = heads, output_stride

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if any((side - 1) % self.output_stride for side in x.shape[-2:]):
            raise ValueError(f"ONNX network input {tuple(x.shape[-2:])}: sides must be "
                             f"{self.output_stride} * n + 1")
        outputs = self.session.run(None, {"x": x.detach().cpu().contiguous().numpy()})
        return {head: torch.from_numpy(value) for head, value in zip(self.heads, outputs)}


def cache_path(checksum: str) -> Path:
    """The cached export of a checkpoint whose tensors' sha256 is ``checksum``."""
    name = f"{checksum.removeprefix('sha256:')[:32]}-torch{torch.__version__}-opset{_OPSET}.onnx"
    return cache_dir() / name.replace("+", "_")


def export(net: nn.Module, heads: tuple[str, ...], path: Path) -> None:
    """Write ``net`` (a ``PersonLabNet``) as ONNX to ``path``, atomically."""
    stride = int(net.output_stride)
    example = torch.zeros(1, 3, 2 * stride + 1, 2 * stride + 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # the TorchScript exporter's deprecation notice
            torch.onnx.export(_Outputs(static_padding(net), heads).eval(), (example,), tmp,
                              input_names=["x"], output_names=list(heads), opset_version=_OPSET,
                              dynamic_axes={"x": {0: "n", 2: "h", 3: "w"},
                                            **{h: {0: "n", 2: "gh", 3: "gw"} for h in heads}},
                              dynamo=False)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def onnx_network(net: nn.Module, heads: tuple[str, ...], checksum: str) -> OnnxNet:
    """``net`` running in ONNX Runtime, from the cache or exported now; ``ValueError`` (one
    line) when the packages are missing."""
    if not onnx_available():
        raise ValueError('onnx: needs the onnx and onnxruntime packages (pip install "personlab-gui[onnx]")')
    stride, path = int(net.output_stride), cache_path(checksum)
    if path.is_file():
        try:
            return OnnxNet(path, heads, stride)
        except Exception as exc:  # a damaged or foreign cache file: export again
            _log.warning("ONNX cache %s unusable (%s); exporting again", path, str(exc).splitlines()[0][:120])
    try:
        export(net, heads, path)
    except OSError as exc:   # an unwritable cache: export beside the temporary files instead
        _log.warning("ONNX cache %s not written (%s)", path, exc.strerror or exc)
        path = Path(tempfile.mkdtemp()) / path.name
        export(net, heads, path)
    return OnnxNet(path, heads, stride)
