"""Dock panels around the canvas: images, layers, inspector, decoding trace, settings."""
