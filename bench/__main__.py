"""python -m bench [NAME ...] [--runs N]: run the named benchmarks (default: all)."""

from __future__ import annotations

import argparse
import sys

from bench import agent, lab_startup, operator

BENCHMARKS = {"lab_startup": lab_startup.run, "operator": operator.run, "agent": agent.run}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--runs", type=int, help="repetitions (default: each benchmark's own)")
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    for name in args.names or list(BENCHMARKS):
        print(f"== {name}", flush=True)
        BENCHMARKS[name](**({"runs": args.runs} if args.runs else {}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
