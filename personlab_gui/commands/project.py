"""``personlab-gui project import|export|info|root``: COCO in and out of an annotation
project, its counts, and re-pointing it at images that moved.

Errors are one line on stderr with exit status 2 and leave the project unchanged. A new
project is built beside its path and appears only when the import succeeded (if another
process created it meanwhile, the import goes into that one). ``export`` and ``info`` only
read (a read-only project or folder works); ``export --out`` never replaces the project,
the COCO input or anything but a regular file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import InputError
from ..core.outputs import check_output
from ..core.project import Project, ProjectExistsError, database_errors
from ..core.project.coco import export_coco, import_coco


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = actions.add_parser("import", help="import a COCO file and its image folder (creates the project if missing)")
    imp.add_argument("project", help="project file (.plab)")
    imp.add_argument("--coco", required=True, help="COCO JSON (ground truth, or 'infer --format dataset' output)")
    imp.add_argument("--images", required=True, help="folder the COCO file_names are relative to (inside the project's image root)")
    imp.add_argument("--add-duplicates", action="store_true",
                     help="import people already imported into the same images (same annotation ids) again")
    exp = actions.add_parser("export", help="write the project as a COCO dataset")
    exp.add_argument("project", help="project file (.plab)")
    exp.add_argument("--out", required=True, help="COCO JSON to write")
    exp.add_argument("--reviewed-only", action="store_true", help="only the images marked reviewed")
    exp.add_argument("--rle", action="store_true", help="RLE instead of polygons for non-crowd masks")
    info = actions.add_parser("info", help="print the project's counts")
    info.add_argument("project", help="project file (.plab)")
    root = actions.add_parser("root", help="re-point the project at the folder its images moved to")
    root.add_argument("project", help="project file (.plab)")
    root.add_argument("folder", help="the image folder's new location")


def run(args: argparse.Namespace) -> int:
    try:
        with database_errors(args.project):
            return {"import": _import, "export": _export, "info": _info, "root": _root}[args.action](args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _import(args: argparse.Namespace) -> int:
    path = Path(args.project)
    try:
        with Project.build(path, args.images) as project:
            counts = import_coco(project, args.coco, args.images, args.add_duplicates)
    except ProjectExistsError:
        with Project.open(path) as project:
            counts = import_coco(project, args.coco, args.images, args.add_duplicates)
    print(f"imported {counts.images} images, {counts.people} people into {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    if check_output(args.out, [args.project]):
        print(f"replacing {args.out}", file=sys.stderr)
    with Project.open(args.project, read_only=True) as project:
        counts = export_coco(project, args.out, args.reviewed_only, args.rle)
    for warning in counts.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {counts.images} images, {counts.people} people to {args.out}")
    return 0


def _info(args: argparse.Namespace) -> int:
    with Project.open(args.project, read_only=True) as project:
        project.check_integrity()
        people = project.count_people()
        missing = " (missing: re-point it with 'personlab-gui project root')" if project.images_missing() else ""
        print(f"project     {project.path}")
        print(f"image root  {project.image_root}{missing}")
        print(f"images      {project.count_images()} ({project.count_reviewed()} reviewed)")
        print(f"people      {sum(people.values())} (" + ", ".join(f"{n} {k}" for k, n in people.items()) + ")")
    return 0


def _root(args: argparse.Namespace) -> int:
    with Project.open(args.project) as project:
        found = project.set_image_root(args.folder)
        print(f"image root  {project.image_root} ({found} of {project.count_images()} images found)")
    return 0
