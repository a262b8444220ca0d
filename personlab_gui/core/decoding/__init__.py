"""From network fields to people, in numpy and numba (no network, no Qt): test-time
variants fused (``fields``), Hough voting (``hough``), offset refinement (``refine``), the
greedy decoder with part NMS and expected-OKS scores (``greedy``) and PoseNet's (``posenet``),
masks, embeddings and basins (``segment``), the decoder's trace (``trace``), model-assisted
corrections (``assist``), the per-image ``result``, and the numba kernels' one-time
preparation (``jit``)."""

from .result import InferenceResult, Person

__all__ = ["InferenceResult", "Person"]
