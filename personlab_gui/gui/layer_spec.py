"""Layer specs as written on the command line: ``heatmap:nose,hough:all,mid:5:raw,people``.

Each comma-separated item names a layer key, then values for its options in order, each a
choice name or its index. Listed layers are shown, the others hidden (the photo always shows).
"""

from __future__ import annotations

from dataclasses import dataclass

from .layers import Layer


class LayerSpecError(ValueError):
    """A spec that names an unknown layer or choice; the message is one line."""


@dataclass(frozen=True)
class LayerChoice:
    key: str
    values: tuple[str, ...]


def parse_spec(spec: str, layers: dict[str, Layer]) -> list[LayerChoice]:
    """Parse and check ``spec`` against ``layers``; raises ``LayerSpecError``."""
    choices = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, *values = item.split(":")
        if key not in layers:
            raise LayerSpecError(f"{key}: unknown layer; choose from {', '.join(layers)}")
        options = layers[key].options
        if len(values) > len(options):
            raise LayerSpecError(f"{item}: layer {key} takes at most {len(options)} value(s)")
        for value, option in zip(values, options):
            _choice_index(key, option.choices, value)
        choices.append(LayerChoice(key, tuple(values)))
    return choices


def apply_spec(choices: list[LayerChoice], layers: dict[str, Layer]) -> None:
    """Show exactly the chosen layers (and the photo), with their option values."""
    chosen = {c.key: c for c in choices}
    for key, layer in layers.items():
        layer.visible = key in chosen or key == "image"
        for value, option in zip(chosen[key].values if key in chosen else (), layer.options):
            layer.set_option(option.label, _choice_index(key, option.choices, value))


def _choice_index(key: str, choices: tuple[str, ...], value: str) -> int:
    if value in choices:
        return choices.index(value)
    if value.isdigit() and int(value) < len(choices):
        return int(value)
    raise LayerSpecError(f"{key}:{value}: not a choice; use a name ({', '.join(choices[:4])}, ...) "
                         f"or an index 0-{len(choices) - 1}")
