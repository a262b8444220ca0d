"""Data in and out of the core, and nothing that runs a network or a decoder: images
(``image_io``: robust loading; ``preprocess``: network inputs and the exact coordinate map),
COCO files (``coco_read``: parse and validate; ``coco_write``: people to COCO records, masks
to RLE or polygons, atomic JSON; ``coco_eval``: quiet COCOeval), ``rle`` and ``boxes`` for
masks, ``pseudo_labels`` (which decoded people may become labels), and for training the
``targets`` and ``dataset``."""

from .coco_read import load_coco
from .image_io import list_images, load_image

__all__ = ["list_images", "load_coco", "load_image"]
