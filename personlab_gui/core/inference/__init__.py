"""Running a model over images: ``engine`` (image -> network passes -> fused fields ->
people; settings, backends float/onnx/fp16/int8), ``batch`` (many files, pipelined, with
per-file errors and progress) and ``evaluation`` (COCO AP of a model against ground truth)."""

from .engine import Engine, InferenceSettings

__all__ = ["Engine", "InferenceSettings"]
