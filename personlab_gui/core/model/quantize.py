"""int8 CPU inference: a network quantized with PyTorch's FX graph mode (x86/fbgemm kernels),
calibrated on real images and cached per checkpoint.

The backbone's convolutions run in int8 (per-channel symmetric weights, per-tensor
activations); the stem (3 input channels, inputs in [-1, 1]) and the 1x1 heads stay float,
so offsets keep their precision. Each quantized convolution is followed by ReLU6, so its
output range is calibrated on values clamped to [0, 6] (``Relu6Observer``): quantizing to
that range *is* the ReLU6. TF-'SAME' convolutions become plain ones with symmetric padding,
which is the same for the inputs the engine gives (``output_stride * n + 1`` pixels a side).

The quantized weights are cached in ``cache_dir()`` under a name made of the checkpoint's
sha256, the calibration images' digest, torch's version and the kernel engine; the file is
written atomically and read with ``weights_only=True``. A damaged cache is rebuilt with a
warning.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from .layers import Conv2dSame

CACHE_ENV = "PERSONLAB_CACHE_DIR"
CALIBRATION_ENV = "PERSONLAB_CALIBRATION_IMAGES"
#: Calibration input long side and the most images used.
CALIBRATION_SIZE, CALIBRATION_IMAGES = 641, 24
_ACTIVATION_MAX = 127           # 7-bit activations: fbgemm's u8 x s8 pairs never saturate
_WEIGHT_EPS = 1e-5              # smallest weight scale: dead channels keep an int32 bias
_FLOAT_MODULES = ("backbone.conv0", "heads")
_REPO_ROOT = Path(__file__).resolve().parents[3]
_SHARED_CALIBRATION = (("coco_dev/train/images", 16), ("people", 8))

_log = logging.getLogger(__name__)


def int8_engine() -> str | None:
    """The quantized kernel engine of this machine (x86 or fbgemm), or None."""
    engines = torch.backends.quantized.supported_engines
    return next((e for e in ("x86", "fbgemm") if e in engines), None)


def cache_dir() -> Path:
    """``$PERSONLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/personlab_gui``, else ``~/.cache/personlab_gui``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "personlab_gui"


def calibration_paths() -> list[Path]:
    """The calibration images: ``$PERSONLAB_CALIBRATION_IMAGES`` (a folder), else the
    project's shared COCO dev training images and people photos, else the bundled example."""
    from ..data.image_io import list_images
    override = os.environ.get(CALIBRATION_ENV)
    if override:
        return list_images([override])[:CALIBRATION_IMAGES]
    shared = _REPO_ROOT.parent / "shared" / "data"
    paths = [p for sub, n in _SHARED_CALIBRATION if (shared / sub).is_dir()
             for p in list_images([str(shared / sub)])[:n]]
    return paths or [_REPO_ROOT / "personlab_gui" / "data" / "astronaut.jpg"]


