"""``make bench`` / ``make bench-quick``: run the benchmark, print its tables, write ``bench/results.json``."""

import argparse
import json
import sys
from pathlib import Path

from bench.report import render, results
from bench.runner import FULL, QUICK, run

RESULTS = Path(__file__).resolve().parent / "results.json"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1/10 of the sizes, fewer rounds: under a minute")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"where the results go (default {RESULTS})")
    args = parser.parse_args()
    bench = run(QUICK if args.quick else FULL, progress=True)
    print(render(bench))
    args.output.write_text(json.dumps(results(bench), indent=2) + "\n")
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
