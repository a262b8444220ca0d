"""``personlab-gui project import|export|info``: COCO in and out of an annotation project.

Errors are one line on stderr with exit status 2, and leave the project unchanged (a
project that ``import`` was creating is removed again).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import InputError
from ..core.project import Project
from ..core.project_coco import export_coco, import_coco


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = actions.add_parser("import", help="import a COCO file and its image folder (creates the project if missing)")
    imp.add_argument("project", help="project file (.plab)")
    imp.add_argument("--coco", required=True, help="COCO JSON (ground truth, or 'infer --format dataset' output)")
    imp.add_argument("--images", required=True, help="folder the COCO file_names are relative to (inside the project's image root)")
    exp = actions.add_parser("export", help="write the project as a COCO dataset")
    exp.add_argument("project", help="project file (.plab)")
    exp.add_argument("--out", required=True, help="COCO JSON to write")
    exp.add_argument("--reviewed-only", action="store_true", help="only the images marked reviewed")
    exp.add_argument("--rle", action="store_true", help="RLE instead of polygons for non-crowd masks")
    info = actions.add_parser("info", help="print the project's counts")
    info.add_argument("project", help="project file (.plab)")


def run(args: argparse.Namespace) -> int:
    try:
        return {"import": _import, "export": _export, "info": _info}[args.action](args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _import(args: argparse.Namespace) -> int:
    path = Path(args.project)
    created = not path.exists()
    try:
        with Project.create(path, args.images) if created else Project.open(path) as project:
            counts = import_coco(project, args.coco, args.images)
    except BaseException:
        if created:
            _remove_project(path)
        raise
    print(f"imported {counts.images} images, {counts.people} people into {path}")
    return 0


def _remove_project(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _export(args: argparse.Namespace) -> int:
    with Project.open(args.project) as project:
        counts = export_coco(project, args.out, args.reviewed_only, args.rle)
    print(f"wrote {counts.images} images, {counts.people} people to {args.out}")
    return 0


def _info(args: argparse.Namespace) -> int:
    with Project.open(args.project) as project:
        people = project.count_people()
        print(f"project     {project.path}")
        print(f"image root  {project.image_root}")
        print(f"images      {project.count_images()} ({project.count_reviewed()} reviewed)")
        print(f"people      {sum(people.values())} (" + ", ".join(f"{n} {k}" for k, n in people.items()) + ")")
    return 0
