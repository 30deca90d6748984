"""How long `make lab` takes to reach "ready" with the binaries cached, per step, and how long teardown takes.

    python -m bench lab_startup [--runs N] [--param profile=node|process]

Runs its own lab in `.lab-bench/` on ports 23600+ (so a `make lab` can stay up meanwhile), N times
up and down, and reports min/p50/p95/max per step. The profile is `make lab`'s default (node: a real
kubelet node with the project's pods, image cached) unless told otherwise.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

from bench.report import summarize, table, write_json
from storage_operator.lab.config import DEFAULT_CLI_PROFILE, LabConfig, Profile
from storage_operator.lab.lab import Lab

REPO = Path(__file__).resolve().parents[1]
PORT_BASE = 23600


def run(runs: int = 3, profile: Profile = DEFAULT_CLI_PROFILE) -> dict[str, object]:
    lab = Lab(LabConfig(root=REPO / ".lab-bench", port_base=PORT_BASE, profile=profile), say=lambda _: None)
    steps: dict[str, list[float]] = defaultdict(list)
    totals: list[float] = []
    downs: list[float] = []
    for i in range(runs):
        t0 = time.monotonic()
        state = lab.up()
        totals.append(time.monotonic() - t0)
        for name, seconds in state.step_seconds.items():
            steps[name].append(seconds)
        t1 = time.monotonic()
        lab.down(keep_logs=i < runs - 1)
        downs.append(time.monotonic() - t1)
        print(f"run {i + 1}/{runs}: ready in {totals[-1]:.1f} s, down in {downs[-1]:.1f} s", flush=True)
    rows = [(name, summarize(samples)) for name, samples in steps.items()]
    rows += [("TOTAL up (ready)", summarize(totals)), ("down", summarize(downs))]
    print(
        table(f"lab bring-up ({profile} profile) with cached binaries ({runs} runs, target: ready < 30 s warm)", rows)
    )
    result: dict[str, object] = {
        "runs": runs,
        "profile": profile,
        "target_ready_seconds": 30,
        "steps": dict(rows),
    }
    path = write_json("lab_startup", result)
    print(f"wrote {path.relative_to(REPO)}")
    return result