class Relu6Observer(torch.ao.quantization.HistogramObserver):
    """Histogram observer of a convolution's output seen through the ReLU6 that follows it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        super().forward(x.detach().clamp(0.0, 6.0))
        return x


def _qconfig_mapping() -> torch.ao.quantization.QConfigMapping:
    from torch.ao.quantization import PerChannelMinMaxObserver, QConfig, QConfigMapping
    weight = PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric,
                                                eps=_WEIGHT_EPS)
    activation = Relu6Observer.with_args(dtype=torch.quint8, quant_min=0, quant_max=_ACTIVATION_MAX)
    mapping = QConfigMapping().set_global(QConfig(activation=activation, weight=weight))
    for name in _FLOAT_MODULES:
        mapping = mapping.set_module_name(name, None)
    return mapping


def static_padding(net: nn.Module) -> nn.Module:
    """A copy of ``net`` whose TF-'SAME' convolutions are plain ``nn.Conv2d`` with symmetric
    padding (equal for odd input sides, which ``output_stride * n + 1`` inputs give)."""
    net = copy.deepcopy(net).cpu().eval()
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, Conv2dSame):
                conv = nn.Conv2d(child.in_channels, child.out_channels, child.kernel_size, child.stride,
                                 child.kernel_size[0] // 2 * child.dilation[0], child.dilation,
                                 child.groups, bias=child.bias is not None)
                conv.load_state_dict(child.state_dict())
                setattr(module, name, conv)
    return net


class QuantizedNet(nn.Module):
    """The int8 network: same inputs and output dict as ``PersonLabNet`` (float outputs)."""

    def __init__(self, graph: nn.Module, output_stride: int) -> None:
        super().__init__()
        self.graph, self.output_stride = graph, output_stride

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if any((side - 1) % self.output_stride for side in x.shape[-2:]):
            raise ValueError(f"int8 network input {tuple(x.shape[-2:])}: sides must be "
                             f"{self.output_stride} * n + 1")
        return self.graph(x.contiguous())


def _prepare(net: nn.Module, example: torch.Tensor) -> nn.Module:
    from torch.ao.quantization.quantize_fx import prepare_fx
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch.ao.quantization's deprecation notices
        return prepare_fx(static_padding(net), _qconfig_mapping(), (example,))


def _convert(prepared: nn.Module) -> nn.Module:
    from torch.ao.quantization.quantize_fx import convert_fx
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_fx(prepared)


def _calibration_inputs(paths: Sequence[Path], size: int, stride: int) -> list[torch.Tensor]:
    from ..data.image_io import load_image
    from ..data.preprocess import prepare_input
    return [torch.from_numpy(prepare_input(load_image(p), size, stride)[0])[None] for p in paths]


def calibrate(net: nn.Module, paths: Sequence[Path], size: int = CALIBRATION_SIZE) -> QuantizedNet:
    """Quantize ``net`` (a ``PersonLabNet``) with activation ranges measured on ``paths``."""
    stride = int(net.output_stride)
    inputs = _calibration_inputs(paths, size, stride)
    prepared = _prepare(net, inputs[0])
    with torch.inference_mode():
        for x in inputs:
            prepared(x)
    return QuantizedNet(_convert(prepared), stride)


def _empty_quantized(net: nn.Module) -> QuantizedNet:
    """The quantized network's structure (ranges from one tiny input), to load weights into."""
    stride = int(net.output_stride)
    prepared = _prepare(net, torch.zeros(1, 3, stride + 1, stride + 1))
    with torch.inference_mode():
        prepared(torch.zeros(1, 3, stride + 1, stride + 1))
    return QuantizedNet(_convert(prepared), stride)


def _digest(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode("utf-8", "backslashreplace") + path.read_bytes())
    return digest.hexdigest()[:16]


def cache_path(checksum: str, paths: Sequence[Path], size: int, engine: str) -> Path:
    """The cache file of a checkpoint (its tensors' sha256) calibrated on ``paths`` at ``size``."""
    name = (f"{checksum.removeprefix('sha256:')[:32]}-{_digest(paths)}-{size}-torch{torch.__version__}"
            f"-{engine}.int8.pt")
    return cache_dir() / name.replace("+", "_")


def quantized_network(net: nn.Module, checksum: str) -> QuantizedNet:
    """The int8 version of ``net`` (whose tensors' checksum is ``checksum``), from the cache
    or calibrated now and cached; ``ValueError`` when this machine has no int8 kernels."""
    from .checkpoint import atomic_torch_save
    engine = int8_engine()
    if engine is None:
        raise ValueError("int8: this PyTorch build has no x86/fbgemm quantized kernels")
    torch.backends.quantized.engine = engine
    paths = calibration_paths()
    path = cache_path(checksum, paths, CALIBRATION_SIZE, engine)
    if path.is_file():
        try:
            model = _empty_quantized(net)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # quantized tensors' TypedStorage notice
                model.graph.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return model
        except Exception as exc:  # a damaged or foreign cache file: calibrate again
            _log.warning("int8 cache %s unusable (%s); calibrating again", path, str(exc).splitlines()[0][:120])
    model = calibrate(net, paths, CALIBRATION_SIZE)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(model.graph.state_dict(), path)
    except OSError as exc:
        _log.warning("int8 cache %s not written (%s)", path, exc.strerror or exc)
    return model
