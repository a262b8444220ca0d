"""The headless algorithm core: model, decoding, targets, COCO I/O and training. No Qt here."""
