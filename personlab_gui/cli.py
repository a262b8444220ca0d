"""PersonLab Studio command line: ``personlab-gui <command>``; with no command, the GUI.

Each subcommand lives in ``personlab_gui.commands.<name>`` with ``configure(parser)`` and
``run(args) -> int``; modules import lazily so ``--help`` and the GUI start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .core.interrupts import Terminated, forget_unhandled_interrupt, stop_handlers

COMMANDS = {
    "infer": "run the model on images or folders and write COCO JSON",
    "eval": "evaluate a model against COCO ground truth (keypoint and mask AP)",
    "train": "train or fine-tune a model (runs under torchrun unchanged)",
    "models": "list the model zoo",
    "render": "render the viewer canvas with chosen layers to a PNG",
    "project": "import/export COCO into an annotation project",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="personlab-gui",
        description="PersonLab Studio: multi-person pose estimation and instance segmentation. "
                    "Without a command (or with image paths) it opens the GUI.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, doc in COMMANDS.items():
        module = importlib.import_module(f"personlab_gui.commands.{name}")
        module.configure(sub.add_parser(name, help=doc, description=doc))
    return parser


def _start_gui(argv: list[str]) -> int:
    from .gui.app import run_app
    return run_app(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``personlab-gui`` console script. Under torchrun the process ends
    here, once its command has returned (``Distributed.leave``)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS and not argv[0].startswith("-"):
        return _start_gui(argv)
    status = _run_command(argv)
    if "WORLD_SIZE" in os.environ:
        from .core.distributed import Distributed
        return Distributed.from_env().leave(status)
    return status


def _run_command(argv: list[str]) -> int:
    try:
        with stop_handlers():
            args = build_parser().parse_args(argv)
            if args.command is not None:
                module = importlib.import_module(f"personlab_gui.commands.{args.command}")
                return module.run(args)
    except KeyboardInterrupt as exc:  # also SIGTERM (Terminated), e.g. while the model loads
        forget_unhandled_interrupt()
        terminated = isinstance(exc, Terminated)
        print("terminated" if terminated else "interrupted", file=sys.stderr)
        return 143 if terminated else 130
    return _start_gui([])
