"""Before/after for ``poll_record.py``: the controller round of two source trees, alternating.

An optimisation of the poll → record path is judged by running the old and the new code on
the same emulators and the same InfluxDB, round after round in alternation (so a neighbour's
load hits both), and looking at the spread as well as the medians. Each round runs in a fresh
process importing the tree under test (``poll_record.controller_round`` of that tree); the
bare pymodbus baseline of ``poll_record.py`` runs once per round pair for scale.

    git archive main | tar -x -C /tmp/before
    .venv/bin/python bench/poll_record_ab.py /tmp/before . [--gateways 8] [--scan 5]
        [--seconds 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from modbus_poll import emulator_process, write_site  # noqa: E402
from poll_record import bare_paced  # noqa: E402

from controller.config import load_site  # noqa: E402
from tests.servers import InfluxServer  # noqa: E402

_ROUND = """
import asyncio, json, sys
from pathlib import Path
tree, site_path, endpoints, scan, seconds, url, db, data = sys.argv[1:9]
sys.path[:0] = [tree, tree + "/bench"]
import poll_record
from controller.config import load_site

class Influx:  # the part of tests.servers.InfluxServer a round uses
    url = url
    def query(self, q):
        import urllib.parse, urllib.request
        body = urllib.parse.urlencode({"q": q}).encode()
        urllib.request.urlopen(urllib.request.Request(url + "/query", data=body)).read()

eps = {k: tuple(v) for k, v in json.loads(endpoints).items()}
result = asyncio.run(poll_record.controller_round(
    load_site(site_path), eps, float(scan), float(seconds), Influx(), db, Path(data)))
print(json.dumps(result))
"""


def one_round(tree: Path, site: Path, endpoints: dict[str, Any], args: Any, db: str) -> Any:
    """One controller round of ``tree`` in its own process."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _ROUND,
            str(tree.resolve()),
            str(site),
            json.dumps(endpoints),
            str(args.scan),
            str(args.seconds),
            args.influx_url,
            db,
            str(site.parent),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="source tree of the old code")
    parser.add_argument("after", type=Path, help="source tree of the new code")
    parser.add_argument("--gateways", type=int, default=8, help="25 meters each")
    parser.add_argument("--scan", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="per round")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of rounds")
    args = parser.parse_args()
    rows: dict[str, list[dict[str, float]]] = {"before": [], "after": [], "bare": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        site_path = write_site(folder, gateways=args.gateways, meters_per_gateway=25)
        site = load_site(site_path)
        influx = InfluxServer(folder / "influx")
        influx.start()
        args.influx_url = influx.url
        try:
            with emulator_process(site_path, 0.0, "asyncio") as (endpoints, _emulator):
                plain = {k: list(v) for k, v in endpoints.items()}
                for r in range(args.rounds):
                    order = ("before", "after") if r % 2 == 0 else ("after", "before")
                    for name in order:
                        tree = args.before if name == "before" else args.after
                        rows[name].append(one_round(tree, site_path, plain, args, f"{name}{r}"))
                    rows["bare"].append(
                        asyncio.run(bare_paced(site, endpoints, args.scan, args.seconds))
                    )
        finally:
            influx.stop()
    key = "cpu_us_per_value"
    result: dict[str, Any] = {
        "meters": args.gateways * 25,
        "scan_s": args.scan,
        "window_s": args.seconds,
        "rounds": args.rounds,
    }
    for name, got in rows.items():
        figures = [round(row[key], 2) for row in got]
        result[name] = {
            f"{key}_rounds": figures,
            f"{key}_median": statistics.median(figures),
            "values_per_s_median": statistics.median(row["values_per_s"] for row in got),
        }
    result["after_over_before"] = (
        result["after"][f"{key}_median"] / result["before"][f"{key}_median"]
    )
    result["load_average"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
