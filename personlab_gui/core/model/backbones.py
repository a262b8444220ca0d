"""Backbone registry: named feature extractors for ``PersonLabNet``.

A backbone is an ``nn.Module`` mapping (N, 3, H, W) to (N, out_channels, h, w) and exposing
``out_channels`` and ``output_stride``; output cell (i, j) must sit on input pixel
(output_stride * j, output_stride * i) for inputs of size output_stride * n + 1.
Register one with ``@register_backbone("name")`` on a factory in a module listed in
``_BUILTIN_MODULES`` (e.g. a future ResNet with output stride 8 or 16).
"""

from __future__ import annotations

import importlib
from typing import Callable

from torch import nn

BackboneFactory = Callable[..., nn.Module]

#: name -> factory; populated by ``register_backbone``.
BACKBONES: dict[str, BackboneFactory] = {}

_BUILTIN_MODULES = ("mobilenet",)


def register_backbone(name: str) -> Callable[[BackboneFactory], BackboneFactory]:
    """Decorator registering a backbone factory under ``name``."""
    def decorate(factory: BackboneFactory) -> BackboneFactory:
        if name in BACKBONES:
            raise ValueError(f"backbone '{name}' is already registered")
        BACKBONES[name] = factory
        return factory
    return decorate


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(f"{__package__}.{module}")


def available_backbones() -> list[str]:
    """Names of all registered backbones."""
    _load_builtins()
    return sorted(BACKBONES)


def build_backbone(name: str, **kwargs) -> nn.Module:
    """Instantiate the backbone registered as ``name``."""
    _load_builtins()
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone '{name}'; available: {', '.join(sorted(BACKBONES))}")
    return BACKBONES[name](**kwargs)
