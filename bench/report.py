"""Summaries, tables and JSON files shared by the benchmarks."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def summarize(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95_index = max(0, round(0.95 * len(ordered)) - 1)
    return {
        "n": len(ordered),
        "min": ordered[0],
        "p50": statistics.median(ordered),
        "p95": ordered[p95_index],
        "max": ordered[-1],
    }


def table(title: str, rows: Sequence[tuple[str, dict[str, float]]], unit: str = "s") -> str:
    width = max([18, *(len(name) for name, _ in rows)])
    header = f"{'':<{width}} {'n':>3} {'min':>8} {'p50':>8} {'p95':>8} {'max':>8}"
    lines = [title, header]
    for name, s in rows:
        lines.append(
            f"{name:<{width}} {int(s['n']):>3} {s['min']:>7.2f}{unit} {s['p50']:>7.2f}{unit} "
            f"{s['p95']:>7.2f}{unit} {s['max']:>7.2f}{unit}"
        )
    return "\n".join(lines)


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {
        "benchmark": name,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": _cpus(), "python": platform.python_version(), "kernel": platform.release()},
        **payload,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def _cpus() -> int:
    return len(os.sched_getaffinity(0))
