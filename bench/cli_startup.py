"""How fast `crm` starts: `--version`, `--help` and a sub-command's `--help`, against two baselines in the same run.

- floor: the interpreter alone (`python -c pass`): what no command can beat;
- eager: the same `--help`, after importing every module the commands use (SQLAlchemy, Flask, Jinja, Faker,
  the store): what the CLI cost when each command imported its dependencies at the top (2.3 s on 2 cores).

Each command runs in a fresh process, `--runs` times after one warm-up; the median is reported.
    .venv/bin/python -m bench.cli_startup [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.machine import describe

RESULTS = Path(__file__).resolve().parent / "results" / "cli_startup.json"
CRM = [sys.executable, "-m", "crm_store"]
EAGER = (
    "import sqlalchemy, flask, jinja2, faker, alembic, babel.dates;"
    "import crm_store.records.lifecycle, crm_store.search.query, crm_store.capture.submissions, crm_store.ops.demo,"
    " emails.render, webform.app;"
    "from crm_store.cli import main; main(['--help'])"
)
CASES = {
    "floor: python -c pass": [sys.executable, "-c", "pass"],
    "crm --version": [*CRM, "--version"],
    "crm --help": [*CRM, "--help"],
    "crm search --help": [*CRM, "search", "--help"],
    "eager: --help after importing what commands use": [sys.executable, "-c", EAGER],
}


def median_seconds(argv: list[str], runs: int) -> float:
    """Median wall time of a command started afresh `runs` times (after one warm-up)."""
    subprocess.run(argv, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="Runs of each command (default 15).")
    args = parser.parse_args()
    medians = {name: median_seconds(argv, args.runs) for name, argv in CASES.items()}
    eager = medians["eager: --help after importing what commands use"]
    print(f"{'command':<50} {'median':>9} {'÷ eager':>8}")
    for name, seconds in medians.items():
        print(f"{name:<50} {seconds * 1000:>7.0f} ms {seconds / eager:>8.3f}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": describe(("click",)), "runs": args.runs, "median_s": medians}, indent=2))


if __name__ == "__main__":
    main()
