"""The headless algorithm core (no Qt), in layers; a package imports only those above it:

* ``skeleton``, ``errors``, ``outputs``, ``interrupts``, ``distributed``: keypoints and the
  tensor layout, one-line errors, safe output paths, signals, torchrun's process group;
* ``data``: images, network inputs, COCO read/write/evaluate, masks, labels, training data;
* ``decoding``: fields -> people (Hough voting, refinement, greedy decoding, masks);
* ``model``: the network, checkpoints, the zoo, devices, int8 and batched running;
* ``inference``: the engine (image -> people), batches of files, evaluation of a model;
* ``training``: the hooked training loop, its losses, distillation and resume state;
* ``project``: the SQLite annotation project, its COCO import/export and splits.
"""
