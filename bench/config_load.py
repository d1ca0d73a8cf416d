"""How fast a big campus is generated, loaded and checked, against plain libyaml in the same run.

    .venv/bin/python bench/config_load.py [--rooms 10000] [--runs 3]

Prints one JSON object (seconds, medians of ``--runs``):

* ``gen_site_s``: ``write_site`` of the compact layout (room layouts and device templates).
* ``check_config_s``: ``sanjie check-config`` of that site as a subprocess, wall time from start
  to exit, interpreter start-up and printing included (the figure a user waits for; target ≤ 3).
* ``load_site_s``: ``load_site`` of the compact layout in this process.
* ``load_site_explicit_s``: ``load_site`` of the same campus with every room and device written
  out (``--explicit``, ~6 MB of YAML), and ``explicit_yaml_mb`` its size.
* ``baseline_csafe_load_s``: ``yaml.load(CSafeLoader)`` of the explicit files alone, i.e. the
  fastest stock PyYAML path with no positions, no includes and no validation: the yardstick for
  ``load_site_explicit_s``.
* ``registry_s``: ``EntityRegistry.from_site`` (every entity of the campus, as the controller
  builds at start-up), and ``devices`` / ``entities`` counted.
* ``check_config_cpu_s``, ``load_site_cpu_s``: the same in CPU seconds (user + system), which
  other work on a shared machine does not inflate; ``load_average_1min`` tells how shared it was.
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
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.config import load_site  # noqa: E402
from controller.core import EntityRegistry  # noqa: E402
from controller.sitegen import SiteShape, write_site  # noqa: E402


def timed(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def cpu_timed(action: Callable[[], object], runs: int) -> float:
    """CPU seconds (user + system, this process and its children): what machine load hides."""
    times = []
    for _ in range(runs):
        before = _cpu()
        action()
        times.append(_cpu() - before)
    return round(statistics.median(times), 3)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def csafe_load_all(folder: Path) -> None:
    loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in sorted(folder.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if "!include" not in text:
            yaml.load(text, Loader=loader)


def check_config(site: Path) -> None:
    sanjie = Path(sys.executable).parent / "sanjie"
    subprocess.run([str(sanjie), "check-config", str(site)], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sanjie-bench-") as tmp:
        compact, explicit = Path(tmp) / "compact", Path(tmp) / "explicit"
        shape = SiteShape(rooms=args.rooms)
        gen_s = timed(lambda: write_site(compact, shape), args.runs)
        write_site(explicit, SiteShape(rooms=args.rooms, layout="explicit"))
        # Cheapest first, and nothing big kept alive in between: a heap holding a loaded
        # campus slows every later garbage-collector pass, and with it every figure after.
        result: dict[str, object] = {"rooms": args.rooms, "gen_site_s": gen_s}
        result["baseline_csafe_load_s"] = timed(lambda: csafe_load_all(explicit), args.runs)
        result["load_site_explicit_s"] = timed(lambda: load_site(explicit / "site.yaml"), args.runs)
        result["explicit_yaml_mb"] = round(
            sum(p.stat().st_size for p in explicit.rglob("*.yaml")) / 1e6, 1
        )
        result["load_site_s"] = timed(lambda: load_site(compact / "site.yaml"), args.runs)
        result["check_config_s"] = timed(lambda: check_config(compact / "site.yaml"), args.runs)
        result["check_config_cpu_s"] = cpu_timed(
            lambda: check_config(compact / "site.yaml"), args.runs
        )
        result["load_site_cpu_s"] = cpu_timed(lambda: load_site(compact / "site.yaml"), args.runs)
        site = load_site(compact / "site.yaml")
        result["registry_s"] = timed(lambda: EntityRegistry.from_site(site), args.runs)
        result["devices"] = len(site.devices)
        result["load_average_1min"] = round(os.getloadavg()[0], 2)
        result["entities"] = len(EntityRegistry.from_site(site))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
