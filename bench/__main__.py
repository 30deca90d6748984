"""python -m bench [NAME ...] [--runs N] [--param KEY=VALUE ...]: run the named benchmarks (default: all)."""

from __future__ import annotations

import argparse
import inspect
import sys

from bench import agent, csi, lab_startup, managed, nfs_provisioning, node, operator

BENCHMARKS = {
    "lab_startup": lab_startup.run,
    "operator": operator.run,
    "agent": agent.run,
    "nfs_provisioning": nfs_provisioning.run,
    "csi": csi.run,
    "node": node.run,
    "managed": managed.run,
}


def _value(text: str) -> object:
    """'500' -> 500, 'false' -> False, anything else stays a string."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        return text


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--runs", type=int, help="repetitions (default: each benchmark's own)")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a keyword argument of the benchmark's run(), e.g. --param burst=100 --param peer=false",
    )
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    params = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--param {item!r} is not KEY=VALUE")
        params[key] = _value(value)
    kwargs = params | ({"runs": args.runs} if args.runs else {})
    names = args.names or list(BENCHMARKS)
    for name in names:
        accepted = inspect.signature(BENCHMARKS[name]).parameters
        extra = sorted(set(params) - set(accepted))
        if extra:
            parser.error(f"{name} takes no parameter(s) {', '.join(extra)}; it takes: {', '.join(accepted)}")
    for name in names:
        print(f"== {name}", flush=True)
        BENCHMARKS[name](**kwargs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
