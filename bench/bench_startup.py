"""Cold and warm start: the CLI on one image, and the viewer's first result.

    python bench/bench_startup.py [--repeats 3]

Every run is a fresh interpreter. Cold runs get an empty numba cache (a new temporary
``NUMBA_CACHE_DIR``), as on a machine's first run; warm runs reuse the cache the cold run
before them filled. Timed from starting the process to:

* CLI: ``personlab-gui infer astronaut.jpg --out X.json`` exiting;
* viewer: its first result (the bundled astronaut, default settings, offscreen) drawn.

Prints medians and cold/warm ratios, whether the cold runs announced their preparation
(stderr line, status bar), then, as its last line, one JSON object with the figures. The
processes' CPU seconds come too: on a shared machine they vary far less than the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASTRONAUT = ROOT / "personlab_gui" / "data" / "astronaut.jpg"
PREPARING = "preparing"   # the CLI's and the viewer's words for the one-time compilation
#: The viewer as a user starts it (temporary preferences), reporting its first drawn result.
GUI_SCRIPT = """
import json, sys, time
from PySide6 import QtCore
from personlab_gui.gui.app import EXAMPLE_IMAGE, application
app = application()
from personlab_gui.gui.main_window import MainWindow
from personlab_gui.gui.preferences import Preferences
window = MainWindow(Preferences(QtCore.QSettings(sys.argv[1], QtCore.QSettings.Format.IniFormat)))
texts = []
window.service.progress.connect(lambda stage, stages, text: texts.append(text))
window.show()
window.open_paths([str(EXAMPLE_IMAGE)])

def check():
    if window.session.result is not None:
        window.canvas.viewport().repaint()
        print(json.dumps({"time": time.time(), "progress": texts}))
        window.service.shutdown()
        app.quit()

timer = QtCore.QTimer()
timer.timeout.connect(check)
timer.start(5)
app.exec()
"""


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cli(cache: Path, out: Path) -> tuple[float, float, bool]:
    """Wall and CPU seconds to run infer on the astronaut, and whether it announced a preparation."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    start, cpu = time.perf_counter(), children_cpu_s()
    done = subprocess.run([sys.executable, "-m", "personlab_gui", "infer", str(ASTRONAUT), "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, children_cpu_s() - cpu, PREPARING in done.stderr


def run_gui(cache: Path, settings: Path) -> tuple[float, float, bool]:
    """Wall seconds from starting the viewer to its first drawn result, CPU seconds of the
    whole run (it quits then), and whether its progress named a preparation."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "QT_QPA_PLATFORM": "offscreen"}
    start, cpu = time.time(), children_cpu_s()
    done = subprocess.run([sys.executable, "-c", GUI_SCRIPT, str(settings)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return (report["time"] - start, children_cpu_s() - cpu,
            any(PREPARING in text for text in report["progress"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {k: [] for k in ("cli_cold", "cli_warm", "gui_cold", "gui_warm")}
    cpu: dict[str, list[float]] = {k: [] for k in times}
    announced: dict[str, list[bool]] = {k: [] for k in times}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for kind, run in (("cli", lambda c: run_cli(c, Path(tmp) / "out.json")),
                              ("gui", lambda c: run_gui(c, Path(tmp) / f"settings{rep}.ini"))):
                cache = Path(tmp) / f"numba_{kind}_{rep}"
                for state in ("cold", "warm"):
                    seconds, cpu_s, said = run(cache)
                    times[f"{kind}_{state}"].append(seconds)
                    cpu[f"{kind}_{state}"].append(cpu_s)
                    announced[f"{kind}_{state}"].append(said)
                    print(f"{kind} {state}: {seconds:.2f} s (CPU {cpu_s:.2f} s)"
                          + (", preparation announced" if said else ""))
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"CLI infer, one image: cold {med['cli_cold']:.2f} s, warm {med['cli_warm']:.2f} s "
          f"(x{med['cli_cold'] / med['cli_warm']:.2f}); preparation announced when cold: "
          f"{all(announced['cli_cold'])}, when warm: {any(announced['cli_warm'])}")
    print(f"viewer, first result: cold {med['gui_cold']:.2f} s, warm {med['gui_warm']:.2f} s "
          f"(x{med['gui_cold'] / med['gui_warm']:.2f}); preparation announced when cold: "
          f"{all(announced['gui_cold'])}, when warm: {any(announced['gui_warm'])}")
    print(json.dumps({"cli_cold_s": round(med["cli_cold"], 2), "cli_warm_s": round(med["cli_warm"], 2),
                      "gui_first_result_cold_s": round(med["gui_cold"], 2),
                      "gui_first_result_warm_s": round(med["gui_warm"], 2),
                      "cli_cold_over_warm": round(med["cli_cold"] / med["cli_warm"], 2),
                      "gui_cold_over_warm": round(med["gui_cold"] / med["gui_warm"], 2),
                      "cold_announced": all(announced["cli_cold"] + announced["gui_cold"]),
                      "warm_silent": not any(announced["cli_warm"] + announced["gui_warm"]),
                      **{f"{k}_cpu_s": round(v, 2) for k, v in med_cpu.items()},
                      "repeats": args.repeats}))


if __name__ == "__main__":
    main()
