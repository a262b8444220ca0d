"""Viewer benchmark (offscreen): time from opening an image to its first drawn result,
and canvas repaint time while panning and zooming over a 1920x1080 image with every layer
the model can produce switched on.

    python bench/bench_gui.py [--model default] [--image PATH] [--frames 120]

Prints the figures, then, as its last line, one JSON object with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PySide6 import QtCore  # noqa: E402

from personlab_gui.core.data.image_io import load_image  # noqa: E402
from personlab_gui.gui.app import EXAMPLE_IMAGE, application  # noqa: E402

SHARED_PEOPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "people"
IMAGE_WH = (1920, 1080)
WINDOW_WH = (1600, 1000)


def wait_for(app, condition, timeout: float = 120.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError("no result in time")
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 5)


def write_test_images(source: Path, folder: Path) -> list[Path]:
    """Two different 1920x1080 images (the source and its mirror image)."""
    image = cv2.resize(load_image(source), IMAGE_WH, interpolation=cv2.INTER_CUBIC)
    paths = [folder / "bench_a.png", folder / "bench_b.png"]
    for path, variant in zip(paths, (image, image[:, ::-1])):
        cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(variant), cv2.COLOR_RGB2BGR))
    return paths


def open_and_draw_ms(app, window, path: Path) -> float:
    """Milliseconds from ``open_paths`` to the result drawn on the canvas."""
    start = time.perf_counter()
    window.open_paths([str(path)])
    wait_for(app, lambda: window.session.result is not None and window.session.current_path == str(path))
    window.canvas.viewport().repaint()
    return (time.perf_counter() - start) * 1e3


def switch_everything_on(window) -> list[str]:
    """Every layer the result supports, with its heaviest choice; returns their keys."""
    result = window.session.result
    for layer in window.layers.values():
        for option in layer.options:
            if "all" in option.choices:   # every keypoint type, every person
                layer.set_option(option.label, option.choices.index("all"))
        layer.visible = True
    window.session.set_probe(np.array([IMAGE_WH[0] / 2, IMAGE_WH[1] / 2]))
    window.session.set_trace_step(len(result.trace) // 2)
    return [k for k, layer in window.layers.items() if layer.shown]


def camera_moves(frames: int) -> list[tuple[str, float, float]]:
    """Zoom in to ~6x about the centre while panning in a circle, then back out."""
    half = frames // 2
    zoom_in = [("zoom", 0.97, 0.97)] * half
    return [move for pair in zip(zoom_in + [("zoom", 1 / 0.97, 1 / 0.97)] * (frames - half),
                                 [("pan", 12 * np.cos(i / 6), 12 * np.sin(i / 6)) for i in range(frames)])
            for move in pair]


def timed_paints(canvas) -> tuple[list[float], list[float]]:
    """Record every canvas paint event's wall-clock and main-thread CPU milliseconds.

    On a shared machine the wall clock includes time other processes took the core; the
    thread's CPU time is what the paint itself costs."""
    wall: list[float] = []
    cpu: list[float] = []
    paint = canvas.paintEvent

    def timed(event) -> None:
        start, start_cpu = time.perf_counter(), time.thread_time()
        paint(event)
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.thread_time() - start_cpu) * 1e3)

    canvas.paintEvent = timed
    return wall, cpu


def paint_times(app, window, frames: int) -> tuple[list[float], list[float], list[float]]:
    """(frame ms: one camera move, every layer's reaction and the resulting repaint, as the
    event loop runs them; each paint event's wall-clock ms; its CPU ms)."""
    canvas, frame_ms = window.canvas, []
    canvas.fit()
    app.processEvents()
    paints, paints_cpu = timed_paints(canvas)
    for kind, a, b in camera_moves(frames):
        start = time.perf_counter()
        if kind == "zoom":
            canvas.view.scaleBy((a, b))
        else:
            canvas.view.translateBy(x=a * canvas.pixel_size(), y=b * canvas.pixel_size())
        for _ in range(3):   # scene bookkeeping, the update request, the paint
            app.processEvents()
        frame_ms.append((time.perf_counter() - start) * 1e3)
    return frame_ms, paints, paints_cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    people = sorted(SHARED_PEOPLE.glob("human_group-*.jpg"))
    parser.add_argument("--image", type=Path, default=people[0] if people else EXAMPLE_IMAGE)
    parser.add_argument("--model", default="default")
    parser.add_argument("--frames", type=int, default=120)
    args = parser.parse_args()

    app = application()
    from personlab_gui.gui.main_window import MainWindow
    from personlab_gui.gui.preferences import Preferences

    with tempfile.TemporaryDirectory() as tmp:
        settings = QtCore.QSettings(str(Path(tmp) / "bench.ini"), QtCore.QSettings.Format.IniFormat)
        settings.setValue("model", args.model)
        window = MainWindow(Preferences(settings))
        for dock in window.docks.values():   # the whole window is canvas: the most pixels to paint
            dock.hide()
        window.resize(*WINDOW_WH)
        window.show()
        wait_for(app, lambda: window.service.engine is not None)
        first, second = write_test_images(args.image, Path(tmp))
        cold = open_and_draw_ms(app, window, first)
        warm = open_and_draw_ms(app, window, second)
        warm_result = window.session.result
        revisit = open_and_draw_ms(app, window, first)
        layers = switch_everything_on(window)
        app.processEvents()
        frame_ms, paint_ms, paint_cpu_ms = paint_times(app, window, args.frames)
        engine = window.service.engine
        window.close()

    figures = {
        "median_paint_ms": round(statistics.median(paint_ms), 2),
        "median_paint_cpu_ms": round(statistics.median(paint_cpu_ms), 2),
        "median_frame_ms": round(statistics.median(frame_ms), 2),
        "p90_frame_ms": round(float(np.percentile(frame_ms, 90)), 2),
        "frames": len(frame_ms), "paints": len(paint_ms),
        "open_to_first_draw_ms": {"first_image": round(cold), "next_image": round(warm),
                                  "revisit_cached": round(revisit)},
        "next_image_network_ms": round(warm_result.forward_ms),
        "next_image_decode_ms": round(warm_result.decode_ms),
        "next_image_viewer_ms": round(warm - warm_result.forward_ms - warm_result.decode_ms),
        "image": f"{IMAGE_WH[0]}x{IMAGE_WH[1]}",
        "canvas": f"{window.canvas.width()}x{window.canvas.height()}",
        "layers_on": layers, "model": engine.model_name, "device": engine.device_name,
        "input_size": window.service.settings.size, "people": warm_result.num_people,
        "load_average": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
    }
    print(f"canvas repaint, pan/zoom over a {figures['image']} image, layers {', '.join(layers)}:")
    print(f"  median paint {figures['median_paint_ms']} ms ({figures['median_paint_cpu_ms']} ms CPU), "
          f"median frame {figures['median_frame_ms']} ms (p90 {figures['p90_frame_ms']} ms) "
          f"over {len(frame_ms)} frames; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"open -> first drawn result: {figures['open_to_first_draw_ms']} ms; next image: network "
          f"{figures['next_image_network_ms']} ms, decode {figures['next_image_decode_ms']} ms, "
          f"the viewer's own share {figures['next_image_viewer_ms']} ms ({engine.device_name})")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
